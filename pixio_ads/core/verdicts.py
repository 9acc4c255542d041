"""What was found about a file's contents, kept by its SHA-256 so that a later process need not
look again: an image's decode (its frames) and the cut-out check of a product shot.

Validating a 50,000-item catalogue decodes every distinct image and checks its cut-out (~0.7 ms
each); the answers depend only on the bytes and on this release's checks, so they are kept in
the cache (``PIXIO_ADS_CACHE``/verdicts, one small JSON file per file content, written to a
temporary name and renamed) with the version that found them: a rerun reads them back, a new
release looks again. Only what a check found about readable files is kept; a problem is found
afresh each time (the file may be replaced).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pixio_ads import __version__
from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.core.storage import cache_root

MISSING = object()


def recall(sha256: str, name: str) -> object:
    """What ``name`` found of the content ``sha256`` (MISSING: not looked at by this release)."""
    return _read(_path(sha256)).get(name, MISSING)


def remember(sha256: str, name: str, value: object) -> None:
    path = _path(sha256)
    record = _read(path)
    record[name] = value
    try:  # no fsync: a record lost or emptied by a power cut is read as none, and found again
        atomic_write_bytes(path, json.dumps({**record, "version": __version__}).encode(), fsync=False)
    except OSError:
        pass  # a read-only or full cache: the answer is found again next time


@lru_cache(maxsize=131072)
def _read(path: Path) -> dict:
    """The content's record (this process's copy, updated by remember); {} when none is kept
    or another release wrote it. Keyed by path: a different cache root is read afresh."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if record.pop("version", None) != __version__:
        return {}
    return record


def _path(sha256: str) -> Path:
    return cache_root() / "verdicts" / sha256[:2] / f"{sha256}.json"
