"""A campaign over a fleet, with real parts: `prefect server start`, `pixio-ads deploy`, two
process workers on the gpu pool (CUDA_VISIBLE_DEVICES=0 and 1, --limit 1), the example
campaign through `pixio-ads run --render-deployment`. Shards spread over both workers, no
worker holds two at once, each row records its worker's device; a worker SIGKILLed mid-run
and the campaign still completes with every variant exactly once; the same campaign from
and into object storage (moto's S3 server), each worker with a cache of its own."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN, REPO
from optional import CHROMIUM
from servers import BIN, api_post, prefect_env, prefect_server, s3_server, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
RENDER = "render-shard/render-shard"
# The example's first variants in shards of 2 (a shard holds one image size), for two workers of
# one shard at a time each: 4 variants make 2 shards, one a worker, one of them killed with its
# worker and left for the other; 5 make 3 (2 square, 1 story, 2 square), so a worker takes two in turn.
SHARD_SIZE = 2
SHARDS_OF = {4: 2, 5: 3}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A server with the deployments registered by `pixio-ads deploy`; yields (env, home)."""
    home = tmp_path_factory.mktemp("prefect-home")
    with prefect_server(home) as api:
        env = prefect_env(api, home)
        done = subprocess.run([str(BIN / "pixio-ads"), "deploy"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "deployed render-shard/render-shard" in done.stdout
        yield env, home


@contextmanager
def worker(env: dict, home: Path, device: str, pool: str = "gpu", **extra_env: str):
    """`prefect worker start --pool gpu --limit 1` seeing one GPU, started in a folder of its
    own (``pool="cpu"``: a cpu worker, no limit)."""
    folder = home / f"worker-{pool}-{device}"
    folder.mkdir(exist_ok=True)
    log = open(folder / "worker.log", "w")
    limit = ["--limit", "1"] if pool == "gpu" else []
    process = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", pool, *limit, "--name", f"{pool}-{device}"],
        env={**env, "CUDA_VISIBLE_DEVICES": device, **extra_env},
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.started_at = datetime.now(timezone.utc) - timedelta(seconds=1)  # the server's clock may lead by a little
    try:
        yield process
    finally:
        if process.poll() is None:
            stop(process)
        log.close()


def online(api: str, *workers: subprocess.Popen) -> bool:
    """Each of these workers has sent a heartbeat since it started. (A pool's ONLINE count is
    not enough: a worker stopped by an earlier test stays ONLINE until its heartbeats are
    missed, and a new worker of the same name reuses its record.)"""
    for process in workers:
        pool, name = process.args[process.args.index("--pool") + 1], process.args[-1]
        found = api_post(api, f"/work_pools/{pool}/workers/filter", {"limit": 50, "offset": 0})
        beats = [w["last_heartbeat_time"] for w in found if w["name"] == name and w["status"] == "ONLINE"]
        if not beats or datetime.fromisoformat(beats[0].replace("Z", "+00:00")) < process.started_at:
            return False
    return True


def shard_runs(api: str) -> list[dict]:
    body = {"flows": {"name": {"any_": ["render-shard"]}}, "sort": "START_TIME_ASC", "limit": 200, "offset": 0}
    return api_post(api, "/flow_runs/filter", body)


def start_campaign(
    env: dict, out: Path | str, log: Path, variants: int, campaign: Path | str = EXAMPLE_CAMPAIGN
) -> subprocess.Popen:
    args = ["run", campaign, "--out", out, "--limit", variants, "--shard-size", SHARD_SIZE, "--steps", "2"]
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


def assert_each_variant_once(out: Path, variants: int) -> list[dict]:
    """Every planned variant has one row, rendered, its file on disk with the recorded sha256,
    and no temp file is left anywhere under the output folder."""
    from pixio_ads.core.fileio import sha256_file

    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert len(rows) == variants and len({r["variant_id"] for r in rows}) == variants
    assert all(r["status"] == "rendered" for r in rows), [r["error"] for r in rows]
    assert all(sha256_file(out / r["output_path"]) == r["output_sha256"] for r in rows)
    assert not list(out.rglob("*.tmp"))
    return rows


def assert_spread_one_at_a_time_each_on_its_device(api: str, rows: list[dict], before: set[str]) -> None:
    """Both workers rendered; the campaign's shards each completed once; no worker (one GPU,
    --limit 1) ran two shards at once."""
    assert {r["visible_devices"] for r in rows} == {"0", "1"}
    runs = [r for r in shard_runs(api) if r["id"] not in before and r["state_type"] == "COMPLETED"]
    assert len(runs) == SHARDS_OF[len(rows)]
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
    with worker(env, home, "0") as first, worker(env, home, "1") as doomed:
        wait_until(lambda: online(api, first, doomed), 90, "two workers online")
        before = {r["id"] for r in shard_runs(api)}
        out, log = tmp_path / "out", tmp_path / "run.log"
        run = start_campaign(env, out, log, variants=4)

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
    assert_each_variant_once(out, variants=4)
    runs = [r for r in shard_runs(api) if r["id"] not in before]
    assert any(r["state_type"] == "CRASHED" for r in runs), [(r["name"], r["state_type"]) for r in runs]
    assert any(r["name"].endswith("try-2") and r["state_type"] == "COMPLETED" for r in runs)
    assert sum(r["state_type"] == "COMPLETED" for r in runs) == SHARDS_OF[4]  # each shard completed once


def test_campaign_and_creatives_on_object_storage_over_the_fleet_one_shard_at_a_time_per_worker(fleet, tmp_path):
    """Two workers, one GPU each, render a campaign read from and written to S3: the shards
    spread over both, one at a time on each, every creative on the bucket with its sha256."""
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
        with worker(env, home, "0", **caches["0"]) as first, worker(env, home, "1", **caches["1"]) as second:
            wait_until(lambda: online(api, first, second), 90, "two workers online")
            before = {r["id"] for r in shard_runs(api)}
            log = tmp_path / "run.log"
            run = start_campaign(env, "s3://ads/runs/fleet", log, 5, campaign="s3://ads/spring-sale/campaign.csv")
            finished(run, log)
        fs.invalidate_cache()
        rows = pq.read_table("ads/runs/fleet/manifest.parquet", filesystem=fs).to_pylist()
        assert len(rows) == len({r["variant_id"] for r in rows}) == 5
        assert all(r["status"] == "rendered" for r in rows), [r["error"] for r in rows]
        assert_spread_one_at_a_time_each_on_its_device(api, rows, before)
        for row in rows:
            data = fs.cat_file(f"ads/runs/fleet/{row['output_path']}")
            assert hashlib.sha256(data).hexdigest() == row["output_sha256"]
        keys = fs.find("ads/runs/fleet")
        assert not [k for k in keys if k.endswith(".tmp") or k.endswith(".lock")], keys
        # the workers rendered from the campaign files fetched into their own caches
        assert all(list((tmp_path / f"cache-{d}" / "inputs").rglob("products")) for d in "01")


def flow_runs(api: str, flow: str) -> list[dict]:
    body = {"flows": {"name": {"any_": [flow]}}, "sort": "EXPECTED_START_TIME_DESC", "limit": 20, "offset": 0}
    return api_post(api, "/flow_runs/filter", body)


@pytest.mark.needs("chromium")
def test_a_run_suspended_for_review_frees_its_worker_and_review_done_in_a_browser_resumes_it(fleet, tmp_path):
    from playwright.sync_api import sync_playwright
    from servers import free_port

    env, home = fleet
    api = env["PREFECT_API_URL"]
    out, port = tmp_path / "out", free_port()
    parameters = {
        "campaign_path": str(EXAMPLE_CAMPAIGN),
        "out_dir": str(out),
        "rendering": {"steps": 2},
        "execution": {"limit": 4, "shard_size": SHARD_SIZE, "render_deployment": RENDER},
        "review": {"wait_for_review": True, "review_port": port, "review_timeout_hours": 0.2},
    }
    with worker(env, home, "0") as gpu, worker(env, home, "x", pool="cpu") as cpu:
        wait_until(lambda: online(api, gpu, cpu), 90, "workers online")
        started = subprocess.run(
            [str(BIN / "prefect"), "deployment", "run", "generate-campaign/generate-campaign", "--params", json.dumps(parameters)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert started.returncode == 0, started.stdout + started.stderr

        def suspended():
            runs = flow_runs(api, "generate-campaign")
            return runs and runs[0]["state_name"] == "Suspended" and runs[0]

        campaign = wait_until(suspended, 400, "the campaign run suspended for review")
        page = wait_until(
            lambda: [r for r in flow_runs(api, "review-page") if r["state_type"] == "RUNNING"], 120, "the review page"
        )[0]
        # suspended, the campaign run has no process left: only the review page runs on the cpu worker
        assert not psutil.pid_exists(int(campaign["infrastructure_pid"]))
        url = f"http://127.0.0.1:{port}/"
        wait_until(lambda: _answers(url), 60, "the review page answering")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            tab = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
            tab.goto(url)
            assert tab.locator(".card").count() == 4
            tab.locator(".card").nth(0).get_by_role("button", name="Approve").click()
            wait_until(
                lambda: tab.locator(".card").nth(0).get_attribute("data-decision") == "approved", 10, "the decision"
            )
            tab.get_by_role("button", name="Review done").click()
            wait_until(lambda: "resumes" in tab.locator("#status").inner_text(), 20, "review done")
            browser.close()

        def completed():
            run = next(r for r in flow_runs(api, "generate-campaign") if r["id"] == campaign["id"])
            assert run["state_type"] not in ("FAILED", "CRASHED"), run["state"]
            return run["state_type"] == "COMPLETED"

        wait_until(completed, 300, "the resumed campaign run to complete")
    approved = pq.read_table(out / "approved.parquet").to_pylist()
    assert len(approved) == 1 and (out / "approved" / approved[0]["output_path"]).is_file()
    assert [r["state_type"] for r in flow_runs(api, "review-page") if r["id"] == page["id"]] == ["COMPLETED"]
    ours = [r for r in shard_runs(api) if r["parameters"].get("out_dir") == str(out)]
    assert [r["state_type"] for r in ours] == ["COMPLETED", "COMPLETED"]  # resumed, no shard started again
    assert all(r["status"] == "rendered" for r in pq.read_table(out / "manifest.parquet").to_pylist())


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def webhook_receiver():
    """A local HTTP server that keeps the JSON bodies POSTed to it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            received.append(json.loads(body or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_deploy_notify_calls_the_webhook_when_a_run_fails(fleet, tmp_path):
    env, home = fleet
    api = env["PREFECT_API_URL"]
    with webhook_receiver() as (url, received):
        deployed = subprocess.run(
            [str(BIN / "pixio-ads"), "deploy", "--notify", url], env=env, capture_output=True, text=True, timeout=300
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert deployed.stdout.count("calls the webhook block pixio-ads-notify") == 3
        again = subprocess.run(  # run again: replaced, not duplicated
            [str(BIN / "pixio-ads"), "deploy", "--notify", url], env=env, capture_output=True, text=True, timeout=300
        )
        assert again.returncode == 0, again.stderr
        automations = api_post(api, "/automations/filter", {"limit": 50, "offset": 0})
        assert len([a for a in automations if a["name"].startswith("pixio-ads: ")]) == 3
        bad = {
            "plan_path": "plan.parquet",
            "variant_ids": ["x"],
            "out_dir": str(tmp_path),
            "pixio_ads_version": "0.0.0",
        }
        with worker(env, home, "0") as gpu:
            wait_until(lambda: online(api, gpu), 90, "a worker online")
            started = subprocess.run(
                [str(BIN / "prefect"), "deployment", "run", RENDER, "--params", json.dumps(bad)],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert started.returncode == 0, started.stderr
            wait_until(lambda: any(r["event"] == "prefect.flow-run.Failed" for r in received), 180, "the webhook call")
    call = next(r for r in received if r["event"] == "prefect.flow-run.Failed")
    assert call["flow"] == "render-shard" and call["state"] == "Failed"
    assert "pixio-ads==0.0.0" in call["message"] and call["flow_run_id"]
