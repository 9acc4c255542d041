"""Back to the catalogue: supplemental feeds that give each product its generated scene.

- ``merchant-center``: a Google Merchant Center supplemental feed, ``merchant-center.tsv`` with
  ``id`` and ``lifestyle_image_link`` ("Product data specification": lifestyle_image_link, a URL
  of 1-2,000 characters to an image of the product in use; GIF, JPEG, PNG, BMP or TIFF; added
  to the primary feed's items by id as a supplemental data source). AI-generated images must
  carry metadata saying so (Merchant Center's image policy): ours carry IPTC/XMP's
  trainedAlgorithmicMedia and, when signed, C2PA.
- ``meta-catalog``: a Meta supplementary catalogue feed, ``meta-catalog.csv`` with ``id`` and
  ``additional_image_link`` (Meta's catalogue fields: additional images, comma-separated URLs,
  JPEG or PNG; a supplementary feed updates the items of the primary feed by id). The field is
  replaced as a whole, so the images the primary feed listed for an item must be added to the
  cell before upload if they are to stay (docs/catalogue.md).

Each product id gets one image: the approved creative where a review happened (export's
approved set), else the best-ranked one, square first, then landscape, portrait, story; the
clean image where the row chose it for the platform (deliverables.py: Google's choice for
Merchant Center, Meta's for Meta). Files are copied to ``images/`` beside the feed, and their
URLs are ``--base-url`` + ``images/<file>``: upload the folder there, then add the feed as a
supplemental source. JPEG and PNG only, as both specs take; any other is left out, named.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from pixio_ads.delivery.adsheet import ExportError, ExportResult, copy_creative, image_path, write_table_csv

FORMAT_ORDER = ("square", "landscape", "portrait", "story")
TAKEN_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_URL = 2000  # Merchant Center's limit for lifestyle_image_link
FEEDS = {
    # target: (file, image column, the platform whose clean/creative choice applies, delimiter)
    "merchant-center": ("merchant-center.tsv", "lifestyle_image_link", "google", "\t"),
    "meta-catalog": ("meta-catalog.csv", "additional_image_link", "meta", ","),
}


def write_catalogue_feed(out_dir: Path, rows: list[dict], folder: Path, target: str, base_url: str) -> ExportResult:
    if not base_url.startswith(("https://", "http://")):
        raise ExportError(
            f"--base-url {base_url!r} is not a web address: give where images/ will be served, https://..."
        )
    name, column, platform, delimiter = FEEDS[target]
    result = ExportResult(target, folder, [], 0, 0, unit="product")
    images = folder / "images"
    images.mkdir()
    lines = []
    for product_id, row in _chosen(rows).items():
        suffix = Path(image_path(row, platform)).suffix.lower()
        if suffix not in TAKEN_SUFFIXES:
            result.warnings.append(f"{product_id}: {suffix} images are not taken by the catalogue: left out")
            continue
        file = copy_creative(out_dir, row, images, platform=platform)
        url = base_url.rstrip("/") + "/images/" + quote(file)
        if len(url) > MAX_URL:
            result.warnings.append(f"{product_id}: the image URL is over {MAX_URL} characters: left out")
            continue
        lines.append([product_id, url])
        result.images += 1
    if not lines:
        raise ExportError(f"no product has an image the catalogue takes: {'; '.join(result.warnings)}")
    result.ads = len(lines)
    result.files.append(_write(folder / name, ("id", column), lines, delimiter))
    return result


def _chosen(rows: list[dict]) -> dict[str, dict]:
    """Product id -> its one creative: the best-ranked (rank 1 first), square first."""

    def preference(row: dict) -> tuple:
        shape = FORMAT_ORDER.index(row["format"]) if row["format"] in FORMAT_ORDER else len(FORMAT_ORDER)
        return (row.get("rank") or 1_000_000, shape, -(row.get("score") or 0.0), row["variant_id"])

    chosen: dict[str, dict] = {}
    for row in sorted(rows, key=preference):
        chosen.setdefault(row["product_id"], row)
    return chosen


def _write(path: Path, headers: tuple, lines: list[list], delimiter: str) -> Path:
    if delimiter == ",":
        return write_table_csv(path, headers, lines)
    text = "\n".join("\t".join(cell.replace("\t", " ") for cell in line) for line in [list(headers), *lines])
    path.write_text(text + "\n", encoding="utf-8")  # Merchant Center reads UTF-8 TSV; no BOM
    return path
