"""Finishing rendered scenes into deliverables, off the render loop.

Finishing one creative (layout, product paste, copy, AI label, watermark, XMP, encoding,
C2PA, thumbnail, sha256) costs tens to hundreds of milliseconds of one CPU core; a GPU
renders a scene in about as long. So the render loop hands each rendered batch (pixels,
variants and their row values: small, picklable) to a :class:`Finisher`, which finishes
batches in a pool of processes fed through a bounded queue:

- rendering waits only when the queue is full, so memory stays flat;
- each finishing process keeps its own decoded products, cut-outs, brand kits and fonts
  (``shared_assets()`` and the lru caches below it), loaded once per process;
- an exception while finishing one creative records that variant ``failed`` with its error;
- a finishing process that dies (OOM killer, SIGKILL) breaks the pool: a fresh pool takes
  over and the batches it held are submitted once more; a batch that breaks a pool twice
  is recorded ``failed``, so a rerun renders it again. Files are written temp + rename, so
  a process killed mid-write leaves no half-written creative.

With ``workers=0`` batches are finished on one thread of the render process instead (the
behaviour before the pool existed; for debugging and for hosts that cannot fork).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import multiprocessing
import os
import threading
from collections import deque
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from pixio_ads import __version__
from pixio_ads.campaign.adapters import adapter_summary
from pixio_ads.campaign.variants import Variant
from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.core.lifeline import end_processes, live, watch_parent
from pixio_ads.core.stepclock import WAIT_FINISHING, step
from pixio_ads.creative.scoring import overall
from pixio_ads.outputs import report
from pixio_ads.outputs.manifest import PLAN_SCHEMA, RESULT_COLUMNS
from pixio_ads.run.clips import write_clip
from pixio_ads.run.compose import FILE_SUFFIX, Assets, finish
from pixio_ads.run.cores import CoreSplit, pin_finishing_process, pin_render_process
from pixio_ads.run.handoff import Parcel, Ring, unpack
from pixio_ads.trust.credentials import C2paSigner, sidecar_path
from pixio_ads.trust.provenance import disclose

logger = logging.getLogger(__name__)

# (variant, the model's scene or None, row values incl. status); the scene as the render loop
# hands it on, (height, width, 3) uint8 pixels, or a PIL image (a test, a library caller)
Rendered = tuple[Variant, "np.ndarray | Image.Image | None", dict]
# --- one creative, in whichever process finishes it ------------------------------------------


@lru_cache(maxsize=1)
def shared_assets() -> Assets:
    """Decoded products, cut-outs and brand kits of this process, built once and kept."""
    return Assets()


def result_row(variant: Variant, status: str, values: dict) -> dict:
    """A manifest row: the variant's columns, then the result columns (missing ones null)."""
    row = {name: getattr(variant, name) for name in PLAN_SCHEMA.names}
    row.update(dict.fromkeys(RESULT_COLUMNS))
    row.update(values, status=status, pixio_ads_version=__version__, created_at=datetime.now(timezone.utc))
    return row


def output_path(variant: Variant, kind: str = "creative") -> Path:
    """Where a variant's creative (or its clean image, ``-clean`` added) lives, relative to
    the output folder."""
    stem = f"{variant.format}-{variant.variant_id}" + ("" if kind == "creative" else f"-{kind}")
    return Path("images") / variant.campaign_id / variant.product_id / f"{stem}{FILE_SUFFIX[variant.output_format]}"


def save_creative(
    variant: Variant, generated: np.ndarray | Image.Image, out_dir: Path, signer: C2paSigner | None, animation=None
) -> dict:
    """Finish the creative and write it (and its contact-sheet thumbnail) atomically;
    returns its manifest values, output_path (relative to out_dir) and sha256 included.
    The thumbnail and the hash come from what is in memory, never read back from disk.
    A video variant (motion) writes its MP4 (clips.py) and its still as the poster."""
    if isinstance(generated, np.ndarray):
        generated = Image.fromarray(generated)
    creative = finish(variant, generated, shared_assets())
    still = _write_disclosed(variant, creative.image, creative.keep, out_dir, signer, poster=variant.motion != "none")
    values = {**creative.values, **still, "media_type": "image"}
    if variant.motion != "none":
        values.update(poster_path=still["output_path"], poster_sha256=still["output_sha256"])
        values.update(write_clip(variant, generated, creative, out_dir, signer, shared_assets(), animation))
    atomic_write_bytes(
        out_dir / report.thumbnail_path(values["output_path"]), report.thumbnail_bytes(creative.image), fsync=False
    )
    if creative.clean is not None:
        clean = _write_disclosed(variant, creative.clean, creative.keep, out_dir, signer, kind="clean")
        values.update(
            clean_path=clean["output_path"],
            clean_sha256=clean["output_sha256"],
            clean_watermark_payload=clean["watermark_payload"],
        )
    return values


def _write_disclosed(
    variant: Variant,
    image: Image.Image,
    keep,
    out_dir: Path,
    signer: C2paSigner | None,
    kind: str = "creative",
    poster: bool = False,
) -> dict:
    """Watermark, XMP and C2PA on one file of the variant, written atomically; its manifest
    values (watermark, signer, output_path and output_sha256). ``poster``: the still of a video
    (named ``-poster``; it carries the creative's watermark, the video's own)."""
    relative = output_path(variant, "poster" if poster else kind)
    disclosed = disclose(
        image, variant.variant_id, variant.output_format, variant.quality, relative.name, signer, keep, kind,
        variant.language, adapter_summary(variant),
    )  # fmt: skip
    if disclosed.sidecar is not None:  # first: a signed file on disk always has its kept manifest
        atomic_write_bytes(out_dir / sidecar_path(relative.as_posix()), disclosed.sidecar, fsync=False)
    # No fsync: a file lost or cut short by a crash fails its sha256 check and is rendered again.
    atomic_write_bytes(out_dir / relative, disclosed.data, fsync=False)
    return {
        **disclosed.values,
        "output_path": relative.as_posix(),
        "output_sha256": hashlib.sha256(disclosed.data).hexdigest(),
    }


def finish_batch(batch: list[Rendered], out_dir: Path, signer: C2paSigner | None) -> list[dict]:
    """Save a batch's rendered creatives and build their manifest rows."""
    rows = []
    for variant, image, values in batch:
        animation = values.get("animation")  # motion = model: the video model's frames (not a column)
        values = {key: value for key, value in values.items() if key != "animation"}
        if image is not None:
            try:
                values = {**values, **save_creative(variant, image, Path(out_dir), signer, animation)}
                values["score"] = overall(values, dict(shared_assets().brand(variant).score_weights))
            except Exception as exc:  # e.g. disk full or a bad asset: this variant fails, the run goes on
                logger.error("finishing %s failed: %s: %s", variant.variant_id, exc.__class__.__name__, exc)
                values = {**values, "status": "failed", "error": f"finishing failed: {exc.__class__.__name__}: {exc}"}
        values = dict(values)
        rows.append(result_row(variant, values.pop("status"), values))
    return rows


# Each finishing process is one core's worth of work. Left alone, OpenBLAS/OpenMP thread
# pools spin up beside it: measured ~1.8 cores busy per process for no gain in speed.
_CHILD_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_environ_lock = threading.Lock()


@contextmanager
def _single_threaded_children():
    """Spawned processes read these variables when their numpy loads; set them only while
    processes start (this process's own libraries read theirs long before)."""
    with _environ_lock:
        saved = {name: os.environ.get(name) for name in _CHILD_THREADS}
        os.environ.update(_CHILD_THREADS)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _init_process(parent: int, cores: frozenset[int] | None) -> None:
    import cv2

    cv2.setNumThreads(1)  # the watermark's colour conversion: one core per process
    pin_finishing_process(cores)  # off the render process's cores (cores.py)
    # Ends with the process that started the pool, however it ends (a SIGKILLed run, a Dask
    # worker the nanny kills): else it would block on its queue's pipe for ever.
    watch_parent(parent)


# --- the pool ---------------------------------------------------------------------------------


@dataclass
class _Pending:
    future: Future
    batch: list[Rendered]
    attempt: int
    executor: Executor  # the pool it went to (a pool that broke is replaced)
    parcel: Parcel | None = None  # the batch's pixels in shared memory (process pools)


def finish_parcel(parcel: Parcel, batch: list[Rendered], out_dir: Path, signer: C2paSigner | None) -> list[dict]:
    """finish_batch in a finishing process, the pixels taken from shared memory (handoff.py)."""
    pixels = unpack(parcel)
    return finish_batch([(v, image, values) for (v, _, values), image in zip(batch, pixels)], out_dir, signer)


class Finisher:
    """Finishes rendered batches in ``workers`` processes (0: a thread of this process),
    at most ``queue`` batches in flight. ``submit`` returns the rows finished meanwhile;
    ``close`` waits for the rest."""

    def __init__(self, out_dir: Path, signer: C2paSigner | None, workers: int, queue: int | None = None) -> None:
        self.out_dir, self.signer, self.workers = Path(out_dir), signer, workers
        self.queue = queue or max(2, 2 * workers)
        self._pending: deque[_Pending] = deque()
        self._executor = _executor(workers)
        self._abandoned: str | None = None  # why the batches still in flight were given up

    def abandon(self, reason: str) -> None:
        """Give up the batches in flight (the stall watchdog's action): kill this pool's
        processes, so every wait on them ends at once; their batches are recorded failed
        with ``reason`` instead of being finished again."""
        self._abandoned = reason
        for process in live(self.pids()):
            process.kill()

    def submit(self, batch: list[Rendered]) -> list[dict]:
        """Hand the batch on; the rows of batches finished meanwhile (waiting for the oldest
        only while more than ``queue`` are in flight)."""
        with step("hand-off"):
            self._pending.append(self._start(batch, attempt=1))
        rows: list[dict] = []
        while self._pending and self._pending[0].future.done():
            rows += self._collect(self._pending.popleft())
        with step(WAIT_FINISHING):  # finishing lags: rendering is held back here
            while len(self._pending) > self.queue:
                rows += self._collect(self._pending.popleft())
        return rows

    def close(self) -> list[dict]:
        rows: list[dict] = []
        while self._pending:
            rows += self._collect(self._pending.popleft())
        return rows

    def pids(self) -> list[int]:
        """The finishing processes' ids (none in thread mode)."""
        return list(getattr(self._executor, "_processes", None) or {})

    def _start(self, batch: list[Rendered], attempt: int, parcel: Parcel | None = None) -> _Pending:
        """Submit the batch: a thread gets it as it is; a process pool its pixels in shared
        memory (``parcel``: already there, for a batch sent again) and the rest pickled."""
        call: tuple = (finish_batch, batch)
        if self.workers > 0:
            if parcel is None:
                parcel = _ring().pack([_pixels(image) for _, image, _ in batch])
            if parcel is not None:  # else shared memory is short: the pixels go pickled
                call = (finish_parcel, parcel, [(v, None, values) for v, _, values in batch])
        with _single_threaded_children():  # the pool starts its processes on submit
            try:
                future = self._executor.submit(*call, self.out_dir, self.signer)
            except BrokenProcessPool:  # a process died since the last batch: a fresh pool takes this one
                self._executor = _renew(self.workers, self._executor)
                future = self._executor.submit(*call, self.out_dir, self.signer)
        return _Pending(future, batch, attempt, self._executor, parcel)

    def _collect(self, pending: _Pending) -> list[dict]:
        try:
            return self._result(pending)
        finally:
            if pending.parcel is not None:
                _ring().release(pending.parcel)

    def _result(self, pending: _Pending) -> list[dict]:
        try:
            return pending.future.result()
        except (BrokenProcessPool, CancelledError) as exc:
            # A finishing process died: every batch its pool held fails. Each is sent once more.
            if pending.executor is self._executor:
                self._executor = _renew(self.workers, self._executor)
            if self._abandoned:
                return _failed(pending.batch, self._abandoned)
            if pending.attempt == 1:
                logger.warning(
                    "a finishing process died; finishing %d variant(s) again in a fresh one", len(pending.batch)
                )
                again = self._start(pending.batch, 2, pending.parcel)
                pending.parcel = None  # the retry releases it
                return self._collect(again)
            return _failed(
                pending.batch,
                f"finishing process died twice while holding this batch ({exc.__class__.__name__}); rerun to render it again",
            )


def _pixels(image: np.ndarray | Image.Image | None) -> np.ndarray | None:
    if image is None or isinstance(image, np.ndarray):
        return image
    return np.asarray(image.convert("RGB"))


def _failed(batch: list[Rendered], error: str) -> list[dict]:
    logger.error("%d variant(s) failed: %s", len(batch), error)
    rows = []
    for variant, _, values in batch:
        values = {key: value for key, value in values.items() if key not in ("status", "animation")}
        rows.append(result_row(variant, "failed", {**values, "error": error}))
    return rows


_pools: dict[int, Executor] = {}
_pinned: list[CoreSplit] = []  # this process's core split once pinned (pin_for_device)


def pin_for_device(device: str) -> None:
    """On a GPU worker, keep the render process on its own cores and start finishing
    processes on the others (cores.py); once per process, before its first pool."""
    if not _pinned and not _pools:
        split = pin_render_process(device)
        if split:
            _pinned.append(split)


_rings: list[Ring] = []
_ring_lock = threading.Lock()


def _ring() -> Ring:
    """The process's shared-memory ring, made with its first process pool's first batch."""
    with _ring_lock:
        if not _rings:
            _rings.append(Ring())
        return _rings[0]


def _executor(workers: int) -> Executor:
    """A pool per size, kept for the life of the process: starting N Python processes costs
    about a second, more than a shard of a fast GPU takes. Daemonic processes (some Dask
    setups) may not have children: they finish on a thread, with a warning."""
    if workers > 0 and multiprocessing.current_process().daemon:
        logger.warning(
            "this worker process is daemonic and cannot start finishing processes; finishing on a thread (for Dask: DASK_DISTRIBUTED__WORKER__DAEMON=False)"
        )
        workers = 0
    if workers not in _pools:
        if workers == 0:
            _pools[0] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixio-finish")
        else:
            # spawn, not fork: the render process has torch's thread pools, which fork breaks
            context = multiprocessing.get_context("spawn")
            split = _pinned[0] if _pinned else None
            _pools[workers] = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_process,
                initargs=(os.getpid(), split.finishing if split else None),
            )
    return _pools[workers]


def _renew(workers: int, broken: Executor) -> Executor:
    _pools.pop(workers, None)
    broken.shutdown(wait=False, cancel_futures=True)
    return _executor(workers)


@atexit.register
def shutdown_pools(grace: float = 2.0) -> None:
    """End every finishing pool of this process and wait (``grace`` seconds at most) for its
    processes to exit. Called at exit, and by a Dask worker as it closes: the nanny kills a
    worker that takes longer than a few seconds to close, orphaning whatever it still runs."""
    processes = []
    for pool in _pools.values():
        processes += live(list(getattr(pool, "_processes", None) or {}))
        pool.shutdown(wait=False, cancel_futures=True)
    _pools.clear()
    end_processes(processes, grace)
    for ring in _rings:  # after the processes that read them are gone
        ring.close()
    _rings.clear()
