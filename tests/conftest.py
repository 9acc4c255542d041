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


@pytest.fixture
def campaign_dir(tmp_path) -> Path:
    """A campaign folder with a transparent product PNG in products/."""
    (tmp_path / "products").mkdir()
    image = Image.new("RGBA", (64, 96), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (16, 16, 48, 80))
    image.save(tmp_path / "products" / "widget.png")
    return tmp_path
