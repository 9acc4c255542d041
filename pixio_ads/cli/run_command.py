"""`pixio-ads run`: a campaign through the generate-campaign flow, under a progress bar."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pixio_ads.cli.common import (
    EXIT_FAILED_VARIANTS,
    EXIT_INTERRUPTED,
    EXIT_INVALID_INPUT,
    EXIT_REVIEW_PENDING,
    CampaignArg,
    RecipeOption,
    app,
    err,
    load_or_exit,
    out,
    prefect_defaults,
    settings_from,
)
from pixio_ads.cli.options import RENDERING, SAFEGUARDS, absolute_paths, takes_settings
from pixio_ads.core.errors import PixioError, disk_full_message, is_disk_full
from pixio_ads.core.storage import Workspace, is_remote, join
from pixio_ads.outputs.report import CONTACT_SHEET_HTML
from pixio_ads.render.clip import check_reference as check_clip_model
from pixio_ads.run.planning import check_models

RUN_SETTINGS = (
    "model", "limit", *RENDERING[1:], "device", "batch_size", "safety_checker", "retries", "retry_delay",
    "shard_size", "wait", "finish_workers", "stall_seconds", "render_deployment", "compile", "compile_mode",
    "offload",
    *SAFEGUARDS, "clip_model",
    "wait_for_review",
    "review_host", "review_port", "review_token", "review_timeout_hours",
)  # fmt: skip


@app.command()
@takes_settings(*RUN_SETTINGS)
def run(
    campaign: CampaignArg,
    recipe: RecipeOption = None,
    out_dir: Annotated[
        Optional[str],
        typer.Option(
            "--out",
            help="Output folder, or object storage (s3://bucket/prefix). Default: out/<campaign file name>.",
        ),
    ] = None,
    workers: Annotated[
        Optional[int],
        typer.Option(min=1, help="Render on a local Dask cluster of N worker processes (one per GPU on GPU hosts)."),
    ] = None,
    dask_address: Annotated[
        Optional[str], typer.Option(help="Render on an existing Dask cluster, e.g. tcp://scheduler:8786.")
    ] = None,
    **settings,
) -> None:
    """Render a campaign through the Prefect flow and write its manifest."""
    if workers and dask_address:
        err.print(
            "[bold red]error:[/] --workers starts a local Dask cluster and --dask-address uses an existing one: give one of them",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID_INPUT)
    models = settings_from(**absolute_paths(settings))
    _, variants = load_or_exit(
        campaign, models["rendering"], models["execution"].limit, recipe
    )  # fail fast, before Prefect starts
    try:
        check_models(variants)
        if models["review"].clip_model:
            check_clip_model(models["review"].clip_model)
    except PixioError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    prefect_defaults()
    _check_fleet_server(models["execution"].render_deployment)
    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.flows.lifecycle import reap_temporary_server
    from pixio_ads.flows.runners import task_runner

    reap_temporary_server()  # a killed run must not leave Prefect's temporary server behind

    flow = generate_campaign.with_options(task_runner=task_runner(workers, dask_address))
    location = out_dir or str(Path("out") / Path(campaign.split("://")[-1]).stem)
    if not is_remote(location):
        location = str(Path(location).resolve())
    parameters = dict(campaign_path=campaign, out_dir=location, recipe=_local_or_url(recipe), **models)
    summary = _run_with_progress(flow, parameters, len(variants))
    if models["review"].wait_for_review:
        _report_review(Workspace.open(location).local, location)
    _report_run(summary, location)


def _local_or_url(path: str | None) -> str | None:
    """A recipe as the flow takes it: an absolute path (the flow may run elsewhere), or a URL."""
    return path if path is None or is_remote(path) else str(Path(path).resolve())


def _check_fleet_server(render_deployment: str | None) -> None:
    """A fleet's workers take their runs from a Prefect server: the temporary one a run
    starts by itself is out of their reach."""
    from prefect.settings import PREFECT_API_URL

    if render_deployment and not PREFECT_API_URL.value():
        err.print(
            f"[bold red]error:[/] --render-deployment {render_deployment} renders on the workers of a Prefect server: "
            "set PREFECT_API_URL to the server they poll (e.g. http://prefect-host:4200/api)",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID_INPUT)


def _report_review(local: Path, location: str) -> None:
    from pixio_ads.delivery.review import APPROVED_DIR, counts
    from pixio_ads.outputs.manifest import read_table

    described = counts(read_table(local / "manifest.parquet")).describe()
    out.print(f"review:        {described}; approved set in {join(location, APPROVED_DIR)}", highlight=False)


def _run_with_progress(flow, parameters: dict, total: int):
    """Run the flow under a progress bar (done/total, images/s, ETA); its summary."""
    from prefect.exceptions import CancelledRun, Pause, UnfinishedRun

    from pixio_ads.flows.generate_campaign import add_progress_listener

    progress = Progress(
        TextColumn("[bold]rendering"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err,
    )  # fmt: skip
    bar = progress.add_task("variants", total=total, rate="")

    def advance(count: int) -> None:
        progress.advance(bar, count)
        speed = progress.tasks[bar].speed
        progress.update(bar, rate=f"{speed:.2f} img/s" if speed else "")

    stop_listening = add_progress_listener(advance)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop: as Ctrl-C
    try:
        with progress:
            summary = flow(**parameters)
            progress.update(bar, completed=summary.total)  # shards served from Prefect's cache did not report
    except PixioError as exc:  # e.g. a hub id that cannot be downloaded, or the folder in use
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        err.print(f"[bold red]error:[/] {disk_full_message(exc)}", highlight=False)
        raise typer.Exit(EXIT_FAILED_VARIANTS) from None
    except Pause:  # --review timed out: the flow run stays paused, its work is kept
        review = parameters["review"]
        err.print(
            f"[yellow]nobody clicked 'Review done' within {review.review_timeout_hours:g} h: the flow run is left paused. "
            f"The decisions made are kept; finish with `pixio-ads review {parameters['out_dir']}` and its "
            "'Review done' writes the approved set.[/]",
            highlight=False,
        )
        raise typer.Exit(EXIT_REVIEW_PENDING) from None
    except (CancelledRun, UnfinishedRun) as exc:  # from the dashboard or `prefect flow-run cancel`
        # (UnfinishedRun: the cancel came as the run ended; its state is left "cancelling")
        err.print(
            f"[yellow]the flow run was cancelled ({exc}). Run the same command again to resume: nothing is rendered twice.[/]",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except KeyboardInterrupt:
        done = int(progress.tasks[bar].completed)
        err.print(
            f"[yellow]interrupted after {done} of {total} variant(s); what was finished is kept. "
            f"Run the same command again to resume: nothing is rendered twice.[/]",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_listening()
    return summary


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _report_run(summary, location: str) -> None:
    """Where the outputs are, what was blocked or skipped; exit 1 when variants failed."""
    out.print(f"[green]done[/]: {summary.describe()}", highlight=False)
    out.print(f"images:        {join(location, 'images')}", highlight=False)
    out.print(f"manifest:      {join(location, 'manifest.parquet')}", highlight=False)
    out.print(f"contact sheet: {join(location, CONTACT_SHEET_HTML)}", highlight=False)
    for status, why in (("blocked", "by the content policy or the safety checker"), ("skipped", "beyond a quota")):
        if summary.counts.get(status):
            message = f"{summary.counts[status]} variant(s) {status} {why}: see the manifest's 'error' column"
            err.print(f"[yellow]{message}[/]", highlight=False)
    if summary.counts["failed"]:
        err.print("[red]some variants failed; their errors are in the manifest's 'error' column[/]")
        raise typer.Exit(EXIT_FAILED_VARIANTS)
