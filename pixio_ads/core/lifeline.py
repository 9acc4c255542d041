"""Processes that end with the process that started them, however it ends.

Every process pixio-ads starts (finishing pools, the temporary Prefect server of a ``run``,
the flow-run process of a served deployment, Dask workers' pools) must end within seconds of
its parent, SIGKILL of the parent included: a killed run must not leave ~300 MB finishing
processes blocked on a pipe read for ever, nor a uvicorn server, nor a GPU's memory held.

Two mechanisms, for the two kinds of child:

- ``watch_parent()``, called inside a child whose code is ours: a daemon thread waits for
  the parent to end (``pidfd_open`` + ``poll`` on Linux, so it wakes at once; polling
  ``getppid`` elsewhere) and then ends this process. We do not use ``PR_SET_PDEATHSIG``:
  it fires when the *thread* that started the child ends, and pools are started from
  Prefect's task threads, which come and go while the process lives.
- ``Reaper``, for a child whose code is not ours (Prefect's temporary server runs uvicorn):
  a small sidecar process reading the pids to end from a pipe. When the pipe closes (the
  parent ended, or is exiting), it ends those processes and their children (SIGTERM, then
  SIGKILL after a grace) and exits. Pids are recorded with their start time, so a pid the
  system has reused for another process is never signalled.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import psutil

logger = logging.getLogger(__name__)

GRACE_SECONDS = 3.0  # SIGTERM, then SIGKILL after this long
POLL_SECONDS = 0.5  # where pidfd is not available


def wait_for_exit(pid: int) -> None:
    """Block until process ``pid`` has ended (returns at once when it has already)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3, or the process is gone
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(POLL_SECONDS)
        return
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll(None):
            pass
    finally:
        os.close(fd)


def watch_parent(
    parent: int | None = None, on_exit: Callable[[], None] | None = None, grace: float = GRACE_SECONDS
) -> None:
    """End this process when ``parent`` (default: the current parent) ends. ``on_exit`` runs
    first (e.g. to ask the process to stop cleanly); the process is then ended with its own
    children after ``grace`` seconds at most. When the parent is already gone, act now."""
    parent = os.getppid() if parent is None else parent

    def watch() -> None:
        if os.getppid() == parent:  # else it ended before we could watch it (we were re-parented)
            wait_for_exit(parent)
        if on_exit is not None:
            on_exit()
            time.sleep(grace)
        end_tree(os.getpid(), include_root=False)
        os._exit(1)

    threading.Thread(target=watch, name="pixio-parent-watch", daemon=True).start()


def stop_self() -> None:
    """Ask this process to stop as a service manager would (SIGTERM: its handlers keep the
    finished work); ``watch_parent`` ends it after the grace if it does not."""
    os.kill(os.getpid(), signal.SIGTERM)


def descendants(pid: int) -> list[psutil.Process]:
    """The process's children, grandchildren... (empty when it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def live(pids) -> list[psutil.Process]:
    """The processes of these pids that still run."""
    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    return processes


def end_tree(pid: int, include_root: bool = True, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the process's descendants (and itself), SIGKILL what is left after ``grace``."""
    end_processes(descendants(pid) + (live([pid]) if include_root else []), grace)


def end_processes(processes: list[psutil.Process], grace: float = GRACE_SECONDS) -> None:
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=grace)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)


class Reaper:
    """A sidecar process that ends the processes handed to it when this process ends.

    ``adopt(pid)`` hands one over. ``close()`` (or this process's end, however it ends)
    closes the pipe: the reaper then ends what it holds and exits. It ignores Ctrl-C, which
    a terminal sends to the whole process group, so that it outlives the run it cleans up."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pixio_ads.core.lifeline", str(os.getpid())],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,  # no terminal signals; it ends when its pipe closes
        )

    def adopt(self, pid: int) -> None:
        started = psutil.Process(pid).create_time()
        assert self.process.stdin is not None
        self.process.stdin.write(f"{pid} {started!r}\n")
        self.process.stdin.flush()

    def close(self, timeout: float = 10.0) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _reap(lines) -> None:
    """The reaper's loop: collect (pid, start time) lines until EOF, then end them."""
    held: list[tuple[int, float]] = []
    for line in lines:
        pid, started = line.split()
        held.append((int(pid), float(started)))
    processes = []
    for pid, started in held:
        try:
            process = psutil.Process(pid)
            if abs(process.create_time() - started) < 0.01:  # the same process, not a reused pid
                processes += [*process.children(recursive=True), process]
        except psutil.NoSuchProcess:
            pass
    end_processes(processes)


if __name__ == "__main__":  # the reaper: python -m pixio_ads.core.lifeline PARENT_PID
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _reap(sys.stdin)
