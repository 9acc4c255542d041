"""Entrypoint of the ``render-shard`` deployment (``flows/render_shard.py:render_shard``): one
shard of a campaign, on the gpu work pool. The flow lives in pixio_ads/flows/render_shard.py;
prefect.yaml names it by module path, so workers need only the installed package."""

from pixio_ads.flows.render_shard import render_shard

__all__ = ["render_shard"]
