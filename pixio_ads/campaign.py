"""Campaign spreadsheets: validate every cell (reading is sheets.py), return typed rows.

The column table ``COLUMNS`` drives validation: each column declares its parser (numbers
with their limits, choices, identifiers, images, templates, brand kits); a row is a loop
over the table, then the checks across columns (mode inputs, copy fit).

All problems are collected before failing, each naming the file, the row as Excel shows
it (header = row 1), the column, the bad value and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PureWindowsPath
from typing import Any

import pandas as pd

from pixio_ads import images
from pixio_ads.brand import BRAND_SUFFIXES, DEFAULT_BRAND, BrandKit, load_brand_kit
from pixio_ads.composite import (
    ANCHORS,
    DEFAULT_ANCHOR,
    DEFAULT_MARGIN,
    DEFAULT_PRODUCT_SCALE,
    DEFAULT_SHADOW,
    SHADOWS,
    Placement,
    normalise_anchor,
)
from pixio_ads.emoji import EMOJI_FONT_ENV, is_emoji_candidate
from pixio_ads.errors import Issue, ValidationError
from pixio_ads.fileio import sha256_file
from pixio_ads.formats import FORMAT_HELP, AdFormat, parse_format
from pixio_ads.overlay import TextFitError, choose_font, fit_copy, layout_for
from pixio_ads.platforms import (
    CALLS_TO_ACTION,
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    PLATFORM_NAMES,
    PLATFORMS,
    allowed_calls_to_action,
    call_to_action_key,
    check_ad,
    url_problem,
)
from pixio_ads.prompts import available_templates, find_template
from pixio_ads.render import DTYPES, SCHEDULER_NAMES
from pixio_ads.sheets import read_sheet

MULTI_SEPARATOR = ";"
MAX_VARIANTS_PER_COMBINATION = 1000
MODES = ("compose", "inpaint", "restyle", "replace")
DEFAULT_STRENGTH = {"compose": 1.0, "inpaint": 1.0, "restyle": 0.6, "replace": 1.0}
OUTPUT_FORMATS = ("png", "jpeg", "webp")
DEFAULT_QUALITY = 90


# A cell's parser: (text, the row being checked, column name) -> value. It reports what is
# wrong through ``check.problem`` and returns a default, so every problem of a row is found.
Parser = Callable[[str, "RowCheck", str], Any]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool
    meaning: str
    example: str
    parse: Parser = field(default=lambda text, check, column: text, repr=False)  # text as is


def _optional(text: str, check: "RowCheck", column: str) -> str | None:
    return text or None


def _identifier(text: str, check: "RowCheck", column: str) -> str:
    if text and not _ID_PATTERN.match(text):
        fix = "use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        check.problem(column, "identifier has characters that are not allowed", fix, text)
    return text


def _number(kind: type, default, low, high) -> Parser:
    """An optional int or float within [low, high]."""
    return lambda text, check, column: _parse_number(text, kind, default, low, high, column, check.problem)


def _choice(options: tuple[str, ...], default: str | None, lower: bool = True, aliases: dict | None = None) -> Parser:
    """One of ``options`` (case-insensitive unless ``lower`` is False); empty: ``default``."""

    def parse(text: str, check: "RowCheck", column: str) -> str | None:
        value = text.lower() if lower else text
        value = (aliases or {}).get(value, value)
        if not value:
            return default
        if value not in options:
            label = column.replace("_", " ")
            check.problem(column, f"unknown {label} {text!r}", "use one of: " + ", ".join(options), text)
            return default
        return value

    return parse


def _multi(text: str, check: "RowCheck", column: str) -> tuple[str, ...]:
    values = split_multi(text)
    if text and not values:
        message = f"no values in cell (values are separated by '{MULTI_SEPARATOR}')"
        check.problem(column, message, f"write at least one value, e.g. 'a{MULTI_SEPARATOR} b'", text)
    return values


def _formats(text: str, check: "RowCheck", column: str) -> tuple[AdFormat, ...]:
    formats: list[AdFormat] = []
    for item in _multi(text, check, column):
        try:
            fmt = parse_format(item)
        except ValueError as exc:
            check.problem(column, str(exc), FORMAT_HELP, item)
            continue
        if fmt not in formats:
            formats.append(fmt)
    return tuple(formats)


def _anchor(text: str, check: "RowCheck", column: str) -> str:
    if not text:
        return DEFAULT_ANCHOR
    try:
        return normalise_anchor(text)
    except ValueError as exc:
        check.problem(column, str(exc), "use one of: " + ", ".join(ANCHORS), text)
        return DEFAULT_ANCHOR


def _image(text: str, check: "RowCheck", column: str) -> "ImageRef | None":
    if not text:
        return None
    checked = check.campaign.images.check(text)
    if isinstance(checked, _ImageProblem):
        check.problem(column, checked.message, checked.fix, text)
        return None
    return ImageRef(text, *checked)


def _template(text: str, check: "RowCheck", column: str) -> Path | None:
    if not text:
        return None
    found = check.campaign.template(text)
    if found is None:
        choices = ", ".join(available_templates(check.campaign.folder)) or "(none found)"
        fix = f"use one of: {choices}, or add templates/{text}.j2 beside the campaign"
        check.problem(column, f"unknown template {text!r}", fix, text)
    return found


def _link(text: str, check: "RowCheck", column: str) -> str:
    if text and (why := url_problem(text)):
        check.problem(column, why, "write the landing page's full address, e.g. https://example.com/spring", text)
    return text


def _call_to_action(text: str, check: "RowCheck", column: str) -> str:
    """A call to action by name, as the platforms spell it (``Shop now`` -> ``SHOP_NOW``)."""
    key = call_to_action_key(text)
    if text and key not in CALLS_TO_ACTION:
        check.problem(column, f"unknown call to action {text!r}", "use one of: " + ", ".join(CALLS_TO_ACTION), text)
        return ""
    return key


def _platforms(text: str, check: "RowCheck", column: str) -> tuple[str, ...]:
    chosen: list[str] = []
    for item in _multi(text, check, column):
        if item.lower() not in PLATFORMS:
            check.problem(column, f"unknown platform {item!r}", "use one or more of: " + ", ".join(PLATFORMS), item)
        elif item.lower() not in chosen:
            chosen.append(item.lower())
    return tuple(chosen)


def _brand_kit(text: str, check: "RowCheck", column: str) -> BrandKit:
    """The kit; its own problems (file and key) are reported once for the campaign, and the
    row says its kit has problems."""
    if not text:
        return DEFAULT_BRAND
    loaded = check.campaign.brands.load(text)
    if isinstance(loaded, _ImageProblem):
        check.problem(column, loaded.message, loaded.fix, text)
    elif isinstance(loaded, list):
        check.campaign.report_once(loaded)
        check.problem(column, "the brand kit has problems (listed separately)", "fix the brand kit", text)
    else:
        return loaded
    return DEFAULT_BRAND


# The single source of truth for the spreadsheet's columns (docs/spreadsheet.md is generated from it;
# tests/test_docs.py checks that every column is documented).
COLUMNS: tuple[Column, ...] = (
    Column(
        "campaign_id",
        True,
        "Campaign identifier; letters, digits, `.`, `_`, `-`. Used in output paths.",
        "spring-sale-2026",
        parse=_identifier,
    ),
    Column("product_id", True, "Product identifier (same rules as campaign_id).", "bottle-01", parse=_identifier),
    Column("product_name", True, "Product name as templates and copy refer to it.", "Aurora water bottle"),
    Column(
        "product_image",
        True,
        "Product shot, relative to the spreadsheet's folder (PNG/JPEG/WebP; transparency is used).",
        "products/bottle.png",
        parse=_image,
    ),
    Column(
        "template",
        True,
        "Prompt template name: `templates/NAME.j2` beside the campaign, else the built-in one.",
        "lifestyle",
        parse=_template,
    ),
    Column("audiences", True, f"Audiences, separated by `{MULTI_SEPARATOR}`.", "runners; commuters", parse=_multi),
    Column(
        "styles",
        True,
        f"Visual styles, separated by `{MULTI_SEPARATOR}`.",
        "golden hour; minimal studio",
        parse=_multi,
    ),
    Column(
        "formats",
        True,
        f"Ad formats, separated by `{MULTI_SEPARATOR}`: square, portrait, story, landscape or `WxH`.",
        "square; story",
        parse=_formats,
    ),
    Column("headline", True, "Headline copy.", "Hydration, upgraded"),
    Column("cta", True, "Call to action copy.", "Shop now"),
    Column(
        "variants",
        False,
        "Images (seeds) per product x audience x style x format; default 1.",
        "2",
        parse=_number(int, 1, 1, MAX_VARIANTS_PER_COMBINATION),
    ),
    Column(
        "base_seed",
        False,
        "First seed; variants use base_seed, base_seed+1, ... Default: derived from the row's identity.",
        "1234",
        parse=_number(int, None, 0, 2**32 - 1),
    ),
    Column("negative_prompt", False, "What the model should avoid.", "text, watermark, blurry"),
    Column(
        "model",
        False,
        "Model override: local checkpoint folder or hub id (the CLI's --model wins).",
        "stabilityai/sd-turbo",
        parse=_optional,
    ),
    Column("steps", False, "Denoising steps override (1-500).", "25", parse=_number(int, None, 1, 500)),
    Column(
        "guidance",
        False,
        "Classifier-free guidance scale override (0-50).",
        "7.5",
        parse=_number(float, None, 0.0, 50.0),
    ),
    Column(
        "scheduler",
        False,
        "Sampler: " + ", ".join(SCHEDULER_NAMES) + " (`default` = the checkpoint's own).",
        "dpmpp_2m",
        parse=_choice(SCHEDULER_NAMES, None, lower=False),
    ),
    Column("revision", False, "Hub revision (branch, tag or commit) of the model.", "main", parse=_optional),
    Column(
        "dtype",
        False,
        "Weights precision: " + ", ".join(DTYPES) + " (auto = fp16 on CUDA, fp32 otherwise).",
        "fp16",
        parse=_choice(DTYPES, None, lower=False),
    ),
    Column(
        "mode",
        False,
        "`compose` (default: generated scene + product cut-out), `inpaint` (scene painted around the placed product), `restyle` (image-to-image on source_image) or `replace` (repaint the white part of replace_mask).",
        "inpaint",
        parse=_choice(MODES, "compose"),
    ),
    Column(
        "strength",
        False,
        "How much restyle/replace/inpaint may change (0.05-1). Default: 0.6 restyle, 1 otherwise.",
        "0.55",
        parse=_number(float, None, 0.05, 1.0),
    ),
    Column(
        "source_image",
        False,
        "Image that restyle and replace start from (default: product_image).",
        "photos/model.jpg",
        parse=_image,
    ),
    Column(
        "replace_mask",
        False,
        "Mask for `replace`: white = repaint, black = keep; same size as the source image.",
        "photos/model-shirt-mask.png",
        parse=_image,
    ),
    Column(
        "product_mask",
        False,
        "Cut-out mask for the product (white = product), instead of its alpha or the automatic plain-background removal.",
        "products/bottle-mask.png",
        parse=_image,
    ),
    Column(
        "anchor",
        False,
        "Product position in the space between headline and button: " + ", ".join(ANCHORS) + ".",
        "bottom-center",
        parse=_anchor,
    ),
    Column(
        "product_scale",
        False,
        f"Largest share of the canvas the product may fill, 0.05-1 (default {DEFAULT_PRODUCT_SCALE}); it never leaves its safe area.",
        "0.5",
        parse=_number(float, DEFAULT_PRODUCT_SCALE, 0.05, 1.0),
    ),
    Column(
        "margin",
        False,
        f"Clear margin inside the format's safe zone, as a share of the short side, 0-0.2 (default {DEFAULT_MARGIN}).",
        "0.05",
        parse=_number(float, DEFAULT_MARGIN, 0.0, 0.2),
    ),
    Column(
        "shadow",
        False,
        "Shadow under the product: " + ", ".join(SHADOWS) + f" (default {DEFAULT_SHADOW}).",
        "contact",
        parse=_choice(SHADOWS, DEFAULT_SHADOW),
    ),
    Column(
        "harmonize",
        False,
        "Pull the product's colour toward the scene's, 0-1 (default 0; 0.1-0.3 is a light touch). compose mode.",
        "0.2",
        parse=_number(float, 0.0, 0.0, 1.0),
    ),
    Column(
        "brand_kit",
        False,
        "Brand kit YAML/JSON (logo, fonts, colours, button style), relative to the campaign.",
        "brand.yaml",
        parse=_brand_kit,
    ),
    Column(
        "output_format",
        False,
        "File type of the creatives: " + ", ".join(OUTPUT_FORMATS) + " (default png).",
        "jpeg",
        parse=_choice(OUTPUT_FORMATS, "png", aliases={"jpg": "jpeg"}),
    ),
    Column(
        "quality",
        False,
        f"JPEG/WebP quality 1-100 (default {DEFAULT_QUALITY}).",
        "90",
        parse=_number(int, DEFAULT_QUALITY, 1, 100),
    ),
    # Ad platform columns: what `pixio-ads export` writes into the Meta and Google sheets.
    Column(
        "platforms",
        False,
        f"Ad platforms the row is for, separated by `{MULTI_SEPARATOR}`: "
        + ", ".join(PLATFORMS)
        + ". `validate` then checks each platform's limits (copy lengths, image shapes and sizes).",
        "meta; google",
        parse=_platforms,
    ),
    Column("link", False, "Landing page (https URL) the ad opens.", "https://example.com/aurora", parse=_link),
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
        parse=_choice(OBJECTIVES, DEFAULT_OBJECTIVE, aliases={"app promotion": "app_promotion"}),
    ),
    Column(
        "call_to_action",
        False,
        "Button type on the platforms: " + ", ".join(CALLS_TO_ACTION) + ". Default: the cta, when it names one.",
        "SHOP_NOW",
        parse=_call_to_action,
    ),
)
COLUMN_NAMES = {column.name for column in COLUMNS}
REQUIRED_COLUMNS = [column.name for column in COLUMNS if column.required]

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Cells a spreadsheet program would evaluate (CSV/formula injection). We never evaluate them.
_FORMULA_PREFIX = re.compile(r"^[=+\-@\t\r]")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^(www\.)")
_TEXT_COLUMNS = (
    "campaign_id", "product_id", "product_name", "product_image", "template", "audiences",
    "styles", "formats", "headline", "cta", "negative_prompt", "model", "scheduler", "revision", "dtype",
    "mode", "source_image", "replace_mask", "product_mask", "anchor", "shadow", "brand_kit", "output_format",
    "platforms", "link", "primary_text", "description", "display_link", "business_name", "ad_set", "objective",
    "call_to_action",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image the campaign points at: as written, resolved, and its content hash."""

    relative: str
    path: Path
    sha256: str


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One validated product line. ``row`` is the spreadsheet row number (header = 1)."""

    row: int
    campaign_id: str
    product_id: str
    product_name: str
    product_image: str  # as written, relative to the campaign folder
    product_image_path: Path
    product_image_sha256: str
    template: str
    template_path: Path
    audiences: tuple[str, ...]
    styles: tuple[str, ...]
    formats: tuple[AdFormat, ...]
    headline: str
    cta: str
    variants: int = 1
    base_seed: int | None = None
    negative_prompt: str = ""
    model: str | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None
    revision: str | None = None
    dtype: str | None = None
    mode: str = "compose"
    strength: float = 1.0
    source_image: ImageRef | None = None  # restyle/replace; None: the product image
    replace_mask: ImageRef | None = None
    product_mask: ImageRef | None = None
    placement: Placement = Placement()
    brand: BrandKit = DEFAULT_BRAND
    output_format: str = "png"
    quality: int = DEFAULT_QUALITY
    # for the ad platforms (platforms.py); none of these changes the pixels
    platforms: tuple[str, ...] = ()
    link: str = ""
    primary_text: str = ""
    description: str = ""
    display_link: str = ""
    business_name: str = ""
    ad_set: str = ""
    objective: str = DEFAULT_OBJECTIVE
    call_to_action: str = ""  # a key of platforms.CALLS_TO_ACTION; "" when no platform needs one


@dataclass(slots=True)
class Campaign:
    path: Path
    rows: list[CampaignRow]
    warnings: list[str] = field(default_factory=list)
    sheet: str | None = None

    @property
    def folder(self) -> Path:
        return self.path.parent


def split_multi(cell: str) -> tuple[str, ...]:
    """``"square; story"`` -> ``("square", "story")``. The one way multi-valued cells are split."""
    return tuple(part.strip() for part in cell.split(MULTI_SEPARATOR) if part.strip())


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file. Raises ValidationError listing every problem."""
    path = Path(path)
    sheet = read_sheet(path, [column.name for column in COLUMNS])
    rows, notes = _validate(path, sheet.frame, sheet.header_row)
    return Campaign(path=path, rows=rows, warnings=sheet.warnings + notes, sheet=sheet.name)


# --- validation --------------------------------------------------------------------------


class CampaignCheck:
    """What the rows of one file share while they are validated: the folder, images,
    templates and brand kits (each checked once), and problems reported once per file."""

    def __init__(self, path: Path):
        self.file = str(path)
        self.folder = path.parent.resolve()
        self.images = _ImageChecker(self.file, self.folder)
        self.brands = _BrandKits(self.folder)
        self.issues: list[Issue] = []
        self.notes: list[str] = []  # warnings about rows that are valid
        self._templates: dict[str, Path | None] = {}

    def template(self, name: str) -> Path | None:
        if name not in self._templates:
            self._templates[name] = find_template(name, self.folder)
        return self._templates[name]

    def report_once(self, issues: list[Issue]) -> None:
        self.issues.extend(issue for issue in issues if issue not in self.issues)


@dataclass
class RowCheck:
    """One row being validated: its number (header = 1) and the problems found in it."""

    campaign: CampaignCheck
    row: int
    issues: list[Issue] = field(default_factory=list)

    def problem(self, column: str, message: str, fix: str, value: str | None = None) -> None:
        self.issues.append(Issue(self.campaign.file, message, fix, row=self.row, column=column, value=value))

    def warn(self, column: str, message: str) -> None:
        """Something a valid row will do that its author may not expect."""
        self.campaign.notes.append(f"{self.campaign.file}, row {self.row}, column '{column}': {message}")


def _validate(path: Path, frame: pd.DataFrame, header_row: int = 1) -> tuple[list[CampaignRow], list[str]]:
    campaign = CampaignCheck(path)
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        fix = "add a column named {!r} to the header row (row %d)" % header_row
        raise ValidationError(
            [
                Issue(campaign.file, f"required column {n!r} is missing", fix.format(n), row=header_row, column=n)
                for n in missing
            ]
        )
    known = [name for name in frame.columns if name in COLUMN_NAMES]
    rows: list[CampaignRow] = []
    for index, record in enumerate(frame[known].to_dict("records")):
        check = RowCheck(campaign, row=index + header_row + 1)
        row = _validate_row(record, check)
        campaign.issues.extend(check.issues)
        if row is not None:
            rows.append(row)
    if campaign.issues:
        raise ValidationError(campaign.issues)
    if not rows:
        raise ValidationError(
            [Issue(campaign.file, "the campaign has no product rows", "add at least one row under the header")]
        )
    return rows, campaign.images.notes + campaign.notes


def _validate_row(record: dict, check: RowCheck) -> CampaignRow | None:
    """Every column through its parser, then the checks across columns; None when the row
    is empty or has problems (they are in ``check.issues``)."""
    cells = {name: str(value).strip() for name, value in record.items()}
    if not any(cells.values()):
        return None  # empty rows are skipped
    _reject_control_characters(cells, check)
    _reject_formulas(record, cells, check)
    for name in REQUIRED_COLUMNS:
        if not cells[name] and not any(issue.column == name for issue in check.issues):
            check.problem(name, "required cell is empty", f"fill in {name}")
    values = {column.name: column.parse(cells.get(column.name, ""), check, column.name) for column in COLUMNS}
    if values["strength"] is None:
        values["strength"] = DEFAULT_STRENGTH[values["mode"]]
    refs = {name: values[name] for name in ("source_image", "replace_mask", "product_mask") if values[name]}
    product_image = values["product_image"].path if values["product_image"] else check.campaign.folder
    _check_mode_inputs(values["mode"], cells, refs, product_image, check.problem)
    values["call_to_action"] = _check_platforms(values, cells, check)
    placement = Placement(
        anchor=values.pop("anchor"),
        scale=values.pop("product_scale"),
        margin=values.pop("margin"),
        shadow=values.pop("shadow"),
        harmonize=values.pop("harmonize"),
    )
    if not check.issues:  # copy must fit every format at a legible size; checked before any rendering
        _check_copy_fits(cells, values["formats"], placement, values["brand_kit"], check)
        _note_missing_glyphs(cells, values["brand_kit"], check)
    if check.issues:
        return None
    image, template_path, brand = values.pop("product_image"), values.pop("template"), values.pop("brand_kit")
    return CampaignRow(
        row=check.row,
        product_image=image.relative,
        product_image_path=image.path,
        product_image_sha256=image.sha256,
        template=cells["template"],
        template_path=template_path,
        placement=placement,
        brand=brand,
        **values,
    )


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _reject_control_characters(cells: dict[str, str], check: RowCheck) -> None:
    """Control characters (NUL, escape, ...) are invisible in most editors and meaningless in
    copy and paths: reported by code point, and the cell treated as empty."""
    for name, value in cells.items():
        if found := sorted(set(_CONTROL.findall(value))):
            codes = ", ".join(f"U+{ord(char):04X}" for char in found)
            check.problem(
                name,
                f"cell contains control characters ({codes})",
                "delete them from the cell",
                value.encode("unicode_escape").decode()[:80],
            )
            cells[name] = ""


def _reject_formulas(record: dict, cells: dict[str, str], check: RowCheck) -> None:
    """Cells a spreadsheet program would evaluate are reported and treated as empty."""
    for name in _TEXT_COLUMNS:
        if _FORMULA_PREFIX.match(str(record.get(name, ""))):
            fix = "remove the leading =, +, - or @ (write the text itself)"
            check.problem(
                name, "cell looks like a spreadsheet formula and is never evaluated", fix, cells.get(name, "")
            )
            cells[name] = ""


def _check_copy_fits(
    cells: dict, formats: tuple[AdFormat, ...], placement: Placement, brand: BrandKit, check: RowCheck
) -> None:
    for fmt in formats:
        try:
            fit_copy(cells["headline"], cells["cta"], layout_for(fmt, placement.margin, brand), brand, check_only=True)
        except TextFitError as exc:
            for name, message in exc.failures:
                if name == "ai_label":  # the brand kit's label text
                    fix = "shorten the brand kit's ai_label text"
                    check.problem(
                        "brand_kit",
                        f"ai_label.text: {message} (format {fmt.name})",
                        fix,
                        cells.get("brand_kit") or None,
                    )
                else:
                    fix = f"shorten the {name}, or use a narrower font in the brand kit"
                    check.problem(name, f"{message} (format {fmt.name})", fix, cells[name])


def _note_missing_glyphs(cells: dict, brand: BrandKit, check: RowCheck) -> None:
    """Characters no font of the kit can draw (emoji without a colour emoji font, scripts the
    fonts lack) are left out of the creative: a warning names them, the row and the column,
    before anything renders."""
    for name, fonts in (("headline", brand.headline_fonts), ("cta", brand.cta_fonts)):
        _, _, missing = choose_font(cells[name], fonts, brand.emoji_path)
        if missing:
            listed = " ".join(f"{char} (U+{ord(char):04X})" for char in missing)
            fix = "add a font that has them to the brand kit"
            if not brand.emoji_font and any(is_emoji_candidate(char) for char in missing):
                fix += (
                    "; for emoji, install a colour emoji font (Debian/Ubuntu: fonts-noto-color-emoji) "
                    f"or name one as fonts.emoji in the brand kit or in {EMOJI_FONT_ENV}"
                )
            check.warn(name, f"no font of the brand kit has {listed}; they are left out of the creative ({fix})")


def _check_platforms(values: dict, cells: dict, check: RowCheck) -> str:
    """The row against each platform it names; returns its call to action (from the cta when
    the call_to_action cell is empty and the cta names one, e.g. "Shop now")."""
    platforms, key = values["platforms"], values["call_to_action"]
    if not platforms:
        return key
    if not key and not cells.get("call_to_action"):
        derived = call_to_action_key(cells["cta"])
        key = derived if derived in CALLS_TO_ACTION else ""
        if not key:
            check.problem(
                "call_to_action",
                f"the cta {cells['cta']!r} names no platform call to action",
                "add a call_to_action cell, one of: " + ", ".join(_allowed_everywhere(platforms)),
                None,
            )
    for platform in platforms:
        if key and key not in allowed_calls_to_action(platform):
            check.problem(
                "call_to_action",
                f"{PLATFORM_NAMES[platform]} has no call to action {key}",
                "use one of: " + ", ".join(allowed_calls_to_action(platform)),
                cells.get("call_to_action") or cells["cta"],
            )
    check_ad(platforms, cells, values["formats"], check.problem, check.warn)
    return key


def _allowed_everywhere(platforms: tuple[str, ...]) -> list[str]:
    return [key for key in CALLS_TO_ACTION if all(key in allowed_calls_to_action(p) for p in platforms)]


def _check_mode_inputs(mode: str, cells: dict, refs: dict, product_image: Path, problem) -> None:
    """Which images each mode needs, and that a replace mask matches its source's size."""
    if mode != "replace" and cells.get("replace_mask"):
        problem(
            "replace_mask",
            f"a replace mask is only used by mode 'replace' (this row's mode is {mode!r})",
            "set mode to replace or clear the cell",
            cells["replace_mask"],
        )
    if mode in ("compose", "inpaint") and cells.get("source_image"):
        problem(
            "source_image",
            f"mode {mode!r} composites product_image and ignores source_image",
            "set mode to restyle or replace, or clear the cell",
            cells["source_image"],
        )
    if mode == "replace" and not cells.get("replace_mask"):
        problem(
            "replace_mask",
            "mode 'replace' needs a mask",
            "add a PNG the size of the source image: white where the prompt repaints, black where it keeps",
        )
    if mode == "replace" and "replace_mask" in refs:
        source = refs["source_image"].path if "source_image" in refs else product_image
        mask_size = _image_size(refs["replace_mask"].path)
        source_size = _image_size(source) if source.is_file() else mask_size
        if source_size != mask_size:
            problem(
                "replace_mask",
                f"mask is {mask_size} px but the source image is {source_size} px",
                "export the mask at the source image's size",
                cells["replace_mask"],
            )


@lru_cache(maxsize=256)
def _image_size(path: Path) -> tuple[int, int]:
    """Upright size, as the pipeline will see it (EXIF orientation applied); decoded once per
    file, however many rows share the source or the mask."""
    return images.open_image(path).size


def _parse_number(text, kind, default, low, high, column, problem):
    """Parse an optional int/float cell within [low, high]; report and return default on error.
    Excel hands whole numbers back as '4.0', which is accepted for integers."""
    if not text:
        return default
    try:
        value = float(text)
        if kind is int:
            if not value.is_integer():
                raise ValueError
            value = int(value)
    except ValueError:
        problem(
            column,
            f"not a{'n integer' if kind is int else ' number'}",
            f"write a number between {low} and {high}",
            text,
        )
        return default
    if not low <= value <= high:
        problem(column, f"out of range {low}-{high}", f"write a number between {low} and {high}", text)
        return default
    return value


@dataclass(frozen=True, slots=True)
class _ImageProblem:  # also used for brand kit paths
    message: str
    fix: str


class _ImageChecker:
    """Checks product image paths once per distinct value (50,000 rows often share a few images)."""

    def __init__(self, file: str, folder: Path):
        self.file = file
        self.folder = folder
        self.cache: dict[str, tuple[Path, str] | _ImageProblem] = {}
        self.notes: list[str] = []  # warnings: what is used of a file, once per file

    def check(self, relative: str) -> tuple[Path, str] | _ImageProblem:
        """(resolved path, sha256) when the image is usable."""
        if relative not in self.cache:
            self.cache[relative] = self._check(relative)
        return self.cache[relative]

    def _check(self, relative: str) -> tuple[Path, str] | _ImageProblem:
        path = _locate(self.folder, relative, "image", "products/bottle.png")
        if isinstance(path, _ImageProblem):
            return path
        try:
            found = images.inspect(path)
        except images.ImageProblem as exc:
            return _ImageProblem(f"{exc.message} ({relative})", exc.fix)
        if found.frames > 1:
            self.notes.append(f"{self.file}: {relative} has {found.frames} frames or pages; the first is used")
        return (path, sha256_file(path))


def _locate(folder: Path, relative: str, what: str, example: str) -> Path | _ImageProblem:
    """A file named relative to the campaign folder, which it may not leave."""
    if _URL.match(relative):
        return _ImageProblem(
            f"{what} must be a file beside the campaign, not a URL",
            "download it into the campaign folder and give its relative path",
        )
    if Path(relative).is_absolute() or PureWindowsPath(relative).is_absolute() or PureWindowsPath(relative).drive:
        return _ImageProblem(
            f"{what} path is absolute", f"give the path relative to the campaign file's folder, e.g. {example}"
        )
    try:
        path = (folder / relative).resolve()
        inside, exists = path.is_relative_to(folder), path.is_file()
    except (OSError, ValueError) as exc:  # a name too long for the file system, an embedded NUL
        return _ImageProblem(
            f"{what} path cannot be used ({exc.__class__.__name__}: {exc})",
            f"give a shorter, plain relative path, e.g. {example}",
        )
    if not inside:
        return _ImageProblem(
            f"{what} path leaves the campaign folder",
            f"move the {what} inside the campaign folder and use a relative path without '..'",
        )
    if not exists:
        return _ImageProblem(f"{what} file not found", f"put the {what} at {path} or correct the path")
    return path


class _BrandKits:
    """Loads each brand kit named in the campaign once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.cache: dict[str, BrandKit | list[Issue] | _ImageProblem] = {}

    def load(self, relative: str) -> BrandKit | list[Issue] | _ImageProblem:
        if relative not in self.cache:
            path = _locate(self.folder, relative, "brand kit", "brand.yaml")
            if isinstance(path, _ImageProblem):
                self.cache[relative] = path
            elif path.suffix.lower() not in BRAND_SUFFIXES:
                self.cache[relative] = _ImageProblem(
                    "brand kit must be a .yaml, .yml or .json file", "point the column at the brand kit file"
                )
            else:
                try:
                    self.cache[relative] = load_brand_kit(path)
                except ValidationError as exc:
                    self.cache[relative] = exc.issues
        return self.cache[relative]
