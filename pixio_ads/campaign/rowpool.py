"""Campaign rows validated in parallel: a large file's rows are cut into contiguous chunks,
each validated in a forked process with its own checks (images, templates, brand kits), and
the rows, problems and notes merged back in row order.

A row's validation is independent of the others' (copy fitting against the fonts of every
script is the bulk of it), so two cores validate a 10,000-row campaign in five languages in
about half the time. Forking is used only where it is safe and pays: a single-threaded
process (the CLI's `validate`, `expand`), at least PARALLEL_MIN_ROWS rows, a platform with
fork; else the rows are validated here, one after the other, with the same result.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from pixio_ads.campaign.checks import CampaignCheck, RowCheck
from pixio_ads.core.errors import Issue

PARALLEL_MIN_ROWS = 2000  # below this a second process costs more than it saves
MAX_WORKERS = 4

Validated = tuple[list, list[Issue], list[str], list[str]]  # rows, problems, image notes, row notes
T = TypeVar("T")


def validate_records(
    path: Path, records: list[dict], first_row: int, validate_row: Callable[[dict, RowCheck], object]
) -> Validated:
    """Every record through ``validate_row``; (valid rows in order, problems, image notes,
    row notes), each problem and note once."""
    parts = map_chunks(records, first_row, partial(validate_chunk, path, validate_row=validate_row))
    merged: Validated = ([], [], [], [])
    for part in parts:
        merged[0].extend(part[0])
        for target, found in zip(merged[1:], part[1:]):
            target.extend(item for item in found if item not in target)  # file-level ones once
    return merged


def map_chunks(records: list[dict], first_row: int, work: Callable[[list[dict], int], T]) -> list[T]:
    """``work(chunk, its first row number)`` over contiguous chunks of the records, in forked
    processes where that is safe and pays (else one chunk, here); results in row order."""
    workers = _workers(len(records))
    if workers == 1:
        return [work(records, first_row)]
    size = -(-len(records) // workers)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [
            pool.submit(work, records[start : start + size], first_row + start)
            for start in range(0, len(records), size)
        ]
        return [future.result() for future in futures]


def validate_chunk(path: Path, records: list[dict], first_row: int, validate_row) -> Validated:
    campaign = CampaignCheck(path)
    rows = []
    for offset, record in enumerate(records):
        check = RowCheck(campaign, row=first_row + offset)
        row = validate_row(record, check)
        campaign.issues.extend(check.issues)
        if row is not None:
            rows.append(row)
    return rows, campaign.issues, campaign.images.notes, campaign.notes


def _workers(rows: int) -> int:
    """Processes for ``rows`` rows: 1 unless forking is safe and worth it."""
    if rows < PARALLEL_MIN_ROWS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if threading.active_count() > 1 or multiprocessing.current_process().daemon:
        return 1  # forking a threaded process can copy a lock held by another thread
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS, rows // (PARALLEL_MIN_ROWS // 2)))
