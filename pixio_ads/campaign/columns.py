"""The spreadsheet's columns, declared once: each with its parser, default and help text.

``COLUMNS`` drives validation (spreadsheet.py loops over it) and the generated reference
page docs/spreadsheet.md. A parser reports what is wrong through ``check.problem`` and returns
a default, so every problem of a row is found in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pixio_ads.campaign import parsers
from pixio_ads.campaign.copy import copy_column
from pixio_ads.campaign.parsers import Parser
from pixio_ads.campaign.platforms import (
    CALLS_TO_ACTION,
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    PLATFORMS,
)
from pixio_ads.campaign.rows import (
    DEFAULT_QUALITY,
    MAX_VARIANTS_PER_COMBINATION,
    MODES,
    MULTI_SEPARATOR,
    OUTPUT_FORMATS,
)
from pixio_ads.creative.composite import (
    ANCHORS,
    DEFAULT_MARGIN,
    DEFAULT_PRODUCT_SCALE,
    DEFAULT_SHADOW,
    SHADOWS,
)
from pixio_ads.creative.cutout import CUTOUT_MODES
from pixio_ads.render.loading import DTYPES, SCHEDULER_NAMES


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool
    meaning: str
    example: str
    parse: Parser = field(default=lambda text, check, column: text, repr=False)  # text as is


# The single source of truth for the spreadsheet's columns (docs/spreadsheet.md is generated from it;
# tests/test_docs.py checks that every column is documented).
COLUMNS: tuple[Column, ...] = (
    Column(
        "campaign_id",
        True,
        "Campaign identifier; letters, digits, `.`, `_`, `-`. Used in output paths.",
        "spring-sale-2026",
        parse=parsers.identifier,
    ),
    Column(
        "product_id", True, "Product identifier (same rules as campaign_id).", "bottle-01", parse=parsers.identifier
    ),
    Column("product_name", True, "Product name as templates and copy refer to it.", "Aurora water bottle"),
    Column(
        "product_image",
        True,
        "Product shot, relative to the spreadsheet's folder (PNG/JPEG/WebP; transparency is used).",
        "products/bottle.png",
        parse=parsers.image,
    ),
    Column(
        "template",
        True,
        "Prompt template name: `templates/NAME.j2` beside the campaign, else the built-in one.",
        "lifestyle",
        parse=parsers.template,
    ),
    Column(
        "audiences", True, f"Audiences, separated by `{MULTI_SEPARATOR}`.", "runners; commuters", parse=parsers.multi
    ),
    Column(
        "styles",
        True,
        f"Visual styles, separated by `{MULTI_SEPARATOR}`.",
        "golden hour; minimal studio",
        parse=parsers.multi,
    ),
    Column(
        "formats",
        True,
        f"Ad formats, separated by `{MULTI_SEPARATOR}`: square, portrait, story, landscape or `WxH`.",
        "square; story",
        parse=parsers.formats,
    ),
    Column(
        "headline",
        True,
        "Headline copy (the first language's). Options: `headline_2` ... `headline_5`, each a variant of its own; "
        "other languages: `headline[fr]`, `headline_2[fr]` (copy.py).",
        "Hydration, upgraded",
    ),
    Column(
        "cta",
        True,
        "Call to action copy; options `cta_2` ... `cta_5` (each headline x CTA option is a variant), `cta[fr]` per language.",
        "Shop now",
    ),
    Column(
        "languages",
        False,
        "Languages of the row's copy, BCP 47 tags separated by `;` (default `en`); each is a variant of its own, with "
        "its copy in columns tagged with it (`headline[de]`, `cta[de]`) and the AI label in it.",
        "en; de; ja",
    ),
    Column(
        "variants",
        False,
        "Images (seeds) per product x audience x style x format; default 1.",
        "2",
        parse=parsers.number(int, 1, 1, MAX_VARIANTS_PER_COMBINATION),
    ),
    Column(
        "base_seed",
        False,
        "First seed; variants use base_seed, base_seed+1, ... Default: derived from the row's identity.",
        "1234",
        parse=parsers.number(int, None, 0, 2**32 - 1),
    ),
    Column("negative_prompt", False, "What the model should avoid.", "text, watermark, blurry"),
    Column(
        "model",
        False,
        "Model override: local checkpoint folder or hub id (the CLI's --model wins).",
        "stabilityai/sd-turbo",
        parse=parsers.optional,
    ),
    Column("steps", False, "Denoising steps override (1-500).", "25", parse=parsers.number(int, None, 1, 500)),
    Column(
        "guidance",
        False,
        "Classifier-free guidance scale override (0-50).",
        "7.5",
        parse=parsers.number(float, None, 0.0, 50.0),
    ),
    Column(
        "scheduler",
        False,
        "Sampler: " + ", ".join(SCHEDULER_NAMES) + " (`default` = the checkpoint's own).",
        "dpmpp_2m",
        parse=parsers.choice(SCHEDULER_NAMES, None, lower=False),
    ),
    Column("revision", False, "Hub revision (branch, tag or commit) of the model.", "main", parse=parsers.optional),
    Column(
        "dtype",
        False,
        "Weights precision: " + ", ".join(DTYPES) + " (auto = fp16 on CUDA, fp32 otherwise).",
        "fp16",
        parse=parsers.choice(DTYPES, None, lower=False),
    ),
    Column(
        "mode",
        False,
        "`compose` (default: generated scene + product cut-out), `inpaint` (scene painted around the placed product), `restyle` (image-to-image on source_image) or `replace` (repaint the white part of replace_mask).",
        "inpaint",
        parse=parsers.choice(MODES, "compose"),
    ),
    Column(
        "strength",
        False,
        "How much restyle/replace/inpaint may change (0.05-1). Default: 0.6 restyle, 1 otherwise.",
        "0.55",
        parse=parsers.number(float, None, 0.05, 1.0),
    ),
    Column(
        "source_image",
        False,
        "Image that restyle and replace start from (default: product_image).",
        "photos/model.jpg",
        parse=parsers.image,
    ),
    Column(
        "replace_mask",
        False,
        "Mask for `replace`: white = repaint, black = keep; same size as the source image.",
        "photos/model-shirt-mask.png",
        parse=parsers.image,
    ),
    Column(
        "product_mask",
        False,
        "Cut-out mask for the product (white = product), instead of its alpha or the automatic plain-background removal.",
        "products/bottle-mask.png",
        parse=parsers.image,
    ),
    Column(
        "cutout",
        False,
        "How the product is cut out: `auto` (default: its transparency, else a plain neutral backdrop removed; a "
        "product that fills its frame is kept whole), `none` (the image pasted as it is) or `mask` (the product_mask).",
        "none",
        parse=parsers.choice(CUTOUT_MODES, "auto"),
    ),
    Column(
        "anchor",
        False,
        "Product position in the space between headline and button: " + ", ".join(ANCHORS) + ".",
        "bottom-center",
        parse=parsers.anchor,
    ),
    Column(
        "product_scale",
        False,
        f"Largest share of the canvas the product may fill, 0.05-1 (default {DEFAULT_PRODUCT_SCALE}); it never leaves its safe area.",
        "0.5",
        parse=parsers.number(float, DEFAULT_PRODUCT_SCALE, 0.05, 1.0),
    ),
    Column(
        "margin",
        False,
        f"Clear margin inside the format's safe zone, as a share of the short side, 0-0.2 (default {DEFAULT_MARGIN}).",
        "0.05",
        parse=parsers.number(float, DEFAULT_MARGIN, 0.0, 0.2),
    ),
    Column(
        "shadow",
        False,
        "Shadow under the product: " + ", ".join(SHADOWS) + f" (default {DEFAULT_SHADOW}).",
        "contact",
        parse=parsers.choice(SHADOWS, DEFAULT_SHADOW),
    ),
    Column(
        "harmonize",
        False,
        "Pull the product's colour toward the scene's, 0-1 (default 0; 0.1-0.3 is a light touch). compose mode.",
        "0.2",
        parse=parsers.number(float, 0.0, 0.0, 1.0),
    ),
    Column(
        "min_product_fidelity",
        False,
        "Product fidelity (0-1: the product in the result against the source, SSIM x colour) below which a "
        "creative is recorded failed instead of shipping; 0 (default) records it only. 0.6 catches a changed "
        "product; compose and inpaint keep the product's pixels (1).",
        "0.6",
        parse=parsers.number(float, 0.0, 0.0, 1.0),
    ),
    Column(
        "brand_kit",
        False,
        "Brand kit YAML/JSON (logo, fonts, colours, button style), relative to the campaign.",
        "brand.yaml",
        parse=parsers.brand_kit,
    ),
    Column(
        "output_format",
        False,
        "File type of the creatives: " + ", ".join(OUTPUT_FORMATS) + " (default png).",
        "jpeg",
        parse=parsers.choice(OUTPUT_FORMATS, "png", aliases={"jpg": "jpeg"}),
    ),
    Column(
        "quality",
        False,
        f"JPEG/WebP quality 1-100 (default {DEFAULT_QUALITY}).",
        "90",
        parse=parsers.number(int, DEFAULT_QUALITY, 1, 100),
    ),
    # Ad platform columns: what `pixio-ads export` writes into the Meta and Google sheets.
    Column(
        "platforms",
        False,
        f"Ad platforms the row is for, separated by `{MULTI_SEPARATOR}`: "
        + ", ".join(PLATFORMS)
        + ". `validate` then checks each platform's limits (copy lengths, image shapes and sizes).",
        "meta; google",
        parse=parsers.platforms,
    ),
    Column("link", False, "Landing page (https URL) the ad opens.", "https://example.com/aurora", parse=parsers.link),
    Column(
        "primary_text",
        False,
        "Ad body: Meta's primary text (over 125 characters is cut in feeds), Google's long headline (at most 90). Default: the headline.",
        "Cold for 24 hours, hot for 12. Made from recycled steel.",
    ),
    Column(
        "description",
        False,
        "Meta's link description; Google's description (at most 90 characters, required for Google).",
        "Free shipping over $40",
    ),
    Column("display_link", False, "Link shown on Meta ads instead of the full URL.", "example.com"),
    Column(
        "business_name",
        False,
        "Advertiser name on Google responsive display ads (at most 25 characters, required for Google).",
        "Aurora Goods",
    ),
    Column(
        "ad_set",
        False,
        "Ad set (Meta) / ad group (Google) name. Default: product name and audience.",
        "Bottles - runners",
    ),
    Column(
        "objective",
        False,
        "Meta campaign objective: " + ", ".join(OBJECTIVES) + f" (default {DEFAULT_OBJECTIVE}).",
        "sales",
        parse=parsers.choice(OBJECTIVES, DEFAULT_OBJECTIVE, aliases={"app promotion": "app_promotion"}),
    ),
    Column(
        "call_to_action",
        False,
        "Button type on the platforms: " + ", ".join(CALLS_TO_ACTION) + ". Default: the cta, when it names one.",
        "SHOP_NOW",
        parse=parsers.call_to_action,
    ),
    Column(
        "deliverables",
        False,
        "Images written and exported (deliverables.py): `creative` (copy, button and logo drawn in), `clean` "
        "(scene, product and AI label only; every platform gets it), `both`, or per platform "
        "`meta=creative; google=clean`. Default: Meta the creative, Google the clean image (it advises against text "
        "on responsive display images). Brand kit: `meta.deliverable`, `google.deliverable`.",
        "both",
    ),
    # Campaign and ad set settings (adsettings.py): each falls back to the brand kit's meta/google section.
    Column(
        "page_id",
        False,
        "Facebook Page id the Meta ads run from (the sheet's Link Object ID); required for Meta. Brand kit: `meta.page_id`.",
        "104123456789012",
    ),
    Column(
        "instagram_id",
        False,
        "Instagram account id for Instagram placements (empty: they run as the Page). Brand kit: `meta.instagram_id`.",
        "17841400000000000",
    ),
    Column(
        "daily_budget",
        False,
        "Daily budget in the ad account's currency: each Meta ad set's, the Google campaign's (required for Google). Brand kit: `meta.daily_budget`, `google.daily_budget`.",
        "50",
    ),
    Column(
        "lifetime_budget",
        False,
        "Meta ad set lifetime budget instead of a daily one (needs end_date). Brand kit: `meta.lifetime_budget`.",
        "1500",
    ),
    Column(
        "start_date",
        False,
        "First day the ads may run (YYYY-MM-DD); empty: from when they are switched on.",
        "2026-12-10",
    ),
    Column("end_date", False, "Last day (YYYY-MM-DD); empty: until stopped.", "2026-12-31"),
    Column(
        "countries",
        False,
        "Countries the Meta ad sets target, ISO codes separated by `;`; required for Meta. Brand kit: `meta.countries`.",
        "US; CA",
    ),
    Column(
        "age_range",
        False,
        "Meta age targeting MIN-MAX, 13-65 (65 = 65+); default 18-65. Brand kit: `meta.age_range`.",
        "25-54",
    ),
    Column(
        "special_ad_categories",
        False,
        "Meta Special Ad Categories: none (default), housing, employment, credit, financial_products_services, issues_elections_politics. Brand kit: `meta.special_ad_categories`.",
        "none",
    ),
    Column(
        "bid_strategy",
        False,
        "Google bid strategy: maximize_clicks (default) or maximize_conversions (default for sales and leads). Brand kit: `google.bid_strategy`.",
        "maximize_clicks",
    ),
)
COLUMN_NAMES = {column.name for column in COLUMNS}


class KnownColumns(list):
    """The column table's names, and every numbered or language-tagged copy column
    (``headline_2``, ``cta[fr]``): ``in`` knows them all, listing shows the table's."""

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or (isinstance(name, str) and copy_column(name) is not None)


KNOWN_COLUMNS = KnownColumns(column.name for column in COLUMNS)
REQUIRED_COLUMNS = [column.name for column in COLUMNS if column.required]
