"""End to end: the example campaign through the Prefect flow with the tiny model on CPU."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN
from PIL import Image
from typer.testing import CliRunner

from pixio_ads.core.formats import parse_format
from pixio_ads.outputs.manifest import MANIFEST_SCHEMA

pytestmark = pytest.mark.slow


def test_example_campaign_through_the_flow(prefect_harness, tmp_path):
    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.settings import from_options

    summary = generate_campaign(str(EXAMPLE_CAMPAIGN), str(tmp_path), **from_options(steps=2))
    assert summary.rendered_now == 10
    assert summary.counts == {"rendered": 10, "failed": 0, "blocked": 0, "skipped": 0}

    table = pq.read_table(summary.manifest_path)
    assert table.schema.equals(MANIFEST_SCHEMA, check_metadata=True)
    rows = table.to_pylist()
    assert len(rows) == 10 and len({row["variant_id"] for row in rows}) == 10
    for row in rows:
        assert row["status"] == "rendered" and row["error"] is None
        path = Path(summary.manifest_path).parent / row["output_path"]
        fmt = parse_format(row["format"])
        with Image.open(path) as image:
            assert image.size == (fmt.width, fmt.height) == (row["width"], row["height"])
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["output_sha256"]
        assert row["model_id"] == "embedded:tiny-sd-backdrops" and row["steps"] == 2 and row["render_seconds"] > 0
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files


def test_cli_run(prefect_harness, tmp_path):
    from pixio_ads.cli import app

    result = CliRunner().invoke(
        app, ["run", str(EXAMPLE_CAMPAIGN), "--out", str(tmp_path), "--limit", "2", "--steps", "1"]
    )
    assert result.exit_code == 0, result.output
    assert f"manifest: {tmp_path / 'manifest.parquet'}" in " ".join(result.output.split()).replace(
        "manifest: ", "manifest: "
    )
    assert pq.read_table(tmp_path / "manifest.parquet").num_rows == 2
