"""Shared fixtures: an isolated model cache, a Prefect test server, a small campaign folder.
Helpers that tests import live in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image


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


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect server and database for the session's flow tests."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def example_out(tmp_path_factory, prefect_harness) -> Path:
    """The example campaign rendered once per session (1 step) through the real CLI and flow.
    Tests that change the folder work on a copy (``example_copy``)."""
    from typer.testing import CliRunner

    from pixio_ads.cli import app

    campaign = Path(__file__).resolve().parent.parent / "campaigns" / "spring-sale" / "campaign.csv"
    out = tmp_path_factory.mktemp("example") / "out"
    result = CliRunner().invoke(app, ["run", str(campaign), "--out", str(out), "--steps", "1"])
    assert result.exit_code == 0, result.output
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
