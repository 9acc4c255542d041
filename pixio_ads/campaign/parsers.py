"""Parsers of the spreadsheet's cells, one per kind of column (columns.py names which).

Each takes (text, the row being checked, column name) and returns the value; what is wrong is
reported through ``check.problem`` and a default returned, so every problem of a row is found.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixio_ads.campaign.assets import ImageProblem
from pixio_ads.campaign.checks import RowCheck
from pixio_ads.campaign.platforms import (
    CALLS_TO_ACTION,
    PLATFORMS,
    call_to_action_key,
    url_problem,
)
from pixio_ads.campaign.prompts import available_templates
from pixio_ads.campaign.rows import (
    MULTI_SEPARATOR,
    ImageRef,
    split_multi,
)
from pixio_ads.core.formats import FORMAT_HELP, AdFormat, parse_format
from pixio_ads.creative.brand import DEFAULT_BRAND, BrandKit
from pixio_ads.creative.composite import (
    ANCHORS,
    DEFAULT_ANCHOR,
    normalise_anchor,
)

# A cell's parser: (text, the row being checked, column name) -> value. It reports what is
# wrong through ``check.problem`` and returns a default, so every problem of a row is found.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Parser = Callable[[str, "RowCheck", str], Any]


@dataclass(frozen=True, slots=True)
class Column:
    """A spreadsheet column: its name, whether it is required, its help text and parser."""

    name: str
    required: bool
    meaning: str
    example: str
    parse: Parser = field(default=lambda text, check, column: text, repr=False)  # text as is


def optional(text: str, check: "RowCheck", column: str) -> str | None:
    return text or None


def identifier(text: str, check: "RowCheck", column: str) -> str:
    if text and not _ID_PATTERN.match(text):
        fix = "use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        check.problem(column, "identifier has characters that are not allowed", fix, text)
    return text


def number(kind: type, default, low, high) -> Parser:
    """An optional int or float within [low, high]."""
    return lambda text, check, column: parse_number(text, kind, default, low, high, column, check.problem)


def choice(options: tuple[str, ...], default: str | None, lower: bool = True, aliases: dict | None = None) -> Parser:
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


def multi(text: str, check: "RowCheck", column: str) -> tuple[str, ...]:
    values = split_multi(text)
    if text and not values:
        message = f"no values in cell (values are separated by '{MULTI_SEPARATOR}')"
        check.problem(column, message, f"write at least one value, e.g. 'a{MULTI_SEPARATOR} b'", text)
    return values


def formats(text: str, check: "RowCheck", column: str) -> tuple[AdFormat, ...]:
    formats: list[AdFormat] = []
    for item in multi(text, check, column):
        try:
            fmt = parse_format(item)
        except ValueError as exc:
            check.problem(column, str(exc), FORMAT_HELP, item)
            continue
        if fmt not in formats:
            formats.append(fmt)
    return tuple(formats)


def anchor(text: str, check: "RowCheck", column: str) -> str:
    if not text:
        return DEFAULT_ANCHOR
    try:
        return normalise_anchor(text)
    except ValueError as exc:
        check.problem(column, str(exc), "use one of: " + ", ".join(ANCHORS), text)
        return DEFAULT_ANCHOR


def image(text: str, check: "RowCheck", column: str) -> "ImageRef | None":
    if not text:
        return None
    checked = check.campaign.images.check(text)
    if isinstance(checked, ImageProblem):
        check.problem(column, checked.message, checked.fix, text)
        return None
    return ImageRef(text, *checked)


def template(text: str, check: "RowCheck", column: str) -> Path | None:
    if not text:
        return None
    found = check.campaign.template(text)
    if found is None:
        choices = ", ".join(available_templates(check.campaign.folder)) or "(none found)"
        fix = f"use one of: {choices}, or add templates/{text}.j2 beside the campaign"
        check.problem(column, f"unknown template {text!r}", fix, text)
    return found


def link(text: str, check: "RowCheck", column: str) -> str:
    if text and (why := url_problem(text)):
        check.problem(column, why, "write the landing page's full address, e.g. https://example.com/spring", text)
    return text


def call_to_action(text: str, check: "RowCheck", column: str) -> str:
    """A call to action by name, as the platforms spell it (``Shop now`` -> ``SHOP_NOW``)."""
    key = call_to_action_key(text)
    if text and key not in CALLS_TO_ACTION:
        check.problem(column, f"unknown call to action {text!r}", "use one of: " + ", ".join(CALLS_TO_ACTION), text)
        return ""
    return key


def platforms(text: str, check: "RowCheck", column: str) -> tuple[str, ...]:
    chosen: list[str] = []
    for item in multi(text, check, column):
        if item.lower() not in PLATFORMS:
            check.problem(column, f"unknown platform {item!r}", "use one or more of: " + ", ".join(PLATFORMS), item)
        elif item.lower() not in chosen:
            chosen.append(item.lower())
    return tuple(chosen)


def brand_kit(text: str, check: "RowCheck", column: str) -> BrandKit:
    """The kit; its own problems (file and key) are reported once for the campaign, and the
    row says its kit has problems."""
    if not text:
        return DEFAULT_BRAND
    loaded = check.campaign.brands.load(text)
    if isinstance(loaded, ImageProblem):
        check.problem(column, loaded.message, loaded.fix, text)
    elif isinstance(loaded, list):
        check.campaign.report_once(loaded)
        check.problem(column, "the brand kit has problems (listed separately)", "fix the brand kit", text)
    else:
        return loaded
    return DEFAULT_BRAND


def parse_number(text, kind, default, low, high, column, problem):
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
