"""`pixio-ads verify`: whether images are ours and AI-made, one file or a folder of platform
downloads, against one or more run manifests; a table, or JSON (trust/verify_schema.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from pixio_ads.cli.common import EXIT_ALTERED, EXIT_INVALID_INPUT, EXIT_NOT_RECOGNISED, app, err, out
from pixio_ads.trust.verify import ALTERED, NOT_RECOGNISED, PROVEN, counts

_EXIT = {PROVEN: 0, NOT_RECOGNISED: EXIT_NOT_RECOGNISED, ALTERED: EXIT_ALTERED}
_STYLE = {PROVEN: "green", NOT_RECOGNISED: "yellow", ALTERED: "red"}


@app.command()
def verify(
    target: Annotated[
        Path, typer.Argument(help="An image, or a folder searched for .png/.jpg/.webp images.", show_default=False)
    ],
    manifest: Annotated[
        Optional[list[Path]],
        typer.Option(
            help="A run's manifest.parquet (or its output folder) to match watermarks against; repeat for several "
            "runs. Default: manifest.parquet in TARGET or a folder above it."
        ),
    ] = None,
    c2pa_manifests: Annotated[
        Optional[Path],
        typer.Option(help="A folder of kept C2PA manifest stores (.c2pa) to find a stripped file's manifest in."),
    ] = None,
    trust_anchors: Annotated[
        Optional[Path], typer.Option(help="PEM file of CA certificates whose C2PA signatures count as trusted.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (docs/verify.md: a stable schema) instead of the table.")
    ] = False,
    informational: Annotated[bool, typer.Option(help="Report only: exit 0 whatever the verdicts.")] = False,
) -> None:
    """Check images for AI origin: the watermark (and its manifest row), XMP and C2PA; a verdict
    per file. Exit 0: every file's AI origin proven; 4: some not recognised; 5: some altered."""
    from pixio_ads.core.formats import NAMED_FORMATS
    from pixio_ads.trust.verify import verify_file, worst

    for path in [target, *(manifest or []), *([c2pa_manifests] if c2pa_manifests else [])]:
        if not path.exists():
            err.print(f"[bold red]error:[/] {path} does not exist", highlight=False)
            raise typer.Exit(EXIT_INVALID_INPUT)
    files = _images_under(target)
    manifest_files = [_manifest_file(path) for path in manifest] if manifest else [_manifest_above(target)]
    manifests = _load_manifests([path for path in manifest_files if path], c2pa_manifests)
    sizes = [(f.width, f.height) for f in NAMED_FORMATS.values()]
    sizes += sorted({(row["width"], row["height"]) for row in manifests.rows.values()})
    anchors = trust_anchors.read_bytes() if trust_anchors else None
    results = [verify_file(path, sizes, manifests, anchors) for path in files]
    verdict = worst([result.verdict for result in results])
    if as_json:
        print(json.dumps(_json(results, verdict, manifest_files), indent=2))
    else:
        _print_table(results, [path for path in manifest_files if path], target if target.is_dir() else None)
    if not informational:
        raise typer.Exit(_EXIT[verdict])


def _load_manifests(paths: list[Path], sidecar_folder: Path | None):
    from pixio_ads.core.errors import PixioError
    from pixio_ads.outputs.manifest import read_table
    from pixio_ads.trust.verify import Manifests

    runs = []
    for path in paths:
        try:
            runs.append((path.parent, read_table(path).to_pylist()))
        except (PixioError, OSError, ValueError) as exc:
            err.print(f"[bold red]error:[/] {path}: cannot read it as a run manifest ({exc})", highlight=False)
            raise typer.Exit(EXIT_INVALID_INPUT) from None
    # a run's own kept manifests are found by row (c2pa/<file name>.c2pa); a folder given is indexed
    return Manifests(runs, [sidecar_folder] if sidecar_folder else [])


def _json(results, verdict: str, manifests: list[Path | None]) -> dict:
    from pixio_ads.trust.verify import JSON_VERSION, counts

    return {
        "schema_version": JSON_VERSION,
        "verdict": verdict,
        "counts": counts(results),
        "manifests": [str(path) for path in manifests if path],
        "files": [result.as_json() for result in results],
    }


def _print_table(results, manifests: list[Path], folder: Path | None) -> None:
    matched = ", ".join(str(path) for path in manifests) or "no manifest to match against"
    where = f" under {folder}" if folder else ""
    table = Table(title=f"{len(results)} image(s){where}; manifests: {matched}", title_justify="left", expand=False)
    for name in ("file", "verdict", "watermark", "metadata", "C2PA", "why"):
        table.add_column(name, overflow="fold")
    for result in results:
        # a proven file's proof is in its watermark and C2PA cells: "why" keeps what else was found
        why = [reason for reason in result.reasons if result.verdict != PROVEN or "stripped" in reason]
        table.add_row(
            str(Path(result.path).relative_to(folder)) if folder else result.path,
            f"[{_STYLE[result.verdict]}]{result.verdict}[/]",
            _watermark_cell(result.watermark),
            result.metadata,
            _c2pa_cell(result.c2pa),
            "; ".join([*why, *result.notes]),
        )
    out.print(table)
    out.print(", ".join(f"{count} {name}" for name, count in counts(results).items()), highlight=False)


def _watermark_cell(mark) -> str:
    if not mark.found:
        return "none"
    text = f"{mark.payload or 'unreadable payload'}"
    if mark.payload:
        text += f" ({mark.corrected_bits} bit(s) corrected)"
    if mark.row:
        text += f", row {mark.row} ({mark.distance} bit(s) off)"
    if abs(mark.scale - 1) > 0.01 or abs(mark.rotation) > 0.1:
        text += f", found at {mark.scale:.0%} size, {mark.rotation:+.1f} deg"
    return text


def _c2pa_cell(c2pa) -> str:
    read = c2pa.read
    if read.present:
        state = read.state + (f" ({', '.join(read.failures)})" if read.failures else "")
        return f"{c2pa.status}: {state}" + (f", signed by {read.signer}" if read.signer else "")
    if c2pa.relinked:
        signer = c2pa.relinked_read.signer if c2pa.relinked_read else ""
        return f"absent; relinked: {c2pa.relinked}" + (f", signed by {signer}" if signer else "")
    return "absent"


def _images_under(target: Path) -> list[Path]:
    """The image, or the images in a folder (not thumbnails, contact sheets or logos)."""
    from pixio_ads.trust.provenance import format_of

    if target.is_file():
        return [target]
    creatives = (
        p
        for p in target.rglob("*")
        if not {"thumbs", "logos"} & set(p.parts) and not p.name.startswith("contact-sheet")
    )
    return sorted(p for p in creatives if p.is_file() and format_of(p))


def _manifest_file(path: Path) -> Path:
    return path / "manifest.parquet" if path.is_dir() else path


def _manifest_above(target: Path) -> Path | None:
    """manifest.parquet in the target's folder or the nearest folder above it."""
    folders = [target if target.is_dir() else target.parent, *target.resolve().parents]
    return next((folder / "manifest.parquet" for folder in folders if (folder / "manifest.parquet").is_file()), None)
