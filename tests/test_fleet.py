"""A campaign over a fleet, with real parts: `prefect server start`, `pixio-ads deploy`, two
process workers on the gpu pool (CUDA_VISIBLE_DEVICES=0 and 1, --limit 1), the example
campaign through `pixio-ads run --render-deployment`. Shards spread over both workers, no
worker holds two at once, each row records its worker's device; a worker SIGKILLed mid-run
and the campaign still completes with every variant exactly once; the same campaign from
and into object storage (moto's S3 server), each worker with a cache of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN, REPO
from servers import BIN, api_post, prefect_server, s3_server, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
RENDER = "render-shard/render-shard"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A server with the deployments registered by `pixio-ads deploy`; yields (env, home)."""
    home = tmp_path_factory.mktemp("prefect-home")
    with prefect_server(home) as api:
        env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(home)}
        done = subprocess.run([str(BIN / "pixio-ads"), "deploy"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "deployed render-shard/render-shard" in done.stdout
        yield env, home


@contextmanager
def worker(env: dict, home: Path, device: str, **extra_env: str):
    """`prefect worker start --pool gpu --limit 1` seeing one GPU, started in a folder of its own."""
    folder = home / f"worker-{device}"
    folder.mkdir(exist_ok=True)
    log = open(folder / "worker.log", "w")
    process = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "gpu", "--limit", "1", "--name", f"gpu-{device}"],
        env={**env, "CUDA_VISIBLE_DEVICES": device, **extra_env},
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            stop(process)
        log.close()


def online_workers(api: str) -> int:
    workers = api_post(api, "/work_pools/gpu/workers/filter", {"limit": 10, "offset": 0})
    return sum(w["status"] == "ONLINE" for w in workers)


def shard_runs(api: str) -> list[dict]:
    body = {"flows": {"name": {"any_": ["render-shard"]}}, "sort": "START_TIME_ASC", "limit": 200, "offset": 0}
    return api_post(api, "/flow_runs/filter", body)


def start_campaign(env: dict, out: Path | str, log: Path, campaign: Path | str = EXAMPLE_CAMPAIGN) -> subprocess.Popen:
    args = ["run", campaign, "--out", out, "--limit", "8", "--shard-size", "2", "--steps", "2"]
    handle = open(log, "w")
    run = subprocess.Popen(
        [str(BIN / "pixio-ads"), *map(str, args), "--render-deployment", RENDER],
        env=env,
        cwd=REPO,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    return run


def finished(run: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    try:
        run.wait(timeout)
    except subprocess.TimeoutExpired:
        run.kill()
        pytest.fail(f"the campaign did not end in {timeout:.0f}s: {log.read_text()[-3000:]}")
    assert run.returncode == 0, log.read_text()[-3000:]


def assert_each_variant_once(out: Path) -> list[dict]:
    """Every planned variant has one row, rendered, its file on disk with the recorded sha256,
    and no temp file is left anywhere under the output folder."""
    from pixio_ads.core.fileio import sha256_file

    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert len(rows) == 8 and len({r["variant_id"] for r in rows}) == 8
    assert all(r["status"] == "rendered" for r in rows), [r["error"] for r in rows]
    assert all(sha256_file(out / r["output_path"]) == r["output_sha256"] for r in rows)
    assert not list(out.rglob("*.tmp"))
    return rows


def test_shards_spread_over_two_workers_one_at_a_time_each_on_its_device(fleet, tmp_path):
    env, home = fleet
    api = env["PREFECT_API_URL"]
    with worker(env, home, "0"), worker(env, home, "1"):
        wait_until(lambda: online_workers(api) == 2, 90, "two workers online")
        out, log = tmp_path / "out", tmp_path / "run.log"
        finished(start_campaign(env, out, log), log)
    rows = assert_each_variant_once(out)
    assert {r["visible_devices"] for r in rows} == {"0", "1"}  # both workers rendered
    runs = [r for r in shard_runs(api) if r["state_type"] == "COMPLETED"]
    assert len(runs) == 4
    device_of_pid = {r["worker"].rsplit(":", 1)[1]: r["visible_devices"] for r in rows}
    by_device: dict[str, list[tuple[str, str]]] = {}
    for run in runs:
        by_device.setdefault(device_of_pid[run["infrastructure_pid"]], []).append((run["start_time"], run["end_time"]))
    for device, spans in by_device.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end <= start, f"the worker with CUDA_VISIBLE_DEVICES={device} ran two shards at once: {spans}"


def test_a_worker_killed_mid_run_its_shard_is_rendered_by_the_other_and_nothing_twice(fleet, tmp_path):
    env, home = fleet
    api = env["PREFECT_API_URL"]
    with worker(env, home, "0"), worker(env, home, "1") as doomed:
        wait_until(lambda: online_workers(api) == 2, 90, "two workers online")
        before = {r["id"] for r in shard_runs(api)}
        out, log = tmp_path / "out", tmp_path / "run.log"
        run = start_campaign(env, out, log)

        def doomed_shard():
            children = {str(p.pid): p for p in psutil.Process(doomed.pid).children(recursive=True)}
            running = [r for r in shard_runs(api) if r["id"] not in before and r["state_type"] == "RUNNING"]
            return next(
                (children[r["infrastructure_pid"]] for r in running if r["infrastructure_pid"] in children), None
            )

        orphan = wait_until(doomed_shard, 300, "a shard running on the worker to kill", interval=0.2)
        time.sleep(3)  # into its rendering
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        psutil.wait_procs([orphan], timeout=20)
        assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE, "the killed worker's run lived on"
        finished(run, log)
    assert_each_variant_once(out)
    runs = [r for r in shard_runs(api) if r["id"] not in before]
    assert any(r["state_type"] == "CRASHED" for r in runs), [(r["name"], r["state_type"]) for r in runs]
    assert any(r["name"].endswith("try-2") and r["state_type"] == "COMPLETED" for r in runs)
    assert sum(r["state_type"] == "COMPLETED" for r in runs) == 4  # each shard completed once


def test_campaign_and_creatives_on_object_storage_over_the_fleet(fleet, tmp_path):
    import hashlib

    import fsspec

    env, home = fleet
    api = env["PREFECT_API_URL"]
    with s3_server(tmp_path) as s3_env:
        env = {**env, **s3_env, "PIXIO_ADS_CACHE": str(tmp_path / "cache-campaign")}
        fs = fsspec.filesystem(
            "s3", skip_instance_cache=True, endpoint_url=s3_env["AWS_ENDPOINT_URL"], key="testing", secret="testing"
        )
        fs.mkdir("ads")
        fs.put(str(EXAMPLE_CAMPAIGN.parent) + "/", "ads/spring-sale/", recursive=True)
        caches = {device: {"PIXIO_ADS_CACHE": str(tmp_path / f"cache-{device}")} for device in "01"}
        with worker(env, home, "0", **caches["0"]), worker(env, home, "1", **caches["1"]):
            wait_until(lambda: online_workers(api) == 2, 90, "two workers online")
            log = tmp_path / "run.log"
            run = start_campaign(env, "s3://ads/runs/fleet", log, campaign="s3://ads/spring-sale/campaign.csv")
            finished(run, log)
        fs.invalidate_cache()
        rows = pq.read_table("ads/runs/fleet/manifest.parquet", filesystem=fs).to_pylist()
        assert len(rows) == 8 and all(r["status"] == "rendered" for r in rows), [r["error"] for r in rows]
        assert {r["visible_devices"] for r in rows} == {"0", "1"}
        for row in rows:
            data = fs.cat_file(f"ads/runs/fleet/{row['output_path']}")
            assert hashlib.sha256(data).hexdigest() == row["output_sha256"]
        keys = fs.find("ads/runs/fleet")
        assert not [k for k in keys if k.endswith(".tmp") or k.endswith(".lock")], keys
        # the workers rendered from the campaign files fetched into their own caches
        assert all(list((tmp_path / f"cache-{d}" / "inputs").rglob("products")) for d in "01")
