"""Deployments on work pools, for a fleet: ``pixio-ads deploy`` (or ``prefect deploy --all``
beside the top-level prefect.yaml, which names the same flows).

- ``cpu`` pool: ``generate-campaign`` (plans, waits for its shards, merges, is suspended
  for review), ``review-page`` (serves the page of a suspended run; "Review done" resumes
  it) and ``campaign-inbox`` (on its cron, when an inbox is given);
- ``gpu`` pool: ``render-shard``, one flow run per shard, started by generate-campaign.

Entrypoints are module paths into the installed package (``pixio_ads.flows...``), so a
worker needs ``pip install pixio-ads`` and nothing else: no code is pulled from anywhere.
Pools are Prefect process pools, created when missing. On a GPU machine: one worker per
GPU, each seeing one (``CUDA_VISIBLE_DEVICES=i prefect worker start --pool gpu --limit 1``);
``pixio-ads doctor`` says what a worker started here would use.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.types.entrypoint import EntrypointType

from pixio_ads.core import storage
from pixio_ads.flows.deploy import campaign_inbox
from pixio_ads.flows.generate_campaign import generate_campaign
from pixio_ads.flows.render_shard import render_shard
from pixio_ads.flows.review_page import review_page
from pixio_ads.settings import Execution, RenderSettings, Safeguards, Serving

RENDER_DEPLOYMENT = "render-shard/render-shard"
POOL_TYPE = "process"


@dataclass(frozen=True, slots=True)
class Pools:
    cpu: str = "cpu"
    gpu: str = "gpu"


def ensure_pools(pools: Pools) -> list[str]:
    """Create the process work pools that do not exist yet; returns the names created."""
    created = []
    with get_client(sync_client=True) as client:
        for name in dict.fromkeys((pools.cpu, pools.gpu)):
            try:
                client.create_work_pool(WorkPoolCreate(name=name, type=POOL_TYPE))
                created.append(name)
            except ObjectAlreadyExists:
                pass
    return created


def fleet_deployments(
    pools: Pools,
    rendering: RenderSettings = RenderSettings(),
    safeguards: Safeguards = Safeguards(),
    execution: Execution = Execution(),
    serving: Serving | None = None,
) -> list:
    """The deployments, with these settings as their defaults; generate-campaign renders on
    the gpu pool's render-shard deployment."""
    shared = {"rendering": rendering.model_dump(), "safeguards": safeguards.model_dump()}
    fleet_execution = execution.model_copy(update={"render_deployment": RENDER_DEPLOYMENT}).model_dump()
    module = EntrypointType.MODULE_PATH
    deployments = [
        generate_campaign.to_deployment(
            name="generate-campaign",
            work_pool_name=pools.cpu,
            entrypoint_type=module,
            parameters={**shared, "execution": fleet_execution},
        ),
        render_shard.to_deployment(name="render-shard", work_pool_name=pools.gpu, entrypoint_type=module),
        review_page.to_deployment(name="review-page", work_pool_name=pools.cpu, entrypoint_type=module),
    ]
    if serving is not None:
        folders = {
            "inbox_dir": storage.absolute(serving.inbox_dir),
            "out_root": storage.absolute(serving.out_root),  # a folder, or object storage
        }
        deployments.append(
            campaign_inbox.to_deployment(
                name="campaign-inbox",
                work_pool_name=pools.cpu,
                entrypoint_type=module,
                cron=serving.cron,
                parameters={**folders, "settle_seconds": serving.settle_seconds, **shared},
            )
        )
    return deployments


def register(deployments: list) -> list[str]:
    """Register (create or update) the deployments; returns their full names."""
    for deployment in deployments:
        deployment.apply()
    return [deployment.full_name for deployment in deployments]
