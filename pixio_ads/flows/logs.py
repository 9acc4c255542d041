"""Prefect's run logs without tracebacks for errors that explain themselves.

Prefect logs every task or flow run that raises with its traceback. For our own errors
(a validation problem, a model that cannot load, the output folder in use) and a full disk,
the traceback says nothing an operator can act on and buries the message: the log line
keeps Prefect's wording and gets ours appended, without the traceback. Other exceptions
(bugs) keep theirs.
"""

from __future__ import annotations

import logging

from pixio_ads.core.errors import explained

RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


class ExplainedErrors(logging.Filter):
    """Drops the traceback of records whose exception ``errors.explained`` describes, and
    appends that description to the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        message = explained(exc) if exc is not None else None
        if message is not None:
            record.msg, record.args = f"{record.getMessage()}: {message}", ()
            record.exc_info, record.exc_text = None, None
        return True


def quiet_explained_errors() -> None:
    """Install the filter on Prefect's run loggers (once per process)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ExplainedErrors) for f in logger.filters):
            logger.addFilter(ExplainedErrors())
