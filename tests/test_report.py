"""Contact sheet and report helpers over a real rendered shard."""

from __future__ import annotations

import pyarrow.parquet as pq
from helpers import EXAMPLE_CAMPAIGN
from PIL import Image

from pixio_ads.outputs import report
from pixio_ads.run import planning, runner
from pixio_ads.settings import RenderSettings


def test_contact_sheet_uses_thumbnails_and_is_rebuilt_only_when_outputs_change(tmp_path):
    plan = planning.plan_campaign(EXAMPLE_CAMPAIGN, tmp_path, RenderSettings(steps=1), limit=3)
    shards = [runner.render_shard(plan.plan_path, ids, tmp_path, "cpu") for ids in plan.shards]
    table = pq.read_table(runner.write_manifest(plan.plan_path, shards, tmp_path).manifest_path)
    for row in table.to_pylist():
        with Image.open(tmp_path / report.thumbnail_path(row["output_path"])) as thumb:
            assert max(thumb.size) <= report.THUMB and thumb.format == "JPEG"
    png, page = report.contact_sheet(table, tmp_path)
    with Image.open(png) as sheet:
        assert sheet.size == (3 * report.THUMB, report.THUMB + report.CAPTION_HEIGHT)
    text = page.read_text()
    assert all(row["output_path"] in text for row in table.to_pylist())
    stamp = png.stat().st_mtime_ns
    assert (
        report.contact_sheet(table, tmp_path) == (png, page) and png.stat().st_mtime_ns == stamp
    )  # unchanged outputs
    changed = table.set_column(table.schema.get_field_index("status"), "status", [["failed"] * 3])
    report.contact_sheet(changed, tmp_path)
    assert png.stat().st_mtime_ns != stamp and "failed" in page.read_text()


def test_summary_rows_and_keys():
    assert report.artifact_key("Spring_Sale.2026", "summary") == "spring-sale-2026-summary"
    assert report.artifact_key("***", "report") == "campaign-report"
