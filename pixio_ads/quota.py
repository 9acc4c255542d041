"""Usage quotas per brand and per campaign, kept in a SQLite file (ours; the Prefect
database is not).

A run reserves the images it is about to render *before* rendering, inside one
``BEGIN IMMEDIATE`` transaction, so two runs at once cannot both take the last images;
what a quota does not grant is marked ``skipped`` and never rendered. When the run ends
the reservation is settled to what was actually rendered (failures are given back) and
its render seconds are added. A run killed before settling keeps its whole reservation:
quotas err toward spending less, never more.

Quota file (YAML)::

    brands:                      # by brand kit name
      Spring Co.: {images_per_day: 500, gpu_seconds_per_day: 3600}
    campaigns:                   # by campaign_id
      spring-sale: {images_per_campaign: 2000}
"""

from __future__ import annotations

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

from pixio_ads.errors import Issue, ValidationError

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
                    "see the quota file example in the README",
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
