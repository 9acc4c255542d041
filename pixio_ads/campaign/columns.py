"""The spreadsheet's columns, declared once: each with its parser, default and help text.

``COLUMNS`` drives validation (spreadsheet.py loops over it) and the generated reference
page docs/spreadsheet.md. A parser reports what is wrong through ``check.problem`` and returns
a default, so every problem of a row is found in one pass.
"""

from __future__ import annotations

from pixio_ads.campaign import parsers
from pixio_ads.campaign.columns_ads import AD_COLUMNS
from pixio_ads.campaign.columns_video import VIDEO_COLUMNS
from pixio_ads.campaign.copy import copy_column
from pixio_ads.campaign.models import EDIT_KEEP_PRODUCT
from pixio_ads.campaign.parsers import Column
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

# The single source of truth for the spreadsheet's columns (docs/spreadsheet.md is generated from it;
# tests/test_docs.py checks that every column is documented).
_CORE_COLUMNS: tuple[Column, ...] = (
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
        "Product shot, relative to the spreadsheet's folder (PNG/JPEG/WebP; transparency is used), or an https URL "
        "(fetched once into the cache, public addresses only: docs/catalogue.md).",
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
        "vae",
        False,
        "VAE override: a diffusers AutoencoderKL folder, .safetensors file or hub id (the CLI's --vae wins); "
        "an fp16-safe SDXL VAE decodes SDXL in fp16.",
        "madebyollin/sdxl-vae-fp16-fix",
        parse=parsers.optional,
    ),
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
        "`compose` (default: generated scene + product cut-out), `inpaint` (scene painted around the placed product), `restyle` (image-to-image on source_image), `replace` (repaint the white part of replace_mask), `expand` (source_image, a photo or a finished creative, carried to each format by painting around it; its pixels are kept) or `edit` (an edit model such as FLUX.1 Kontext places source_image, default the product shot, as the prompt instructs; its product fidelity measured, see edit_keep_product). The row's model must be able to do the mode (docs/models.md).",
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
        "Image that restyle, replace and expand start from (default: product_image).",
        "photos/model.jpg",
        parse=parsers.image,
    ),
    Column(
        "source_has_copy",
        False,
        "`yes` when an expand row's source already carries its copy: the headline, button and logo are not "
        "drawn again (the AI label is). Default `no`.",
        "yes",
        parse=parsers.choice(("no", "yes"), "no"),
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
        "edit_keep_product",
        False,
        "edit mode, when the product's fidelity is below min_product_fidelity: `paste` (default: the product's own "
        "pixels put back where the edit placed it, with its shadow), `fail` (recorded failed) or `off` (shipped as "
        "edited, the score recorded).",
        "fail",
        parse=parsers.choice(EDIT_KEEP_PRODUCT, "paste"),
    ),
    Column(
        "lora",
        False,
        "LoRA adapters the row renders with, `file.safetensors:weight` separated by `;` (weight -2 to 2, default 1), "
        "beside the campaign or `hf:org/name/file.safetensors` from the local Hugging Face cache; added to the brand "
        "kit's `lora` (naming the kit's file sets its weight); `none` turns the kit's off.",
        "styles/brand-look.safetensors:0.8; product.safetensors:0.6",
    ),
    Column(
        "style_image",
        False,
        "Reference image whose style the scene takes, through the `ip_adapter` (brand kit: `style.image`).",
        "styles/moodboard.jpg",
        parse=parsers.image,
    ),
    Column(
        "ip_adapter",
        False,
        "IP-Adapter weights (.safetensors, its CLIP image encoder in `image_encoder/` beside it) for style_image "
        "(brand kit: `style.ip_adapter`).",
        "adapters/ip-adapter_sd15.safetensors",
        parse=parsers.optional,
    ),
    Column(
        "style_scale",
        False,
        "How strongly the style image steers the scene, 0-1 (default: the kit's `style.scale`, else 0.5).",
        "0.6",
        parse=parsers.number(float, None, 0.0, 1.0),
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
)
COLUMNS: tuple[Column, ...] = (*_CORE_COLUMNS, *VIDEO_COLUMNS, *AD_COLUMNS)
COLUMN_NAMES = {column.name for column in COLUMNS}


class KnownColumns(list):
    """The column table's names, and every numbered or language-tagged copy column
    (``headline_2``, ``cta[fr]``): ``in`` knows them all, listing shows the table's."""

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or (isinstance(name, str) and copy_column(name) is not None)


KNOWN_COLUMNS = KnownColumns(column.name for column in COLUMNS)
REQUIRED_COLUMNS = [column.name for column in COLUMNS if column.required]
