"""A campaign's shards over a fleet: one ``render-shard`` flow run per shard, started on the
deployment's work pool (``Execution.render_deployment``), waited for, and retried when the
worker that had it died.

- Each shard run's idempotency key is the campaign run's id, the plan's sha256, the shard and
  the attempt: a retried campaign run (same id) finds the runs it started instead of
  rendering those shards twice; a new run, or a changed plan, starts new ones.
- A shard run that crashed (its worker killed, its machine gone) or stayed Pending past
  PENDING_SECONDS (claimed by a worker that died before starting it) is started again, up
  to SHARD_ATTEMPTS times, on whichever worker takes it; the finished variants of the
  earlier attempt are kept, as in any rerun. A shard run that failed (an error of its own,
  e.g. a worker with another pixio-ads version) is not retried: the campaign run fails
  after the others end, naming each failed shard and why.
- Cancelling the campaign run cancels its shard runs (they stop at a batch's end).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, WorkerStatus
from prefect.client.schemas.sorting import FlowRunSort
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling, Crashed

import pixio_ads
from pixio_ads.core import storage
from pixio_ads.core.errors import PixioError
from pixio_ads.core.fileio import sha256_file
from pixio_ads.flows import lifecycle
from pixio_ads.run import runner
from pixio_ads.run.planning import PLAN_FILE, Plan, shard_path
from pixio_ads.run.shards import shard_keys
from pixio_ads.settings import Execution, Safeguards

logger = logging.getLogger(__name__)

POLL_SECONDS = 2.0
SHARD_ATTEMPTS = 3
PENDING_SECONDS = 120.0  # Pending this long: the worker that claimed it died before starting it


class FleetError(PixioError):
    """The fleet cannot render this campaign: no deployment, no worker, or shards that failed."""


@dataclass
class ShardRun:
    """One shard and the flow run currently rendering it."""

    index: int
    variant_ids: list[str]
    attempt: int = 0
    run_id: str | None = None
    pending_since: float | None = None
    result: runner.ShardResult | None = None
    error: str | None = None


def render_on_fleet(
    plan: Plan,
    workspace: storage.Workspace,
    inputs: dict[str, str],
    safeguards: Safeguards,
    execution: Execution,
    clip_model: str | None,
    on_done: Callable[[runner.ShardResult], None],
) -> list[runner.ShardResult]:
    """Render every shard of ``plan`` as a run of ``execution.render_deployment``; returns
    their results in shard order (``on_done`` told of each as it ends). On object storage
    the plan is uploaded first and each shard's rows and creatives pulled as it ends;
    ``inputs`` are the campaign's fetched folders (storage.input_folders)."""
    name = execution.render_deployment
    check_fleet(name)
    plan_key = sha256_file(plan.plan_path)[:16]
    workspace.push()  # the plan, and the rows carried forward, where the workers find them
    if workspace.remote:
        out_dir, plan_path = workspace.location, PLAN_FILE
    else:  # a worker's runs start in a folder of their own
        out_dir, plan_path = str(workspace.local.resolve()), str(Path(plan.plan_path).resolve())
    parameters = {
        "plan_path": plan_path,
        "out_dir": out_dir,
        "inputs": inputs,
        "execution": execution.model_dump(),
        "safeguards": _absolute(safeguards).model_dump(),
        "clip_model": clip_model,
        "pixio_ads_version": pixio_ads.__version__,
    }
    shards = [ShardRun(index, ids) for index, ids in enumerate(plan.shards)]
    for shard in shards:
        _start(name, shard, parameters, plan_key)
    _wait(name, shards, parameters, plan_key, workspace, on_done)
    failed = [shard for shard in shards if shard.error]
    if failed:
        raise FleetError(
            f"{len(failed)} of {len(shards)} shard(s) failed on the fleet (the others' creatives are kept; run "
            "again to retry them):\n" + "\n".join(f"  - shard {s.index + 1}: {s.error}" for s in failed)
        )
    return [shard.result for shard in shards]


def _absolute(safeguards: Safeguards) -> Safeguards:
    """The safeguards' files as absolute paths, for runs that start in another folder."""
    files = {
        name: str(Path(value).resolve())
        for name, value in safeguards.model_dump().items()
        if value and not storage.is_remote(value)
    }
    return safeguards.model_copy(update=files)


def check_fleet(name: str) -> str:
    """The deployment's work pool, when the deployment exists and the pool has a worker online;
    else a FleetError saying how to get there (before anything is started)."""
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise FleetError(
                f"deployment {name!r} not found on the Prefect server: register it with `pixio-ads deploy` "
                "(or `prefect deploy --all` beside prefect.yaml)"
            ) from None
        pool = deployment.work_pool_name
        if not pool:
            raise FleetError(f"deployment {name!r} has no work pool: register it again with `pixio-ads deploy`")
        workers = client.read_workers_for_work_pool(pool, limit=200, offset=0)
    if not any(worker.status == WorkerStatus.ONLINE for worker in workers):
        raise FleetError(
            f"work pool {pool!r} (deployment {name!r}) has no worker online: on each GPU machine start one worker "
            f"per GPU, e.g. `CUDA_VISIBLE_DEVICES=0 prefect worker start --pool {pool} --limit 1` "
            "(see `pixio-ads doctor`)"
        )
    return pool


def _start(name: str, shard: ShardRun, parameters: dict, plan_key: str) -> None:
    shard.attempt += 1
    context = FlowRunContext.get()
    parent = str(context.flow_run.id) if context and context.flow_run else "local"
    run = run_deployment(
        name,
        parameters={**parameters, "variant_ids": shard.variant_ids},
        timeout=0,  # start it and go on: the shards render at once on the pool's workers
        idempotency_key=f"{parent}:{plan_key}:{shard_path('', shard.variant_ids).stem}:{shard.attempt}",
        flow_run_name=f"shard-{shard.index + 1}-try-{shard.attempt}",
    )
    shard.run_id, shard.pending_since = str(run.id), None


def _wait(name, shards, parameters, plan_key, workspace: storage.Workspace, on_done) -> None:
    """Poll the shard runs until each has a result or an error; restart the lost ones."""
    cancelled = False
    while open_shards := [shard for shard in shards if shard.result is None and shard.error is None]:
        if not cancelled and lifecycle.cancel_requested():
            cancelled = True
            _cancel(open_shards)
        runs = read_runs([shard.run_id for shard in open_shards])
        for shard in open_shards:
            _settle(shard, runs.get(shard.run_id), workspace, cancelled)
            if shard.result is not None:
                on_done(shard.result)
            elif shard.error is None and _lost(shard, runs.get(shard.run_id)) and not cancelled:
                _restart(name, shard, parameters, plan_key)
        time.sleep(POLL_SECONDS)


def _settle(shard: ShardRun, run: FlowRun | None, workspace: storage.Workspace, cancelled: bool) -> None:
    """Record the shard's result (or error) once its run has ended."""
    state = run.state if run else None
    if state is None or not state.is_final():
        return
    out_dir = str(workspace.local)
    workspace.pull(shard_keys(out_dir, shard.variant_ids))  # on object storage: its rows, then
    workspace.pull(shard_keys(out_dir, shard.variant_ids))  # the creatives they name
    saved = runner.load_result(out_dir, shard.variant_ids, shard.run_id)
    if state.is_completed() and saved:
        shard.result = saved
    elif state.is_cancelled() or (cancelled and not state.is_completed()):
        shard.result = saved or _stopped(out_dir, shard)
    elif state.is_failed():
        shard.error = f"flow run {run.name} ({run.id}) failed: {state.message or state.name}"
    elif state.is_completed():
        shard.error = f"flow run {run.name} ({run.id}) completed without a result in {out_dir}"


def _lost(shard: ShardRun, run: FlowRun | None) -> bool:
    """Whether the shard's run will not end by itself: it crashed, or sat Pending too long."""
    state = run.state if run else None
    if state is None:
        return False
    if state.is_crashed():
        return True
    if not state.is_pending():
        shard.pending_since = None
        return False
    shard.pending_since = shard.pending_since or time.monotonic()
    return time.monotonic() - shard.pending_since > PENDING_SECONDS


def _restart(name: str, shard: ShardRun, parameters: dict, plan_key: str) -> None:
    previous = shard.run_id
    if shard.attempt >= SHARD_ATTEMPTS:
        shard.error = f"lost {shard.attempt} times (last flow run {previous}): are the workers being killed?"
        return
    with get_client(sync_client=True) as client:  # a Pending one must not start later as well
        client.set_flow_run_state(previous, Crashed(message="given up by its campaign run: restarted"), force=True)
    _start(name, shard, parameters, plan_key)
    logger.warning("shard %d: flow run %s was lost; started it again as %s", shard.index + 1, previous, shard.run_id)


def _cancel(shards: list[ShardRun]) -> None:
    """Cancel the shard runs: a running one stops at its next batch (Cancelling, which its
    worker acts on); one no worker has started yet is Cancelled outright."""
    message = "its campaign run was cancelled"
    runs = read_runs([shard.run_id for shard in shards])
    with get_client(sync_client=True) as client:
        for shard in shards:
            run = runs.get(shard.run_id)
            started = run is not None and run.state is not None and run.state.is_running()
            client.set_flow_run_state(
                shard.run_id, Cancelling(message=message) if started else Cancelled(message=message)
            )


def read_runs(run_ids: list[str]) -> dict[str, FlowRun]:
    """The flow runs of these ids, by id (empty when the API is out of reach for a moment)."""
    try:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids)),
                sort=FlowRunSort.ID_DESC,
                limit=len(run_ids),
            )
    except Exception as exc:  # the API out of reach for a moment: ask again at the next poll
        logger.warning("could not read the states of flow runs (%s); trying again", exc)
        return {}
    return {str(run.id): run for run in runs}


def _stopped(out_dir: str, shard: ShardRun) -> runner.ShardResult:
    """A shard run that ended before saving its result: what its rows say."""
    path = shard_path(out_dir, shard.variant_ids)
    return runner.ShardResult(str(path), shard.variant_ids, 0, 0, f"flow run {shard.run_id}", stopped=True)
