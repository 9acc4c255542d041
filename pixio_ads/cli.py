"""Command line: ``pixio-ads validate | expand | run``.

Exit codes: 0 ok, 1 some variants failed to render, 2 invalid input (every error printed).
Library errors become messages that say how to fix them, never tracebacks.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pixio_ads.campaign import Campaign, load_campaign
from pixio_ads.errors import PixioError, ValidationError
from pixio_ads.fileio import atomic_write_bytes
from pixio_ads.render import DTYPES, SCHEDULER_NAMES
from pixio_ads.report import CONTACT_SHEET_HTML
from pixio_ads.runner import add_progress_listener, check_models
from pixio_ads.upscale import DEFAULT_UPSCALER_STEPS
from pixio_ads.variants import Overrides, Variant, expand

app = typer.Typer(help="Campaign spreadsheets in, ad creatives and a Parquet manifest out.", no_args_is_help=True, add_completion=False)
# soft_wrap: never hard-wrap a line, so paths and messages survive copy-paste and grep
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_FAILED_VARIANTS = 1
EXIT_INVALID_INPUT = 2

CampaignArg = Annotated[Path, typer.Argument(help="Campaign spreadsheet (.csv, .xlsx or .parquet).", show_default=False)]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Local checkpoint folder or hub id; wins over the spreadsheet. Default: the embedded tiny model (noise).")]
StepsOpt = Annotated[Optional[int], typer.Option("--steps", min=1, max=500, help="Denoising steps; wins over the spreadsheet.")]
GuidanceOpt = Annotated[Optional[float], typer.Option("--guidance", min=0, max=50, help="Guidance scale; wins over the spreadsheet.")]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", help="Sampler: " + ", ".join(SCHEDULER_NAMES) + "; wins over the spreadsheet.")]
RevisionOpt = Annotated[Optional[str], typer.Option("--revision", help="Hub revision of the model; wins over the spreadsheet.")]
DtypeOpt = Annotated[Optional[str], typer.Option("--dtype", help="Weights precision: " + ", ".join(DTYPES) + "; wins over the spreadsheet.")]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N variants.")]


def _overrides(*values) -> Overrides:
    """CLI render settings, or exit 2 naming the bad option value."""
    try:
        return Overrides(*values)
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def _load(campaign_path: Path, overrides: Overrides, limit: int | None = None) -> tuple[Campaign, list[Variant]]:
    """Validate the spreadsheet and its templates, or exit 2 listing every problem."""
    try:
        campaign = load_campaign(campaign_path)
        for warning in campaign.warnings:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False)
        return campaign, expand(campaign, overrides, limit)
    except ValidationError as exc:
        err.print(f"[bold red]{campaign_path}: {len(exc.issues)} problem(s), nothing was rendered:[/]", highlight=False)
        for issue in exc.issues:
            err.print(f"  - {issue}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


@app.command()
def validate(
    campaign: CampaignArg,
    model: ModelOpt = None,
    steps: StepsOpt = None,
    guidance: GuidanceOpt = None,
    scheduler: SchedulerOpt = None,
    revision: RevisionOpt = None,
    dtype: DtypeOpt = None,
) -> None:
    """Check a campaign file and its templates; print a summary or every problem."""
    loaded, variants = _load(campaign, _overrides(model, steps, guidance, scheduler, revision, dtype))
    formats = Counter(v.format for v in variants)
    out.print(
        f"[green]ok[/] {campaign}: {len(loaded.rows)} product rows -> {len(variants)} variants"
        + (f" (sheet {loaded.sheet!r})" if loaded.sheet else ""),
        highlight=False,
    )
    out.print("  by format: " + ", ".join(f"{name} {count}" for name, count in formats.items()), highlight=False)


@app.command("expand")
def expand_command(
    campaign: CampaignArg,
    output: Annotated[Optional[Path], typer.Option("--out", help="Write all variants to FILE (.parquet, .csv or .jsonl).")] = None,
    show: Annotated[int, typer.Option(help="How many variants to print.")] = 20,
    limit: LimitOpt = None,
    model: ModelOpt = None,
    steps: StepsOpt = None,
    guidance: GuidanceOpt = None,
    scheduler: SchedulerOpt = None,
    revision: RevisionOpt = None,
    dtype: DtypeOpt = None,
) -> None:
    """Expand a campaign into its variants without rendering."""
    _, variants = _load(campaign, _overrides(model, steps, guidance, scheduler, revision, dtype), limit)
    table = Table("variant_id", "product", "audience", "style", "format", "seed", "prompt", title=f"{len(variants)} variants")
    for v in variants[:show]:
        table.add_row(v.variant_id, v.product_id, v.audience, v.style, v.format, str(v.seed), v.prompt)
    out.print(table)
    if output is not None:
        _write_variants(variants, output)
        out.print(f"wrote {len(variants)} variants to {output}", highlight=False)


def _write_variants(variants: list[Variant], path: Path) -> None:
    from pixio_ads.manifest import variants_to_table, write_table

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        write_table(variants_to_table(variants), path)
        return
    rows = variants_to_table(variants).to_pylist()
    if suffix == ".jsonl":
        atomic_write_bytes(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode())
    elif suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(path, buffer.getvalue().encode())
    else:
        err.print(f"[red]--out {path}: unsupported extension; use .parquet, .csv or .jsonl[/]", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT)


@app.command()
def run(
    campaign: CampaignArg,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Output folder. Default: out/<campaign file name>.")] = None,
    model: ModelOpt = None,
    limit: LimitOpt = None,
    steps: StepsOpt = None,
    guidance: GuidanceOpt = None,
    scheduler: SchedulerOpt = None,
    revision: RevisionOpt = None,
    dtype: DtypeOpt = None,
    upscaler: Annotated[Optional[str], typer.Option(help="Diffusers upscaler checkpoint (folder or hub id) for backgrounds smaller than their format. Default: Lanczos resize.")] = None,
    upscaler_steps: Annotated[int, typer.Option(min=1, max=500, help="Denoising steps of the upscaler.")] = DEFAULT_UPSCALER_STEPS,
    device: Annotated[Optional[str], typer.Option(help="cuda, mps or cpu. Default: the best available.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Images per forward pass. Default: 1 on CPU, 4 on CUDA.")] = None,
    safety_checker: Annotated[bool, typer.Option(help="Keep the checkpoint's safety checker on (flagged images are blocked, not saved).")] = True,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Render on a local Dask cluster of N worker processes (one per GPU on GPU hosts).")] = None,
    dask_address: Annotated[Optional[str], typer.Option(help="Render on an existing Dask cluster, e.g. tcp://scheduler:8786.")] = None,
) -> None:
    """Render a campaign through the Prefect flow and write its manifest."""
    overrides = _overrides(model, steps, guidance, scheduler, revision, dtype, upscaler, upscaler_steps)
    _, variants = _load(campaign, overrides, limit)  # fail fast, before Prefect starts
    try:
        check_models(variants)
    except PixioError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    out_dir = out_dir or Path("out") / campaign.stem
    _prefect_defaults()
    from flows.generate_campaign import generate_campaign
    from flows.runners import task_runner

    flow = generate_campaign.with_options(task_runner=task_runner(workers, dask_address))

    progress = Progress(
        TextColumn("[bold]rendering"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err,
    )  # fmt: skip
    bar = progress.add_task("variants", total=len(variants), rate="")

    def advance(count: int) -> None:
        progress.advance(bar, count)
        speed = progress.tasks[bar].speed
        progress.update(bar, rate=f"{speed:.2f} img/s" if speed else "")

    stop_listening = add_progress_listener(advance)
    try:
        with progress:
            summary = flow(
                campaign_path=str(campaign), out_dir=str(out_dir), model=model, steps=steps, guidance=guidance,
                scheduler=scheduler, revision=revision, dtype=dtype, upscaler=upscaler, upscaler_steps=upscaler_steps,
                limit=limit, device=device, batch_size=batch_size, safety_checker=safety_checker,
            )  # fmt: skip
    except PixioError as exc:  # e.g. a hub id that cannot be downloaded
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    finally:
        stop_listening()
    progress.update(bar, completed=summary.total)  # shards served from Prefect's cache did not report
    out.print(f"[green]done[/]: {summary.describe()}", highlight=False)
    out.print(f"images:        {summary.images_dir}", highlight=False)
    out.print(f"manifest:      {summary.manifest_path}", highlight=False)
    out.print(f"contact sheet: {Path(summary.manifest_path).parent / CONTACT_SHEET_HTML}", highlight=False)
    if summary.counts["failed"]:
        err.print("[red]some variants failed; their errors are in the manifest's 'error' column[/]")
        raise typer.Exit(EXIT_FAILED_VARIANTS)


@app.command()
def serve(
    inbox_dir: Annotated[Path, typer.Option("--inbox", help="Folder to watch for campaign files (created if missing).")],
    out_root: Annotated[Path, typer.Option("--out", help="Where each campaign's outputs go (one folder per file).")],
    cron: Annotated[str, typer.Option(help="When campaign-inbox scans the inbox (cron syntax).")] = "*/5 * * * *",
    model: ModelOpt = None,
    settle_seconds: Annotated[float, typer.Option(help="A file must be unchanged this long before it is picked up.")] = 10.0,
) -> None:
    """Serve the generate-campaign and campaign-inbox deployments (needs PREFECT_API_URL)."""
    _prefect_defaults()
    from flows.deploy import serve_all

    serve_all(str(inbox_dir), str(out_root), cron, model, settle_seconds)


def _prefect_defaults() -> None:
    # Library logs (model loading, the embedded-model warning) go to the Prefect run logs too.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "pixio_ads")
    # The ephemeral server would otherwise try to send telemetry from offline machines.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


if __name__ == "__main__":
    app()
