"""Entrypoint of the ``campaign-inbox`` deployment, for ``prefect deploy``
(``flows/campaign_inbox.py:campaign_inbox``): it scans an inbox folder and starts
generate-campaign for each new campaign file. The flow lives in pixio_ads/flows/deploy.py."""

from pixio_ads.flows.deploy import campaign_inbox

__all__ = ["campaign_inbox"]
