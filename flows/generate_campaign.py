"""Prefect flow: validate -> expand (plan) -> render/composite in shards -> write manifest.

Thin by design: every step is a call into ``pixio_ads.runner``; tasks take and return
paths, ids and small values. Runs without a Prefect server (ephemeral mode).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from pixio_ads import runner
from pixio_ads.upscale import DEFAULT_UPSCALER_STEPS
from pixio_ads.variants import Overrides


@task(name="plan-campaign")
def plan_campaign(campaign_path: str, out_dir: str, overrides: Overrides, limit: int | None, shard_size: int) -> runner.Plan:
    """Validate and expand the campaign; write the plan."""
    return runner.plan_campaign(campaign_path, out_dir, overrides, limit, shard_size)


@task(name="render-shard")
def render_shard(
    plan_path: str, variant_ids: list[str], out_dir: str, device: str | None, batch_size: int | None, safety_checker: bool
) -> str:
    """Render and composite one shard of variants; returns its manifest shard path."""
    return runner.render_shard(plan_path, variant_ids, out_dir, device, batch_size, safety_checker)


@task(name="write-manifest")
def write_manifest(plan_path: str, shard_paths: list[str], out_dir: str) -> runner.Summary:
    """Merge the shards into the campaign manifest."""
    return runner.write_manifest(plan_path, shard_paths, out_dir)


@flow(name="generate-campaign")
def generate_campaign(
    campaign_path: str,
    out_dir: str,
    model: str | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    scheduler: str | None = None,
    revision: str | None = None,
    dtype: str | None = None,
    upscaler: str | None = None,
    upscaler_steps: int = DEFAULT_UPSCALER_STEPS,
    limit: int | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    safety_checker: bool = True,
    shard_size: int = runner.DEFAULT_SHARD_SIZE,
) -> runner.Summary:
    logger = get_run_logger()
    overrides = Overrides(model, steps, guidance, scheduler, revision, dtype, upscaler, upscaler_steps)
    plan = plan_campaign(campaign_path, out_dir, overrides, limit, shard_size)
    for warning in plan.warnings:
        logger.warning(warning)
    logger.info("%d variants in %d shards", plan.total, len(plan.shards))
    if not safety_checker:
        logger.warning("safety checker disabled for this run")
    shard_paths = [render_shard(plan.plan_path, ids, out_dir, device, batch_size, safety_checker) for ids in plan.shards]
    summary = write_manifest(plan.plan_path, shard_paths, out_dir)
    logger.info("manifest %s: %s", summary.manifest_path, summary.counts)
    return summary


if __name__ == "__main__":
    generate_campaign("campaigns/spring-sale/campaign.csv", "out/demo")
