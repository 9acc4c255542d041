"""How a flow run stops early, and what it leaves: cancelled from the dashboard or the API
(`prefect flow-run cancel`), stopped by its supervisor, or orphaned by it.

- ``cancel_requested()``: asked by each shard before each batch (runner.render_shard's
  ``should_stop``), in whichever process renders it (this one, or a Dask worker): True once the
  flow run is Cancelling or Cancelled on the server (read at most every CANCEL_POLL_SECONDS),
  or once this process got SIGTERM. The shard then stops after the batch in hand, keeps its
  finished rows, and the flow run ends Cancelled; a rerun renders the rest.
- ``bind_to_supervisor()``: in a flow-run process that a served deployment or a worker started
  (Prefect sets PREFECT__FLOW_RUN_ID for it), end with that supervisor: when it ends, however
  it ends, this process stops its shards at their next batch (finished rows kept), reports
  the run Crashed (nothing else would: its supervisor is gone) and is ended after a grace.
  A flow called in-process (``pixio-ads run``) needs neither: it is the process the user ends.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager

from pixio_ads.core.lifeline import Reaper, stop_self, watch_parent

logger = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 2.0
SUPERVISOR_GRACE_SECONDS = 5.0  # after the supervisor ends: time for the shards to stop cleanly
LAST_GRACE_SECONDS = 2.0  # then, once told to stop: time to exit before it is ended
_terminated = threading.Event()  # this process got SIGTERM (a runner cancelling or stopping it)
_checked: dict[str, tuple[float, bool]] = {}  # flow run id -> (when read, cancelled)
_bound = False
_idle = threading.Event()  # no shard is rendering in this process (see rendering())
_idle.set()
_rendering = [0]  # shards rendering in this process now
_rendering_lock = threading.Lock()


def bind_to_supervisor() -> None:
    """End this flow-run process with the process that supervises it (see the module's notes),
    and let SIGTERM stop the shards at their next batch. Once per process."""
    global _bound
    if _bound or not os.environ.get("PREFECT__FLOW_RUN_ID"):
        return
    _bound = True
    watch_parent(on_exit=_supervisor_ended, grace=LAST_GRACE_SECONDS)
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum, frame) -> None:
            _terminated.set()
            if callable(previous):
                previous(signum, frame)  # Prefect's: ends the flow run's state as it should

        signal.signal(signal.SIGTERM, on_sigterm)


@contextmanager
def rendering():
    """Mark a shard rendering in this process: when the supervisor ends, the run is reported
    crashed only once the shard has stopped (its rows saved), so that the shard started again
    elsewhere never races this one for the shard's file. Counted: a process may render two
    shards at once (generate_campaign's SHARDS_IN_FLIGHT); idle when the last one stops."""
    with _rendering_lock:
        _rendering[0] += 1
        _idle.clear()
    try:
        yield
    finally:
        with _rendering_lock:
            _rendering[0] -= 1
            if not _rendering[0]:
                _idle.set()


def _supervisor_ended() -> None:
    """The worker (or `serve`) that started this run is gone, and with it whatever would have
    recorded the run's end: stop the shards at their next batch, wait for them, report the
    run crashed (a campaign run then starts its shard again: fleet.py), then stop."""
    _terminated.set()
    _idle.wait(SUPERVISOR_GRACE_SECONDS)
    run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
    if run_id:
        _report_crashed(run_id)
    stop_self()


def _report_crashed(run_id: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    message = "the process that supervised this run ended; the finished variants are kept"
    try:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Crashed(message=message))
    except Exception as exc:  # nobody else will record it: say so in the log at least
        logger.warning("could not report flow run %s crashed: %s", run_id, exc)


def cancel_requested() -> bool:
    """Whether the current flow run should stop now (see the module's notes)."""
    if _terminated.is_set():
        return True
    run_id = _flow_run_id()
    if run_id is None:
        return False
    when, cancelled = _checked.get(run_id, (float("-inf"), False))
    if time.monotonic() - when >= CANCEL_POLL_SECONDS:
        cancelled = _read_cancelled(run_id)
        _checked[run_id] = (time.monotonic(), cancelled)
    return cancelled


def _flow_run_id() -> str | None:
    from prefect.context import FlowRunContext, TaskRunContext

    task = TaskRunContext.get()
    if task is not None:
        return str(task.task_run.flow_run_id)
    flow = FlowRunContext.get()
    return str(flow.flow_run.id) if flow is not None and flow.flow_run is not None else None


def _read_cancelled(run_id: str) -> bool:
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
    except Exception as exc:  # the API out of reach for a moment must not stop the run
        logger.debug("could not read the state of flow run %s: %s", run_id, exc)
        return False
    return state is not None and (state.is_cancelling() or state.is_cancelled())


_reaper = None  # kept for the life of the process: its pipe closing is what tells it to act


def reap_temporary_server() -> None:
    """Without a configured API, Prefect starts a temporary server (a uvicorn process) on first
    use and stops it at exit, which a SIGKILL skips. Start it now, and hand it to a reaper
    (lifeline.Reaper) that ends it when this process ends, however it ends."""
    global _reaper
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value() or _reaper is not None:
        return
    from prefect.server.api.server import SubprocessASGIServer  # the server's app: ~2 s of imports, only here

    server = SubprocessASGIServer()  # the instance Prefect's clients use
    server.start()
    _reaper = Reaper()
    _reaper.adopt(server.server_process.pid)
    # Processes this one starts (Dask workers) report to this server: without it each would
    # start a temporary server of its own, which the run could not see (nor cancel through).
    os.environ["PREFECT_API_URL"] = server.api_url
