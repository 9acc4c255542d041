"""Real servers for the integration tests: `prefect server start` on a free port, and the
small waits and calls the tests make against it."""

from __future__ import annotations

import inspect
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


# A Prefect database with every migration applied, made once per test run (migrated_database);
# each server the tests start gets a copy instead of migrating a new one (~6 s of CPU each).
TEMPLATE_DATABASE = "PIXIO_ADS_TEST_PREFECT_DB"


def migrated_database(shared: Path) -> Path:
    """The run's migrated Prefect database (SQLite), made by the first test process to ask
    (the others wait on a file lock): `prefect server database upgrade`, as a server's start
    would run it, in a home of its own."""
    from filelock import FileLock

    home = shared / "prefect-template"
    database = home / "prefect.db"
    with FileLock(shared / "prefect-template.lock"):
        if not database.exists():
            building = shared / "prefect-template.building"
            building.mkdir(exist_ok=True)
            env = {**os.environ, "PREFECT_HOME": str(building), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
            env.pop("PREFECT_API_URL", None)
            done = subprocess.run(
                [str(BIN / "prefect"), "server", "database", "upgrade", "-y"], env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stdout + done.stderr
            building.rename(home)
    return database


def copy_migrated_database(target: Path) -> None:
    """A copy of the run's migrated database at ``target``, where one was made (conftest)."""
    import shutil

    if template := os.environ.get(TEMPLATE_DATABASE):
        shutil.copyfile(template, target)


def prefect_env(api_url: str, home: Path | None = None) -> dict[str, str]:
    """The environment for a process a test starts (a run, a worker, `pixio-ads serve`),
    pointed at the Prefect server ``api_url`` (and its ``home``, where given)."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return env | ({"PREFECT_HOME": str(home)} if home is not None else {})


def harness_env() -> dict[str, str]:
    """``prefect_env`` for this test process's Prefect server (the session's harness,
    conftest.py): a `pixio-ads run` then reports there, as a user's run does with
    PREFECT_API_URL set, instead of starting Prefect's temporary server of its own (~8 s of CPU
    each). The tests of that temporary server start runs without it."""
    from prefect.settings import PREFECT_API_URL

    return prefect_env(PREFECT_API_URL.value())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def prefect_server(home: Path, **extra_env: str):
    """`prefect server start` on a free port with its own PREFECT_HOME; yields the API URL."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_API_URL": api,  # else the dashboard calls 127.0.0.1:4200
        **extra_env,
    }
    env.pop("PREFECT_API_URL", None)
    if "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in extra_env:  # SQLite in its home
        copy_migrated_database(home / "prefect.db")
    log = open(home / "server.log", "w")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def healthy():
        if server.poll() is not None:
            pytest.fail(f"prefect server exited: {(home / 'server.log').read_text()[-3000:]}")
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 180, "the Prefect server")
        yield api
    finally:
        stop(server)
        log.close()


@contextmanager
def prefect_api(api: str):
    """This process's Prefect client pointed at ``api``, a server the test started. On leaving,
    the logs and events it queued are sent while that server still runs, as Prefect's own test
    harness does: left queued, they were retried against the stopped server when the test
    process ended, several seconds each."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain():  # as prefect_test_harness drains
        try:
            logs = APILogWorker.instance().drain()
            if inspect.isawaitable(logs):
                await logs
        except RuntimeError:  # no log worker was started
            pass
        events = EventsWorker.drain_all()
        if inspect.isawaitable(events):
            await events

    with temporary_settings({PREFECT_API_URL: api}):
        try:
            yield
        finally:
            run_coro_as_sync(drain())


def api_post(api: str, path: str, body: dict) -> list[dict]:
    response = httpx.post(f"{api}{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


@contextmanager
def s3_server(home: Path, authenticate: bool = False):
    """moto's standalone S3-compatible server on a free port; yields the environment a client
    (s3fs, and every process the test starts) needs to use it, the standard AWS_* variables.
    ``authenticate``: the server checks keys (moto's IAM), so these test keys are refused."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = open(home / f"s3-{port}.log", "w")
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"} if authenticate else None
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )

    def up():
        if server.poll() is not None:
            pytest.fail(f"moto_server exited: {(home / f's3-{port}.log').read_text()[-3000:]}")
        try:
            # Any answer means it listens (with authentication on, moto answers an unsigned request with 500).
            return httpx.get(endpoint, timeout=2).status_code < 500 or authenticate
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 60, "the S3 server")
        yield {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
    finally:
        stop(server)
        log.close()
