"""The results loop in one call: reports read and joined, kept, analysed, charted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.results.charts import CHART_FILE, FRAGMENT_FILE, REPORT_FILE, chart, html_fragment, markdown
from pixio_ads.results.performance import (
    PERFORMANCE_FILE,
    RESULTS_FILE,
    Joined,
    join_reports,
    merge_results,
    performance,
)
from pixio_ads.results.predict import LearnedWeights, correlations, learn_weights, write_weights
from pixio_ads.results.reports import ReportError
from pixio_ads.results.winners import MIN_IMPRESSIONS, THRESHOLD, DimensionResult, analyse

RESULTS_DIR = "results"  # OUT/results/: the report, the chart, fitted weights (the review page serves it)
WEIGHTS_FILE = "learned-weights.yaml"


@dataclass
class Outcome:
    joined: Joined
    results: pa.Table
    performance: pa.Table
    dimensions: list[DimensionResult]
    report: str  # markdown
    files: list[Path]  # what was written
    learned: LearnedWeights | None = None


def read_results(
    out_dir: str | Path, files: list[str | Path], min_impressions: int = MIN_IMPRESSIONS,
    threshold: float = THRESHOLD, learn: bool = False,
) -> Outcome:  # fmt: skip
    """Join the report files to the run in ``out_dir``, keep them (results.parquet,
    performance.parquet) and analyse every creative with results so far."""
    out_dir = Path(out_dir)
    if not (out_dir / "manifest.parquet").is_file():
        raise ReportError(f"{out_dir}: no manifest.parquet: pass a run's output folder")
    joined = join_reports(out_dir, files)
    results = merge_results(out_dir, joined)
    table = performance(out_dir, results)
    dimensions, text, written, learned = analysed(out_dir, table.to_pylist(), min_impressions, threshold, learn)
    files = [out_dir / RESULTS_FILE, out_dir / PERFORMANCE_FILE, *written]
    return Outcome(joined, results, table, dimensions, text, files, learned)


def analysed(out_dir: Path, rows: list[dict], min_impressions: int, threshold: float, learn: bool):
    """What wins over ``rows`` (performance rows): (dimensions, markdown report, the files
    written: report, review-page fragment, chart and, with ``learn``, weights; the weights)."""
    folder = Path(out_dir) / RESULTS_DIR
    dimensions = analyse(rows, min_impressions=min_impressions, threshold=threshold)
    found = correlations(rows, min_impressions)
    learned = learn_weights(rows, min_impressions) if learn else None
    text = markdown(dimensions, found, learned)
    written = [_write_text(folder / REPORT_FILE, text)]
    written.append(_write_text(folder / FRAGMENT_FILE, html_fragment(dimensions, threshold, min_impressions)))
    if drawn := chart(dimensions, folder / CHART_FILE):
        written.append(drawn)
    if learned:
        written.append(write_weights(learned, folder / WEIGHTS_FILE))
    return dimensions, text, written, learned


def _write_text(path: Path, text: str) -> Path:
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def performance_rows(out_dir: str | Path) -> list[dict]:
    """The creatives' figures so far (``results`` writes them), or a ReportError saying how to get them."""
    path = Path(out_dir) / PERFORMANCE_FILE
    if not path.is_file():
        raise ReportError(f"{out_dir}: no results yet: run `pixio-ads results {out_dir} REPORT...` first")
    return pq.read_table(path).to_pylist()
