"""One run at a time per output folder.

A run holds an exclusive lock on ``OUT/.pixio-ads.lock`` (``fcntl.flock``) for as long as it
writes there; the file says who holds it (pid, host, start time) for the message another run
prints. The kernel releases the lock when its process ends, however it ends: a lock left by a
killed run is stale and is simply taken over. A second run into the same folder waits
(``wait=True``, saying so) or stops with an error naming the holder; it never renders the
same variants twice or charges their quota twice.

On object storage (an ``s3://`` output location) the lock is an object created only if
absent (a conditional PUT, ``If-None-Match: *``) and read back to check it is ours; the run
refreshes it every HEARTBEAT_SECONDS and deletes it at its end. A killed run cannot delete
it: a lock not refreshed for STALE_SECONDS is taken over.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pixio_ads.core import storage
from pixio_ads.core.errors import PixioError

logger = logging.getLogger(__name__)

LOCK_FILE = ".pixio-ads.lock"
POLL_SECONDS = 1.0


class FolderLocked(PixioError):
    pass


HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 120.0


@contextmanager
def locked(out_dir: str | Path, wait: bool = False, timeout: float | None = None):
    """Hold the folder's lock for the block. ``wait``: until it is free (``timeout`` seconds
    at most); else raise FolderLocked at once."""
    if storage.is_remote(out_dir):
        with _object_locked(str(out_dir), wait, timeout):
            yield
        return
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


@contextmanager
def _object_locked(url: str, wait: bool, timeout: float | None):
    fs, root = storage.filesystem(url)
    key = f"{root.rstrip('/')}/{LOCK_FILE}"
    token = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
    started, told = time.monotonic(), False
    while not _take_object(fs, key, token, url):
        holder = _object_holder(fs, key)
        if not wait or (timeout is not None and time.monotonic() - started > timeout):
            raise FolderLocked(
                f"{url} is being written by another run ({holder}); wait for it to finish "
                "(pixio-ads run --wait waits), or give this run another --out location"
            )
        if not told:
            logger.warning("%s is being written by another run (%s); waiting for it to finish", url, holder)
            told = True
        time.sleep(POLL_SECONDS)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(fs, key, token, stop), daemon=True, name="lock-heartbeat")
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        with contextlib.suppress(Exception):
            if _object_token(fs, key) == token:
                fs.rm_file(key)


def _take_object(fs, key: str, token: str, url: str) -> bool:
    """Create the lock object if absent (or stale); True when it is ours afterwards."""
    try:
        fs.info(key)  # FileNotFoundError: no lock
        if time.time() - _object_beat(fs, key) < STALE_SECONDS:
            return False
        logger.warning("%s: taking over a lock not refreshed for %.0f s (its run died)", url, STALE_SECONDS)
        fs.rm_file(key)
    except FileNotFoundError:
        pass
    except Exception as exc:
        raise storage.explain(exc, url, "lock it for this run") from None
    try:
        fs.pipe_file(key, _lock_body(token), mode="create")
    except FileExistsError:  # another run created it first
        return False
    except Exception as exc:
        raise storage.explain(exc, url, "lock it for this run") from None
    return _object_token(fs, key) == token  # a store without conditional writes: the last writer wins


def _lock_body(token: str) -> bytes:
    holder = {"token": token, "pid": os.getpid(), "host": socket.gethostname(), "beat": time.time()}
    return json.dumps({**holder, "since": datetime.now(timezone.utc).isoformat()}).encode()


def _heartbeat(fs, key: str, token: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        with contextlib.suppress(Exception):  # a missed beat is retried; STALE_SECONDS allows several
            if _object_token(fs, key) == token:
                fs.pipe_file(key, _lock_body(token))


def _object_json(fs, key: str) -> dict:
    try:
        return json.loads(fs.cat_file(key))
    except Exception:
        return {}


def _object_token(fs, key: str) -> str | None:
    return _object_json(fs, key).get("token")


def _object_beat(fs, key: str) -> float:
    """When the holder last refreshed the lock (its clock; an unreadable lock counts as fresh)."""
    beat = _object_json(fs, key).get("beat")
    return float(beat) if beat else time.time()


def _object_holder(fs, key: str) -> str:
    holder = _object_json(fs, key)
    return f"pid {holder['pid']} on {holder['host']}, since {holder['since']}" if holder else "holder unknown"


def _holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
        return f"pid {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (OSError, ValueError, KeyError):
        return "holder unknown"
