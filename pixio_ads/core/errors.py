"""Errors the library raises. Each carries enough to tell the user what to fix."""

from __future__ import annotations

import errno
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in user input, located as precisely as we can (file, row, column, line)."""

    file: str
    message: str
    fix: str = ""
    row: int | None = None  # as the user sees it in Excel: header = row 1
    column: str | None = None
    value: str | None = None
    line: int | None = None  # for template files
    key: str | None = None  # for YAML/JSON files: dotted path of the key, e.g. "cta.color"
    item: str | None = None  # a catalogue feed's item id

    def __str__(self) -> str:
        where = self.file
        if self.item is not None:
            where += f", item {self.item!r}"
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        if self.line is not None:
            where += f", line {self.line}"
        if self.key is not None:
            where += f", key '{self.key}'"
        text = f"{where}: {self.message}"
        if self.value is not None:
            shown = self.value if len(self.value) <= 80 else self.value[:77] + "..."
            text += f" (value: {shown!r})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class PixioError(Exception):
    """Base class for errors that the CLI shows as a message, not a traceback."""


class ValidationError(PixioError):
    """All problems found in one input, collected before failing."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        super().__init__(f"{len(self.issues)} {noun}:\n" + "\n".join(f"  - {issue}" for issue in self.issues))


class ModelLoadError(PixioError):
    """A model reference that cannot be loaded, with the reference named."""


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def disk_full_message(exc: OSError) -> str:
    return (
        f"the disk is full ({exc.filename or 'writing the outputs'}): no file was left half-written. "
        "Free some space and run the same command again to resume."
    )


def explained(exc: BaseException) -> str | None:
    """The message for an error the user can act on without a traceback (our own errors, a
    full disk), else None: a bug, whose traceback is worth showing."""
    if isinstance(exc, PixioError):
        return str(exc)
    if is_disk_full(exc):
        return disk_full_message(exc)
    return None
