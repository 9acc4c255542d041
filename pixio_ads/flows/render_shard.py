"""Prefect flow ``render-shard``: one shard of a campaign, rendered by a worker of the ``gpu``
work pool (the ``render-shard`` deployment; fleet.py starts one run per shard).

It reads the plan and writes creatives and the shard's rows into the campaign's output
folder, which every machine of the fleet must reach at the same path (a shared file
system), then leaves its result beside the rows (runner.save_result) for the campaign's run.
A worker started with ``CUDA_VISIBLE_DEVICES=i`` renders on that GPU, and each row records it
(``visible_devices``). While a global concurrency limit named ``gpu-<host>`` exists, each
run holds one of its slots: at most that many shards render on one machine at a time.
"""

from __future__ import annotations

import socket

from prefect import flow, get_run_logger
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext

import pixio_ads
from pixio_ads.core.errors import PixioError
from pixio_ads.flows import lifecycle
from pixio_ads.flows.logs import quiet_explained_errors
from pixio_ads.run import runner
from pixio_ads.settings import Execution, Safeguards

quiet_explained_errors()  # a version mismatch or a full disk: our message in the run log, no traceback

GPU_LIMIT_PREFIX = "gpu-"
LEASE_SECONDS = 60  # a slot held by a machine that died is free again after this


class VersionMismatch(PixioError):
    """The worker runs another pixio-ads than the campaign's run: their outputs would differ."""


def host_limit_name(host: str | None = None) -> str:
    """The global concurrency limit that bounds how many shards render at once on ``host``."""
    return GPU_LIMIT_PREFIX + (host or socket.gethostname())


@flow(name="render-shard", validate_parameters=True)
def render_shard(
    plan_path: str,
    variant_ids: list[str],
    out_dir: str,
    execution: Execution = Execution(),
    safeguards: Safeguards = Safeguards(),
    clip_model: str | None = None,
    pixio_ads_version: str | None = None,
) -> dict:
    """Render and composite these variants of the plan into ``out_dir`` (what is already done
    is kept), on this worker's device; stops at the next batch when the run is cancelled."""
    lifecycle.bind_to_supervisor()  # the worker dies: this run stops too (its rows are kept)
    logger = get_run_logger()
    if pixio_ads_version and pixio_ads_version != pixio_ads.__version__:
        raise VersionMismatch(
            f"this worker ({socket.gethostname()}) runs pixio-ads {pixio_ads.__version__}, the campaign's run "
            f"{pixio_ads_version}: install the same version on every worker (pip install pixio-ads=={pixio_ads_version})"
        )
    run = execution
    with concurrency(host_limit_name(), occupy=1, lease_duration=LEASE_SECONDS), lifecycle.rendering():
        result = runner.render_shard(
            plan_path,
            variant_ids,
            out_dir,
            run.device,
            run.batch_size,
            run.safety_checker,
            run.retries,
            run.retry_delay,
            safeguards,
            run.finish_workers,
            clip_model=clip_model,
            stall_seconds=run.stall_seconds,
            should_stop=lifecycle.cancel_requested,
        )
    runner.save_result(result, str(FlowRunContext.get().flow_run.id))
    logger.info(
        "%d rendered, %d kept from earlier runs%s",
        result.rendered,
        result.reused,
        " (stopped)" if result.stopped else "",
    )
    return {"rendered": result.rendered, "reused": result.reused, "stopped": result.stopped}
