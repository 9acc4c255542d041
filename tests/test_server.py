"""Integration with a real `prefect server start`: served deployments, the inbox, the
dashboard in headless Chromium, and the server on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import EXAMPLE_CAMPAIGN, REPO, good_row, write_csv
from optional import CHROMIUM, INITDB, require
from servers import BIN, api_post, free_port, prefect_api, prefect_env, prefect_server, stop, wait_until

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "test-artifacts"


def run_deployment_on(
    api: str, name: str, parameters: dict | None = None, timeout: float = 600, idempotency_key: str | None = None
):
    from prefect.deployments import run_deployment

    with prefect_api(api):
        return run_deployment(
            name, parameters=parameters or {}, timeout=timeout, poll_interval=1, idempotency_key=idempotency_key
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A real server plus `pixio-ads serve` with both deployments."""
    home = tmp_path_factory.mktemp("prefect-home")
    work = tmp_path_factory.mktemp("served")
    inbox_dir = work / "inbox"
    with prefect_server(home) as api:
        env = prefect_env(api, home)
        log = open(work / "serve.log", "w")
        serve = subprocess.Popen(
            [str(BIN / "pixio-ads"), "serve", "--inbox", str(inbox_dir), "--out", str(work / "out"), "--cron", "0 0 1 1 *", "--settle-seconds", "0.5"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def deployments_ready():
            if serve.poll() is not None:
                pytest.fail(f"pixio-ads serve exited: {(work / 'serve.log').read_text()[-3000:]}")
            names = {d["name"] for d in api_post(api, "/deployments/filter", {"limit": 10})}
            return {"generate-campaign", "campaign-inbox"} <= names

        try:
            wait_until(deployments_ready, 180, "the served deployments")
            yield api, inbox_dir, work
        finally:
            stop(serve)
            log.close()


def test_deployment_run_through_the_real_server(served, tmp_path):
    api, _, _ = served
    run = run_deployment_on(
        api,
        "generate-campaign/generate-campaign",
        {
            "campaign_path": str(EXAMPLE_CAMPAIGN),
            "out_dir": str(tmp_path),
            "rendering": {"steps": 1},
            "execution": {"limit": 3},
        },
    )
    assert run.state.is_completed(), run.state
    assert "3 rendered" in run.state.message
    task_runs = api_post(api, "/task_runs/filter", {"flow_runs": {"id": {"any_": [str(run.id)]}}, "limit": 50})
    names = {t["name"].rsplit("-", 1)[0] for t in task_runs}
    assert {"plan-campaign", "render-shard", "write-manifest", "publish-report"} <= names
    assert all(t["state"]["type"] == "COMPLETED" for t in task_runs)
    artifacts = {
        a["key"]: a
        for a in api_post(
            api, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [str(run.id)]}}, "limit": 50}
        )
    }
    assert {"spring-sale-summary", "spring-sale-report", "spring-sale-progress"} <= set(artifacts)
    assert "manifest.parquet" in artifacts["spring-sale-report"]["data"]
    schedules = [d for d in api_post(api, "/deployments/filter", {"limit": 10}) if d["name"] == "campaign-inbox"][0][
        "schedules"
    ]
    assert schedules[0]["schedule"]["cron"] == "0 0 1 1 *"
    dashboard_shows_the_run(api, run)


def dashboard_shows_the_run(api: str, run) -> None:
    """Open the flow run's page in headless Chromium: the rendered page names the run."""
    require("chromium")  # without it the test's earlier checks stand and this one skips
    url = api.removesuffix("/api") + f"/runs/flow-run/{run.id}"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--virtual-time-budget=15000",
        "--window-size=1400,1000",
    ]  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard-flow-run.png"
    with_profile = lambda: [f"--user-data-dir={Path(ARTIFACTS / '.chromium-profile').resolve()}-{time.time_ns()}"]  # noqa: E731
    dom = subprocess.run(
        [CHROMIUM, *flags, *with_profile(), "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    subprocess.run(
        [CHROMIUM, *flags, *with_profile(), f"--screenshot={screenshot}", url], capture_output=True, timeout=120
    )
    for profile in ARTIFACTS.glob(".chromium-profile-*"):
        shutil.rmtree(profile, ignore_errors=True)
    assert run.name in dom, f"the dashboard page did not show flow run {run.name}"
    assert "generate-campaign" in dom
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000


def drop(inbox_dir: Path, rows: list[dict], name: str) -> Path:
    """Put a campaign file in the inbox, with its product image beside it."""
    (inbox_dir / "products").mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE_CAMPAIGN.parent / "products" / "bottle.png", inbox_dir / "products" / "widget.png")
    path = write_csv(inbox_dir, rows, name)
    old = time.time() - 5
    os.utime(path, (old, old))  # settled
    return path


def test_inbox_processes_a_file_once_and_files_it(served):
    api, inbox_dir, _ = served
    rows = [good_row(audiences="a", formats="square", steps="1")]
    drop(inbox_dir, rows, "spring.csv")
    first = run_deployment_on(api, "campaign-inbox/campaign-inbox")
    assert first.state.is_completed(), first.state
    done = inbox_dir / "done" / "spring.csv"
    assert done.is_file() and not (inbox_dir / "spring.csv").exists()
    report = (inbox_dir / "done" / "spring.csv.report.txt").read_text()
    assert "COMPLETED" in report.upper() and "1 rendered" in report

    drop(inbox_dir, rows, "spring.csv")  # the same content again
    drop(inbox_dir, [good_row(formats="gigantic")], "broken.csv")
    second = run_deployment_on(api, "campaign-inbox/campaign-inbox")
    assert second.state.is_completed(), second.state
    assert len(list((inbox_dir / "done").glob("spring*.csv"))) == 2
    generate_runs = api_post(api, "/flow_runs/filter", {"flow_runs": {"name": {"like_": "spring-"}}, "limit": 20})
    assert len(generate_runs) == 1, [r["name"] for r in generate_runs]  # idempotency key: processed once
    failed_report = (inbox_dir / "failed" / "broken.csv.report.txt").read_text()
    assert "row 2, column 'formats'" in failed_report and "not started" in failed_report


def test_growing_file_is_not_picked_up(served):
    api, inbox_dir, _ = served
    path = drop(inbox_dir, [good_row(product_id="late", audiences="a", formats="square")], "late.csv")
    os.utime(path)  # just modified: still arriving
    run = run_deployment_on(api, "campaign-inbox/campaign-inbox", {"settle_seconds": 300})
    assert run.state.is_completed()
    assert path.exists() and not (inbox_dir / "done" / "late.csv").exists()
    path.unlink()


@contextmanager
def postgres_cluster(folder: Path):
    """A throwaway PostgreSQL cluster on a free port (run as the postgres user when root)."""
    bin_dir = Path(INITDB).parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = folder / "pgdata"
    data.mkdir()
    if as_postgres:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    run = lambda *args: subprocess.run([*as_postgres, *map(str, args)], check=True, capture_output=True, text=True)  # noqa: E731
    run(bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
    run(
        bin_dir / "pg_ctl",
        "-D",
        data,
        "-l",
        folder / "pg.log",
        "-w",
        "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
        "start",
    )
    try:
        run(bin_dir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "prefect")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect", bin_dir, port
    finally:
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True
        )


@pytest.mark.needs("postgresql")
def test_server_on_postgresql(tmp_path):
    pg_root = Path("/tmp") / f"pixio-pg-{os.getpid()}"  # short path: the socket name must fit
    pg_root.mkdir()
    try:
        with postgres_cluster(pg_root) as (url, bin_dir, port):
            home = tmp_path / "home"
            home.mkdir()
            with prefect_server(home, PREFECT_SERVER_DATABASE_CONNECTION_URL=url) as api:
                from pixio_ads.flows.generate_campaign import generate_campaign
                from pixio_ads.settings import from_options

                with prefect_api(api):
                    settings = from_options(limit=1, steps=1)
                    state = generate_campaign(
                        str(EXAMPLE_CAMPAIGN), str(tmp_path / "out"), return_state=True, **settings
                    )
                assert state.is_completed()
                as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
                count = subprocess.run(
                    [*as_postgres, str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "prefect", "-tAc",
                     f"select count(*) from flow_run where id = '{state.state_details.flow_run_id}'"],
                    check=True, capture_output=True, text=True,
                ).stdout.strip()  # fmt: skip
                assert count == "1"  # the run is stored in PostgreSQL, not SQLite
    finally:
        shutil.rmtree(pg_root, ignore_errors=True)
