"""A drop folder for campaign files: find files that finished arriving, claim them, and
file them under ``done/`` or ``failed/`` with a report beside them.

Campaign files in the inbox reference their product images relative to the inbox folder
(e.g. ``inbox/products/bottle.png``), as they would beside any campaign file.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pixio_ads.campaign.sheets import SUPPORTED_SUFFIXES
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.fileio import atomic_write_bytes, sha256_file
from pixio_ads.settings import RenderSettings, Serving

DONE, FAILED = "done", "failed"
CLAIMS = ".claims"
DEFAULT_SETTLE_SECONDS = Serving.model_fields["settle_seconds"].default
STALE_CLAIM_SECONDS = 6 * 3600  # a claim older than this is from a crashed run


@dataclass(frozen=True, slots=True)
class InboxFile:
    path: Path
    sha256: str

    @property
    def idempotency_key(self) -> str:
        """The same content dropped again maps to the same flow run."""
        return f"pixio-ads-campaign-{self.sha256}"


def ready_files(inbox: Path, settle_seconds: float = DEFAULT_SETTLE_SECONDS, now: float | None = None) -> list[Path]:
    """Campaign files not modified for ``settle_seconds``: a file still being copied keeps
    moving its modification time, so it waits for a later scan. Hidden files and Office
    lock files (``~$...``) are ignored."""
    inbox = Path(inbox)
    now = time.time() if now is None else now
    ready = []
    for path in sorted(inbox.iterdir()) if inbox.is_dir() else []:
        if not path.is_file() or path.name.startswith((".", "~$")) or path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        if now - path.stat().st_mtime >= settle_seconds:
            ready.append(path)
    return ready


def claim(path: Path) -> InboxFile | None:
    """Claim a file for this run (exclusive create of a claim file); None if another run has it."""
    claims = path.parent / CLAIMS
    claims.mkdir(exist_ok=True)
    marker = claims / f"{path.name}.claim"
    if marker.exists() and time.time() - marker.stat().st_mtime > STALE_CLAIM_SECONDS:
        marker.unlink(missing_ok=True)
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w") as handle:
        handle.write(f"pid {os.getpid()} at {datetime.now(timezone.utc).isoformat()}\n")
    return InboxFile(path, sha256_file(path))


def release(item: InboxFile) -> None:
    (item.path.parent / CLAIMS / f"{item.path.name}.claim").unlink(missing_ok=True)


def validation_report(path: Path, overrides: RenderSettings = RenderSettings()) -> str | None:
    """Every problem of the file as text, or None when it is valid."""
    try:
        expand(load_campaign(path), overrides)
    except ValidationError as exc:
        return str(exc)
    return None


def finish(item: InboxFile, outcome: str, report: str) -> Path:
    """Move the file to ``done/`` or ``failed/`` (a timestamp keeps repeated names apart),
    write ``<name>.report.txt`` beside it, and release the claim."""
    folder = item.path.parent / outcome
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    target = folder / item.path.name
    if target.exists():
        target = folder / f"{item.path.stem}-{stamp}{item.path.suffix}"
    text = f"{outcome} at {stamp} UTC\nfile: {item.path.name}\nsha256: {item.sha256}\n\n{report.rstrip()}\n"
    atomic_write_bytes(target.with_name(target.name + ".report.txt"), text.encode("utf-8"))
    os.replace(item.path, target)
    release(item)
    return target
