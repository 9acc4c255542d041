"""Flow behaviour against Prefect's test server: caching and resume, failure isolation,
artifacts, and a run killed with SIGKILL then resumed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN, REPO, good_row, write_csv
from servers import harness_env

from pixio_ads.outputs import report
from pixio_ads.render.tiny_model import EMBEDDED_RANDOM_ID, ensure_embedded_model
from pixio_ads.run import planning
from pixio_ads.run.shards import is_complete

pytestmark = pytest.mark.slow


def run_flow(**parameters):
    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.settings import from_options

    paths = {name: parameters.pop(name) for name in ("campaign_path", "out_dir")}
    state = generate_campaign(return_state=True, **paths, **from_options(**parameters))
    return state.result(), state.state_details.flow_run_id, state


def shard_states(flow_run_id) -> list[str]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            limit=200,
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        )
    return sorted(run.state.name for run in runs if run.name.startswith("render-shard"))


def test_rerun_renders_nothing_and_hits_the_cache(prefect_harness, tmp_path):
    params = dict(campaign_path=str(EXAMPLE_CAMPAIGN), out_dir=str(tmp_path), limit=3, steps=1, shard_size=2)
    first, run_id, state = run_flow(**params)
    assert first.rendered_now == 3 and shard_states(run_id) == ["Completed", "Completed"]
    assert state.message == first.describe() and "3 rendered, 0 failed, 0 blocked, 0 skipped" in state.message

    second, run_id, _ = run_flow(**params)  # outputs complete: the task runs, renders nothing, is cached
    assert second.rendered_now == 0 and shard_states(run_id) == ["Completed", "Completed"]
    third, run_id, _ = run_flow(**params)  # a new run id, same inputs: served from the cache
    assert third.rendered_now == 0 and shard_states(run_id) == ["Cached", "Cached"]

    manifest = pq.read_table(third.manifest_path).to_pylist()
    (tmp_path / manifest[0]["output_path"]).unlink()  # a lost image turns caching off for its shard
    fourth, run_id, _ = run_flow(**params)
    assert fourth.rendered_now == 1 and shard_states(run_id) == ["Cached", "Completed"]
    restored = pq.read_table(fourth.manifest_path).to_pylist()
    assert restored[0]["output_sha256"] == manifest[0]["output_sha256"]  # same pixels again

    (tmp_path / manifest[1]["output_path"]).write_bytes(b"corrupt")  # a corrupt image is re-rendered too
    fifth, _, _ = run_flow(**params)
    assert fifth.rendered_now == 1
    assert (
        hashlib.sha256((tmp_path / manifest[1]["output_path"]).read_bytes()).hexdigest()
        == manifest[1]["output_sha256"]
    )

    other_model, run_id, _ = run_flow(**{**params, "model": "embedded:tiny-sdxl"})  # the key follows the inputs
    assert other_model.rendered_now == 3 and shard_states(run_id) == ["Completed", "Completed"]
    other_prompt, run_id, _ = run_flow(**{**params, "guidance": 2.0})
    assert other_prompt.rendered_now == 3 and "Cached" not in shard_states(run_id)
    assert pq.read_table(other_prompt.manifest_path).num_rows == 3  # the manifest follows the latest plan


def test_one_failing_product_does_not_stop_the_campaign(prefect_harness, campaign_dir, tmp_path):
    # complete as validate reads it (its family and components), its UNet's weights unreadable
    broken = campaign_dir / "broken-checkpoint"
    shutil.copytree(ensure_embedded_model(EMBEDDED_RANDOM_ID), broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.write_bytes(b"not safetensors")
    path = write_csv(
        campaign_dir, [good_row(audiences="a"), good_row(product_id="other", audiences="a", model=str(broken))]
    )
    summary, _, state = run_flow(campaign_path=str(path), out_dir=str(tmp_path), steps=1, retry_delay=0.01)
    assert summary.counts == {"rendered": 2, "failed": 2, "blocked": 0, "skipped": 0}
    assert state.is_completed() and "2 rendered, 2 failed" in state.message
    failed = [row for row in pq.read_table(summary.manifest_path).to_pylist() if row["status"] == "failed"]
    assert {row["product_id"] for row in failed} == {"other"}
    assert all("cannot load model" in row["error"] and str(broken) in row["error"] for row in failed)


def test_artifacts_have_stable_keys_and_content(prefect_harness, tmp_path):
    from prefect import get_client

    summary, run_id, _ = run_flow(campaign_path=str(EXAMPLE_CAMPAIGN), out_dir=str(tmp_path), limit=4, steps=1)

    async def read_artifacts():
        # The REST filter directly: this client version sends null for omitted filters, which
        # its server refuses, and empty task-run filters drop artifacts created by the flow itself.
        async with get_client() as client:
            response = await client._client.post(
                "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [str(run_id)]}}, "limit": 50}
            )
            response.raise_for_status()
            return response.json()

    artifacts = asyncio.run(read_artifacts())
    # Unkeyed artifacts are Prefect's own result records (the flow persists its results so a
    # run suspended for review can resume); ours all have stable keys.
    by_key = {a["key"]: a for a in artifacts if a["key"]}
    assert set(by_key) == {"spring-sale-summary", "spring-sale-report", "spring-sale-progress"}
    table = by_key["spring-sale-summary"]["data"]
    table = json.loads(table) if isinstance(table, str) else table
    assert sum(row["rendered"] for row in table) == 4
    assert (
        "manifest.parquet" in by_key["spring-sale-report"]["data"]
        and "contact-sheet.png" in by_key["spring-sale-report"]["data"]
    )
    assert float(by_key["spring-sale-progress"]["data"]) == 100.0
    assert (tmp_path / report.CONTACT_SHEET_PNG).is_file() and (tmp_path / report.CONTACT_SHEET_HTML).is_file()


KILL_SCRIPT = """
import sys
from pixio_ads.flows.generate_campaign import generate_campaign
from pixio_ads.settings import from_options
generate_campaign(sys.argv[1], sys.argv[2], **from_options(steps=12, shard_size=8))
"""


def test_a_killed_run_resumes_with_only_the_missing_variants(prefect_harness, tmp_path):
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(EXAMPLE_CAMPAIGN), str(out)], cwd=REPO, env=harness_env()
    )
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            shards = list((out / "shards").glob("shard-*.parquet")) if (out / "shards").is_dir() else []
            if sum(pq.read_table(p).num_rows for p in shards) >= 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the run did not get going")
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    plan_ids = set(pq.read_table(out / planning.PLAN_FILE).column("variant_id").to_pylist())
    kept = {
        row["variant_id"]
        for p in (out / "shards").glob("shard-*.parquet")
        for row in pq.read_table(p).to_pylist()
        if is_complete(row, out)
    }
    assert 3 <= len(kept) < len(plan_ids) == 10

    summary, _, _ = run_flow(campaign_path=str(EXAMPLE_CAMPAIGN), out_dir=str(out), steps=12, shard_size=8)
    assert summary.rendered_now == len(plan_ids) - len(kept)  # only what was missing
    rows = pq.read_table(summary.manifest_path).to_pylist()
    assert len(rows) == len({r["variant_id"] for r in rows}) == 10  # no duplicate rows
    for row in rows:
        assert row["status"] == "rendered"
        assert hashlib.sha256((out / row["output_path"]).read_bytes()).hexdigest() == row["output_sha256"]
    assert not list(out.rglob("*.tmp"))


def test_run_logs_keep_tracebacks_for_bugs_only():
    """Our errors and a full disk are logged with their message and no traceback; anything
    else (a bug) keeps its traceback."""
    import errno
    import logging
    import sys

    from pixio_ads.core.errors import ValidationError
    from pixio_ads.flows.logs import ExplainedErrors

    def record_for(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            return logging.LogRecord(
                "prefect.task_runs", logging.ERROR, __file__, 1, "Task run failed: %r", (exc,), sys.exc_info()
            )

    disk = record_for(OSError(errno.ENOSPC, "No space left on device", "/out/manifest.parquet"))
    ExplainedErrors().filter(disk)
    assert disk.exc_info is None and "the disk is full (/out/manifest.parquet)" in disk.getMessage()
    ours = record_for(ValidationError([]))
    ExplainedErrors().filter(ours)
    assert ours.exc_info is None
    bug = record_for(ZeroDivisionError("division by zero"))
    ExplainedErrors().filter(bug)
    assert bug.exc_info is not None and bug.getMessage() == "Task run failed: ZeroDivisionError('division by zero')"
