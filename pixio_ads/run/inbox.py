"""A drop folder for campaign files: find files that finished arriving, claim them, and
file them under ``done/`` or ``failed/`` with a report beside them.

Campaign files in the inbox reference their product images relative to the inbox folder
(e.g. ``inbox/products/bottle.png``), as they would beside any campaign file.

The inbox may be on object storage (``s3://bucket/inbox``): a file is listed once its upload
is complete (objects appear whole), claimed by creating a claim object only if absent (a
conditional write), and filed by copying it under ``done/`` or ``failed/`` and deleting it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from pixio_ads.campaign.sheets import SUPPORTED_SUFFIXES
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core import storage
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.fileio import atomic_write_bytes, sha256_file
from pixio_ads.settings import RenderSettings, Serving

DONE, FAILED = "done", "failed"
CLAIMS = ".claims"
DEFAULT_SETTLE_SECONDS = Serving.model_fields["settle_seconds"].default
STALE_CLAIM_SECONDS = 6 * 3600  # a claim older than this is from a crashed run


@dataclass(frozen=True, slots=True)
class InboxFile:
    path: Path | str  # a local path, or the object's URL
    sha256: str

    @property
    def idempotency_key(self) -> str:
        """The same content dropped again maps to the same flow run."""
        return f"pixio-ads-campaign-{self.sha256}"


def ready_files(inbox: Path, settle_seconds: float = DEFAULT_SETTLE_SECONDS, now: float | None = None) -> list[Path]:
    """Campaign files not modified for ``settle_seconds``: a file still being copied keeps
    moving its modification time, so it waits for a later scan. Hidden files and Office
    lock files (``~$...``) are ignored."""
    now = time.time() if now is None else now
    if storage.is_remote(inbox):
        return _ready_objects(str(inbox), settle_seconds, now)
    inbox = Path(inbox)
    ready = []
    for path in sorted(inbox.iterdir()) if inbox.is_dir() else []:
        if not path.is_file() or not _is_candidate(path.name):
            continue
        if now - path.stat().st_mtime >= settle_seconds:
            ready.append(path)
    return ready


def _is_candidate(name: str) -> bool:
    return not name.startswith((".", "~$")) and PurePosixPath(name).suffix.lower() in SUPPORTED_SUFFIXES


def _ready_objects(url: str, settle_seconds: float, now: float) -> list[str]:
    fs, root = storage.filesystem(url)
    try:
        listing = fs.ls(root, detail=True, refresh=True)
    except FileNotFoundError:
        return []
    except Exception as exc:
        raise storage.explain(exc, url, "list the inbox") from None
    ready = []
    for info in sorted(listing, key=lambda entry: entry["name"]):
        name = PurePosixPath(info["name"]).name
        if info.get("type") == "file" and _is_candidate(name) and now - _modified(info) >= settle_seconds:
            ready.append(storage.join(url, name))
    return ready


def _modified(info: dict) -> float:
    stamp = info.get("LastModified") or info.get("mtime") or 0
    return stamp.timestamp() if isinstance(stamp, datetime) else float(stamp)


def name_of(path: Path | str) -> PurePosixPath:
    """The file's name (``.name``, ``.stem``), for a path and a URL alike."""
    return PurePosixPath(str(path).rstrip("/"))


def claim(path: Path | str) -> InboxFile | None:
    """Claim a file for this run (exclusive create of a claim file); None if another run has it."""
    if storage.is_remote(path):
        return _claim_object(str(path))
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


def _claim_object(url: str) -> InboxFile | None:
    folder, name = url.rsplit("/", 1)
    fs, key = storage.filesystem(f"{folder}/{CLAIMS}/{name}.claim")
    try:
        with contextlib.suppress(FileNotFoundError):
            if time.time() - _modified(fs.info(key)) > STALE_CLAIM_SECONDS:
                fs.rm_file(key)
        fs.pipe_file(key, f"pid {os.getpid()} at {datetime.now(timezone.utc).isoformat()}\n".encode(), mode="create")
        digest = hashlib.sha256()
        with fs.open(storage.filesystem(url)[1], "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except FileExistsError:
        return None
    except Exception as exc:
        raise storage.explain(exc, url, "claim it") from None
    return InboxFile(url, digest.hexdigest())


def release(item: InboxFile) -> None:
    if storage.is_remote(item.path):
        folder, name = str(item.path).rsplit("/", 1)
        fs, key = storage.filesystem(f"{folder}/{CLAIMS}/{name}.claim")
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(key)
        return
    (item.path.parent / CLAIMS / f"{item.path.name}.claim").unlink(missing_ok=True)


def validation_report(path: Path, overrides: RenderSettings = RenderSettings()) -> str | None:
    """Every problem of the file as text, or None when it is valid."""
    try:
        expand(load_campaign(path), overrides)
    except ValidationError as exc:
        return str(exc)
    return None


def finish(item: InboxFile, outcome: str, report: str) -> Path | str:
    """Move the file to ``done/`` or ``failed/`` (a timestamp keeps repeated names apart),
    write ``<name>.report.txt`` beside it, and release the claim."""
    if storage.is_remote(item.path):
        return _finish_object(item, outcome, report)
    folder = item.path.parent / outcome
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    target = folder / item.path.name
    if target.exists():
        target = folder / f"{item.path.stem}-{stamp}{item.path.suffix}"
    text = _report_text(item, outcome, stamp, report)
    atomic_write_bytes(target.with_name(target.name + ".report.txt"), text.encode("utf-8"))
    os.replace(item.path, target)
    release(item)
    return target


def _report_text(item: InboxFile, outcome: str, stamp: str, report: str) -> str:
    return f"{outcome} at {stamp} UTC\nfile: {name_of(item.path).name}\nsha256: {item.sha256}\n\n{report.rstrip()}\n"


def _finish_object(item: InboxFile, outcome: str, report: str) -> str:
    """The object-storage ``finish``: the report, then a copy under the outcome's folder, then
    the original deleted (a crash in between leaves the file in the inbox, claimed, not lost)."""
    url = str(item.path)
    folder, name = url.rsplit("/", 1)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    fs, source = storage.filesystem(url)
    target = f"{folder}/{outcome}/{name}"
    try:
        if fs.exists(storage.filesystem(target)[1]):
            target = f"{folder}/{outcome}/{name_of(name).stem}-{stamp}{name_of(name).suffix}"
        fs.pipe_file(
            storage.filesystem(target + ".report.txt")[1], _report_text(item, outcome, stamp, report).encode()
        )
        fs.copy(source, storage.filesystem(target)[1])
        fs.rm_file(source)
    except Exception as exc:
        raise storage.explain(exc, url, f"file it under {outcome}/") from None
    release(item)
    return target
