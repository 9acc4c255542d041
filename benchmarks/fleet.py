"""A campaign over process workers of a real Prefect server: Prefect's own overhead per
shard, and wall time with 2 workers against 1.

    .venv/bin/python benchmarks/fleet.py            # REPEATS=3 SHARDS=8 SLEEP=4 by default

Starts `prefect server start` (temporary PREFECT_HOME), registers the deployments with
`pixio-ads deploy`, plus ``sleepy-render-shard`` on the gpu pool: the real render-shard flow
whose each batch first sleeps SLEEP seconds (a stand-in for a GPU's work: on this 2-core
machine the CPU would otherwise decide the 2-against-1 ratio), then renders with the tiny
model at 1 step. Then `pixio-ads run --render-deployment` of SHARDS shards (1 variant each,
so 1 batch) with 1 worker, then 2 (`--limit 1` each), REPEATS times alternating, a new output
folder each time. From the flow runs' times on the server:

- ``shard_gap_seconds``: on one worker, the end of a shard run to the start of its next
  (Prefect's overhead per shard: the worker's poll, a new process, the flow's import);
- ``shard_run_seconds_median``: a shard run's duration (SLEEP, a 1-step render, and the
  run's own start-up: imports, reading the plan, writing rows);
- ``two_over_one_workers_wall_ratio``: wall time of the campaign with 2 workers over 1.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import datetime
from functools import wraps
from pathlib import Path

import httpx
from prefect import flow

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SLEEP = float(os.environ.get("SLEEP", "4"))
SHARDS = int(os.environ.get("SHARDS", "8"))
REPEATS = int(os.environ.get("REPEATS", "3"))
DEPLOYMENT = "sleepy-render-shard/sleepy"


def _sleepy_batches() -> None:
    """Each batch sleeps SLEEP seconds before the real render (in the worker's flow process)."""
    from pixio_ads.run import rendering

    real = rendering.render_batch_with_retries

    @wraps(real)
    def sleepy(*args, **kwargs):
        time.sleep(SLEEP)
        return real(*args, **kwargs)

    rendering.render_batch_with_retries = sleepy


@flow(name="sleepy-render-shard")
def sleepy_render_shard(
    plan_path: str,
    variant_ids: list[str],
    out_dir: str,
    execution: dict | None = None,
    safeguards: dict | None = None,
    clip_model: str | None = None,
    pixio_ads_version: str | None = None,
    inputs: dict[str, str] | None = None,
):
    """render-shard (the same parameters) with the sleeping stand-in for the GPU's work."""
    from pixio_ads.flows.render_shard import render_shard
    from pixio_ads.settings import Execution, Safeguards

    _sleepy_batches()
    return render_shard.fn(
        plan_path, variant_ids, out_dir, Execution(**(execution or {})), Safeguards(**(safeguards or {})),
        clip_model, pixio_ads_version, inputs,
    )  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


@contextmanager
def _process(args: list[str], env: dict, log: Path, cwd: Path = REPO):
    with open(log, "w") as handle:
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _post(api: str, path: str, body: dict) -> list[dict]:
    response = httpx.post(f"{api}{path}", json={"limit": 200, "offset": 0, **body}, timeout=30)
    response.raise_for_status()
    return response.json()


def _online(api: str, names: set[str]) -> bool:
    workers = _post(api, "/work_pools/gpu/workers/filter", {})
    return names <= {w["name"] for w in workers if w["status"] == "ONLINE"}


def _campaign(env: dict, out: Path) -> float:
    args = [str(BIN / "pixio-ads"), "run", str(REPO / "campaigns/spring-sale/campaign.csv"), "--out", str(out)]
    args += ["--limit", str(SHARDS), "--shard-size", "1", "--steps", "1", "--render-deployment", DEPLOYMENT]
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - started


def _times(api: str, out: Path) -> list[tuple[str, float, float]]:
    """(worker pid, start, end) of each shard run of this campaign."""
    body = {"flows": {"name": {"any_": ["sleepy-render-shard"]}}, "sort": "START_TIME_ASC"}
    runs = [r for r in _post(api, "/flow_runs/filter", body) if r["parameters"].get("out_dir") == str(out)]
    stamp = lambda text: datetime.fromisoformat(text).timestamp()  # noqa: E731
    return [(r["infrastructure_pid"], stamp(r["start_time"]), stamp(r["end_time"])) for r in runs]


def _gaps(spans: list[tuple[str, float, float]], pid_parent: dict[str, str]) -> list[float]:
    """End of a shard to the start of the next on the same worker."""
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for pid, start, end in spans:
        by_worker.setdefault(pid_parent.get(pid, "?"), []).append((start, end))
    gaps = []
    for worker_spans in by_worker.values():
        worker_spans.sort()
        gaps += [b[0] - a[1] for a, b in zip(worker_spans, worker_spans[1:])]
    return gaps


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="pixio-fleet-bench-"))
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server_env = {**env, "PREFECT_SERVER_UI_API_URL": api}
    server_env.pop("PREFECT_API_URL")
    server_args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with _process(server_args, server_env, home / "server.log"):
        _wait(lambda: _healthy(api), 180, "the Prefect server")
        subprocess.run([str(BIN / "pixio-ads"), "deploy"], env=env, check=True, capture_output=True, timeout=300)
        register = (  # by module path, as pixio-ads deploy does (workers get PYTHONPATH=REPO)
            "from benchmarks.fleet import sleepy_render_shard as f; from prefect.types.entrypoint import EntrypointType; "
            "f.to_deployment(name='sleepy', work_pool_name='gpu', entrypoint_type=EntrypointType.MODULE_PATH).apply()"
        )
        subprocess.run([sys.executable, "-c", register], env=env, cwd=REPO, check=True, capture_output=True)
        results = {1: [], 2: []}
        gaps, overheads = [], []
        for repeat in range(REPEATS):
            for workers in (1, 2):
                out = home / f"out-{workers}-{repeat}"
                wall, spans, parents = _measure(env, home, api, out, workers)
                results[workers].append(wall)
                gaps += _gaps(spans, parents)
                overheads += [end - start for _, start, end in spans]
                print(f"repeat {repeat + 1}, {workers} worker(s): {wall:.1f} s", flush=True)
    shutil.rmtree(home, ignore_errors=True)
    one, two = statistics.median(results[1]), statistics.median(results[2])
    print(f"shards: {SHARDS}  sleep_per_shard_seconds: {SLEEP}  repeats: {REPEATS}")
    print(f"one_worker_wall_seconds: {one:.1f}")
    print(f"two_workers_wall_seconds: {two:.1f}")
    print(f"shard_run_seconds_median: {statistics.median(overheads):.2f}")
    print(f"shard_gap_seconds: {statistics.median(gaps):.2f}")
    print(f"two_over_one_workers_wall_ratio: {two / one:.3f}")


def _measure(env: dict, home: Path, api: str, out: Path, workers: int):
    """One campaign with ``workers`` gpu workers; its wall time, shard spans, pid -> worker."""
    with ExitStack() as stack:
        procs, names = [], {f"w{index}-{out.name}" for index in range(workers)}
        for index, name in enumerate(sorted(names)):
            args = [str(BIN / "prefect"), "worker", "start", "--pool", "gpu", "--limit", "1", "--name", name]
            worker_env = {**env, "CUDA_VISIBLE_DEVICES": str(index), "PYTHONPATH": str(REPO)}
            procs.append(stack.enter_context(_process(args, worker_env, home / f"{name}.log")))
        _wait(lambda: _online(api, names), 120, f"{workers} worker(s)")
        stop, parents = threading.Event(), {}
        watcher = threading.Thread(target=_watch_children, args=(procs, parents, stop), daemon=True)
        watcher.start()
        wall = _campaign(env, out)
        stop.set()
        watcher.join()
    return wall, _times(api, out), parents


def _watch_children(procs, parents: dict[str, str], stop: threading.Event) -> None:
    """Which worker started each flow process (their pids are the runs' infrastructure_pid)."""
    import psutil

    while not stop.wait(0.2):
        for proc in procs:
            for child in psutil.Process(proc.pid).children(recursive=True):
                parents.setdefault(str(child.pid), str(proc.pid))


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
