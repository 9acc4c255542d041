"""Entrypoint of the ``generate-campaign`` deployment, for ``prefect deploy``
(``flows/generate_campaign.py:generate_campaign``). The flow lives in the installed package
(pixio_ads/flows/generate_campaign.py); this file only names it, so a worker needs nothing but
``pip install pixio-ads`` and this folder."""

from pixio_ads.flows.generate_campaign import generate_campaign

__all__ = ["generate_campaign"]
