"""Where a flow's render tasks run: this process (default), a local Dask cluster, or an
existing Dask cluster. We do not write a scheduler of our own."""

from __future__ import annotations

import importlib.util
import os

from prefect.task_runners import ThreadPoolTaskRunner

from pixio_ads.run.cores import CORES_ENV

# Shards a render process works on at once: it renders one batch at a time (runner.RENDER_LOCK),
# and while one shard waits for its last batches to be finished the other keeps the GPU busy.
SHARDS_IN_FLIGHT = 2


def task_runner(workers: int | None = None, dask_address: str | None = None):
    """``workers``: a LocalCluster of that many worker processes (one model load each, kept
    for all their shards; on a GPU host one worker per GPU, via dask-cuda's LocalCUDACluster
    when installed). ``dask_address``: an existing cluster (``dask scheduler`` / ``dask worker``).
    Neither: this process, SHARDS_IN_FLIGHT shards at a time, rendering one batch at a time."""
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    if not workers:
        return ThreadPoolTaskRunner(max_workers=SHARDS_IN_FLIGHT)
    import dask
    import torch
    from prefect_dask import DaskTaskRunner

    # Each worker finishes its creatives in its own pool of processes (pixio_ads/run/finishing.py):
    # worker processes must not be daemonic to have children, and each gets its share of cores.
    dask.config.set({"distributed.worker.daemon": False})
    os.environ.setdefault(CORES_ENV, str(max(1, (os.cpu_count() or 1) // workers)))
    if torch.cuda.device_count() > 0 and importlib.util.find_spec("dask_cuda"):
        return DaskTaskRunner(
            cluster_class="dask_cuda.LocalCUDACluster",
            cluster_kwargs={"n_workers": workers, "threads_per_worker": SHARDS_IN_FLIGHT},
        )
    # CPU workers share the cores: give each its share of torch threads (inherited by the
    # worker processes, which start after this).
    os.environ.setdefault("PIXIO_ADS_TORCH_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    # Two Dask defaults that cost torch dearly (measured per image with the tiny model on 2
    # cores: 1.2-1.5 s in a worker vs 0.6 s in-process, 0.62 s with both changed):
    # - the nanny sets MALLOC_TRIM_THRESHOLD_=65536 for workers, so glibc hands every freed
    #   activation buffer back to the OS and the next step page-faults it in again;
    # - the statistical profiler walks the task thread's stack every 10 ms holding the GIL.
    dask.config.set(
        {
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
            "distributed.worker.profile.enabled": False,
        }
    )
    cluster_kwargs = {
        "n_workers": workers,
        "threads_per_worker": SHARDS_IN_FLIGHT,
        "processes": True,
        "dashboard_address": None,
    }
    return DaskTaskRunner(cluster_kwargs=cluster_kwargs)
