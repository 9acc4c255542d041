"""Prefect flow ``render-shard``: one shard of a campaign, rendered by a worker of the ``gpu``
work pool (the ``render-shard`` deployment; fleet.py starts one run per shard).

It reads the plan and writes creatives and the shard's rows into the campaign's output
location: object storage (``s3://…``, through a working copy, storage.py) or a folder every
machine of the fleet reaches at the same path (a shared file system); then leaves its result
beside the rows (runner.save_result) for the campaign's run.
A worker started with ``CUDA_VISIBLE_DEVICES=i`` renders on that GPU, and each row records it
(``visible_devices``). While a global concurrency limit named ``gpu-<host>`` exists, each
run holds one of its slots: at most that many shards render on one machine at a time.
"""

from __future__ import annotations

import socket
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext

import pixio_ads
from pixio_ads.core import storage
from pixio_ads.core.errors import PixioError
from pixio_ads.flows import lifecycle
from pixio_ads.flows.logs import quiet_explained_errors
from pixio_ads.run import runner
from pixio_ads.run.planning import PLAN_FILE, RUN_FILE, reroot_plan, shard_path
from pixio_ads.run.shards import shard_keys
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
    inputs: dict[str, str] | None = None,
) -> dict:
    """Render and composite these variants of the plan into ``out_dir`` (what is already done
    is kept), on this worker's device; stops at the next batch when the run is cancelled.
    ``out_dir`` may be object storage (``plan_path`` then relative to it): the shard renders
    into a working copy of what it needs and uploads what it made. ``inputs``: the campaign
    run's {cache folder: URL} of a campaign on object storage, fetched here too."""
    lifecycle.bind_to_supervisor()  # the worker dies: this run stops too (its rows are kept)
    logger = get_run_logger()
    if pixio_ads_version and pixio_ads_version != pixio_ads.__version__:
        raise VersionMismatch(
            f"this worker ({socket.gethostname()}) runs pixio-ads {pixio_ads.__version__}, the campaign's run "
            f"{pixio_ads_version}: install the same version on every worker (pip install pixio-ads=={pixio_ads_version})"
        )
    workspace = storage.Workspace.open(out_dir, purpose=shard_path("", variant_ids).stem)
    workspace.pull([PLAN_FILE, RUN_FILE, *shard_keys(workspace.local, variant_ids)])  # its rows, then
    workspace.pull(shard_keys(workspace.local, variant_ids))  # the creatives they name, to resume
    plan = _local_plan(workspace, plan_path, inputs or {})
    try:
        result = _render(str(plan), variant_ids, str(workspace.local), execution, safeguards, clip_model)
        runner.save_result(result, str(FlowRunContext.get().flow_run.id))
    finally:
        workspace.push()  # on object storage: what it finished, also when it failed or stopped
    storage.remove_local_copy(workspace)
    logger.info(
        "%d rendered, %d kept from earlier runs%s",
        result.rendered,
        result.reused,
        " (stopped)" if result.stopped else "",
    )
    return {"rendered": result.rendered, "reused": result.reused, "stopped": result.stopped}


def _render(plan_path: str, variant_ids, out_dir: str, run: Execution, safeguards, clip_model) -> runner.ShardResult:
    with concurrency(host_limit_name(), occupy=1, lease_duration=LEASE_SECONDS), lifecycle.rendering():
        return runner.render_shard(
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
            compile_mode=run.compile_with,
            offload=run.offload,
        )


def _local_plan(workspace: storage.Workspace, plan_path: str, inputs: dict[str, str]) -> Path:
    """The plan in the working copy, its campaign files' paths moved to where this machine's
    cache has them (when the campaign came from object storage)."""
    plan = workspace.local / plan_path  # an absolute plan_path (a shared folder) stays itself
    moves = {old: str(storage.fetch_folder(url)) for old, url in inputs.items()}
    if all(old == new for old, new in moves.items()):
        return plan
    return reroot_plan(plan, moves, storage.cache_root() / "plans" / f"{workspace.local.name}.parquet")
