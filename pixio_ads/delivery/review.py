"""Review decisions: approve, reject or undo per creative, kept in SQLite beside the manifest
(``OUT/review.sqlite``).

Every decision is a new row (who, when, note, and the sha256 of the file judged), so the
history is kept and two reviewers in two browsers never overwrite each other's rows: the last
decision on a creative wins. A decision belongs to the file it was made on: a creative
rendered again (a new sha256) comes back unreviewed.
"""

from __future__ import annotations

import getpass
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from pixio_ads.core.fileio import replace_folder
from pixio_ads.creative.scoring import ranks
from pixio_ads.outputs.manifest import MANIFEST_SCHEMA, read_table, write_table

DB_FILE = "review.sqlite"
DECISIONS = ("approved", "rejected", "unreviewed")  # unreviewed: an undo
_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    variant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected', 'unreviewed')),
    reviewer TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    decided_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_variant ON decisions (variant_id, sha256, id);
CREATE TABLE IF NOT EXISTS done (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reviewer TEXT NOT NULL,
    done_at TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Decision:
    variant_id: str
    sha256: str
    decision: str
    reviewer: str
    note: str
    decided_at: datetime


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a container
        return "reviewer"


class ReviewStore:
    """The decisions of one output folder. Each call opens its own connection, so the store
    may be shared by the web server's threads."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / DB_FILE
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the reviewer writing
            with db:  # one transaction, committed on success
                yield db
        finally:
            db.close()

    def record(self, variant_id: str, sha256: str, decision: str, reviewer: str, note: str = "") -> Decision:
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        made = Decision(variant_id, sha256, decision, reviewer, note, datetime.now(timezone.utc))
        with self._connect() as db:
            db.execute(
                "INSERT INTO decisions (variant_id, sha256, decision, reviewer, note, decided_at) VALUES (?, ?, ?, ?, ?, ?)",
                (variant_id, sha256, decision, reviewer, note, made.decided_at.isoformat()),
            )
        return made

    def latest(self) -> dict[tuple[str, str], Decision]:
        """The last decision per (variant id, sha256)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT variant_id, sha256, decision, reviewer, note, decided_at FROM decisions "
                "WHERE id IN (SELECT MAX(id) FROM decisions GROUP BY variant_id, sha256)"
            ).fetchall()
        return {(r[0], r[1]): Decision(*r[:5], datetime.fromisoformat(r[5])) for r in rows}

    def history(self, variant_id: str) -> list[Decision]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT variant_id, sha256, decision, reviewer, note, decided_at FROM decisions "
                "WHERE variant_id = ? ORDER BY id",
                (variant_id,),
            ).fetchall()
        return [Decision(*r[:5], datetime.fromisoformat(r[5])) for r in rows]

    def mark_done(self, reviewer: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO done (reviewer, done_at) VALUES (?, ?)",
                (reviewer, datetime.now(timezone.utc).isoformat()),
            )

    def done_count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM done").fetchone()[0]


def has_review(out_dir: str | Path) -> bool:
    return (Path(out_dir) / DB_FILE).is_file()


def status_of(row: dict, decisions: dict[tuple[str, str], Decision]) -> Decision | None:
    """The decision that holds for a manifest row's current file (None: unreviewed)."""
    if row["status"] != "rendered" or not row.get("output_sha256"):
        return None
    found = decisions.get((row["variant_id"], row["output_sha256"]))
    return found if found and found.decision != "unreviewed" else None


def review_columns(rows: list[dict], out_dir: str | Path) -> dict[str, pa.Array]:
    """review_status, reviewed_by, reviewed_at for the manifest's rows (null where not rendered)."""
    decisions = ReviewStore(out_dir).latest() if has_review(out_dir) else {}
    status, by, at = [], [], []
    for row in rows:
        found = status_of(row, decisions)
        status.append((found.decision if found else "unreviewed") if row["status"] == "rendered" else None)
        by.append(found.reviewer if found else None)
        at.append(found.decided_at if found else None)
    return {
        "review_status": pa.array(status, pa.string()),
        "reviewed_by": pa.array(by, pa.string()),
        "reviewed_at": pa.array(at, pa.timestamp("us", tz="UTC")),
    }


_DERIVED_INPUTS = ["variant_id", "campaign_id", "product_id", "format", "status", "score", "output_sha256"]


def with_rank_and_review(table: pa.Table, out_dir: str | Path) -> pa.Table:
    """The manifest with its columns that depend on other rows or on the review database:
    rank (within product x format) and the review columns."""
    rows = table.select(_DERIVED_INPUTS).to_pylist()
    columns = {"rank": pa.array(ranks(rows), pa.int32()), **review_columns(rows, out_dir)}
    for name, values in columns.items():
        table = table.set_column(table.schema.get_field_index(name), MANIFEST_SCHEMA.field(name), values)
    return table


def refresh_manifest(out_dir: str | Path) -> pa.Table:
    """Write the review decisions into ``manifest.parquet`` (atomically) and return it."""
    path = Path(out_dir) / "manifest.parquet"
    table = with_rank_and_review(read_table(path), out_dir)
    write_table(table, path)
    return table


APPROVED_DIR = "approved"
APPROVED_FILE = "approved.parquet"


@dataclass(frozen=True, slots=True)
class ReviewCounts:
    approved: int
    rejected: int
    unreviewed: int

    def describe(self) -> str:
        return f"{self.approved} approved, {self.rejected} rejected, {self.unreviewed} unreviewed"


def counts(table: pa.Table) -> ReviewCounts:
    statuses = [s for s in table.column("review_status").to_pylist() if s is not None]
    return ReviewCounts(statuses.count("approved"), statuses.count("rejected"), statuses.count("unreviewed"))


def write_approved(out_dir: str | Path) -> ReviewCounts:
    """The manifest with the decisions written in, the approved creatives copied under
    ``approved/`` (same paths as under the output folder) and their rows in
    ``approved.parquet``; each replaced whole, never half-written."""
    out_dir = Path(out_dir)
    table = refresh_manifest(out_dir)
    approved = table.filter(pa.compute.equal(table.column("review_status"), "approved"))

    def copy_files(folder: Path) -> None:
        paths = approved.column("output_path").to_pylist() + approved.column("clean_path").to_pylist()
        for relative in filter(None, paths):
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out_dir / relative, target)

    replace_folder(out_dir / APPROVED_DIR, copy_files)
    write_table(approved, out_dir / APPROVED_FILE)
    return counts(table)
