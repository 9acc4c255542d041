"""The manifest schema: declared once, versioned, round-trips, written atomically."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.outputs import manifest


@pytest.fixture(scope="module")
def variants():
    return expand(load_campaign(EXAMPLE_CAMPAIGN))


def result_row(variant, status="rendered", **extra):
    row = {name: getattr(variant, name) for name in manifest.PLAN_SCHEMA.names}
    row.update(dict.fromkeys(manifest.RESULT_COLUMNS))
    row.update(status=status, created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), **extra)
    return row


def test_plan_round_trip(tmp_path, variants):
    path = manifest.write_table(manifest.variants_to_table(variants), tmp_path / "plan.parquet")
    assert manifest.table_to_variants(manifest.read_table(path, manifest.PLAN_SCHEMA)) == variants


def test_manifest_round_trip_with_pyarrow(tmp_path, variants):
    rows = [result_row(v, output_path="images/x.png", output_sha256="ab" * 32, render_seconds=0.5) for v in variants]
    path = manifest.write_table(manifest.rows_to_table(rows), tmp_path / "manifest.parquet")
    table = pq.read_table(path)
    assert table.schema.equals(manifest.MANIFEST_SCHEMA, check_metadata=True)
    assert table.schema.metadata[b"pixio_ads.schema_version"] == manifest.SCHEMA_VERSION.encode()
    assert table.to_pylist() == rows
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")


def test_unknown_status_is_refused(variants):
    with pytest.raises(ValueError, match="status"):
        manifest.rows_to_table([result_row(variants[0], status="done")])


def test_other_schema_version_is_refused(tmp_path, variants):
    table = manifest.rows_to_table([result_row(variants[0])])
    pq.write_table(table.replace_schema_metadata({b"pixio_ads.schema_version": b"0"}), tmp_path / "old.parquet")
    with pytest.raises(manifest.ManifestError, match="schema version 0"):
        manifest.read_table(tmp_path / "old.parquet")


def test_a_file_of_the_same_version_without_a_later_added_column_reads_it_as_null(tmp_path, variants):
    table = manifest.rows_to_table([result_row(variants[0], status="rendered")])
    pq.write_table(table.drop_columns(["policy_checks"]), tmp_path / "earlier.parquet")
    read = manifest.read_table(tmp_path / "earlier.parquet")
    assert read.schema.equals(manifest.MANIFEST_SCHEMA) and read.column("policy_checks").to_pylist() == [None]


def test_failed_write_keeps_the_previous_file(tmp_path, variants, monkeypatch):
    path = manifest.write_table(manifest.rows_to_table([result_row(variants[0])]), tmp_path / "manifest.parquet")
    before = path.read_bytes()

    def crash(table, where):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(manifest.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        manifest.write_table(manifest.rows_to_table([result_row(v) for v in variants]), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.parquet"]  # no temp file left behind


def test_merge_keeps_plan_order_and_one_row_per_variant(variants):
    first = manifest.rows_to_table([result_row(v, status="failed", error="boom") for v in variants[:3]])
    retry = manifest.rows_to_table([result_row(variants[1])])
    merged = manifest.merge([v.variant_id for v in variants], [first, retry])
    assert merged.column("variant_id").to_pylist() == [v.variant_id for v in variants[:3]]
    assert merged.column("status").to_pylist() == ["failed", "rendered", "failed"]
    assert manifest.status_counts(merged) == {"rendered": 1, "failed": 2, "blocked": 0, "skipped": 0}


def test_a_version_2_manifest_is_upgraded_on_reading_with_empty_ad_settings(tmp_path, variants):
    rows = [result_row(v) for v in variants]
    v2 = manifest.rows_to_table(rows).drop_columns(
        ["ad_settings", "deliverables", "clean_path", "clean_sha256", "clean_watermark_payload"]
    )
    pq.write_table(v2.replace_schema_metadata({b"pixio_ads.schema_version": b"2"}), tmp_path / "v2.parquet")
    read = manifest.read_table(tmp_path / "v2.parquet")
    assert read.schema.equals(manifest.MANIFEST_SCHEMA)
    assert read.column("ad_settings").to_pylist() == [""] * len(rows)
    assert read.column("deliverables").to_pylist() == ["creative"] * len(rows)  # no clean image before v4
    assert read.column("variant_id").to_pylist() == [v.variant_id for v in variants]  # nothing renders again
    plan = manifest.variants_to_table(variants).drop_columns(["ad_settings", "deliverables"])
    pq.write_table(plan.replace_schema_metadata({b"pixio_ads.schema_version": b"2"}), tmp_path / "plan.parquet")
    assert manifest.read_table(tmp_path / "plan.parquet", manifest.PLAN_SCHEMA).num_rows == len(variants)
