"""The finishing pool: same files as finishing in-process, failures isolated per creative,
a finishing process killed mid-run replaced without duplicate rows or half-written files."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import good_row, write_csv
from PIL import Image

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.run import cores, finishing, planning, runner
from pixio_ads.settings import RenderSettings


def scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)).resize((512, 512))


@pytest.fixture
def variants(campaign_dir):
    path = write_csv(campaign_dir, [good_row(formats="square", audiences="a; b; c", styles="minimal; bold")])
    return expand(load_campaign(path))


def batches_of(variants, size: int = 2) -> list[list[finishing.Rendered]]:
    rendered = [(v, scene(i), {"status": "rendered", "device": "cpu"}) for i, v in enumerate(variants)]
    return [rendered[i : i + size] for i in range(0, len(rendered), size)]


def finish_all(finisher: finishing.Finisher, batches) -> list[dict]:
    rows = []
    for batch in batches:
        rows += finisher.submit(batch)
    return rows + finisher.close()


def test_processes_write_what_a_thread_writes(variants, tmp_path):
    batches = batches_of(variants)
    in_thread = finish_all(finishing.Finisher(tmp_path / "thread", None, workers=0), batches)
    in_pool = finish_all(finishing.Finisher(tmp_path / "pool", None, workers=2, queue=2), batches)
    assert [r["variant_id"] for r in in_pool] == [v.variant_id for v in variants]  # order kept
    assert [r["output_sha256"] for r in in_pool] == [r["output_sha256"] for r in in_thread]
    for row in in_pool:
        data = (tmp_path / "pool" / row["output_path"]).read_bytes()
        assert row["status"] == "rendered" and hashlib.sha256(data).hexdigest() == row["output_sha256"]


def test_an_error_fails_that_creative_only(variants, tmp_path, campaign_dir):
    batches = batches_of(variants[:4])
    broken = batches[0][1][0]
    missing = broken.product_image.replace("widget.png", "gone.png")
    batches[0][1] = (dataclasses.replace(broken, product_image=missing), *batches[0][1][1:])
    rows = finish_all(finishing.Finisher(tmp_path, None, workers=1), batches)
    assert [r["status"] for r in rows] == ["rendered", "failed", "rendered", "rendered"]
    assert "finishing failed" in rows[1]["error"] and "gone.png" in rows[1]["error"]
    assert rows[1]["output_path"] is None


def test_a_killed_process_is_replaced_and_its_batches_finished_again(variants, tmp_path):
    finisher = finishing.Finisher(tmp_path, None, workers=1, queue=8)
    batches = batches_of(variants, size=1)
    rows = finisher.submit(batches[0])
    killed = finisher.pids()
    assert killed
    for batch in batches[1:]:
        rows += finisher.submit(batch)
    os.kill(killed[0], signal.SIGKILL)  # mid-run: batches are queued and in hand
    rows += finisher.close()
    assert finisher.pids() and set(finisher.pids()).isdisjoint(killed)  # a fresh process took over
    assert sorted(r["variant_id"] for r in rows) == sorted(v.variant_id for v in variants)  # one row each
    assert all(r["status"] == "rendered" for r in rows)
    for row in rows:
        assert hashlib.sha256((tmp_path / row["output_path"]).read_bytes()).hexdigest() == row["output_sha256"]


def test_a_run_whose_finishing_process_dies_resumes_without_duplicates(campaign_dir, monkeypatch):
    """Through render_shard: the finishing process is killed after the second batch; every
    variant ends with exactly one row, each file matches its hash, and a rerun renders only
    what is missing (nothing here: the pool finished the batches it lost)."""
    path = write_csv(campaign_dir, [good_row(formats="square", audiences="a; b", styles="minimal; bold")])
    out = campaign_dir / "out"
    plan = planning.plan_campaign(path, out, RenderSettings(steps=1))
    ids = [vid for shard in plan.shards for vid in shard]
    submitted = []
    original_submit = finishing.Finisher.submit

    def submit_then_kill(self, batch):
        rows = original_submit(self, batch)
        submitted.append(batch)
        if len(submitted) == 2:
            os.kill(self.pids()[0], signal.SIGKILL)
        return rows

    monkeypatch.setattr(finishing.Finisher, "submit", submit_then_kill)
    result = runner.render_shard(plan.plan_path, ids, out, device="cpu", batch_size=1, finish_workers=1)
    rows = pq.read_table(result.path).to_pylist()
    assert sorted(r["variant_id"] for r in rows) == sorted(ids)
    assert {r["status"] for r in rows} <= {"rendered", "failed"}
    for row in rows:
        if row["status"] == "rendered":
            assert hashlib.sha256((out / row["output_path"]).read_bytes()).hexdigest() == row["output_sha256"]
    monkeypatch.undo()
    again = runner.render_shard(plan.plan_path, ids, out, device="cpu", batch_size=1, finish_workers=1)
    final = pq.read_table(again.path).to_pylist()
    assert len(final) == len(ids) and all(r["status"] == "rendered" for r in final)
    assert again.rendered == sum(r["status"] == "failed" for r in rows)
    summary = runner.write_manifest(plan.plan_path, [again], out)
    assert summary.counts["rendered"] == len(ids)
    planning.plan_campaign(path, out, RenderSettings(steps=1))  # a new plan clears temp files a killed process left
    assert not list(out.rglob("*.tmp"))


def test_default_workers_leave_the_renderer_its_cores(monkeypatch):
    cores.core_split.cache_clear()
    monkeypatch.setenv(cores.CORES_ENV, "16")  # a Dask share: nothing pinned
    assert cores.default_workers("cuda") == 15 and cores.default_workers("cpu") == 1
    monkeypatch.setenv(cores.CORES_ENV, "1")
    assert cores.default_workers("cuda") == 1
    monkeypatch.delenv(cores.CORES_ENV)
    for total, render in ((16, 2), (4, 1)):
        monkeypatch.setattr(cores, "_initial_affinity", lambda total=total: frozenset(range(total)))
        cores.core_split.cache_clear()
        split = cores.core_split("cuda")
        assert split.render == frozenset(range(render)) and split.finishing == frozenset(range(render, total))
        assert cores.default_workers("cuda") == total - render and cores.core_split("cpu") is None
    cores.core_split.cache_clear()


def test_the_queue_bounds_batches_in_flight(variants, tmp_path):
    finisher = finishing.Finisher(tmp_path, None, workers=1, queue=2)
    in_flight = []
    for batch in batches_of(variants, size=1):
        finisher.submit(batch)
        in_flight.append(len(finisher._pending))
    finisher.close()
    assert max(in_flight) <= 2


def test_a_hung_finishing_process_fails_its_shard_in_bounded_time_and_a_rerun_renders_it(campaign_dir, monkeypatch):
    """A finishing process that stops answering (SIGSTOP: alive, silent) would block the shard
    for ever; the stall watchdog gives the shard up after stall_seconds, naming it, its
    unfinished variants failed, and the rerun renders exactly those."""
    import time

    path = write_csv(campaign_dir, [good_row(formats="square", audiences="a; b", styles="minimal; bold")])
    out = campaign_dir / "out"
    plan = planning.plan_campaign(path, out, RenderSettings(steps=1))
    ids = [vid for shard in plan.shards for vid in shard]
    original_submit, submitted = finishing.Finisher.submit, []

    def submit_then_freeze(self, batch):
        submitted.append(batch)
        if len(submitted) == 2:
            os.kill(self.pids()[0], signal.SIGSTOP)
        return original_submit(self, batch)

    monkeypatch.setattr(finishing.Finisher, "submit", submit_then_freeze)
    started = time.monotonic()
    result = runner.render_shard(
        plan.plan_path, ids, out, device="cpu", batch_size=1, finish_workers=1, stall_seconds=4
    )
    assert time.monotonic() - started < 60
    rows = pq.read_table(result.path).to_pylist()
    assert sorted(r["variant_id"] for r in rows) == sorted(ids)  # one row each, none lost
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and all("made no progress for" in r["error"] and "rerun" in r["error"] for r in failed)
    monkeypatch.undo()
    again = runner.render_shard(plan.plan_path, ids, out, device="cpu", batch_size=1, finish_workers=1)
    assert again.rendered == len(failed)
    assert all(r["status"] == "rendered" for r in pq.read_table(again.path).to_pylist())


def test_a_stop_request_ends_the_shard_at_a_batch_and_keeps_what_is_finished(campaign_dir):
    path = write_csv(campaign_dir, [good_row(formats="square", audiences="a; b", styles="minimal; bold")])
    out = campaign_dir / "out"
    plan = planning.plan_campaign(path, out, RenderSettings(steps=1))
    ids = [vid for shard in plan.shards for vid in shard]
    asked = []

    def stop_after_two_batches() -> bool:
        asked.append(1)
        return len(asked) > 2

    result = runner.render_shard(
        plan.plan_path, ids, out, device="cpu", batch_size=1, finish_workers=1, should_stop=stop_after_two_batches
    )
    rows = pq.read_table(result.path).to_pylist()
    assert result.stopped and result.rendered == 2 == len(rows)
    assert all(r["status"] == "rendered" for r in rows)
    again = runner.render_shard(plan.plan_path, ids, out, device="cpu", batch_size=1, finish_workers=1)
    assert not again.stopped and again.reused == 2 and again.rendered == len(ids) - 2
