"""Prefect flow: validate -> expand (plan) -> render/composite in shards -> manifest -> report.

Thin by design: every step is a call into ``pixio_ads``; tasks take and return paths, ids
and small values. Runs without a Prefect server (ephemeral mode) or against one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, resume_flow_run, suspend_flow_run
from prefect.futures import as_completed
from prefect.states import Cancelled, Completed, Paused
from prefect.task_runners import ThreadPoolTaskRunner

from pixio_ads.core import storage
from pixio_ads.core.stall import DEFAULT_STALL_SECONDS
from pixio_ads.delivery import review
from pixio_ads.flows import fleet, lifecycle
from pixio_ads.flows.logs import quiet_explained_errors
from pixio_ads.flows.review_page import REVIEW_PAGE_DEPLOYMENT, ReviewDone
from pixio_ads.flows.runners import SHARDS_IN_FLIGHT
from pixio_ads.outputs import outlock, report
from pixio_ads.outputs.manifest import read_table
from pixio_ads.render import clip, loading
from pixio_ads.run import planning, runner
from pixio_ads.run.shards import shard_complete
from pixio_ads.settings import Execution, RenderSettings, ReviewSettings, Safeguards

quiet_explained_errors()  # a full disk or a folder in use: our message in the run log, no traceback


@dataclass
class CompleteShard(CachePolicy):
    """Cache key = the task's inputs + its source (not the run id, so reruns can hit), and
    only while every output of the shard is on disk with its recorded sha256: a deleted or
    corrupt image turns caching off for that shard, so it renders again."""

    inner: CachePolicy = field(
        default_factory=lambda: (
            INPUTS
            - "retries"
            - "retry_delay"
            - "finish_workers"
            - "stall_seconds"
            - "compile_mode"  # compiled images equal the eager ones: either's shard is complete
            - "offload"  # so are offloaded ones
            + TASK_SOURCE
        )
    )

    def compute_key(
        self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        if not shard_complete(inputs["out_dir"], inputs["variant_ids"]):
            return None
        return self.inner.compute_key(task_ctx=task_ctx, inputs=inputs, flow_parameters=flow_parameters, **kwargs)


@task(name="plan-campaign")
def plan_campaign(
    campaign_path: str,
    out_dir: str,
    overrides: RenderSettings,
    limit: int | None,
    shard_size: int,
    safeguards: Safeguards,
    recipe: str | None = None,
) -> planning.Plan:
    """Validate and expand the campaign; write the plan; carry earlier results forward."""
    return planning.plan_campaign(campaign_path, out_dir, overrides, limit, shard_size, safeguards, recipe)


# Retries here catch what escapes the library (e.g. the plan file unreadable for a moment);
# a failing batch is already retried, then recorded as failed, inside render_shard.
@task(name="render-shard", cache_policy=CompleteShard(), persist_result=True, retries=2, retry_delay_seconds=[2, 10])
def render_shard(
    plan_path: str,
    variant_ids: list[str],
    out_dir: str,
    device: str | None,
    batch_size: int | None,
    safety_checker: bool,
    retries: int,
    retry_delay: float,
    safeguards: Safeguards,
    finish_workers: int | None = None,
    clip_model: str | None = None,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    compile_mode: str | None = None,
    offload: str | None = None,
) -> runner.ShardResult:
    """Render and composite one shard of variants, keeping what is already done; stops at
    the next batch when the flow run is cancelled."""
    with lifecycle.rendering():
        return runner.render_shard(
            plan_path,
            variant_ids,
            out_dir,
            device,
            batch_size,
            safety_checker,
            retries,
            retry_delay,
            safeguards,
            finish_workers,
            progress=_notify_progress,
            clip_model=clip_model,
            stall_seconds=stall_seconds,
            should_stop=lifecycle.cancel_requested,
            compile_mode=compile_mode,
            offload=offload,
        )


_progress_listeners: list[Callable[[int], None]] = []


def add_progress_listener(listener: Callable[[int], None]) -> Callable[[], None]:
    """Call ``listener(n)`` whenever n more variants are finished by render tasks running in
    this process; returns a function that removes it. (The CLI's progress bar listens here;
    on Dask workers the progress artifact tells instead.)"""
    _progress_listeners.append(listener)
    return lambda: _progress_listeners.remove(listener)


def _notify_progress(count: int) -> None:
    for listener in list(_progress_listeners):
        listener(count)


@task(name="write-manifest")
def write_manifest(plan_path: str, shards: list[runner.ShardResult], out_dir: str) -> runner.Summary:
    """Merge the shards into the campaign manifest."""
    return runner.write_manifest(plan_path, shards, out_dir)


@task(name="publish-report")
def publish_report(
    summary: runner.Summary, campaign_id: str, out_dir: str, review_url: str | None = None, review_text: str = ""
) -> None:
    """Contact sheet, plus the summary table and markdown artifacts (links to the review page
    while it runs; the review's counts once it is done)."""
    table = read_table(summary.manifest_path)
    text = summary.describe() + (f"; review: {review_text}" if review_text else "")
    png, page = report.contact_sheet(table, out_dir)
    create_table_artifact(
        key=report.artifact_key(campaign_id, "summary"),
        table=report.summary_rows(table),
        description=text,
    )
    create_markdown_artifact(
        key=report.artifact_key(campaign_id, "report"),
        markdown=report.markdown_report(text, table, out_dir, png, page, review_url=review_url),
        description=f"outputs of {campaign_id}",
    )


# persist_result: a run suspended for review starts again from its persisted task results
@flow(
    name="generate-campaign",
    task_runner=ThreadPoolTaskRunner(max_workers=SHARDS_IN_FLIGHT),
    validate_parameters=True,
    persist_result=True,
)
def generate_campaign(
    campaign_path: str,
    out_dir: str,
    rendering: RenderSettings = RenderSettings(),
    safeguards: Safeguards = Safeguards(),
    execution: Execution = Execution(),
    review: ReviewSettings = ReviewSettings(),
    recipe: str | None = None,
):
    """Render a campaign file (or a catalogue feed with its ``recipe``) into ``out_dir``:
    images, manifest.parquet, contact sheet.
    Settings are `pixio-ads run`'s options (pixio_ads/settings.py); a rerun into the same folder
    renders only what is missing. With ``review.wait_for_review`` a run a worker started is
    suspended until "Review done" on the page a review-page run serves; a run started here
    (`pixio-ads run --review`) serves the page itself and pauses."""
    lifecycle.bind_to_supervisor()  # a served or worker-started run ends with its supervisor
    # one run at a time per output location; on object storage the run works in a local copy
    # of it (pulled now, pushed as shards end and at the end, also when it fails: storage.py)
    with outlock.locked(out_dir, wait=execution.wait), storage.working_copy(out_dir) as workspace:
        try:
            summary, campaign_id = _generate(
                campaign_path, workspace, rendering, safeguards, execution, review, recipe
            )
        except RunCancelled as cancelled:  # the finished rows are kept for a rerun
            return Cancelled(message=str(cancelled))
        if review.wait_for_review and _can_suspend():  # suspended: frees the worker
            _suspend_for_review(summary, campaign_id, workspace, review)
        elif review.wait_for_review:
            outcome = _wait_for_review(summary, campaign_id, str(workspace.local), review)
            if outcome is not None:
                return Paused(message=outcome)
    return Completed(message=summary.describe(), data=summary)


def _can_suspend() -> bool:
    """A deployment's run, with the review-page deployment beside it (`pixio-ads deploy`):
    it can be suspended and started again by a worker. Otherwise (`pixio-ads run --review`,
    or `pixio-ads serve`, which has no review-page) the run serves the page and pauses."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    context = FlowRunContext.get()
    if not (context and context.flow_run and context.flow_run.deployment_id):
        return False
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(REVIEW_PAGE_DEPLOYMENT)
    except ObjectNotFound:
        return False
    return True


def _suspend_for_review(
    summary: runner.Summary, campaign_id: str, workspace: storage.Workspace, settings: ReviewSettings
) -> None:
    """Start the review page (a review-page run on the cpu pool), then suspend this run until
    its 'Review done': nothing of this run is left running meanwhile (no process, no lock,
    no model in GPU memory). Resumed, the run starts again from the top; its shards are done
    (their cache, or their verified files), the plan and manifest are made again, and this
    call returns the reviewer's answer at once; then the approved set is written."""
    logger = get_run_logger()
    run_id = str(FlowRunContext.get().flow_run.id)
    page = run_deployment(
        REVIEW_PAGE_DEPLOYMENT,
        parameters={
            "out_dir": workspace.location,
            "campaign_run_id": run_id,
            "review_settings": settings.model_dump(),
        },
        timeout=0,
        idempotency_key=f"{run_id}:review-page",  # resumed, this run finds the page it started
        flow_run_name=f"review-{campaign_id}",
    )
    publish_report(
        summary, campaign_id, str(workspace.local), review_text=f"waiting for review (flow run {page.name})"
    )
    workspace.push()  # everything on the store before this process goes
    logger.info("suspended for review: the page is served by flow run %s (%s) on its pool", page.name, page.id)
    answer = suspend_flow_run(
        wait_for_input=ReviewDone, timeout=int(settings.review_timeout_hours * 3600), key="review"
    )
    workspace.pull()  # the decisions the review page uploaded
    counts = review.write_approved(str(workspace.local))
    logger.info("review done by %s: %s", answer.reviewer, counts.describe())
    publish_report(summary, campaign_id, str(workspace.local), review_text=counts.describe())


class RunCancelled(Exception):
    """The flow run was cancelled while its shards rendered (they stopped at a batch's end)."""


def _wait_for_review(summary: runner.Summary, campaign_id: str, out_dir: str, settings: ReviewSettings) -> str | None:
    """Serve the review page, pause until 'Review done', then write the approved set.
    Returns a message when the wait timed out (the run is then left paused, not failed)."""
    from pixio_ads.delivery.reviewapp import ReviewContext, ReviewServer

    logger = get_run_logger()
    flow_run_id = FlowRunContext.get().flow_run.id

    def resume(reviewer: str) -> str:
        resume_flow_run(flow_run_id, run_input=ReviewDone(reviewer=reviewer).model_dump())
        return "review done: the flow run resumes and writes the approved set"

    context = ReviewContext(Path(out_dir), review.default_reviewer(), settings.review_token, on_done=resume)
    server = ReviewServer(context, settings.review_host, settings.review_port)
    url = server.start()
    try:
        publish_report(summary, campaign_id, out_dir, review_url=url)
        logger.info("review the creatives at %s, then click 'Review done'", url)
        answer = pause_flow_run(
            wait_for_input=ReviewDone,
            timeout=int(settings.review_timeout_hours * 3600),
            poll_interval=REVIEW_POLL_SECONDS,
            key="review",
        )
    except FlowPauseTimeout:
        message = (
            f"no 'Review done' within {settings.review_timeout_hours:g} h; the run is left paused. Decisions are kept: "
            f"finish with `pixio-ads review {out_dir}` and its 'Review done' writes the approved set"
        )
        logger.warning(message)
        return message
    finally:
        server.stop()
    counts = review.write_approved(out_dir)
    logger.info("review done by %s: %s", answer.reviewer, counts.describe())
    publish_report(summary, campaign_id, out_dir, review_text=counts.describe())
    return None


REVIEW_POLL_SECONDS = 2


def _render_shards(
    plan, workspace: storage.Workspace, inputs: dict[str, str], safeguards: Safeguards, run: Execution, clip_model
):
    """One render task per shard, their progress in an artifact; the flow's task runner decides
    where they run (in this process one at a time by default, or on Dask workers; runners.py),
    unless a render deployment is set: then each shard is a flow run on its pool (fleet.py)."""
    progress = create_progress_artifact(
        0.0, key=report.artifact_key(plan.campaign_id, "progress"), description="variants finished (%)"
    )
    if run.render_deployment:  # one flow run per shard on the deployment's work pool (fleet.py)
        finished = []

        def shard_done(result: runner.ShardResult) -> None:
            finished.append(len(result.variant_ids))
            _notify_progress(len(result.variant_ids))
            update_progress_artifact(progress, 100.0 * sum(finished) / max(plan.total, 1))

        return fleet.render_on_fleet(plan, workspace, inputs, safeguards, run, clip_model, shard_done)
    out_dir = str(workspace.local)
    shard_settings = (run.device, run.batch_size, run.safety_checker, run.retries, run.retry_delay, safeguards)
    futures = [
        render_shard.submit(
            plan.plan_path,
            ids,
            out_dir,
            *shard_settings,
            run.finish_workers,
            clip_model,
            run.stall_seconds,
            run.compile_with,
            run.offload,
        )
        for ids in plan.shards
    ]
    finished = 0
    for future in as_completed(futures):
        finished += len(future.result().variant_ids)
        update_progress_artifact(progress, 100.0 * finished / max(plan.total, 1))
        workspace.push()  # on object storage: this shard's creatives, then its rows
    return [future.result() for future in futures]


def _generate(
    campaign_path: str,
    workspace: storage.Workspace,
    rendering: RenderSettings,
    safeguards: Safeguards,
    execution: Execution,
    review_settings: ReviewSettings,
    recipe: str | None = None,
):
    """The flow's steps: plan, one render task per shard, manifest, report."""
    logger = get_run_logger()
    run, out_dir = execution, str(workspace.local)
    if review_settings.clip_model:
        clip.check_reference(review_settings.clip_model)  # before any rendering
    shard_size = run.shard_size or planning.default_shard_size(loading.select_device(run.device))
    plan = plan_campaign(campaign_path, out_dir, rendering, run.limit, shard_size, safeguards, recipe)
    for warning in plan.warnings:
        logger.warning(warning)
    if not run.safety_checker:
        logger.warning("safety checker disabled for this run")
    logger.info(
        "%d variants in %d shards (%d blocked by the content policy, %d skipped by quota)",
        plan.total,
        len(plan.shards),
        plan.blocked,
        plan.skipped,
    )
    inputs = storage.input_folders(campaign_path)
    shards = _render_shards(plan, workspace, inputs, safeguards, run, review_settings.clip_model)
    if any(shard.stopped for shard in shards):
        kept = runner.rows_in(shards)
        raise RunCancelled(
            f"cancelled: {kept} of {plan.total} variant(s) finished are kept; run again to render the rest"
        )
    for worker, loads in runner.model_loads(shards).items():
        logger.info("worker %s loaded %d model(s) in %.1f s", worker, loads[0], loads[1])
    summary = write_manifest(plan.plan_path, shards, out_dir)
    if not review_settings.wait_for_review:  # else published with the review page's links
        publish_report(summary, plan.campaign_id, out_dir)
    logger.info("manifest %s: %s", summary.manifest_path, summary.describe())
    return summary, plan.campaign_id


if __name__ == "__main__":
    generate_campaign("campaigns/spring-sale/campaign.csv", "out/demo")
