"""What Google's two exports share (Display: google_sheet.py; Performance Max: pmax_sheet.py):
the campaign row, the brand kit's logos, and the list of images to attach in Google Ads Editor.

Images: no public Google Ads Editor CSV reference names a column that attaches image files to a
responsive display ad or an asset group (the Editor help's "CSV file columns" lists text and
setting columns; the image fields are the Google Ads API's), so the CSV creates the campaigns,
ad groups, ads and asset groups with their text, and ``google-images.csv`` lists each image to
attach after the import: campaign, ad group or asset group, the ad (``utm_content=`` and the
variant id its Final URL suffix ends with), the image field, the file (under ``images/``) and its
size. docs/export.md gives the steps in Editor.

Campaign rows: one per campaign, its daily budget the sum over the rows x audiences it carries
(budgets.py), the EU political ads declaration Google requires of every new campaign
("EU political ads": "Doesn't have EU political ads" as Editor's exports write it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from pixio_ads.campaign.adsettings import settings_of
from pixio_ads.campaign.platforms import RATIO_TOLERANCE
from pixio_ads.creative.brand import brand_kit_at
from pixio_ads.delivery.adsheet import ExportResult, image_path, safe_name, url_tags, write_table_csv
from pixio_ads.delivery.budgets import campaign_budgets

CAMPAIGN_COLUMNS = (
    "Campaign", "Campaign type", "Campaign status", "Budget", "Budget type", "Bid strategy type", "EU political ads",
    "Start date", "End date",
)  # fmt: skip
ATTACH_HEADERS = ("Campaign", "Group", "Ad", "Image field", "File", "Width", "Height", "Variant id")
ATTACH_FILE = "google-images.csv"
# Google's logo shapes: 4:1 (at least 512x128) and 1:1 (at least 128x128).
LANDSCAPE_LOGO, SQUARE_LOGO_MIN = (4.0, 512, 128), 128


def campaign_rows(rows: list[dict], platform: str, campaign_type: str, result: ExportResult) -> dict[str, dict]:
    """Campaign name -> its row's values (CAMPAIGN_COLUMNS), from the manifest ``rows`` the
    export uses; settings that differ between a campaign's rows are named in a warning (the
    first row's are kept)."""
    budgets = campaign_budgets(rows, platform)
    found: dict[str, dict] = {}
    warned: set[tuple] = set()
    for row in rows:
        settings = settings_of(row["ad_settings"])[platform]
        values = {
            "Campaign": row["campaign_id"], "Campaign type": campaign_type, "Campaign status": "Paused",
            "Budget": f"{budgets[row['campaign_id']]:.2f}", "Budget type": "Daily",
            "Bid strategy type": settings["bid_strategy"],
            "EU political ads": settings.get("eu_political_ads") or "Doesn't have EU political ads",
            "Start date": settings["start_date"], "End date": settings["end_date"],
        }  # fmt: skip
        known = found.setdefault(row["campaign_id"], values)
        differ = [name for name in CAMPAIGN_COLUMNS if known[name] != values[name]]
        if differ and (row["campaign_id"], row["source_row"]) not in warned:
            warned.add((row["campaign_id"], row["source_row"]))
            result.warnings.append(
                f"campaign {row['campaign_id']}: row {row['source_row']} sets another {', '.join(differ)} than "
                "its first row; the first row's is used (a Google campaign has one)"
            )
    return found


def numbered(column: str, texts: list[str], most: int) -> dict[str, str]:
    """``Headline 1`` ... ``Headline <most>``: the first ``most`` texts in Editor's numbered columns."""
    return {f"{column} {number}": text for number, text in enumerate(texts[:most], start=1)}


def image_file_name(row: dict, platform: str, shape: str) -> str:
    """``landscape-<variant id>-clean.png``: the shape, the variant and which image it is (the
    clean one unless the row chose the creative for ``platform``)."""
    source = image_path(row, platform)
    clean = "-clean" if source != row["output_path"] else ""
    return f"{shape}-{row['variant_id']}{clean}{Path(source).suffix}"


def final_url_suffix(row: dict, medium: str, content: str) -> str:
    """UTM parameters Google appends to the final URL; ``utm_content`` joins results back."""
    return url_tags(
        row["link"], utm_source="google", utm_medium=medium, utm_campaign=row["campaign_id"], utm_content=content
    )


class AttachList:
    """The images to attach in Editor after the import, one line each (ATTACH_HEADERS)."""

    def __init__(self, folder: Path):
        self.folder, self.lines = folder, []

    def add(self, campaign: str, group: str, ad: str, field: str, path: Path, variant: str = "") -> None:
        with Image.open(path) as image:
            width, height = image.size
        relative = path.relative_to(self.folder).as_posix()
        self.lines.append([campaign, group, ad, field, relative, width, height, variant])

    def write(self) -> Path:
        return write_table_csv(self.folder / ATTACH_FILE, ATTACH_HEADERS, self.lines)


class Logos:
    """The brand kits' logos as Google takes them, written once per kit: a 4:1 logo as the
    landscape logo, every logo as a square one (padded onto a transparent square)."""

    def __init__(self, folder: Path):
        self.folder, self.done = folder, {}

    def of(self, kit_path: str) -> tuple[Path | None, Path | None]:
        """(landscape logo, square logo) files of the kit (None: it has none)."""
        if kit_path not in self.done:
            self.done[kit_path] = self._write(kit_path)
        return self.done[kit_path]

    def _write(self, kit_path: str) -> tuple[Path | None, Path | None]:
        logo = brand_kit_at(kit_path).logo if kit_path else None
        if logo is None:
            return None, None
        self.folder.mkdir(parents=True, exist_ok=True)
        image = Image.open(logo).convert("RGBA")
        stem = safe_name(Path(kit_path).parent.name + "-" + logo.stem)
        landscape = None
        ratio, min_w, min_h = LANDSCAPE_LOGO
        if (
            abs(image.width / image.height / ratio - 1) <= RATIO_TOLERANCE
            and image.width >= min_w
            and image.height >= min_h
        ):
            landscape = self.folder / f"{stem}-4x1.png"
            image.save(landscape)
        side = max(image.width, image.height, SQUARE_LOGO_MIN)
        square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        square.alpha_composite(image, ((side - image.width) // 2, (side - image.height) // 2))
        square.save(self.folder / f"{stem}-1x1.png")
        return landscape, self.folder / f"{stem}-1x1.png"


# Google Ads plays video only from YouTube (Demand Gen, Video and Performance Max campaigns take a
# video asset by its YouTube link): the MP4s are listed to upload to the brand's channel first.
YOUTUBE_HEADERS = (
    "Campaign", "Group", "File", "Title", "Description", "Seconds", "Width", "Height", "Final URL", "Variant id",
)  # fmt: skip
YOUTUBE_FILE = "youtube-uploads.csv"


def without_videos(out_dir: Path, rows: list[dict], folder: Path, result: ExportResult) -> list[dict]:
    """The image rows of ``rows``; the video rows' MP4s copied to ``folder``/videos and listed
    in YOUTUBE_FILE (title: the headline; the ad group: the row's), with a warning saying why."""
    videos = [row for row in rows if row.get("media_type") == "video"]
    if not videos:
        return rows
    target = folder / "videos"
    target.mkdir()
    lines = []
    for row in videos:
        name = Path(row["output_path"]).name
        shutil.copyfile(out_dir / row["output_path"], target / name)
        lines.append([
            row["campaign_id"], row["ad_set"] or row["product_id"], f"videos/{name}", row["headline"],
            row["primary_text"] or row["headline"], row["duration"], row["width"], row["height"], row["link"],
            row["variant_id"],
        ])  # fmt: skip
    result.files.append(write_table_csv(folder / YOUTUBE_FILE, YOUTUBE_HEADERS, lines))
    result.warnings.append(
        f"{len(videos)} video(s) listed in {YOUTUBE_FILE}: Google Ads takes video from YouTube only; upload them "
        "to the brand's channel (unlisted), then add their links in Google Ads (docs/export.md)"
    )
    return [row for row in rows if row.get("media_type") != "video"]
