"""Command line: ``pixio-ads validate | expand | run | verify | export | serve``.

Exit codes: 0 ok, 1 some variants failed to render, 2 invalid input (every error printed),
3 the review was not done in time (``run --review``; the flow run is left paused), 130 interrupted.
Library errors become messages that say how to fix them, never tracebacks.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pixio_ads.campaign import Campaign, load_campaign
from pixio_ads.clip import check_reference as check_clip_model
from pixio_ads.errors import PixioError, ValidationError, disk_full_message, is_disk_full
from pixio_ads.fileio import atomic_write_bytes
from pixio_ads.planning import check_models
from pixio_ads.render import DTYPES, SCHEDULER_NAMES
from pixio_ads.report import CONTACT_SHEET_HTML
from pixio_ads.settings import RenderSettings, from_options
from pixio_ads.stall import DEFAULT_STALL_SECONDS
from pixio_ads.upscale import DEFAULT_UPSCALER_STEPS
from pixio_ads.variants import Variant, expand

app = typer.Typer(
    help="Campaign spreadsheets in, ad creatives and a Parquet manifest out.",
    no_args_is_help=True,
    add_completion=False,
)
# soft_wrap: never hard-wrap a line, so paths and messages survive copy-paste and grep
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

EXIT_FAILED_VARIANTS = 1
EXIT_INVALID_INPUT = 2
EXIT_REVIEW_PENDING = 3  # --review: nobody clicked "Review done" in time; the flow run is left paused
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C

CampaignArg = Annotated[
    Path, typer.Argument(help="Campaign spreadsheet (.csv, .xlsx or .parquet).", show_default=False)
]
ModelOpt = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        help="Local checkpoint folder or hub id; wins over the spreadsheet. Default: the embedded backdrop model (synthetic backdrops).",
    ),
]
StepsOpt = Annotated[
    Optional[int], typer.Option("--steps", min=1, max=500, help="Denoising steps; wins over the spreadsheet.")
]
GuidanceOpt = Annotated[
    Optional[float], typer.Option("--guidance", min=0, max=50, help="Guidance scale; wins over the spreadsheet.")
]
SchedulerOpt = Annotated[
    Optional[str],
    typer.Option("--scheduler", help="Sampler: " + ", ".join(SCHEDULER_NAMES) + "; wins over the spreadsheet."),
]
RevisionOpt = Annotated[
    Optional[str], typer.Option("--revision", help="Hub revision of the model; wins over the spreadsheet.")
]
DtypeOpt = Annotated[
    Optional[str],
    typer.Option("--dtype", help="Weights precision: " + ", ".join(DTYPES) + "; wins over the spreadsheet."),
]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N variants.")]
PolicyOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--policy", help="Content policy file (YAML). Default: the packaged one (pixio_ads/data/policy.yaml)."
    ),
]
QuotasOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--quotas", help="Quota file (YAML): images per day/campaign and GPU-seconds per brand and campaign."
    ),
]
UsageDbOpt = Annotated[
    Optional[Path],
    typer.Option("--usage-db", envvar="PIXIO_ADS_USAGE_DB", help="SQLite file that records usage against the quotas."),
]
C2paCertOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--c2pa-cert",
        envvar="PIXIO_ADS_C2PA_CERT",
        help="PEM certificate chain (leaf first) to sign C2PA manifests with.",
    ),
]
ClipModelOpt = Annotated[
    Optional[str],
    typer.Option(
        "--clip-model", help="CLIP model (transformers CLIPModel folder or hub id) for prompt-alignment scores."
    ),
]
HostOpt = Annotated[
    str, typer.Option("--host", help="Address the review page listens on; beyond 127.0.0.1 it needs a token.")
]
PortOpt = Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of the review page (0: any free port).")]
TokenOpt = Annotated[
    Optional[str],
    typer.Option(
        "--token",
        envvar="PIXIO_ADS_REVIEW_TOKEN",
        help="Access token (16+ characters) the review page asks for; required with another --host.",
    ),
]
C2paKeyOpt = Annotated[
    Optional[Path],
    typer.Option("--c2pa-key", envvar="PIXIO_ADS_C2PA_KEY", help="PEM private key of that certificate."),
]


def _settings(**options) -> dict:
    """The run's settings models (pixio_ads/settings.py) from CLI options, keyed as the flow's
    parameters, or exit 2 naming each bad option value."""
    try:
        return from_options(**options)
    except PydanticValidationError as exc:
        for error in exc.errors():
            option = "--" + "-".join(str(part) for part in error["loc"]).replace("_", "-")
            err.print(f"[bold red]error:[/] {option}: {error['msg'].removeprefix('Value error, ')}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def _rendering(**options) -> RenderSettings:
    return _settings(**options)["rendering"]


def _load(campaign_path: Path, overrides: RenderSettings, limit: int | None = None) -> tuple[Campaign, list[Variant]]:
    """Validate the spreadsheet and its templates, or exit 2 listing every problem."""
    try:
        campaign = load_campaign(campaign_path)
        for warning in campaign.warnings:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False)
        return campaign, expand(campaign, overrides, limit)
    except ValidationError as exc:
        err.print(
            f"[bold red]{campaign_path}: {len(exc.issues)} problem(s), nothing was rendered:[/]", highlight=False
        )
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
    policy: PolicyOpt = None,
) -> None:
    """Check a campaign file, its templates and the content policy; print a summary or every problem."""
    loaded, variants = _load(
        campaign,
        _rendering(model=model, steps=steps, guidance=guidance, scheduler=scheduler, revision=revision, dtype=dtype),
    )
    blocked = _screen(variants, policy)
    formats = Counter(v.format for v in variants)
    out.print(
        f"[green]ok[/] {campaign}: {len(loaded.rows)} product rows -> {len(variants)} variants"
        + (f" (sheet {loaded.sheet!r})" if loaded.sheet else ""),
        highlight=False,
    )
    out.print("  by format: " + ", ".join(f"{name} {count}" for name, count in formats.items()), highlight=False)
    if blocked:
        reasons = Counter(
            (v.source_row, m.category, m.term, m.field) for v in variants if (m := blocked.get(v.variant_id))
        )
        err.print(
            f"[yellow]{len(blocked)} variant(s) will be blocked by the content policy and never rendered:[/]",
            highlight=False,
        )
        for (row, category, term, field), count in sorted(reasons.items()):
            err.print(
                f"  - {campaign}, row {row}, column '{field}': {category} term {term!r} ({count} variant(s))",
                highlight=False,
            )


def _screen(variants: list[Variant], policy_path: Optional[Path]) -> dict:
    from pixio_ads.brand import brand_name
    from pixio_ads.policy import load_policy, screen

    try:
        return screen(load_policy(policy_path), variants, brand_name)
    except ValidationError as exc:
        err.print(f"[bold red]{len(exc.issues)} problem(s) in the policy, nothing was rendered:[/]", highlight=False)
        for issue in exc.issues:
            err.print(f"  - {issue}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


@app.command("expand")
def expand_command(
    campaign: CampaignArg,
    output: Annotated[
        Optional[Path], typer.Option("--out", help="Write all variants to FILE (.parquet, .csv or .jsonl).")
    ] = None,
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
    _, variants = _load(
        campaign,
        _rendering(model=model, steps=steps, guidance=guidance, scheduler=scheduler, revision=revision, dtype=dtype),
        limit,
    )
    table = Table(
        "variant_id", "product", "audience", "style", "format", "seed", "prompt", title=f"{len(variants)} variants"
    )
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
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Output folder. Default: out/<campaign file name>.")
    ] = None,
    model: ModelOpt = None,
    limit: LimitOpt = None,
    steps: StepsOpt = None,
    guidance: GuidanceOpt = None,
    scheduler: SchedulerOpt = None,
    revision: RevisionOpt = None,
    dtype: DtypeOpt = None,
    upscaler: Annotated[
        Optional[str],
        typer.Option(
            help="Diffusers upscaler checkpoint (folder or hub id) for backgrounds smaller than their format. Default: Lanczos resize."
        ),
    ] = None,
    upscaler_steps: Annotated[
        int, typer.Option(min=1, max=500, help="Denoising steps of the upscaler.")
    ] = DEFAULT_UPSCALER_STEPS,
    device: Annotated[Optional[str], typer.Option(help="cuda, mps or cpu. Default: the best available.")] = None,
    batch_size: Annotated[
        Optional[int], typer.Option(min=1, help="Images per forward pass. Default: 1 on CPU, 4 on CUDA.")
    ] = None,
    safety_checker: Annotated[
        bool, typer.Option(help="Keep the checkpoint's safety checker on (flagged images are blocked, not saved).")
    ] = True,
    workers: Annotated[
        Optional[int],
        typer.Option(min=1, help="Render on a local Dask cluster of N worker processes (one per GPU on GPU hosts)."),
    ] = None,
    dask_address: Annotated[
        Optional[str], typer.Option(help="Render on an existing Dask cluster, e.g. tcp://scheduler:8786.")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(help="When another run is writing to the same --out folder, wait for it instead of stopping."),
    ] = False,
    finish_workers: Annotated[
        Optional[int],
        typer.Option(
            min=0,
            help="Processes that finish creatives (layout, copy, watermark, encoding) while rendering goes on, per render worker; 0: a thread of the render process. Default: the cores rendering does not need (1 on CPU).",
        ),
    ] = None,
    stall_seconds: Annotated[
        float,
        typer.Option(
            min=0.001,
            help="Give up a shard that makes no progress for this many seconds (its unfinished variants fail; a rerun renders them).",
        ),
    ] = DEFAULT_STALL_SECONDS,
    policy: PolicyOpt = None,
    quotas: QuotasOpt = None,
    usage_db: UsageDbOpt = None,
    c2pa_cert: C2paCertOpt = None,
    c2pa_key: C2paKeyOpt = None,
    clip_model: ClipModelOpt = None,
    review: Annotated[
        bool,
        typer.Option(
            "--review",
            help="After rendering, serve the review page and wait until a reviewer clicks 'Review done'; "
            "then write the approved set (approved/, approved.parquet).",
        ),
    ] = False,
    review_host: Annotated[
        str, typer.Option(help="Address the review page listens on (with --review).")
    ] = "127.0.0.1",
    review_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the review page (0: any free port).")
    ] = 8765,
    review_token: Annotated[
        Optional[str],
        typer.Option(
            envvar="PIXIO_ADS_REVIEW_TOKEN", help="Access token of the review page; required with another host."
        ),
    ] = None,
    review_timeout_hours: Annotated[
        float, typer.Option(min=0.001, help="Hours to wait for the review; past it the run is left paused.")
    ] = 72.0,
) -> None:
    """Render a campaign through the Prefect flow and write its manifest."""
    if workers and dask_address:
        err.print(
            "[bold red]error:[/] --workers starts a local Dask cluster and --dask-address uses an existing one: give one of them",
            highlight=False,
        )
        raise typer.Exit(EXIT_INVALID_INPUT)
    settings = _settings(
        model=model, steps=steps, guidance=guidance, scheduler=scheduler, revision=revision, dtype=dtype,
        upscaler=upscaler, upscaler_steps=upscaler_steps, limit=limit, device=device, batch_size=batch_size,
        safety_checker=safety_checker, finish_workers=finish_workers, stall_seconds=stall_seconds, wait=wait, policy=_text(policy), quotas=_text(quotas),
        usage_db=_text(usage_db), c2pa_cert=_text(c2pa_cert), c2pa_key=_text(c2pa_key), clip_model=clip_model,
        wait_for_review=review, review_host=review_host, review_port=review_port, review_token=review_token,
        review_timeout_hours=review_timeout_hours,
    )  # fmt: skip
    _, variants = _load(campaign, settings["rendering"], limit)  # fail fast, before Prefect starts
    try:
        check_models(variants)
        if clip_model:
            check_clip_model(clip_model)
    except PixioError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    _prefect_defaults()
    from pixio_ads.flows.generate_campaign import generate_campaign
    from pixio_ads.flows.lifecycle import reap_temporary_server
    from pixio_ads.flows.runners import task_runner

    reap_temporary_server()  # a killed run must not leave Prefect's temporary server behind

    flow = generate_campaign.with_options(task_runner=task_runner(workers, dask_address))
    parameters = dict(campaign_path=str(campaign), out_dir=str(out_dir or Path("out") / campaign.stem), **settings)
    summary = _run_with_progress(flow, parameters, len(variants))
    if review:
        _report_review(Path(parameters["out_dir"]))
    _report_run(summary)


def _report_review(out_dir: Path) -> None:
    from pixio_ads.manifest import read_table
    from pixio_ads.review import APPROVED_DIR, counts

    described = counts(read_table(out_dir / "manifest.parquet")).describe()
    out.print(f"review:        {described}; approved set in {out_dir / APPROVED_DIR}", highlight=False)


def _run_with_progress(flow, parameters: dict, total: int):
    """Run the flow under a progress bar (done/total, images/s, ETA); its summary."""
    from prefect.exceptions import CancelledRun, Pause

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
    except CancelledRun as exc:  # from the dashboard or `prefect flow-run cancel`
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


def _report_run(summary) -> None:
    """Where the outputs are, what was blocked or skipped; exit 1 when variants failed."""
    out.print(f"[green]done[/]: {summary.describe()}", highlight=False)
    out.print(f"images:        {summary.images_dir}", highlight=False)
    out.print(f"manifest:      {summary.manifest_path}", highlight=False)
    out.print(f"contact sheet: {Path(summary.manifest_path).parent / CONTACT_SHEET_HTML}", highlight=False)
    for status, why in (("blocked", "by the content policy or the safety checker"), ("skipped", "beyond a quota")):
        if summary.counts.get(status):
            message = f"{summary.counts[status]} variant(s) {status} {why}: see the manifest's 'error' column"
            err.print(f"[yellow]{message}[/]", highlight=False)
    if summary.counts["failed"]:
        err.print("[red]some variants failed; their errors are in the manifest's 'error' column[/]")
        raise typer.Exit(EXIT_FAILED_VARIANTS)


def _text(path: Optional[Path]) -> Optional[str]:
    return str(path.resolve()) if path is not None else None


@app.command()
def verify(
    target: Annotated[
        Path, typer.Argument(help="An image, or a folder searched for .png/.jpg/.webp images.", show_default=False)
    ],
    manifest: Annotated[
        Optional[Path],
        typer.Option(
            help="Manifest to match watermarks against. Default: manifest.parquet in TARGET or a folder above it."
        ),
    ] = None,
    trust_anchors: Annotated[
        Optional[Path], typer.Option(help="PEM file of CA certificates whose C2PA signatures count as trusted.")
    ] = None,
    require_c2pa: Annotated[
        bool,
        typer.Option(help="Count a missing C2PA manifest as a problem even where the manifest says none was written."),
    ] = False,
    informational: Annotated[
        bool, typer.Option(help="Report only: exit 0 even when something expected is missing.")
    ] = False,
) -> None:
    """Check images for the AI disclosure: watermark (and its manifest row), XMP, C2PA."""
    from pixio_ads.formats import NAMED_FORMATS
    from pixio_ads.manifest import read_table
    from pixio_ads.provenance import verify_file

    if not target.exists():
        err.print(f"[bold red]error:[/] {target} does not exist", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    files = _images_under(target)
    manifest = manifest or _manifest_above(target)
    rows = {row["variant_id"]: row for row in read_table(manifest).to_pylist()} if manifest else None
    sizes = [(f.width, f.height) for f in NAMED_FORMATS.values()]
    sizes += sorted({(r["width"], r["height"]) for r in (rows or {}).values()})
    anchors = trust_anchors.read_bytes() if trust_anchors else None
    matched = f", matched against {manifest}" if manifest else ", no manifest to match against"
    out.print(f"{len(files)} image(s){matched}", highlight=False)
    failed = 0
    for path in files:
        result = verify_file(path, sizes, rows, anchors, require_c2pa)
        failed += not result.ok
        status = "[green]ok[/]    " if result.ok else "[red]FAILED[/]"
        problems = "" if result.ok else " -- " + "; ".join(result.problems)
        out.print(
            f"{status} {path}: " + "; ".join(_verification_parts(result, rows is not None)) + problems, highlight=False
        )
    out.print(f"{len(files) - failed} of {len(files)} image(s) carry everything expected", highlight=False)
    if failed and not informational:
        raise typer.Exit(EXIT_FAILED_VARIANTS)


@app.command("export")
def export_command(
    out_dir: Annotated[
        Path, typer.Argument(help="A run's output folder (with manifest.parquet).", show_default=False)
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="meta: Ads Manager bulk sheet (XLSX + CSV + images + zip); google: Google Ads Editor CSV of "
            "responsive display ads + image folders; csv: one row per creative.",
        ),
    ],
    dest: Annotated[
        Optional[Path], typer.Option("--out", help="Folder to write (replaced whole). Default: OUT_DIR/export/TARGET.")
    ] = None,
    approved_only: Annotated[
        Optional[bool],
        typer.Option(
            "--approved-only/--all",
            help="Only creatives approved in review, or every rendered one. Default: approved only once a review exists.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the files the ad platforms import (every ad PAUSED, ready for review in the ad manager)."""
    from pixio_ads.export import ExportError, export

    try:
        result = export(out_dir, to.lower(), dest, approved_only)
    except (ExportError, PixioError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    except OSError as exc:  # a full disk, a folder we may not write: the previous export is left whole
        err.print(
            f"[bold red]error:[/] cannot write the export ({exc}); the previous one is unchanged", highlight=False
        )
        raise typer.Exit(EXIT_FAILED_VARIANTS) from None
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    out.print(f"{result.target}: {result.ads} ad(s), {result.images} image(s) -> {result.folder}", highlight=False)
    for path in result.files:
        out.print(f"  {path}", highlight=False)
    if result.left_out:
        err.print(f"[red]{result.left_out} creative(s) left out: the platform would refuse them[/]", highlight=False)
        raise typer.Exit(EXIT_FAILED_VARIANTS)


@app.command("review")
def review_command(
    out_dir: Annotated[
        Path, typer.Argument(help="A run's output folder (with manifest.parquet).", show_default=False)
    ],
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8765,
    reviewer: Annotated[
        Optional[str], typer.Option(help="Name recorded with each decision. Default: the OS user.")
    ] = None,
    token: TokenOpt = None,
) -> None:
    """Serve the review page: approve or reject creatives, best-scored first; 'Review done' writes the approved set."""
    import uvicorn

    from pixio_ads.review import default_reviewer
    from pixio_ads.reviewapp import ReviewContext, create_app, standalone_done

    if not (out_dir / "manifest.parquet").is_file():
        err.print(
            f"[bold red]error:[/] {out_dir} has no manifest.parquet (run a campaign into it first)", highlight=False
        )
        raise typer.Exit(EXIT_INVALID_INPUT)
    settings = _settings(review_host=host, review_port=port, review_token=token)["review"]
    context = ReviewContext(out_dir, reviewer or default_reviewer(), settings.review_token, standalone_done(out_dir))
    link = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    out.print(f"review page: {link}  (Ctrl-C to stop; every decision is saved as it is made)", highlight=False)
    uvicorn.run(create_app(context), host=host, port=port, log_level="warning")


def _images_under(target: Path) -> list[Path]:
    """The image, or the creatives in a folder (not thumbnails or contact sheets)."""
    from pixio_ads.provenance import format_of

    if target.is_file():
        return [target]
    creatives = (p for p in target.rglob("*") if "thumbs" not in p.parts and not p.name.startswith("contact-sheet"))
    return sorted(p for p in creatives if p.is_file() and format_of(p))


def _manifest_above(target: Path) -> Path | None:
    """manifest.parquet in the target's folder or the nearest folder above it."""
    folders = [target if target.is_dir() else target.parent, *target.resolve().parents]
    return next((folder / "manifest.parquet" for folder in folders if (folder / "manifest.parquet").is_file()), None)


def _verification_parts(result, with_manifest: bool) -> list[str]:
    parts = [
        f"watermark {result.watermark} ({result.watermark_bits_corrected} bit(s) corrected)"
        if result.watermark
        else "watermark unreadable"
    ]
    if with_manifest:
        row = f"row {result.matched_variant} ({result.match_distance} bit(s) off)"
        parts.append(row if result.matched_variant else "no manifest row")
    parts.append("XMP " + (result.digital_source_type.rsplit("/", 1)[-1] or "absent"))
    c2pa = result.c2pa
    state = c2pa.state + (f" ({', '.join(c2pa.failures)})" if c2pa.failures else "")
    parts.append(
        "C2PA " + (state + (f", signed by {c2pa.signer}" if c2pa.signer else "") if c2pa.present else "absent")
    )
    return parts


@app.command()
def serve(
    inbox_dir: Annotated[
        Path, typer.Option("--inbox", help="Folder to watch for campaign files (created if missing).")
    ],
    out_root: Annotated[Path, typer.Option("--out", help="Where each campaign's outputs go (one folder per file).")],
    cron: Annotated[str, typer.Option(help="When campaign-inbox scans the inbox (cron syntax).")] = "*/5 * * * *",
    model: ModelOpt = None,
    settle_seconds: Annotated[
        float, typer.Option(help="A file must be unchanged this long before it is picked up.")
    ] = 10.0,
    policy: PolicyOpt = None,
    quotas: QuotasOpt = None,
    usage_db: UsageDbOpt = None,
    c2pa_cert: C2paCertOpt = None,
    c2pa_key: C2paKeyOpt = None,
) -> None:
    """Serve the generate-campaign and campaign-inbox deployments (needs PREFECT_API_URL)."""
    _prefect_defaults()
    from pixio_ads.flows.deploy import serve_all

    settings = _settings(
        model=model, policy=_text(policy), quotas=_text(quotas), usage_db=_text(usage_db), c2pa_cert=_text(c2pa_cert),
        c2pa_key=_text(c2pa_key),
    )  # fmt: skip
    serve_all(str(inbox_dir), str(out_root), cron, settings["rendering"], settle_seconds, settings["safeguards"])


def _prefect_defaults() -> None:
    # Library logs (model loading, the embedded-model warning) go to the Prefect run logs too.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "pixio_ads")
    # The ephemeral server would otherwise try to send telemetry from offline machines.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


if __name__ == "__main__":
    app()
