"""Which CPU cores a render worker's processes use.

A GPU render process feeds the GPU from one Python thread; the finishing processes
(finishing.py) each use one core. Left to the scheduler, a busy finishing process lands on
the core the render process was using and the GPU waits for its next batch. So on a GPU
worker with cores to spare the render process keeps RENDER_CORES cores of its own (and
torch's CPU threads are limited to them), and the finishing processes are pinned to the
rest. A CPU renderer needs every core for torch: nothing is pinned. Neither is a Dask worker
given a share of a host's cores (CORES_ENV): which cores its share are is the host's to say.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache

logger = logging.getLogger(__name__)

CORES_ENV = "PIXIO_ADS_WORKER_CORES"  # cores one render worker may use (set for Dask workers)


def worker_cores() -> int:
    """The CPU cores this render worker has: its Dask share when set, else the process's
    (as it started: before the render process was pinned to its own)."""
    share = os.environ.get(CORES_ENV)
    if share:
        return int(share)
    return len(_initial_affinity()) or os.cpu_count() or 1


@lru_cache(maxsize=1)
def _initial_affinity() -> frozenset[int]:
    return frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()


def render_cores(total: int) -> int:
    """Cores kept for a GPU render process: two from 8 cores up (its Python loop, and Prefect's
    and the tokenizer's threads beside it), else one."""
    return 2 if total >= 8 else 1


@dataclass(frozen=True, slots=True)
class CoreSplit:
    render: frozenset[int]
    finishing: frozenset[int]


@lru_cache(maxsize=4)
def core_split(device: str) -> CoreSplit | None:
    """The render process's and the finishing processes' cores, or None where nothing is
    pinned (a CPU renderer, a Dask share, fewer than 3 cores, no affinity on this system)."""
    cores = sorted(_initial_affinity())
    if device == "cpu" or os.environ.get(CORES_ENV) or len(cores) < 3:
        return None
    keep = render_cores(len(cores))
    return CoreSplit(frozenset(cores[:keep]), frozenset(cores[keep:]))


def default_workers(device: str) -> int:
    """Finishing processes by default: the cores rendering does not need, at least 1. A GPU
    renderer's process needs one core (two on big hosts) to feed the GPU and collect rows; a
    CPU renderer needs them all (torch uses every core), so one finishing process shares them."""
    if device == "cpu":
        return 1
    split = core_split(device)
    return len(split.finishing) if split else max(1, worker_cores() - 1)


def pin_render_process(device: str) -> CoreSplit | None:
    """Pin this (render) process to its cores and limit torch's CPU threads to them; the
    split, for the finishing processes to pin themselves to the rest (None: not pinned)."""
    split = core_split(device)
    if split is None:
        return None
    if os.sched_getaffinity(0) != split.render:
        import torch

        os.sched_setaffinity(0, split.render)
        torch.set_num_threads(len(split.render))
        logger.info("render process on cores %s, finishing on %d others", sorted(split.render), len(split.finishing))
    return split


def pin_finishing_process(cores: frozenset[int] | None) -> None:
    if cores:
        os.sched_setaffinity(0, cores)
