"""Shared fixtures: an isolated model cache, a Prefect test server, a small campaign folder.
Helpers that tests import live in helpers.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

SESSION_MARK = "PIXIO_ADS_TEST_SESSION"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs 3 processes on 2 cores, each starting runs, workers and servers of its own:
    # torch's and OpenMP's default of a thread per core in each made them spin against each other
    # (measured: tests/test_outlock.py alone used 10% less CPU with one thread, docs/development.md).
    for _name in ("OMP_NUM_THREADS", "PIXIO_ADS_TORCH_THREADS"):
        os.environ.setdefault(_name, "1")
# The slowest modules (docs/development.md), started first so that under `make test`'s
# processes (one module per process at a time) the longest ones never end up last, in one process.
SLOWEST_MODULES = (
    "test_killsafe.py", "test_fleet.py", "test_server.py", "test_storage.py", "test_scale.py", "test_outlock.py",
    "test_families.py", "test_orchestration.py", "test_gpu_engine.py", "test_video.py", "test_finishing.py",
    "test_fullsize.py", "test_backdrop_model.py",
)  # fmt: skip
# Seconds between a Prefect worker's (or a served runner's) polls for runs to start or cancel:
# 10 by default, so every hand-over in a fleet or served test waited up to 10 s doing nothing.
QUICK_POLLS = {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_RUNNER_POLL_FREQUENCY": "1"}


_TEMPLATE_BUILD = pytest.StashKey[subprocess.Popen]()  # the migrated database's build, in the main process


@pytest.hookimpl(trylast=True)  # after the tmp_path plugin's configure
def pytest_configure(config):
    """The run's migrated Prefect database (servers.migrated_database) is started here, in the
    background of the main process, so that it is ready when the test processes' harnesses,
    started after their collection, need it."""
    if hasattr(config, "workerinput"):  # a pytest-xdist test process: its controller started it
        return
    shared = config._tmp_path_factory.getbasetemp()  # the folder the test processes' folders are in
    script = "import sys; from pathlib import Path; from servers import migrated_database; migrated_database(Path(sys.argv[1]))"
    config.stash[_TEMPLATE_BUILD] = subprocess.Popen(
        [sys.executable, "-c", script, str(shared)], cwd=Path(__file__).parent, stdout=subprocess.DEVNULL
    )


def pytest_unconfigure(config):
    if (build := config.stash.get(_TEMPLATE_BUILD, None)) is not None:
        build.wait()


def pytest_collection_modifyitems(items):
    first = {name: rank for rank, name in enumerate(SLOWEST_MODULES)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))  # stable: the rest keep their order


def pytest_runtest_setup(item):
    """Optional system packages a test needs (``@pytest.mark.needs("noto")``): skipped with the
    command that installs them where missing, a failure under CI (tests/optional.py)."""
    from optional import require

    for mark in item.iter_markers("needs"):
        for name in mark.args:
            require(name)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Fail the suite when a test leaves a process running. Every process the tests start
    inherits a mark in its environment; at the end (after every other fixture has ended its
    own) no process but this one may carry it, orphans included. Checked by pid (read from
    /proc), never by name; multiprocessing's resource tracker of this process ends with it."""
    import uuid

    mark = uuid.uuid4().hex
    os.environ[SESSION_MARK] = mark
    yield
    from pixio_ads.run.finishing import shutdown_pools

    shutdown_pools()  # this process's own finishing pools, kept for its life by design
    deadline = time.monotonic() + 15
    while (left := _marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if left:
        described = "; ".join(f"pid {p.pid} (parent {p.ppid()}): {' '.join(p.cmdline())[:160]}" for p in left)
        pytest.fail(f"{len(left)} process(es) left running by the tests: {described}", pytrace=False)


def _marked_processes(mark: str) -> list:
    import psutil

    me = os.getpid()
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid == me or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(SESSION_MARK) != mark:
                continue
            if process.ppid() == me and "resource_tracker" in " ".join(process.cmdline()):
                continue
            found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.fixture(scope="session", autouse=True)
def quick_polls():
    """Workers and served runners started by the tests poll every second (inherited)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in QUICK_POLLS.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Build the embedded model in a per-session cache, never in the user's home."""
    cache = tmp_path_factory.mktemp("pixio-cache")
    previous = os.environ.get("PIXIO_ADS_CACHE")
    os.environ["PIXIO_ADS_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("PIXIO_ADS_CACHE", None)
    else:
        os.environ["PIXIO_ADS_CACHE"] = previous


def shared_folder(tmp_path_factory) -> Path:
    """The test run's folder, shared by its pytest-xdist processes (each has one of its own below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def prefect_harness(tmp_path_factory):
    """A temporary Prefect server and database for the session's flow tests, started with the
    session (each pytest-xdist process has its own): a flow run in the test process never
    falls back to Prefect's temporary server, which outlives the session's process check.
    Prefect's logging is configured here too: left to a process's first flow run, it replaced
    the root logger's handlers mid-test, pytest's caplog among them.
    Its database, and that of every server a test starts, is a copy of one migrated once per
    run (servers.migrated_database): the harness makes its database in a new temporary folder,
    which is given that copy."""
    import tempfile

    import prefect.testing.utilities
    from prefect.logging.configuration import setup_logging
    from prefect.testing.utilities import prefect_test_harness
    from servers import TEMPLATE_DATABASE, copy_migrated_database, migrated_database

    def folder_with_the_database() -> str:
        folder = tempfile.mkdtemp()
        copy_migrated_database(Path(folder) / "prefect-test.db")  # the name the harness gives it
        return folder

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TEMPLATE_DATABASE, str(migrated_database(shared_folder(tmp_path_factory))))
        patch.setattr(prefect.testing.utilities, "mkdtemp", folder_with_the_database)
        with prefect_test_harness(server_startup_timeout=120):
            setup_logging()
            yield


@pytest.fixture(scope="session")
def example_out(tmp_path_factory) -> Path:
    """The example campaign rendered once per test run (1 step) through the real CLI and flow;
    under pytest-xdist the first process to need it renders it, the others wait for it and read
    it. Tests that change the folder work on a copy (``example_copy``)."""
    from filelock import FileLock
    from typer.testing import CliRunner

    from pixio_ads.cli import app

    shared = shared_folder(tmp_path_factory)
    out, done = shared / "example" / "out", shared / "example" / "rendered"
    with FileLock(shared / "example.lock"):
        if not done.exists():
            campaign = Path(__file__).resolve().parent.parent / "campaigns" / "spring-sale" / "campaign.csv"
            result = CliRunner().invoke(app, ["run", str(campaign), "--out", str(out), "--steps", "1"])
            assert result.exit_code == 0, result.output
            done.touch()
    return out


@pytest.fixture
def example_copy(example_out, tmp_path) -> Path:
    """A private copy of the rendered example (its manifest, images, thumbnails)."""
    import shutil

    target = tmp_path / "out"
    shutil.copytree(example_out, target, ignore=shutil.ignore_patterns("export", "shards"))
    return target


@pytest.fixture
def campaign_dir(tmp_path) -> Path:
    """A campaign folder with a transparent product PNG in products/."""
    (tmp_path / "products").mkdir()
    image = Image.new("RGBA", (64, 96), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (16, 16, 48, 80))
    image.save(tmp_path / "products" / "widget.png")
    return tmp_path


@pytest.fixture(scope="session")
def credentials(tmp_path_factory):
    folder = tmp_path_factory.mktemp("c2pa")
    from helpers import make_chain

    chain, key, ca = make_chain()
    (folder / "chain.pem").write_bytes(chain)
    (folder / "key.pem").write_bytes(key)
    (folder / "ca.pem").write_bytes(ca)
    return folder
