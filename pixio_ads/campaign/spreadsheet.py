"""Campaign spreadsheets: validate every cell (reading is sheets.py), return typed rows.

The column table ``COLUMNS`` drives validation: each column declares its parser (numbers
with their limits, choices, identifiers, images, templates, brand kits); a row is a loop
over the table, then the checks across columns (mode inputs, copy fit).

All problems are collected before failing, each naming the file, the row as Excel shows
it (header = row 1), the column, the bad value and how to fix it.
"""

from __future__ import annotations

import re
from itertools import zip_longest
from pathlib import Path

from pixio_ads.campaign.adapters import resolve_adapters
from pixio_ads.campaign.adsettings import SETTING_COLUMNS
from pixio_ads.campaign.adsettings import resolve as resolve_ad_settings
from pixio_ads.campaign.assets import cutout_problem_of, image_size
from pixio_ads.campaign.catalogue import load_feed_campaign
from pixio_ads.campaign.checks import RowCheck
from pixio_ads.campaign.columns import COLUMNS, KNOWN_COLUMNS, REQUIRED_COLUMNS
from pixio_ads.campaign.columns_video import check_motion
from pixio_ads.campaign.copy import LanguageCopy, column_name, copy_columns_in, parse_languages, read_copy
from pixio_ads.campaign.deliverables import resolve_deliverables
from pixio_ads.campaign.feeds import looks_like_feed
from pixio_ads.campaign.platforms import (
    CALLS_TO_ACTION,
    PLATFORM_NAMES,
    allowed_calls_to_action,
    call_to_action_key,
    check_ad,
)
from pixio_ads.campaign.rowpool import validate_records
from pixio_ads.campaign.rows import DEFAULT_STRENGTH, Campaign, CampaignRow
from pixio_ads.campaign.sheets import read_sheet
from pixio_ads.core.errors import Issue, ValidationError
from pixio_ads.core.formats import AdFormat
from pixio_ads.core.storage import fetch_input
from pixio_ads.creative.brand import BrandKit
from pixio_ads.creative.composite import (
    Placement,
)
from pixio_ads.creative.emoji import EMOJI_FONT_ENV, is_emoji_candidate
from pixio_ads.creative.overlay import copy_fonts, fit_copy, layout_for
from pixio_ads.creative.scripts import is_rtl, package_for, script_of
from pixio_ads.creative.textfit import TextFitError
from pixio_ads.creative.typeface import choose_font


def load_campaign(path: str | Path, recipe: str | Path | None = None) -> Campaign:
    """Read and validate a campaign file (a path, or an fsspec URL: fetched with its folder,
    storage.fetch_input), or a catalogue feed with the recipe that makes its rows
    (catalogue.py). Raises ValidationError listing every problem."""
    if recipe is not None or looks_like_feed(Path(str(path))):
        return load_feed_campaign(path, recipe, _validate_records)
    path, sheet, records, first_row = read_records(path)
    rows, notes = _validate(path, records, first_row)
    return Campaign(path=path, rows=rows, warnings=sheet.warnings + notes, sheet=sheet.name)


def _validate_records(path: Path, records: list[dict], first_row: int):
    """(rows, problems, notes) of the records through validate_row (a sheet's, or a feed's rows)."""
    rows, issues, image_notes, notes = validate_records(path, records, first_row, validate_row)
    return rows, issues, image_notes + notes


def read_records(path: str | Path):
    """(local path, sheet, the rows' cells by known column, the first row's number as the
    spreadsheet shows it); a missing required column is a ValidationError naming it."""
    path = fetch_input(path, with_folder=True)
    sheet = read_sheet(path, KNOWN_COLUMNS)
    frame, header_row = sheet.frame, sheet.header_row
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        fix = "add a column named {!r} to the header row (row %d)" % header_row
        raise ValidationError(
            [
                Issue(str(path), f"required column {n!r} is missing", fix.format(n), row=header_row, column=n)
                for n in missing
            ]
        )
    known = [name for name in frame.columns if name in KNOWN_COLUMNS]
    return path, sheet, frame[known].to_dict("records"), header_row + 1


# --- validation --------------------------------------------------------------------------


# Cells a spreadsheet program would evaluate (CSV/formula injection). We never evaluate them.
_FORMULA_PREFIX = re.compile(r"^[=+\-@\t\r]")
_TEXT_COLUMNS = (
    "campaign_id", "product_id", "product_name", "product_image", "template", "audiences",
    "styles", "formats", "headline", "cta", "negative_prompt", "model", "scheduler", "revision", "vae", "dtype",
    "mode", "source_image", "replace_mask", "product_mask", "anchor", "shadow", "brand_kit", "output_format",
    "platforms", "link", "primary_text", "description", "display_link", "business_name", "ad_set", "objective",
    "call_to_action", "deliverables", "cutout", "source_has_copy", "lora", "ip_adapter", "edit_keep_product",
    *SETTING_COLUMNS,
)  # fmt: skip


def _validate(path: Path, records: list[dict], first_row: int) -> tuple[list[CampaignRow], list[str]]:
    rows, issues, notes = _validate_records(path, records, first_row)
    if issues:
        raise ValidationError(issues)
    if not rows:
        raise ValidationError([no_rows_issue(path)])
    return rows, notes


def no_rows_issue(path: Path) -> Issue:
    return Issue(str(path), "the campaign has no product rows", "add at least one row under the header")


def validate_row(record: dict, check: RowCheck) -> CampaignRow | None:
    """Every column through its parser, then the checks across columns; None when the row
    is empty or has problems (they are in ``check.issues``)."""
    cells = {name: str(value).strip() for name, value in record.items()}
    if not any(cells.values()):
        return None  # empty rows are skipped
    _reject_control_characters(cells, check)
    _reject_formulas(record, cells, check, copy_columns_in(cells))
    for name in REQUIRED_COLUMNS:
        if not cells[name] and not any(issue.column == name for issue in check.issues):
            check.problem(name, "required cell is empty", f"fill in {name}")
    values = {column.name: column.parse(cells.get(column.name, ""), check, column.name) for column in COLUMNS}
    if values["strength"] is None:
        values["strength"] = DEFAULT_STRENGTH[values["mode"]]
    refs = {name: values[name] for name in ("source_image", "replace_mask", "product_mask") if values[name]}
    product_image = values["product_image"].path if values["product_image"] else check.campaign.folder
    _check_mode_inputs(values["mode"], cells, refs, product_image, check.problem)
    _check_cutout(values, cells, check.problem)
    check_motion(values, cells, check)
    resolve_adapters(values, cells, check)  # the kit's adapters and the row's, for the row's model
    values["languages"] = parse_languages(values["languages"], check.problem)
    values["copy"] = read_copy(cells, values["languages"], check.problem)
    values["call_to_action"] = _check_platforms(values, cells, check)
    values.pop("languages")  # each language's copy is in values["copy"]
    values["ad_settings"] = _ad_settings(values, cells, check)
    placement = Placement(
        anchor=values.pop("anchor"),
        scale=values.pop("product_scale"),
        margin=values.pop("margin"),
        shadow=values.pop("shadow"),
        harmonize=values.pop("harmonize"),
    )
    if not check.issues:  # copy must fit every format at a legible size; checked before any rendering
        _note_missing_glyphs(values["copy"], values["brand_kit"], check)
    if not check.issues:
        _check_copy_fits(values["copy"], values["formats"], placement, values["brand_kit"], check)
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


def _reject_formulas(record: dict, cells: dict[str, str], check: RowCheck, copy_columns: list[str]) -> None:
    """Cells a spreadsheet program would evaluate are reported and treated as empty."""
    for name in dict.fromkeys([*_TEXT_COLUMNS, *copy_columns]):
        if _FORMULA_PREFIX.match(str(record.get(name, ""))):
            fix = "remove the leading =, +, - or @ (write the text itself)"
            check.problem(
                name, "cell looks like a spreadsheet formula and is never evaluated", fix, cells.get(name, "")
            )
            cells[name] = ""


def _check_copy_fits(
    copies: tuple[LanguageCopy, ...], formats: tuple[AdFormat, ...], placement: Placement, brand: BrandKit, check
) -> None:
    """Every headline and CTA option of every language fits every format (each is fitted
    alone, so a headline option is checked once, not once per CTA option)."""
    for index, copy in enumerate(copies):
        tag = None if index == 0 else copy.language
        pairs = list(zip_longest(copy.headlines, copy.ctas))
        for fmt in formats:
            plan = layout_for(fmt, placement.margin, brand, is_rtl(copy.headlines[0]))
            for number, (headline, cta) in enumerate(pairs, start=1):
                try:
                    fit_copy(headline or copy.headlines[0], cta or copy.ctas[0], plan, brand, True, copy.language)
                except TextFitError as exc:
                    _copy_fit_problems(exc, fmt, number, tag, headline, cta, check)


def _copy_fit_problems(exc: TextFitError, fmt: AdFormat, number: int, tag, headline, cta, check) -> None:
    for name, message in exc.failures:
        if name == "ai_label":  # the brand kit's label text
            if number == 1:
                fix = "shorten the brand kit's ai_label text (or its translation)"
                check.problem("brand_kit", f"ai_label: {message} (format {fmt.name})", fix, None)
        elif (headline if name == "headline" else cta) is not None:
            column = column_name(name, number, tag)
            fix = f"shorten the {name}, or use a narrower font in the brand kit"
            check.problem(column, f"{message} (format {fmt.name})", fix, headline if name == "headline" else cta)


def _note_missing_glyphs(copies: tuple[LanguageCopy, ...], brand: BrandKit, check: RowCheck) -> None:
    """Characters no font can draw are left out of the creative. Letters of a script with no
    installed font are an error naming the font package to install; emoji without a colour
    emoji font a warning (they are left out). Both name the row and the column."""
    for index, copy in enumerate(copies):
        tag = None if index == 0 else copy.language
        for kind, fonts in (("headline", brand.headline_fonts), ("cta", brand.cta_fonts)):
            for number, text in enumerate(copy.options(kind), start=1):
                if text.isascii():  # the bundled font draws all of printable ASCII
                    continue
                _, _, missing = choose_font(text, copy_fonts(text, fonts, brand, copy.language), brand.emoji_path)
                if missing:
                    _missing_glyphs(column_name(kind, number, tag), missing, brand, check)


def _missing_glyphs(column: str, missing: str, brand: BrandKit, check: RowCheck) -> None:
    letters = {char: script for char in missing if (script := script_of(char))}
    if letters:
        listed = " ".join(f"{char} (U+{ord(char):04X})" for char in sorted(letters))
        scripts = sorted(set(letters.values()))
        packages = " or ".join(sorted({package_for(script) for script in scripts}))
        fix = (
            f"install a font for {', '.join(scripts)} (Debian/Ubuntu: apt-get install {packages}; `make install-system` "
            f"does), or name one in the brand kit's fonts.scripts.{scripts[0]}"
        )
        check.problem(column, f"no installed font draws {listed}", fix, None)
    rest = "".join(char for char in missing if char not in letters)
    if rest:
        listed = " ".join(f"{char} (U+{ord(char):04X})" for char in rest)
        fix = "add a font that has them to the brand kit"
        if not brand.emoji_font and any(is_emoji_candidate(char) for char in rest):
            fix += (
                "; for emoji, install a colour emoji font (Debian/Ubuntu: fonts-noto-color-emoji) "
                f"or name one as fonts.emoji in the brand kit or in {EMOJI_FONT_ENV}"
            )
        check.warn(column, f"no font of the brand kit has {listed}; they are left out of the creative ({fix})")


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
    check_ad(platforms, cells, values["formats"], check.problem, check.warn, values["languages"])
    if "pmax" in platforms and values["brand_kit"].logo is None:
        fix = "give the row a brand_kit with a logo (square or 4:1; a square copy is made for Google)"
        check.problem("brand_kit", "Performance Max asset groups need a logo", fix, cells.get("brand_kit") or None)
    return key


def _ad_settings(values: dict, cells: dict, check: RowCheck) -> str:
    """The row's campaign and ad set settings (adsettings.py), their columns taken out of
    ``values``; ``values["deliverables"]`` becomes the files the row writes (deliverables.py)
    and each platform's image goes into its settings."""
    for column in SETTING_COLUMNS:
        values.pop(column)
    platforms, kit = values["platforms"], values["brand_kit"].ads
    deliverables = resolve_deliverables(values["deliverables"], platforms, kit, check.problem)
    values["deliverables"] = deliverables.files
    return resolve_ad_settings(platforms, cells, kit, values["objective"], check.problem, deliverables.per_platform)


def _allowed_everywhere(platforms: tuple[str, ...]) -> list[str]:
    return [key for key in CALLS_TO_ACTION if all(key in allowed_calls_to_action(p) for p in platforms)]


def _check_cutout(values: dict, cells: dict, problem) -> None:
    """The cutout choice against the mask, and a product shot whose automatic cut-out would
    keep only a fragment of it (a product filling its frame on a neutral border)."""
    mode, mask, image = values["cutout"], values["product_mask"], values["product_image"]
    if mode == "mask" and not mask:
        problem(
            "cutout",
            "cutout mask needs a product_mask",
            "add a product_mask (white = product) or set cutout to auto",
            cells.get("cutout"),
        )
    elif mode == "none" and mask:
        fix = "clear the product_mask, or set cutout to mask"
        problem(
            "product_mask",
            "cutout none pastes the image as it is and ignores the mask",
            fix,
            cells.get("product_mask"),
        )
    elif mode == "auto" and not mask and image and values["mode"] in ("compose", "inpaint"):
        if found := cutout_problem_of(image.path, image.sha256):
            fix = "give a product_mask or a PNG with transparency, or set cutout to none if the whole image is the product"
            problem("product_image", f"{image.relative}: {found.split(':')[0]}", fix, cells["product_image"])


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
            "set mode to restyle, replace or expand, or clear the cell",
            cells["source_image"],
        )
    if mode != "expand" and cells.get("source_has_copy", "").lower() == "yes":
        problem(
            "source_has_copy",
            f"only mode 'expand' draws a source's own copy (this row's mode is {mode!r})",
            "set mode to expand or clear the cell",
            cells["source_has_copy"],
        )
    if mode == "replace" and not cells.get("replace_mask"):
        problem(
            "replace_mask",
            "mode 'replace' needs a mask",
            "add a PNG the size of the source image: white where the prompt repaints, black where it keeps",
        )
    if mode == "replace" and "replace_mask" in refs:
        source = refs["source_image"].path if "source_image" in refs else product_image
        mask_size = image_size(refs["replace_mask"].path)
        source_size = image_size(source) if source.is_file() else mask_size
        if source_size != mask_size:
            problem(
                "replace_mask",
                f"mask is {mask_size} px but the source image is {source_size} px",
                "export the mask at the source image's size",
                cells["replace_mask"],
            )
