"""`pixio-ads export` and `review`: what is done with a run's outputs (verify: verify_command.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pixio_ads.cli.common import (
    EXIT_FAILED_VARIANTS,
    EXIT_INVALID_INPUT,
    HostOpt,
    PortOpt,
    TokenOpt,
    app,
    err,
    out,
    settings_from,
)
from pixio_ads.core import storage
from pixio_ads.core.errors import PixioError


@app.command("export")
def export_command(
    out_dir: Annotated[
        str,
        typer.Argument(
            help="A run's output folder (with manifest.parquet), or its object-storage location (s3://…).",
            show_default=False,
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="meta: Ads Manager bulk sheet (XLSX + CSV) + images/ for the media library; google: Google Ads "
            "Editor CSV of a Display campaign's responsive display ads; pmax: Google Ads Editor CSV of Performance Max "
            "asset groups (both + images/ and google-images.csv, what to attach after the import); merchant-center, "
            "meta-catalog: supplemental catalogue feeds with each product's image (need --base-url); csv: one row per "
            "creative.",
        ),
    ],
    dest: Annotated[
        Optional[Path], typer.Option("--out", help="Folder to write (replaced whole). Default: OUT_DIR/export/TARGET.")
    ] = None,
    base_url: Annotated[
        Optional[str],
        typer.Option(help="merchant-center, meta-catalog: the public URL the export's images/ folder is served from."),
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
    from pixio_ads.delivery.export import ExportError, export

    try:
        with storage.working_copy(out_dir, purpose="export") as workspace:  # on object storage: pushed after
            result = export(workspace.local, to.lower(), dest, approved_only, base_url)
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
    folder = workspace.location_of(result.folder)
    out.print(f"{result.target}: {result.ads} {result.unit}(s), {result.images} image(s) -> {folder}", highlight=False)
    for path in result.files:
        out.print(f"  {workspace.location_of(path)}", highlight=False)
    if result.left_out:
        err.print(f"[red]{result.left_out} creative(s) left out: the platform would refuse them[/]", highlight=False)
        raise typer.Exit(EXIT_FAILED_VARIANTS)


@app.command("review")
def review_command(
    out_dir: Annotated[
        str,
        typer.Argument(
            help="A run's output folder (with manifest.parquet), or its object-storage location (s3://…).",
            show_default=False,
        ),
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

    from pixio_ads.delivery.review import default_reviewer
    from pixio_ads.delivery.reviewapp import ReviewContext, create_app, standalone_done

    try:
        workspace = storage.Workspace.open(out_dir, purpose="review")
        workspace.pull()
    except PixioError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    local = workspace.local
    if not (local / "manifest.parquet").is_file():
        err.print(
            f"[bold red]error:[/] {out_dir} has no manifest.parquet (run a campaign into it first)", highlight=False
        )
        raise typer.Exit(EXIT_INVALID_INPUT)
    settings = settings_from(review_host=host, review_port=port, review_token=token)["review"]
    done = standalone_done(local, after=workspace.push)
    context = ReviewContext(local, reviewer or default_reviewer(), settings.review_token, done)
    link = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    saved = (
        "as it is made" if not workspace.remote else f"here as it is made, in {out_dir} at 'Review done' and at exit"
    )
    out.print(f"review page: {link}  (Ctrl-C to stop; every decision is saved {saved})", highlight=False)
    try:
        uvicorn.run(create_app(context), host=host, port=port, log_level="warning")
    finally:
        workspace.push()
