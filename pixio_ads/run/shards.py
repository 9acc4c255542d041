"""A shard's rows on disk: which earlier rows need no new render (an image still matching its
sha256, a block that still holds), and the rows of a shard that renders, saved as it goes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from pixio_ads.campaign.deliverables import writes_clean
from pixio_ads.core.fileio import sha256_file
from pixio_ads.outputs.manifest import (
    read_table_or_empty,
    rows_to_table,
    write_table,
)
from pixio_ads.run.planning import RUN_FILE, SHARDS_DIR, shard_path
from pixio_ads.trust.credentials import sidecar_path
from pixio_ads.trust.image_policy import kept_block

RESULT_SUFFIX = ".result.json"  # a shard result beside its rows (runner.save_result)

FLUSH_SECONDS = 5.0  # how often a shard's rows are saved while it renders


def complete_rows(target: Path, variant_ids: list[str], out_dir: Path, image_checks_id: str | None) -> dict:
    """The shard file's earlier rows that need no new render (see is_complete), by variant id."""
    earlier = {row["variant_id"]: row for row in (read_table_or_empty(target).to_pylist() if target.exists() else [])}
    return {
        vid: earlier[vid]
        for vid in variant_ids
        if vid in earlier and is_complete(earlier[vid], out_dir, image_checks_id)
    }


class ShardRows:
    """A shard's manifest rows while it renders: taken in as batches finish, saved atomically
    at least every FLUSH_SECONDS (and at the end, however it ends), progress told as they come."""

    def __init__(self, target: Path, variant_ids: list[str], done: dict, progress: Callable[[int], None] | None):
        self.target, self.variant_ids, self.progress = target, variant_ids, progress
        self.rows = dict(done)
        self.flushed_at = time.monotonic()
        if progress and done:
            progress(len(done))

    def absorb(self, finished: list[dict]) -> None:
        for row in finished:
            self.rows[row["variant_id"]] = row
        if self.progress and finished:
            self.progress(len(finished))

    def flush_if_due(self) -> None:
        if time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        write_table(rows_to_table([self.rows[vid] for vid in self.variant_ids if vid in self.rows]), self.target)
        self.flushed_at = time.monotonic()

    def rendered(self, excluding: dict) -> int:
        """Images rendered by this call: rendered rows other than the ones it started with."""
        return sum(row["status"] == "rendered" for vid, row in self.rows.items() if vid not in excluding)


def is_complete(row: dict, out_dir: Path, image_checks_id: str | None = None) -> bool:
    """A row needs no new render: blocked by the safety checker, blocked by the policy's image
    checks while they are unchanged (``image_checks_id``: the current ones' fingerprint), or
    rendered with its files on disk (the creative, and the clean image the variant writes)
    matching the recorded sha256 (a missing or corrupt file means render again). A block by
    the policy's text checks is re-decided by every plan."""
    if kept_block(row, image_checks_id):
        return True
    if row["status"] == "blocked":
        return not row.get("policy_category")  # the safety checker's: kept; the policy's: decided again
    if row["status"] != "rendered" or not row["output_path"]:
        return False
    files = [(row["output_path"], row["output_sha256"])]
    if writes_clean(row.get("deliverables") or ""):
        files.append((row.get("clean_path"), row.get("clean_sha256")))
    return all(path and _file_matches(Path(out_dir) / path, sha256) for path, sha256 in files)


def _file_matches(path: Path, sha256: str | None) -> bool:
    return path.is_file() and sha256_file(path) == sha256


def shard_complete(out_dir: str | Path, variant_ids: list[str]) -> bool:
    """Whether every variant of a shard has a complete row (see is_complete), under the image
    checks of the current plan (its run file)."""
    target = shard_path(Path(out_dir), variant_ids)
    if not target.exists():
        return False
    rows = {row["variant_id"]: row for row in read_table_or_empty(target).to_pylist()}
    checks = planned_image_checks(Path(out_dir))
    return all(vid in rows and is_complete(rows[vid], Path(out_dir), checks) for vid in variant_ids)


def planned_image_checks(out_dir: Path) -> str | None:
    """The image-checks fingerprint the last plan of ``out_dir`` recorded (None: unknown)."""
    try:
        return json.loads((out_dir / RUN_FILE).read_text()).get("image_checks")
    except (OSError, ValueError):
        return None


def shard_keys(out_dir: str | Path, variant_ids: list[str]) -> list[str]:
    """What a shard has in an output location, relative to it: its rows, its result, and the
    creatives its rows name (with their kept C2PA manifests when signed) (read from the rows in ``out_dir``, a working copy holding them).
    A fleet worker pulls these before rendering and the campaign's run after the shard ends."""
    rows_file = shard_path(Path(out_dir), variant_ids)
    keys = [f"{SHARDS_DIR}/{rows_file.name}", f"{SHARDS_DIR}/{rows_file.with_suffix(RESULT_SUFFIX).name}"]
    if rows_file.is_file():
        for row in read_table_or_empty(rows_file).to_pylist():
            files = [path for path in (row["output_path"], row["clean_path"]) if path]
            keys += files + ([sidecar_path(path) for path in files] if row.get("c2pa_written") else [])
    return keys
