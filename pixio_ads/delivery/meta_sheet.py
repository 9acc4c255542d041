"""Meta: an Ads Manager bulk-import sheet and the images its ``Image File Name`` cells name.

Ads Manager imports the sheet (Import ads in bulk) once the images are in the ad account's
media library under exactly those names, so the export writes ``images/`` for the library's
bulk upload and the sheet (XLSX and UTF-8 CSV) beside it; docs/export.md gives the steps.
Headers are spelled as in an Ads Manager export (tests/fixtures/export/meta-ads-header.csv says
where each comes from), and so are the values: object ids with their type prefix (``o:`` a Page,
``x:`` an Instagram account, ``tp:`` a pixel) and times as ``MM/DD/YYYY hh:mm:ss am``.
Everything is created PAUSED. A video creative (``motion``) is a ``Video Page Post Ad``: its MP4
under ``videos/`` named in ``Video File Name``, its poster as the thumbnail in ``Image File Name``.

Budgets (budgets.py): a row's budget is what each of its audiences spends, split to the cent
between the ad sets that audience becomes (feeds and stories, languages). Sales and leads ad
sets carry their pixel and conversion event (Optimized Conversion Tracking Pixels, Optimized
Event), which the Marketing API requires of an OFFSITE_CONVERSIONS ad set.

Text options: the language's primary texts and descriptions go to Body / Additional Body 1-4 and
Link Description / Additional Link Description 1-4 (an Ads Manager export's spelling); each
headline and CTA option is drawn into its own image, so each is an ad of its own. Languages: an
ad set per language (``| de``), as Meta's bulk sheet does not create multi-language ads.

Placements: a bulk sheet has no column for placement asset customisation (one ad showing its
4:5 image in feeds and its 9:16 image in stories), and positions belong to the ad set. So an
idea becomes a feeds ad in the ``| feeds`` ad set (Facebook feed, Instagram feed) and a stories
ad in the ``| stories`` ad set (Facebook and Instagram stories): each image serves only where
its shape fits, and the two share the audience's budget.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pixio_ads.campaign.adsettings import settings_of
from pixio_ads.campaign.copy import MAX_OPTIONS
from pixio_ads.campaign.platforms import CALLS_TO_ACTION, image_spec
from pixio_ads.delivery.adsheet import (
    Ad,
    ExportResult,
    ad_format,
    by_shape,
    copy_creative,
    group_ads,
    link_parameters,
    text_options,
    url_tags,
    write_table_csv,
    write_xlsx,
)
from pixio_ads.delivery.budgets import ad_set_budgets

META_HEADERS = (
    "Campaign Name", "Campaign Status", "Campaign Objective", "Buying Type", "Special Ad Categories",
    "Special Ad Category Country", "Ad Set Name", "Ad Set Run Status", "Ad Set Time Start", "Ad Set Time Stop",
    "Ad Set Daily Budget", "Ad Set Lifetime Budget", "Optimization Goal", "Billing Event", "Countries", "Age Min",
    "Age Max", "Publisher Platforms", "Facebook Positions", "Instagram Positions",
    "Optimized Conversion Tracking Pixels", "Optimized Event", "Ad Name", "Ad Status",
    "Creative Type", "Link Object ID", "Instagram Account ID", "Title", "Body",
    *(f"Additional Body {i}" for i in range(1, MAX_OPTIONS)), "Link Description",
    *(f"Additional Link Description {i}" for i in range(1, MAX_OPTIONS)), "Display Link",
    "Link", "Call to Action", "Image File Name", "Video File Name", "URL Tags", "Conversion Tracking Pixels",
)  # fmt: skip
VIDEO_CREATIVE, IMAGE_CREATIVE = "Video Page Post Ad", "Link Page Post Ad"
# The type prefixes an Ads Manager export writes before object ids (fixture above).
PAGE_PREFIX, INSTAGRAM_PREFIX, PIXEL_PREFIX = "o:", "x:", "tp:"

# Feed placements take one image: the first shape of this list the idea has.
FEED_ORDER = ("feed portrait", "feed square", "feed landscape")
# Ad set suffix -> (Publisher Platforms, Facebook Positions, Instagram Positions), the
# Marketing API's placement names as Ads Manager exports them.
PLACEMENTS = {
    "feeds": ("facebook, instagram", "feed", "stream"),
    "stories": ("facebook, instagram", "story", "story"),
}
# Meta's dynamic URL parameters, filled per click: which ad and which placement it came from.
DYNAMIC_TAGS = (("ad_id", "{{ad.id}}"), ("placement", "{{placement}}"))


def write_meta(out_dir: Path, rows: list[dict], folder: Path) -> ExportResult:
    result = ExportResult("meta", folder, [], 0, 0)
    images = folder / "images"
    images.mkdir()
    placed: list[tuple[Ad, dict, str, tuple[str, str]]] = []
    for ad in group_ads(rows):
        shapes = by_shape(out_dir, "meta", ad, result)
        feed = next((shapes[name] for name in FEED_ORDER if name in shapes), None)
        for placement, row in (("feeds", feed), ("stories", shapes.get("stories"))):
            if row is not None:
                placed.append((ad, row, placement, _media_files(out_dir, row, folder)))
                result.images += 1
        unused = [row["format"] for row in ad.creatives if row not in (feed, shapes.get("stories"))]
        if unused:
            result.warnings.append(f"{ad.name}: {', '.join(unused)} not used (a Meta feed ad takes one image)")
    budgets = ad_set_budgets(((_ad_set_name(ad, placement), row) for ad, row, placement, _ in placed), "meta")
    sheet = [_meta_row(ad, row, placement, name, budgets) for ad, row, placement, name in placed]
    result.ads = len(sheet)
    result.files += [
        write_table_csv(folder / "meta-ads.csv", META_HEADERS, sheet),
        write_xlsx(folder / "meta-ads.xlsx", META_HEADERS, sheet),
    ]
    return result


def _media_files(out_dir: Path, row: dict, folder: Path) -> tuple[str, str]:
    """(Image File Name, Video File Name) of the row's ad, copied under ``folder`` for the media
    library: its image; or a video's MP4 (videos/) and its poster as the thumbnail (images/)."""
    if row.get("media_type") != "video":
        return copy_creative(out_dir, row, folder / "images", platform="meta"), ""
    videos = folder / "videos"
    videos.mkdir(exist_ok=True)
    poster = copy_creative(out_dir, {**row, "output_path": row["poster_path"], "clean_path": None}, folder / "images")
    return poster, copy_creative(out_dir, row, videos)


def _ad_set_name(ad: Ad, placement: str) -> str:
    return f"{ad.ad_set} | {placement}"


def _meta_row(ad: Ad, row: dict, placement: str, files: tuple[str, str], budgets: dict) -> list:
    settings = settings_of(row["ad_settings"])["meta"]
    objective = "Outcome " + row["objective"].replace("_", " ").title()
    categories = ", ".join(settings["special_ad_categories"])
    name = _ad_set_name(ad, placement)
    pixel = _prefixed(PIXEL_PREFIX, settings.get("pixel_id", ""))
    return [
        row["campaign_id"], "PAUSED", objective, "AUCTION", categories,
        ", ".join(settings["countries"]) if categories != "None" else "",
        name, "PAUSED", *_ad_set_columns(settings, placement, budgets[name]),
        pixel if settings.get("conversion_event") else "", settings.get("conversion_event", ""),
        f"{ad.name} | {placement}", "PAUSED", VIDEO_CREATIVE if files[1] else IMAGE_CREATIVE,
        _prefixed(PAGE_PREFIX, settings["page_id"]),
        _prefixed(INSTAGRAM_PREFIX, settings["instagram_id"]),
        row["headline"], *_padded(text_options(row, "primary_texts") or [row["headline"]]),
        *_padded(text_options(row, "descriptions")), row["display_link"],
        row["link"], CALLS_TO_ACTION[row["call_to_action"]].meta, *files, _tags(row), pixel,
    ]  # fmt: skip


def _prefixed(prefix: str, object_id: str) -> str:
    return f"{prefix}{object_id}" if object_id else ""


def sheet_time(day: str, clock: str) -> str:
    """An ISO date and a 24-hour ``hh:mm:ss`` as an Ads Manager export writes times:
    ``2026-12-10``, ``23:59:59`` -> ``12/10/2026 11:59:59 pm`` (the ad account's time zone)."""
    if not day:
        return ""
    moment = datetime.fromisoformat(f"{day}T{clock}")
    return moment.strftime("%m/%d/%Y %I:%M:%S ") + ("am" if moment.hour < 12 else "pm")


def _padded(options: list[str]) -> list[str]:
    """The first option, then Additional 1-4 (empty where there are fewer)."""
    return (options + [""] * MAX_OPTIONS)[:MAX_OPTIONS]


def _ad_set_columns(settings: dict, placement: str, budget: tuple[str, Decimal]) -> list:
    """Schedule, budget (its share of the rows' budgets: budgets.py), optimisation, targeting
    and positions of the ad set."""
    kind, amount = budget
    daily, lifetime = (f"{amount:.2f}", "") if kind == "daily_budget" else ("", f"{amount:.2f}")
    return [
        sheet_time(settings["start_date"], "00:00:00"), sheet_time(settings["end_date"], "23:59:59"), daily, lifetime,
        settings["optimization_goal"], settings["billing_event"], ", ".join(settings["countries"]),
        settings["age_min"], settings["age_max"], *PLACEMENTS[placement],
    ]  # fmt: skip


def _tags(row: dict) -> str:
    """Tracking parameters Meta appends to the link: UTM (``utm_content`` joins the ad's
    results back to its manifest row) and Meta's own ad and placement macros."""
    tags = url_tags(
        row["link"],
        utm_source="meta",
        utm_medium="paid_social",
        utm_campaign=row["campaign_id"],
        utm_content=row["variant_id"],
    )
    present = link_parameters(row["link"])
    dynamic = "&".join(f"{key}={value}" for key, value in DYNAMIC_TAGS if key not in present)  # braces unescaped
    return "&".join(part for part in (tags, dynamic) if part)


def ad_names(rows: list[dict]) -> dict[str, str]:
    """Each Ad Name the sheet gives the creatives of ``rows`` (manifest rows) -> the variant
    id of its image: how a Meta report's rows join back to the manifest."""
    names = {}
    for ad in group_ads(rows):
        shapes: dict[str, dict] = {}
        for row in ad.creatives:
            spec = image_spec("meta", ad_format(row))
            if spec:
                shapes.setdefault(spec.name, row)
        feed = next((shapes[name] for name in FEED_ORDER if name in shapes), None)
        for placement, row in (("feeds", feed), ("stories", shapes.get("stories"))):
            if row is not None:
                names[f"{ad.name} | {placement}"] = row["variant_id"]
    return names
