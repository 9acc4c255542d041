"""Run reports: a summary table, a contact sheet (PNG grid and an HTML page) and the
markdown the flow publishes as a Prefect artifact. Plain functions over a manifest."""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
from PIL import Image, ImageDraw, ImageFont

from pixio_ads.fileio import atomic_write_bytes
from pixio_ads.manifest import STATUSES

CONTACT_SHEET_PNG = "contact-sheet.png"
CONTACT_SHEET_HTML = "contact-sheet.html"
THUMB = 220
CAPTION_HEIGHT = 44
MAX_SHEET_IMAGES = 200  # the PNG stays a glanceable size; the HTML page lists every image


def artifact_key(campaign_id: str, suffix: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes, stable per campaign."""
    slug = re.sub(r"[^a-z0-9]+", "-", campaign_id.lower()).strip("-") or "campaign"
    return f"{slug}-{suffix}"


def summary_rows(table: pa.Table) -> list[dict]:
    """Counts by product x format x status, one row per product and format."""
    counts = Counter(zip(table.column("product_id").to_pylist(), table.column("format").to_pylist(), table.column("status").to_pylist()))
    keys = sorted({(product, fmt) for product, fmt, _ in counts})
    return [{"product": product, "format": fmt, **{status: counts[product, fmt, status] for status in STATUSES}} for product, fmt in keys]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:  # no DejaVu on this machine: Pillow's bundled font
        return ImageFont.load_default(size)


def contact_sheet(table: pa.Table, out_dir: Path) -> tuple[Path, Path]:
    """Write a PNG grid of thumbnails with captions and an HTML page linking every image."""
    out_dir = Path(out_dir)
    rows = table.to_pylist()
    shown = rows[:MAX_SHEET_IMAGES]
    columns = max(1, min(6, len(shown)))
    grid_rows = max(1, -(-len(shown) // columns))
    sheet = Image.new("RGB", (columns * THUMB, grid_rows * (THUMB + CAPTION_HEIGHT)), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(12)
    for index, row in enumerate(shown):
        x, y = (index % columns) * THUMB, (index // columns) * (THUMB + CAPTION_HEIGHT)
        if row["status"] == "rendered" and row["output_path"] and (out_dir / row["output_path"]).is_file():
            with Image.open(out_dir / row["output_path"]) as image:
                image.thumbnail((THUMB - 8, THUMB - 8))
                sheet.paste(image.convert("RGB"), (x + (THUMB - image.width) // 2, y + (THUMB - image.height) // 2))
        else:
            draw.rectangle((x + 4, y + 4, x + THUMB - 4, y + THUMB - 4), outline="grey", fill=(240, 240, 240))
            draw.text((x + 12, y + THUMB // 2 - 8), row["status"].upper(), fill="firebrick", font=_font(16))
        caption = f"{row['product_id']} · {row['format']}\n{row['audience']} · {row['style']} · #{row['seed_index']}"
        draw.multiline_text((x + 6, y + THUMB + 2), caption, fill="black", font=font, spacing=2)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    png_path = atomic_write_bytes(out_dir / CONTACT_SHEET_PNG, buffer.getvalue())
    html_path = atomic_write_bytes(out_dir / CONTACT_SHEET_HTML, _html(rows).encode("utf-8"))
    return png_path, html_path


def _html(rows: list[dict]) -> str:
    cards = []
    for row in rows:
        caption = html.escape(f"{row['product_id']} · {row['format']} · {row['audience']} · {row['style']} · seed {row['seed']}")
        if row["status"] == "rendered" and row["output_path"]:
            src = html.escape(row["output_path"])
            body = f'<a href="{src}"><img src="{src}" loading="lazy" alt="{caption}"></a>'
        else:
            body = f'<div class="missing">{html.escape(row["status"])}: {html.escape(row["error"] or "")}</div>'
        cards.append(f"<figure>{body}<figcaption>{caption}<br><small>{html.escape(row['prompt'])}</small></figcaption></figure>")
    return (
        "<!doctype html><meta charset='utf-8'><title>pixio-ads contact sheet</title>"
        "<style>body{font-family:sans-serif;display:flex;flex-wrap:wrap;gap:12px}figure{width:240px;margin:0}"
        "img{max-width:240px;max-height:240px}.missing{width:240px;height:120px;background:#eee;color:#b22}</style>\n"
        + "\n".join(cards)
    )


def markdown_report(summary_text: str, table: pa.Table, out_dir: Path, contact_png: Path, contact_html: Path, limit: int = 50) -> str:
    """The run's markdown artifact: totals, where the outputs are, and the first outputs."""
    lines = [
        "# pixio-ads run",
        "",
        summary_text,
        "",
        f"- manifest: `{Path(out_dir) / 'manifest.parquet'}`",
        f"- contact sheet: [{contact_png.name}]({contact_png.resolve().as_uri()}) · [{contact_html.name}]({contact_html.resolve().as_uri()})",
        "",
        "| product | format | audience | style | status | output |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in table.to_pylist()[:limit]:
        output = f"[{Path(row['output_path']).name}]({(Path(out_dir) / row['output_path']).resolve().as_uri()})" if row["output_path"] else (row["error"] or "")
        lines.append(f"| {row['product_id']} | {row['format']} | {row['audience']} | {row['style']} | {row['status']} | {output} |")
    if table.num_rows > limit:
        lines.append(f"\n... and {table.num_rows - limit} more in the manifest.")
    return "\n".join(lines)
