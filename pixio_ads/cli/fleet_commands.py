"""`pixio-ads deploy` and `pixio-ads doctor`: a fleet of Prefect workers (flows/workpools.py).

pixio-ads deploy [--notify URL]                    # pools cpu + gpu, four deployments
CUDA_VISIBLE_DEVICES=0 prefect worker start --pool gpu --limit 1   # one per GPU
prefect worker start --pool cpu                    # campaign runs, inbox, review
pixio-ads doctor                                   # what a worker started here would use
"""

from __future__ import annotations

import os
import socket
from typing import Annotated, Optional

import typer

from pixio_ads.cli.common import EXIT_INVALID_INPUT, app, err, out, prefect_defaults, settings_from
from pixio_ads.cli.options import RENDERING, SAFEGUARDS, absolute_paths, takes_settings
from pixio_ads.settings import Serving

EXECUTION = (
    "device", "batch_size", "safety_checker", "retries", "retry_delay", "shard_size", "finish_workers", "compile",
    "compile_mode", "offload",
)  # fmt: skip


def _api_url_or_exit(command: str) -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        err.print(
            f"[bold red]error:[/] `pixio-ads {command}` works against the Prefect server the workers poll: "
            "set PREFECT_API_URL (e.g. http://prefect-host:4200/api)",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID_INPUT)
    return url


@app.command()
@takes_settings(*RENDERING, *EXECUTION, *SAFEGUARDS)
def deploy(
    cpu_pool: Annotated[str, typer.Option(help="Work pool of campaign runs and the inbox.")] = "cpu",
    gpu_pool: Annotated[str, typer.Option(help="Work pool of render-shard runs (one worker per GPU).")] = "gpu",
    inbox: Annotated[
        Optional[str], typer.Option(help="Also deploy campaign-inbox on this folder (or s3://bucket/inbox).")
    ] = None,
    out_root: Annotated[
        Optional[str], typer.Option("--out", help="Where the inbox's campaigns go: a folder, or s3://bucket/prefix.")
    ] = None,
    cron: Annotated[str, typer.Option(help="When campaign-inbox scans the inbox.")] = Serving.model_fields[
        "cron"
    ].default,
    notify: Annotated[
        Optional[str],
        typer.Option(help="Webhook URL called (POST, JSON) when a run fails, crashes or waits for review."),
    ] = None,
    **settings,
) -> None:
    """Register the deployments on work pools (created when missing) for workers to run."""
    prefect_defaults()
    _api_url_or_exit("deploy")
    if notify and not notify.startswith(("http://", "https://")):
        err.print(f"[bold red]error:[/] --notify {notify}: give the webhook's http(s):// URL", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    if inbox and not out_root:
        err.print("[bold red]error:[/] --inbox needs --out: the folder each campaign's outputs go to", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    from pixio_ads.flows import workpools

    models = settings_from(**absolute_paths(settings))
    pools = workpools.Pools(cpu=cpu_pool, gpu=gpu_pool)
    serving = Serving(inbox_dir=str(inbox), out_root=str(out_root), cron=cron) if inbox else None
    created = workpools.ensure_pools(pools)
    deployments = workpools.fleet_deployments(
        pools, models["rendering"], models["safeguards"], models["execution"], serving
    )
    for name in workpools.register(deployments):
        out.print(f"deployed {name}", highlight=False)
    if created:
        out.print(f"created work pool(s): {', '.join(created)}", highlight=False)
    if notify:
        from pixio_ads.flows.notify import NOTIFY_BLOCK, create_notifications

        for name in create_notifications(notify):
            out.print(f"automation '{name}' calls the webhook block {NOTIFY_BLOCK}", highlight=False)
    out.print(
        f"next, on each GPU machine, one worker per GPU: CUDA_VISIBLE_DEVICES=<i> prefect worker start --pool {gpu_pool} "
        f"--limit 1\nand somewhere: prefect worker start --pool {cpu_pool}   (`pixio-ads doctor` checks a machine)",
        highlight=False,
    )


@app.command()
def doctor() -> None:
    """What a worker started on this machine would use, and whether the fleet can take work."""
    prefect_defaults()
    url = _api_url_or_exit("doctor")
    import prefect

    import pixio_ads
    from pixio_ads.flows import fleet, render_shard, workpools
    from pixio_ads.render import loading

    out.print(f"pixio-ads {pixio_ads.__version__}, prefect {prefect.__version__}, server {url}", highlight=False)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    out.print(f"CUDA_VISIBLE_DEVICES: {visible if visible is not None else '(unset: every GPU)'}", highlight=False)
    out.print(f"renders on: {_devices(loading.select_device(None))}", highlight=False)
    limit = render_shard.host_limit_name()
    out.print(f"shards at once on {socket.gethostname()}: {_host_limit(limit)}", highlight=False)
    try:
        pool = fleet.check_fleet(workpools.RENDER_DEPLOYMENT)
    except fleet.FleetError as exc:
        err.print(f"[yellow]not ready:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    out.print(f"ready: {workpools.RENDER_DEPLOYMENT} has a worker online in pool {pool!r}", highlight=False)


def _devices(device: str) -> str:
    if device != "cuda":
        return device
    import torch

    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return f"cuda, {len(names)} GPU(s): {', '.join(names)}" + ("; give each worker one" if len(names) > 1 else "")


def _host_limit(name: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        return f"not bounded (create one: prefect gcl create {name} --limit <GPUs>)"
    return f"at most {limit.limit} (global concurrency limit {name})"
