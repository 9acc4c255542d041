"""Report rows joined to the creatives, kept in ``results.parquet``, and the latest figures per
creative beside its manifest columns (``performance.parquet``).

A row joins by what our exports wrote: a variant id anywhere in it (``utm_content=<id>`` of
the URL tags or the Final URL suffix, an image's file name in an asset report), else Meta's
ad name as ``export --to meta`` names ads. What joins nothing is named, never dropped quietly.
Reading the same file again replaces its rows; the same ad and day in two different files is
an error naming both, so nothing is counted twice.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pixio_ads.delivery.meta_sheet import ad_names
from pixio_ads.outputs.manifest import read_table, write_table
from pixio_ads.results.reports import ReportError, ReportRow, read_report

RESULTS_FILE = "results.parquet"
PERFORMANCE_FILE = "performance.parquet"
RESULTS_SCHEMA_VERSION = b"1"
_FIELDS = {
    "source_file": pa.string(), "source_sha256": pa.string(), "platform": pa.string(), "report_row": pa.int32(),
    "campaign": pa.string(), "ad_set": pa.string(), "ad_name": pa.string(), "day": pa.date32(),
    "impressions": pa.int64(), "clicks": pa.int64(), "conversions": pa.float64(), "cost": pa.float64(),
    "currency": pa.string(),
}  # fmt: skip
RESULTS_SCHEMA = pa.schema(
    [pa.field("variant_id", pa.string(), nullable=False), *(pa.field(name, kind) for name, kind in _FIELDS.items())],
    metadata={b"pixio_ads.results_version": RESULTS_SCHEMA_VERSION},
)
_VARIANT_ID = re.compile(r"\b[0-9a-f]{20}\b")


@dataclasses.dataclass
class Joined:
    rows: list[dict]  # results rows (RESULTS_SCHEMA), joined
    unjoined: list[ReportRow]
    files: list[str]


def join_reports(out_dir: Path, files: list[str | Path]) -> Joined:
    """Read every file and join its rows to the manifest of ``out_dir``."""
    manifest = read_table(Path(out_dir) / "manifest.parquet").to_pylist()
    known = {row["variant_id"] for row in manifest}
    names = ad_names([row for row in manifest if row["status"] == "rendered" and "meta" in row["platforms"]])
    campaigns = {row["campaign_id"] for row in manifest}
    joined, unjoined, seen = [], [], {}
    for file in files:
        report = read_report(file)
        if report[0].source_sha256 in seen:
            continue  # the same file twice: read once
        seen[report[0].source_sha256] = str(file)
        matched = [(row, _variant_of(row, known, names)) for row in report]
        if not any(vid for _, vid in matched):
            raise ReportError(_another_campaign(file, report, campaigns))
        joined += [{"variant_id": vid, **dataclasses.asdict(row)} for row, vid in matched if vid]
        unjoined += [row for row, vid in matched if not vid]
    return Joined(joined, unjoined, list(seen.values()))


def _variant_of(row: ReportRow, known: set[str], names: dict[str, str]) -> str | None:
    found = [vid for vid in _VARIANT_ID.findall(row.text) if vid in known]
    if found:
        return found[0]
    return names.get(row.ad_name)


def _another_campaign(file, report: list[ReportRow], campaigns: set[str]) -> str:
    theirs = sorted({row.campaign for row in report if row.campaign})
    if theirs and not set(theirs) & campaigns:
        return (
            f"{file}: a report for campaign {', '.join(theirs)}, not this run's ({', '.join(sorted(campaigns))}): "
            "pass the run's own output folder"
        )
    return (
        f"{file}: none of its {len(report)} row(s) names a creative of this run (e.g. ad {report[0].ad_name!r}): "
        "report on the ads `pixio-ads export` made, with Ad name (Meta) or Final URL suffix (Google) as a column"
    )


def merge_results(out_dir: Path, joined: Joined) -> pa.Table:
    """The new rows with the earlier results (rows of a file read again are replaced), checked
    for the same ad and day counted twice; written atomically to results.parquet."""
    path = Path(out_dir) / RESULTS_FILE
    earlier = pq.read_table(path).to_pylist() if path.is_file() else []
    new_files = {row["source_sha256"] for row in joined.rows}
    rows = [row for row in earlier if row["source_sha256"] not in new_files] + joined.rows
    _no_double_days(rows)
    table = pa.Table.from_pylist(rows, schema=RESULTS_SCHEMA)
    write_table(table, path)
    return table


def _no_double_days(rows: list[dict]) -> None:
    first: dict[tuple, dict] = {}
    for row in rows:
        key = (row["platform"], row["variant_id"], row["ad_name"], row["day"])
        if key in first:
            other = first[key]
            day = row["day"].isoformat() if row["day"] else "the whole period"
            raise ReportError(
                f"{row['source_file']}, line {row['report_row']}: ad {row['ad_name'] or row['variant_id']!r} on {day} "
                f"is also in {other['source_file']}, line {other['report_row']}: the same day counted twice; "
                "pass reports of different days, or one report for the whole period"
            )
        first[key] = row


def performance(out_dir: Path, results: pa.Table) -> pa.Table:
    """The manifest's rendered creatives with their summed figures (impressions, clicks, ctr,
    conversions, cost, cpa), written to
    performance.parquet: what the analysis and the review page read."""
    totals: dict[str, dict] = defaultdict(lambda: dict.fromkeys(("impressions", "clicks", "conversions", "cost"), 0))
    for row in results.to_pylist():
        for name in ("impressions", "clicks", "conversions", "cost"):
            totals[row["variant_id"]][name] += row[name]
    manifest = read_table(Path(out_dir) / "manifest.parquet")
    rows = []
    for row in manifest.to_pylist():
        figures = totals.get(row["variant_id"])
        if row["status"] != "rendered" or figures is None:
            continue
        ctr = figures["clicks"] / figures["impressions"] if figures["impressions"] else None
        cpa = figures["cost"] / figures["conversions"] if figures["conversions"] else None
        rows.append({**row, **figures, "ctr": ctr, "cpa": cpa})
    table = pa.Table.from_pylist(rows, schema=_performance_schema(manifest.schema))
    write_table(table, Path(out_dir) / PERFORMANCE_FILE)
    return table


def _performance_schema(manifest: pa.Schema) -> pa.Schema:
    extra = [
        pa.field("impressions", pa.int64()), pa.field("clicks", pa.int64()), pa.field("ctr", pa.float64()),
        pa.field("conversions", pa.float64()), pa.field("cost", pa.float64()), pa.field("cpa", pa.float64()),
    ]  # fmt: skip
    return pa.schema(list(manifest) + extra, metadata=manifest.metadata)
