"""Run reports: a summary table, a contact sheet (PNG grid and an HTML page) and the
markdown the flow publishes as a Prefect artifact. Plain functions over a manifest."""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
from PIL import Image, ImageDraw, ImageFont

from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.core.pngfile import encode_png
from pixio_ads.creative.brand import DEFAULT_BODY_FONT
from pixio_ads.outputs.manifest import STATUSES

CONTACT_SHEET_PNG = "contact-sheet.png"
CONTACT_SHEET_HTML = "contact-sheet.html"
THUMB = 220
CAPTION_HEIGHT = 60  # three lines of 12 px text
MAX_SHEET_IMAGES = 200  # the PNG stays a glanceable size; the HTML page lists every image


def artifact_key(campaign_id: str, suffix: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes, stable per campaign."""
    slug = re.sub(r"[^a-z0-9]+", "-", campaign_id.lower()).strip("-") or "campaign"
    return f"{slug}-{suffix}"


def summary_rows(table: pa.Table) -> list[dict]:
    """Counts by product x format x status, one row per product and format."""
    counts = Counter(
        zip(
            table.column("product_id").to_pylist(),
            table.column("format").to_pylist(),
            table.column("status").to_pylist(),
        )
    )
    keys = sorted({(product, fmt) for product, fmt, _ in counts})
    return [
        {"product": product, "format": fmt, **{status: counts[product, fmt, status] for status in STATUSES}}
        for product, fmt in keys
    ]


def thumbnail_path(output_path: str) -> str:
    """Where a creative's (or a video's) small JPEG preview lives, relative to the output folder:
    thumbs/ and the path below images/ (or videos/)."""
    return str(Path("thumbs", *Path(output_path).parts[1:]).with_suffix(".jpg"))


def thumbnail_bytes(image: Image.Image) -> bytes:
    """A preview made while the creative is still in memory, so contact sheets (and the HTML
    page) never decode full-size images."""
    preview = image.convert("RGB")
    preview.thumbnail((THUMB - 8, THUMB - 8))
    buffer = io.BytesIO()
    preview.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.truetype(str(DEFAULT_BODY_FONT), size)  # bundled: no system font assumed


def contact_sheet(table: pa.Table, out_dir: Path) -> tuple[Path, Path]:
    """Write a PNG grid of thumbnails with captions and an HTML page linking every image.
    Skipped when both exist for exactly these outputs (decoding every image is the slow
    part of a rerun that rendered nothing)."""
    out_dir = Path(out_dir)
    rows = table.to_pylist()
    png_path, html_path = out_dir / CONTACT_SHEET_PNG, out_dir / CONTACT_SHEET_HTML
    key = hashlib.sha256(
        repr([(r["variant_id"], r["status"], r["output_sha256"], r.get("review_status")) for r in rows]).encode()
    ).hexdigest()
    marker = f"<!-- pixio-ads contact sheet of {key} -->"
    if png_path.is_file() and html_path.is_file() and marker in html_path.read_text(encoding="utf-8"):
        return png_path, html_path
    shown = rows[:MAX_SHEET_IMAGES]
    columns = max(1, min(6, len(shown)))
    grid_rows = max(1, -(-len(shown) // columns))
    sheet = Image.new("RGB", (columns * THUMB, grid_rows * (THUMB + CAPTION_HEIGHT)), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(12)
    for index, row in enumerate(shown):
        x, y = (index % columns) * THUMB, (index // columns) * (THUMB + CAPTION_HEIGHT)
        preview = _preview(row, out_dir)
        if preview is not None:
            with Image.open(preview) as image:
                image.thumbnail((THUMB - 8, THUMB - 8))
                sheet.paste(image.convert("RGB"), (x + (THUMB - image.width) // 2, y + (THUMB - image.height) // 2))
        else:
            draw.rectangle((x + 4, y + 4, x + THUMB - 4, y + THUMB - 4), outline="grey", fill=(240, 240, 240))
            draw.text((x + 12, y + THUMB // 2 - 8), row["status"].upper(), fill="firebrick", font=_font(16))
        caption = f"{row['product_id']} · {row['format']}\n{row['audience']} · {row['style']} · #{row['seed_index']}"
        caption += f"\n{_standing(row)}"
        draw.multiline_text((x + 6, y + THUMB + 2), caption, fill="black", font=font, spacing=2)
    atomic_write_bytes(png_path, encode_png(sheet))  # Pillow's encoder took 3.3 s at 200 images
    atomic_write_bytes(html_path, (_html(rows) + "\n" + marker + "\n").encode("utf-8"))
    return png_path, html_path


def _standing(row: dict) -> str:
    """Rank, score and review decision, as the captions show them."""
    if row.get("score") is None:
        return row["status"]
    return f"rank {row.get('rank') or '-'} · score {row['score']:.2f} · {row.get('review_status') or 'unreviewed'}"


def _preview(row: dict, out_dir: Path) -> Path | None:
    """The thumbnail of a rendered row, else its full image, else None."""
    if row["status"] != "rendered" or not row["output_path"]:
        return None
    still = row.get("poster_path") or row["output_path"]  # a video: its poster
    for candidate in (out_dir / thumbnail_path(row["output_path"]), out_dir / still):
        if candidate.is_file():
            return candidate
    return None


def _html(rows: list[dict]) -> str:
    cards = []
    for row in rows:
        caption = html.escape(
            f"{row['product_id']} · {row['format']} · {row['audience']} · {row['style']} · seed {row['seed']}"
            f" · {_standing(row)}"
        )
        if row["status"] == "rendered" and row["output_path"]:
            full, thumb = html.escape(row["output_path"]), html.escape(thumbnail_path(row["output_path"]))
            body = f'<a href="{full}"><img src="{thumb}" onerror="this.src=\'{full}\'" loading="lazy" alt="{caption}"></a>'
            if row.get("media_type") == "video":  # the poster until it plays
                body = f'<video src="{full}" poster="{thumb}" controls muted loop preload="none" title="{caption}"></video>'
        else:
            body = f'<div class="missing">{html.escape(row["status"])}: {html.escape(row["error"] or "")}</div>'
        cards.append(
            f"<figure>{body}<figcaption>{caption}<br><small>{html.escape(row['prompt'])}</small></figcaption></figure>"
        )
    return (
        "<!doctype html><meta charset='utf-8'><title>pixio-ads contact sheet</title>"
        "<style>body{font-family:sans-serif;display:flex;flex-wrap:wrap;gap:12px}figure{width:240px;margin:0}"
        "img{max-width:240px;max-height:240px}.missing{width:240px;height:120px;background:#eee;color:#b22}</style>\n"
        + "\n".join(cards)
    )


def markdown_report(
    summary_text: str,
    table: pa.Table,
    out_dir: Path,
    contact_png: Path,
    contact_html: Path,
    limit: int = 50,
    review_url: str | None = None,
) -> str:
    """The run's markdown artifact: totals, where the outputs are, and the first outputs.

    The Prefect dashboard is an http page: it cannot open file:// links. While the review page
    runs (``review_url``) every link points at it and the best creatives of each product x
    format are shown inline; without it the report says how to start it."""
    lines = ["# pixio-ads run", "", summary_text, "", f"- manifest: `{Path(out_dir) / 'manifest.parquet'}`"]
    if review_url:
        lines += [f"- review page: [{review_url}]({review_url})", "", *_top_creatives(table, review_url)]
    else:
        lines += [
            f"- contact sheet: `{contact_html.resolve()}` (`{contact_png.name}` beside it)",
            f"- to see the creatives from this page, start the review page: `pixio-ads review {Path(out_dir)}`",
        ]
    lines += ["", "| product | format | audience | style | status | score | rank | output |", "| --- " * 8 + "|"]
    for row in table.to_pylist()[:limit]:
        if not row["output_path"]:
            output = row["error"] or ""
        elif review_url:
            output = f"[{Path(row['output_path']).name}]({review_url}creative/{row['variant_id']})"
        else:
            output = f"`{row['output_path']}`"
        score = f"{row['score']:.2f}" if row.get("score") is not None else ""
        lines.append(
            f"| {row['product_id']} | {row['format']} | {row['audience']} | {row['style']} | {row['status']} "
            f"| {score} | {row.get('rank') or ''} | {output} |"
        )
    if table.num_rows > limit:
        lines.append(f"\n... and {table.num_rows - limit} more in the manifest.")
    return "\n".join(lines)


TOP_PER_GROUP = 3


def _top_creatives(table: pa.Table, review_url: str) -> list[str]:
    """Small inline images of the best-ranked creatives of each product x format."""
    lines = ["## Best ranked", ""]
    groups: dict[tuple, list[dict]] = {}
    for row in table.to_pylist():
        if row["status"] == "rendered" and row.get("rank") and row["rank"] <= TOP_PER_GROUP:
            groups.setdefault((row["product_id"], row["format"]), []).append(row)
    for (product, fmt), rows in sorted(groups.items()):
        images = " ".join(
            f"[![#{r['rank']} {r['score']:.2f}]({review_url}files/{thumbnail_path(r['output_path'])})]"
            f"({review_url}creative/{r['variant_id']})"
            for r in sorted(rows, key=lambda r: r["rank"])
        )
        lines += [f"**{product} · {fmt}** {images}", ""]
    return lines
