"""`pixio-ads verify`, `export` and `review`: what is done with a run's outputs."""

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
    from pixio_ads.core.formats import NAMED_FORMATS
    from pixio_ads.outputs.manifest import read_table
    from pixio_ads.trust.provenance import verify_file

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
            "Editor CSV of a Display campaign's responsive display ads + their images; csv: one row per creative.",
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
    from pixio_ads.delivery.export import ExportError, export

    try:
        with storage.working_copy(out_dir, purpose="export") as workspace:  # on object storage: pushed after
            result = export(workspace.local, to.lower(), dest, approved_only)
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
    out.print(f"{result.target}: {result.ads} ad(s), {result.images} image(s) -> {folder}", highlight=False)
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


def _images_under(target: Path) -> list[Path]:
    """The image, or the creatives in a folder (not thumbnails or contact sheets)."""
    from pixio_ads.trust.provenance import format_of

    if target.is_file():
        return [target]
    # not the review thumbnails, contact sheets or the brand's logos an export carries
    creatives = (
        p
        for p in target.rglob("*")
        if not {"thumbs", "logos"} & set(p.parts) and not p.name.startswith("contact-sheet")
    )
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
