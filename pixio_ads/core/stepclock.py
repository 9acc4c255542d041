"""Where a render process's time goes: seconds per named step, per shard.

The GPU is busy only inside the pipeline call; everything else the render process does
between two calls (prompt encoding, model inputs, turning the output into pixels, the image
checks, the hand-off to finishing, saving rows, the end of a shard) leaves it idle unless it
overlaps. A shard's loop runs under ``measuring(clock)``; the functions it calls mark their
work with ``step(name)``, which costs nothing when no clock is running (a library call, a
test). The clocks travel in the shard's result (runner.ShardResult.steps) to the flow's
summary and the benchmarks (gpu_busy_share).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

PIPELINE = "pipeline"  # the diffusers call itself: the GPU's work
# Steps where the render process waits rather than works (its own work leaves them out)
WAIT_OTHER_SHARD, WAIT_FINISHING, SHARD_END = "waiting for the other shard", "waiting for finishing", "shard end"
WAITS = (WAIT_OTHER_SHARD, WAIT_FINISHING, SHARD_END)
_current: ContextVar[StepClock | None] = ContextVar("pixio_ads_step_clock", default=None)


class StepClock:
    """Seconds per step, and when the measured span began and ended (epoch seconds, so spans
    from several shards of one process can be laid side by side)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started_at = time.time()
        self.ended_at = self.started_at

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


@contextmanager
def measuring(clock: StepClock) -> Iterator[StepClock]:
    """Steps marked in this thread (and the context it runs) add up in ``clock``."""
    token = _current.set(clock)
    try:
        yield clock
    finally:
        clock.ended_at = time.time()
        _current.reset(token)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time the block as ``name`` on the running clock, if any. Nested steps count in both:
    mark leaf work only."""
    clock = _current.get()
    if clock is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        clock.add(name, time.perf_counter() - started)


def busy_share(spans: list[tuple[float, float, float]]) -> float:
    """The share of a process's render span its GPU was busy: ``spans`` are (started_at,
    ended_at, pipeline seconds) of its shards, which may overlap (two shards in flight); the
    span is from the first start to the last end."""
    if not spans:
        return 0.0
    wall = max(end for _, end, _ in spans) - min(start for start, _, _ in spans)
    return sum(busy for _, _, busy in spans) / wall if wall > 0 else 0.0
