"""Usage quotas per brand and per campaign, kept in a SQLite file (ours; the Prefect
database is not).

A run reserves the images it is about to render *before* rendering, inside one
``BEGIN IMMEDIATE`` transaction, so two runs at once cannot both take the last images;
what a quota does not grant is marked ``skipped`` and never rendered. When the run ends
the reservation is settled to what was actually rendered (failures are given back) and
its render seconds are added. A run killed before settling is settled by the next run into
the same folder (from the rows the killed run kept), so every image is charged once; until
then it keeps its whole reservation: quotas err toward spending less, never more.

Quota file (YAML)::

    brands:                      # by brand kit name
      Spring Co.: {images_per_day: 500, gpu_seconds_per_day: 3600}
    campaigns:                   # by campaign_id
      spring-sale: {images_per_campaign: 2000}
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from pixio_ads.core.errors import Issue, ValidationError
from pixio_ads.core.storage import fetch_input
from pixio_ads.creative.brand import brand_kit_at

logger = logging.getLogger(__name__)

DEFAULT_USAGE_DB = Path(
    os.environ.get("PIXIO_ADS_USAGE_DB", Path.home() / ".local" / "share" / "pixio-ads" / "usage.sqlite")
)
BUSY_TIMEOUT_MS = 30_000


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    images_per_day: int | None = Field(default=None, ge=0)
    images_per_campaign: int | None = Field(default=None, ge=0)
    gpu_seconds_per_day: float | None = Field(default=None, ge=0)


class QuotaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    brands: dict[str, Limits] = Field(default_factory=dict)
    campaigns: dict[str, Limits] = Field(default_factory=dict)


def load_quotas(path: Path) -> QuotaConfig:
    file = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return QuotaConfig.model_validate(data)
    except OSError as exc:
        raise ValidationError([Issue(file, f"cannot read the quota file: {exc}", "check the --quotas path")]) from None
    except yaml.YAMLError as exc:
        raise ValidationError([Issue(file, f"not valid YAML: {exc}", "fix the syntax")]) from None
    except PydanticError as exc:
        raise ValidationError(
            [
                Issue(
                    file,
                    error["msg"],
                    "see the quota file example in docs/trust-and-safety.md",
                    key=".".join(map(str, error["loc"])),
                )
                for error in exc.errors()
            ]
        ) from None


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int
    reason: str  # why fewer than wanted were granted ("" when all were)


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


class UsageStore:
    """Reservations and usage in one SQLite file, safe for concurrent processes."""

    def __init__(self, path: Path = DEFAULT_USAGE_DB):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS usage (run_id TEXT, brand TEXT, campaign TEXT, day TEXT, images INTEGER,"
                " gpu_seconds REAL DEFAULT 0, settled INTEGER DEFAULT 0, created_at REAL, PRIMARY KEY (run_id, brand, campaign))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)

    def reserve(self, run_id: str, brand: str, campaign: str, wanted: int, config: QuotaConfig) -> Grant:
        """Reserve up to ``wanted`` images for this run; the lock makes concurrent runs queue."""
        day = today()
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time, from the first read on
            try:
                granted, reasons = wanted, []
                checks = []
                if brand and brand in config.brands:
                    limits = config.brands[brand]
                    checks.append((f"brand {brand!r}", limits, "brand = ? AND day = ?", (brand, day), None))
                if campaign in config.campaigns:
                    limits = config.campaigns[campaign]
                    checks.append(
                        (f"campaign {campaign!r}", limits, "campaign = ? AND day = ?", (campaign, day), "campaign = ?")
                    )
                for who, limits, day_where, day_args, all_where in checks:
                    used_today, seconds_today = db.execute(
                        f"SELECT COALESCE(SUM(images), 0), COALESCE(SUM(gpu_seconds), 0) FROM usage WHERE {day_where}",
                        day_args,
                    ).fetchone()
                    if limits.images_per_day is not None and granted > limits.images_per_day - used_today:
                        granted = max(0, limits.images_per_day - used_today)
                        reasons.append(f"{who} images_per_day {limits.images_per_day} ({used_today} used today)")
                    if limits.gpu_seconds_per_day is not None and seconds_today >= limits.gpu_seconds_per_day:
                        granted = 0
                        reasons.append(
                            f"{who} gpu_seconds_per_day {limits.gpu_seconds_per_day:g} ({seconds_today:.0f} s used today)"
                        )
                    if all_where and limits.images_per_campaign is not None:
                        (used,) = db.execute(
                            f"SELECT COALESCE(SUM(images), 0) FROM usage WHERE {all_where}", (campaign,)
                        ).fetchone()
                        if granted > limits.images_per_campaign - used:
                            granted = max(0, limits.images_per_campaign - used)
                            reasons.append(f"{who} images_per_campaign {limits.images_per_campaign} ({used} used)")
                db.execute(
                    "INSERT OR REPLACE INTO usage (run_id, brand, campaign, day, images, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, brand, campaign, day, granted, time.time()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return Grant(granted, "; ".join(reasons))

    def settle(self, run_id: str, brand: str, campaign: str, rendered: int, gpu_seconds: float) -> None:
        """Replace the reservation by what was rendered, and add its render seconds."""
        with closing(self._connect()) as db, db:
            db.execute(
                "UPDATE usage SET images = MIN(images, ?), gpu_seconds = ?, settled = 1 WHERE run_id = ? AND brand = ? AND campaign = ?",
                (rendered, gpu_seconds, run_id, brand, campaign),
            )

    def used(self, brand: str = "", campaign: str = "") -> int:
        with closing(self._connect()) as db:
            (total,) = db.execute(
                "SELECT COALESCE(SUM(images), 0) FROM usage WHERE (? = '' OR brand = ?) AND (? = '' OR campaign = ?)",
                (brand, brand, campaign, campaign),
            ).fetchone()
        return total


def new_run_id() -> str:
    return uuid.uuid4().hex


def reserve_for_run(
    variants: list, brand_of, quotas_path: str | None, usage_db: str | None
) -> tuple[dict[str, str], dict]:
    """Reserve quota for the variants a run will render, per (brand, campaign); returns the
    ids beyond quota with the reason, and the run's id and reserved groups."""
    run_id = new_run_id()
    if not quotas_path:
        return {}, {"run_id": run_id, "groups": []}
    config = load_quotas(fetch_input(quotas_path))  # a URL: fetched into the cache
    store = UsageStore(Path(usage_db)) if usage_db else UsageStore()
    todo: dict[tuple[str, str], list[str]] = {}
    for variant in variants:
        todo.setdefault((brand_of(variant), variant.campaign_id), []).append(variant.variant_id)
    skipped: dict[str, str] = {}
    for (brand, campaign), ids in todo.items():
        grant = store.reserve(run_id, brand, campaign, len(ids), config)
        for vid in ids[grant.granted :]:
            skipped[vid] = grant.reason
        if grant.reason:
            logger.warning(
                "quota: %d of %d variant(s) of %s skipped: %s",
                len(ids) - grant.granted,
                len(ids),
                campaign,
                grant.reason,
            )
    return skipped, {"run_id": run_id, "groups": [list(key) for key in todo]}


def settle_run(run: dict, rows: list[dict]) -> None:
    """Replace a run's reservations by what it rendered (failures are given back)."""
    if not run["groups"]:
        return
    store = UsageStore(Path(run["usage_db"])) if run["usage_db"] else UsageStore()
    started_at = datetime.fromisoformat(run["started_at"])
    counts: dict[tuple[str, str], list[float]] = {tuple(group): [0, 0.0] for group in run["groups"]}
    for row in rows:
        key = (brand_kit_at(row["brand_kit"]).name, row["campaign_id"])
        if row["status"] == "rendered" and row["created_at"] >= started_at and key in counts:
            counts[key][0] += 1
            counts[key][1] += row["render_seconds"] or 0.0
    for (brand, campaign), (images, seconds) in counts.items():
        store.settle(run["run_id"], brand, campaign, int(images), seconds)
