"""Handing rendered pixels to the finishing processes through shared memory.

A batch's scenes are megabytes of pixels (4 x 1024 x 1024 x 3 bytes for SDXL); pickled
through the pool's pipe they would be copied three times by the render process alone
(pickle, pipe write, and PIL's own copy before that). Instead the render process copies each
batch once into a block of shared memory (a ring of blocks reused batch after batch) and
sends the finishing process only a :class:`Parcel`: the block's name and where each image
lies. The block goes back to the ring when the batch's rows come back (finishing.Finisher).

Blocks are made by the render process and unlinked by it (``close``, at exit); if it is
killed, Python's resource tracker, a separate process, unlinks them when it is gone. Where
shared memory is short (a container's /dev/shm is 64 MB unless raised with --shm-size; a
process writing past it is killed by SIGBUS), ``pack`` declines and the batch is pickled.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

ATTACHED_BLOCKS = 16  # blocks a finishing process keeps mapped (the ring's, plus a few replaced)


@dataclass(frozen=True, slots=True)
class Parcel:
    """Where a batch's images lie: the block's name, and per image its (offset, shape), or
    None for a variant without one (blocked, failed)."""

    block: str
    images: tuple[tuple[int, tuple[int, ...]] | None, ...]


class Ring:
    """Shared-memory blocks for batches in flight: ``pack`` takes a free block (or makes one,
    or a larger one in place of one too small) and copies the batch in; ``release`` gives it
    back. Thread-safe: two shards of a process may hand off at once."""

    def __init__(self) -> None:
        self._free: list[shared_memory.SharedMemory] = []
        self._lent: dict[str, shared_memory.SharedMemory] = {}
        self._lock = threading.Lock()

    def pack(self, images: list[np.ndarray | None]) -> Parcel | None:
        """The images copied into a block, or None when shared memory has no room for them."""
        sizes = [image.nbytes if image is not None else 0 for image in images]
        block = self._take(max(1, sum(sizes)))
        if block is None:
            return None
        places, offset = [], 0
        for image, size in zip(images, sizes):
            if image is None:
                places.append(None)
                continue
            target = np.ndarray(image.shape, np.uint8, buffer=block.buf, offset=offset)
            target[...] = image
            places.append((offset, tuple(image.shape)))
            offset += size
        return Parcel(block.name, tuple(places))

    def release(self, parcel: Parcel) -> None:
        with self._lock:
            block = self._lent.pop(parcel.block, None)
            if block is not None:
                self._free.append(block)

    def close(self) -> None:
        """Unlink every block (a batch still in flight may not be read after this)."""
        with self._lock:
            blocks, self._free, self._lent = self._free + list(self._lent.values()), [], {}
        for block in blocks:
            _discard(block)

    def _take(self, size: int) -> shared_memory.SharedMemory | None:
        with self._lock:
            for block in [block for block in self._free if not _linked(block)]:
                # unlinked by another process (a resource tracker that outlived a process which
                # attached it, before Python 3.13): its name reaches nothing, so it is let go
                self._free.remove(block)
                block.close()
            fitting = [block for block in self._free if block.size >= size]
            if fitting:
                block = min(fitting, key=lambda b: b.size)
                self._free.remove(block)
            elif not has_room(size):
                return None
            else:
                if self._free:  # too small for this batch: replaced, so the ring does not grow
                    _discard(self._free.pop())
                block = shared_memory.SharedMemory(create=True, size=size)
            self._lent[block.name] = block
            return block


def _discard(block: shared_memory.SharedMemory) -> None:
    """Unmap and unlink a block this process made. Before Python 3.13 a process that attached
    it and had a resource tracker of its own may have unlinked it already when it exited."""
    block.close()
    try:
        block.unlink()
    except FileNotFoundError:
        pass


def _linked(block: shared_memory.SharedMemory, folder: str = "/dev/shm") -> bool:
    """Whether the block's name still reaches it (on Linux, its file in /dev/shm; elsewhere
    assumed)."""
    if not os.path.isdir(folder):
        return True
    return os.path.exists(os.path.join(folder, block.name.lstrip("/")))


def has_room(size: int, folder: str = "/dev/shm") -> bool:
    """Whether shared memory has twice ``size`` bytes free (a margin for the other blocks in
    flight); True where there is no such folder to ask (the system sizes it itself)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return True
    return stats.f_bavail * stats.f_frsize >= 2 * size


_attached: OrderedDict[str, shared_memory.SharedMemory] = OrderedDict()


def unpack(parcel: Parcel) -> list[np.ndarray | None]:
    """The parcel's images, copied out of shared memory (in a finishing process)."""
    block = _attach(parcel.block)
    return [
        None if place is None else np.ndarray(place[1], np.uint8, buffer=block.buf, offset=place[0]).copy()
        for place in parcel.images
    ]


def _attach_untracked(name: str) -> shared_memory.SharedMemory:
    """The named block, not registered with this process's resource tracker: the render process
    owns it. Python >= 3.13 says so with ``track=False``. Before, attaching registers it, and a
    resource tracker that ends with a finishing process (one killed, or a pool replaced) unlinks
    every block it had registered, the ring's blocks in flight included (measured: the next
    batches failed with FileNotFoundError); so the registration is skipped, as bpo-39959's
    workaround does."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda name, rtype: None  # a finishing process is single-threaded here
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register


def _attach(name: str) -> shared_memory.SharedMemory:
    """The named block, mapped once per process; the least recently used mapping is dropped
    past ATTACHED_BLOCKS (the ring replaces a block now and then)."""
    if name in _attached:
        _attached.move_to_end(name)
        return _attached[name]
    block = _attach_untracked(name)
    _attached[name] = block
    while len(_attached) > ATTACHED_BLOCKS:
        _attached.popitem(last=False)[1].close()
    return block
