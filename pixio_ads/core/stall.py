"""A watchdog for work that stops making progress.

A shard that makes no progress (no batch rendered, no creative finished) for
``stall_seconds`` is named in the log and given up: its unfinished variants are recorded
``failed`` with the reason, so the run ends instead of hanging, and a rerun renders them
again. What hangs is in another process (a finishing process stopped or deadlocked, a pipe
that never delivers) far more often than in this one, so the watchdog's action is a
callback the owner gives it: the shard's kills its finishing pool, which turns every wait on
that pool into an error at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

DEFAULT_STALL_SECONDS = 900.0  # longer than any batch of a real checkpoint on a slow GPU


class Watchdog:
    """Calls ``on_stall(message)`` once when ``beat()`` has not been called for ``seconds``."""

    def __init__(self, seconds: float, what: str, on_stall: Callable[[str], None]) -> None:
        self.seconds, self.what, self.on_stall = seconds, what, on_stall
        self.stalled: str | None = None  # the message, once it fired
        self._last = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pixio-stall-watch", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        self._last = time.monotonic()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(min(1.0, self.seconds / 4)):
            idle = time.monotonic() - self._last
            if idle >= self.seconds:
                self.stalled = (
                    f"{self.what} made no progress for {idle:.0f} s (stall timeout {self.seconds:g} s) and was given up; "
                    "rerun the same command to render its unfinished variants again"
                )
                logger.error(self.stalled)
                self.on_stall(self.stalled)
                return
