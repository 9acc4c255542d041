"""Google: a Google Ads Editor CSV that creates Display campaigns of responsive display ads.

Rows as Editor writes them: a campaign row (Campaign type Display, budget, bid strategy, the EU
political ads declaration, dates), an ad group row, then one responsive display ad per idea
with its text. Its images (the landscape and square marketing images, the brand kit's logos)
are attached in Editor after the import from ``images/``, as ``google-images.csv`` lists them
(google_common.py says why). A responsive display ad has no portrait image, so 4:5 creatives
are not used. Editor matches headers case- and space-insensitively (Editor help, "CSV file
columns"); tests/fixtures/export/google-ads-header.csv says where each spelling comes from.
Everything is created Paused.
"""

from __future__ import annotations

from pathlib import Path

from pixio_ads.campaign.copy import MAX_OPTIONS
from pixio_ads.campaign.platforms import call_to_action_text
from pixio_ads.delivery.adsheet import (
    Ad,
    ExportError,
    ExportResult,
    by_shape,
    copy_creative,
    group_ads,
    image_path,
    safe_name,
    text_options,
    write_table_csv,
)
from pixio_ads.delivery.google_common import (
    CAMPAIGN_COLUMNS,
    AttachList,
    Logos,
    campaign_rows,
    final_url_suffix,
    image_file_name,
    numbered,
    without_videos,
)

GOOGLE_HEADERS = (
    *CAMPAIGN_COLUMNS, "Ad group", "Ad group status", "Ad type", *(f"Headline {i}" for i in range(1, 6)),
    "Long headline", *(f"Description {i}" for i in range(1, 6)), "Business name", "Final URL", "Final URL suffix",
    "Call to action", "Status",
)  # fmt: skip
# Editor's names for a responsive display ad's image fields, as google-images.csv lists them.
IMAGE_FIELDS = {"landscape": "Marketing image", "square": "Square marketing image"}


def write_google(out_dir: Path, rows: list[dict], folder: Path) -> ExportResult:
    result = ExportResult("google", folder, [], 0, 0)
    rows = without_videos(out_dir, rows, folder, result)
    if not rows:  # videos only: their upload list is the export
        return result
    images, attach = folder / "images", AttachList(folder)
    images.mkdir()
    logos = Logos(images / "logos")
    ads: list[tuple[Ad, dict]] = []
    # clean images are alike across headline and CTA options: one ad takes them all as text
    for ad in group_ads(rows, by_copy_option=lambda row: image_path(row, "google") == row["output_path"]):
        shapes = by_shape(out_dir, "google", ad, result)
        if not {"landscape", "square"} <= shapes.keys():
            have = ", ".join(shapes) or "none"
            result.warnings.append(
                f"{ad.name}: left out: a responsive display ad needs a landscape and a square image (has {have})"
            )
            continue
        _attach_images(out_dir, ad, shapes, images / safe_name(ad.name), attach, logos)
        result.images += len(shapes)
        ads.append((ad, shapes["landscape"]))
    if not ads:
        raise ExportError(
            "no ad has the landscape and square images a responsive display ad needs: " + "; ".join(result.warnings)
        )
    campaigns = campaign_rows([row for ad, _ in ads for row in ad.creatives], "google", "Display", result)
    sheet, seen = [], set()
    for ad, row in ads:  # each campaign and ad group once, before its first ad
        for level in (campaigns[row["campaign_id"]], {"Campaign": row["campaign_id"], "Ad group": ad.ad_set}):
            key = tuple(level.items())
            if key not in seen:
                seen.add(key)
                status = {"Ad group status": "Paused"} if "Ad group" in level else {}
                sheet.append(_line({**level, **status}))
        sheet.append(_line(_ad_values(ad, row)))
    result.ads = len(ads)
    result.files += [write_table_csv(folder / "google-ads.csv", GOOGLE_HEADERS, sheet), attach.write()]
    return result


def _line(values: dict) -> list:
    return [values.get(name, "") for name in GOOGLE_HEADERS]


def _attach_images(out_dir: Path, ad: Ad, shapes: dict, ad_folder: Path, attach: AttachList, logos: Logos) -> None:
    """The ad's images copied into its folder and listed to attach (the ad named by its Final URL
    suffix's utm_content), then the kit's logos."""
    ad_folder.mkdir()
    # Editor shows an ad's Final URL suffix; its utm_content (the landscape image's variant id) is unique
    campaign, ad_key = ad.first["campaign_id"], f"utm_content={shapes['landscape']['variant_id']}"
    for shape, row in shapes.items():  # the clean image, unless the row chose the creative
        name = copy_creative(out_dir, row, ad_folder, image_file_name(row, "google", shape), "google")
        attach.add(campaign, ad.ad_set, ad_key, IMAGE_FIELDS[shape], ad_folder / name, row["variant_id"])
    landscape, square = logos.of(ad.first["brand_kit"])
    for field, logo in (("Logo", landscape), ("Square logo", square)):
        if logo is not None:
            attach.add(campaign, ad.ad_set, ad_key, field, logo)


def _ad_values(ad: Ad, row: dict) -> dict:
    return {
        "Campaign": row["campaign_id"], "Ad group": ad.ad_set, "Ad type": "Responsive display ad",
        **numbered("Headline", _headlines(row), MAX_OPTIONS), "Long headline": row["primary_text"] or row["headline"],
        **numbered("Description", text_options(row, "descriptions") or [row["description"]], MAX_OPTIONS),
        "Business name": row["business_name"], "Final URL": row["link"],
        "Final URL suffix": final_url_suffix(row, "display", row["variant_id"]),
        "Call to action": call_to_action_text("google", row["call_to_action"]), "Status": "Paused",
    }  # fmt: skip


def _headlines(row: dict) -> list[str]:
    """The drawn headline first, then the language's other headline options."""
    return [row["headline"], *(text for text in text_options(row, "headlines") if text != row["headline"])]
