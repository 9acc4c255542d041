"""One run at a time per output folder.

A run holds an exclusive lock on ``OUT/.pixio-ads.lock`` (``fcntl.flock``) for as long as it
writes there; the file says who holds it (pid, host, start time) for the message another run
prints. The kernel releases the lock when its process ends, however it ends: a lock left by a
killed run is stale and is simply taken over. A second run into the same folder waits
(``wait=True``, saying so) or stops with an error naming the holder; it never renders the
same variants twice or charges their quota twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pixio_ads.core.errors import PixioError

logger = logging.getLogger(__name__)

LOCK_FILE = ".pixio-ads.lock"
POLL_SECONDS = 1.0


class FolderLocked(PixioError):
    pass


@contextmanager
def locked(out_dir: str | Path, wait: bool = False, timeout: float | None = None):
    """Hold the folder's lock for the block. ``wait``: until it is free (``timeout`` seconds
    at most); else raise FolderLocked at once."""
    path = Path(out_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        _acquire(handle, path, wait, timeout)
        handle.seek(0)
        handle.truncate()
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(timezone.utc).isoformat()}
        handle.write(json.dumps(holder))
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock; the file stays (removing it would race a waiting run)


def _acquire(handle, path: Path, wait: bool, timeout: float | None) -> None:
    started, told = time.monotonic(), False
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise FolderLocked(
                    f"{path.parent} is being written by another run ({holder}); "
                    "wait for it to finish (pixio-ads run --wait waits), or give this run another --out folder"
                ) from None
            if timeout is not None and time.monotonic() - started > timeout:
                raise FolderLocked(
                    f"{path.parent} was still being written by another run ({holder}) after {timeout:.0f} s"
                ) from None
            if not told:
                logger.warning(
                    "%s is being written by another run (%s); waiting for it to finish", path.parent, holder
                )
                told = True
            time.sleep(POLL_SECONDS)


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
        return f"pid {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
