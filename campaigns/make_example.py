"""Recreate the example campaign: product PNGs, a brand kit with its logo, campaign.csv
and the same as campaign.xlsx.

The rows also carry what the ad platforms need (platforms, link, copy, call to action), so
`make demo` ends with ready-to-import Meta and Google sheets.

    python campaigns/make_example.py

Drawn with Pillow so the files are reproducible: the bottle and lamp have transparent
backgrounds, the mug sits on a plain white studio background (no alpha), which the
automatic cut-out removes. The mug's row uses inpaint mode (the scene is painted around
the placed product); the bottle's row writes JPEG.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent / "spring-sale"

ROWS = [
    {
        "campaign_id": "spring-sale", "product_id": "aurora-bottle", "product_name": "Aurora water bottle",
        "product_image": "products/bottle.png", "template": "lifestyle", "audiences": "runners; commuters",
        "styles": "golden hour", "formats": "square; story", "variants": "1", "base_seed": "",
        "headline": "Hydration, upgraded", "cta": "Shop now", "negative_prompt": "text, watermark, blurry",
        "mode": "", "anchor": "", "brand_kit": "brand.yaml", "output_format": "jpeg",
        "platforms": "meta", "link": "https://example.com/aurora?utm_campaign=spring-sale",
        "primary_text": "Cold for 24 hours, hot for 12. Made from recycled steel, built for every mile.",
        "description": "Free shipping over $40", "display_link": "example.com/aurora",
        "business_name": "Spring Co.", "ad_set": "", "objective": "sales", "call_to_action": "",
        "page_id": "", "daily_budget": "", "countries": "",  # from the brand kit's meta section
    },
    {
        "campaign_id": "spring-sale", "product_id": "ember-mug", "product_name": "Ember ceramic mug",
        "product_image": "products/mug.png", "template": "studio", "audiences": "remote workers",
        "styles": "warm pastel; minimal", "formats": "square; landscape", "variants": "1", "base_seed": "",
        "headline": "Your morning, slower", "cta": "Get 20% off", "negative_prompt": "",
        "mode": "inpaint", "anchor": "", "brand_kit": "brand.yaml", "output_format": "",
        "platforms": "meta; google", "link": "https://example.com/ember",
        "primary_text": "Stoneware that keeps your coffee warm through the first meeting.",
        "description": "20% off every mug this week. Free returns.", "display_link": "example.com/ember",
        "business_name": "Spring Co.", "ad_set": "Mugs - remote workers", "objective": "sales",
        "call_to_action": "SHOP_NOW", "page_id": "", "daily_budget": "", "countries": "",
    },
    {
        "campaign_id": "spring-sale", "product_id": "halo-lamp", "product_name": "Halo desk lamp",
        "product_image": "products/lamp.png", "template": "lifestyle", "audiences": "students",
        "styles": "cozy evening", "formats": "portrait", "variants": "2", "base_seed": "4242",
        "headline": "Light that focuses", "cta": "Discover", "negative_prompt": "people",
        "mode": "", "anchor": "bottom-center", "brand_kit": "", "output_format": "",
        "platforms": "meta", "link": "https://example.com/halo", "primary_text": "", "description": "",
        "display_link": "", "business_name": "", "ad_set": "", "objective": "traffic",
        "call_to_action": "LEARN_MORE", "page_id": "100000000000001", "daily_budget": "10", "countries": "US; GB",
    },
]  # fmt: skip


def draw_bottle() -> Image.Image:
    image = Image.new("RGBA", (400, 800), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (90, 170, 310, 780), radius=60, fill=(32, 120, 190, 255), outline=(15, 70, 120, 255), width=6
    )
    draw.rectangle((150, 90, 250, 180), fill=(210, 215, 220, 255))
    draw.rounded_rectangle((140, 40, 260, 100), radius=14, fill=(40, 40, 48, 255))
    draw.rectangle((115, 380, 285, 520), fill=(245, 245, 245, 255))
    draw.rectangle((120, 200, 140, 740), fill=(120, 190, 240, 160))  # highlight, semi-transparent
    return image


def draw_mug() -> Image.Image:
    image = Image.new("RGB", (800, 700), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.ellipse((560, 250, 720, 470), outline=(196, 88, 52), width=34)
    draw.rounded_rectangle((160, 180, 600, 620), radius=40, fill=(214, 102, 64))
    draw.ellipse((160, 150, 600, 230), fill=(236, 150, 110))
    draw.ellipse((190, 165, 570, 215), fill=(90, 50, 30))
    return image


def draw_lamp() -> Image.Image:
    image = Image.new("RGBA", (600, 800), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.polygon([(170, 80), (430, 80), (520, 330), (80, 330)], fill=(250, 205, 80, 255))
    draw.rectangle((285, 330, 315, 700), fill=(60, 60, 66, 255))
    draw.ellipse((160, 690, 440, 760), fill=(60, 60, 66, 255))
    return image


BRAND_KIT = """\
# Brand kit for the example campaign (see the README's "Brand kit" section).
name: Spring Co.
logo: logo.png
logo_position: top-left
colors:
  text: "#FFFFFF"
  scrim: "#14213D"
cta:
  color: "#FCA311"
  text_color: "#14213D"
  shape: pill
# What the ad platforms need to create the campaigns `pixio-ads export` writes (docs/export.md).
# Replace the example Page and pixel ids with yours (Business Settings > Accounts > Pages;
# Events Manager > Data sources). daily_budget is what each audience of a row spends a day.
meta:
  page_id: "100000000000001"
  pixel_id: "100000000000002"    # made up: the sales rows' ad sets optimise for its Purchase event
  conversion_event: Purchase
  daily_budget: 20
  countries: [US, CA]
  age_range: 18-65
google:
  daily_budget: 20
  eu_political_ads: "no"
"""


def draw_logo() -> Image.Image:
    image = Image.new("RGBA", (360, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 112, 112), fill=(252, 163, 17, 255))
    draw.ellipse((36, 36, 84, 84), fill=(20, 33, 61, 255))
    draw.rounded_rectangle((128, 34, 352, 86), radius=26, fill=(20, 33, 61, 255))
    return image


def main() -> None:
    products = HERE / "products"
    products.mkdir(parents=True, exist_ok=True)
    draw_bottle().save(products / "bottle.png")
    draw_mug().save(products / "mug.png")
    draw_lamp().save(products / "lamp.png")
    draw_logo().save(HERE / "logo.png")
    (HERE / "brand.yaml").write_text(BRAND_KIT, encoding="utf-8")
    columns = list(ROWS[0])
    with open(HERE / "campaign.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(ROWS)
    book = Workbook()
    sheet = book.active
    sheet.title = "campaign"
    sheet.append(columns)
    for row in ROWS:
        sheet.append([int(v) if v.isdigit() else v for v in row.values()])
    book.properties.created = book.properties.modified = datetime(2026, 1, 1)
    book.save(HERE / "campaign.xlsx")
    print(f"wrote {HERE}")


if __name__ == "__main__":
    main()
