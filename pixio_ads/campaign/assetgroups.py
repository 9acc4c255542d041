"""What a Performance Max asset group needs: how many of each text asset, and their lengths.

Figures from the Google Ads API guide "Performance Max asset requirements"
(developers.google.com/google-ads/api/performance-max/asset-requirements): 3-15 headlines
(30 characters, at least one of 15 or fewer), 1-5 long headlines (90), 2-5 descriptions (90, at
least one of 60 or fewer), one business name (25), 1-20 landscape and 1-20 square images
(portrait 4:5 and tall 9:16 optional), 20 images in all, 1-5 logos. ``check_asset_group`` applies
the counts to one campaign row per language at ``validate``; the lengths are platforms.py's
TEXT_LIMITS; the pmax export (delivery/pmax_sheet.py) keeps to the maximums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pixio_ads.campaign.copy import MAX_OPTIONS, column_name, copy_column

Problem = Callable[[str, str, str, "str | None"], None]  # (column, message, fix, value)


@dataclass(frozen=True, slots=True)
class TextAsset:
    kind: str  # the copy column that feeds it
    name: str  # Google's name, plural
    minimum: int
    maximum: int
    short: int | None  # at least one of this length or less (display width), when set


TEXT_ASSETS = (
    TextAsset("headline", "headlines", 3, 15, 15),
    TextAsset("primary_text", "long headlines", 1, 5, None),
    TextAsset("description", "descriptions", 2, 5, 60),
)
MAX_IMAGES = 20
MAX_LOGOS = 5


def options_of(cells: dict[str, str], kind: str, language: str | None) -> list[tuple[str, str]]:
    """(column, text) of the language's filled options of ``kind``, in option order."""
    found = []
    for name, text in cells.items():
        parsed = copy_column(name)
        if parsed and parsed[0] == kind and parsed[2] == language and text.strip():
            found.append((parsed[1], name, text.strip()))
    return [(name, text) for _, name, text in sorted(found)]


def check_asset_group(cells: dict[str, str], languages: tuple[str, ...], problem: Problem, width) -> None:
    """The row's copy against an asset group's minimums, per language (``width``: Google's
    display width). A long headline falls back to the headline, as the other exports do."""
    for index, language in enumerate(languages or ("",)):
        tag = language if index else None
        for asset in TEXT_ASSETS:
            texts = options_of(cells, asset.kind, tag)
            if asset.kind == "primary_text" and not texts:
                continue  # the headline stands in
            _check_count(asset, texts, tag, problem)
            if asset.short and texts and min(width(text) for _, text in texts) > asset.short:
                message = f"Performance Max needs one of the {asset.name} at {asset.short} characters or fewer"
                fix = f"shorten one of {', '.join(name for name, _ in texts)} to {asset.short} or fewer"
                problem(texts[0][0], message, fix, texts[0][1])


def _check_count(asset: TextAsset, texts: list[tuple[str, str]], tag: str | None, problem: Problem) -> None:
    if len(texts) >= asset.minimum:
        return
    missing = [column_name(asset.kind, option, tag) for option in range(1, MAX_OPTIONS + 1)]
    missing = [name for name in missing if name not in dict(texts)][: asset.minimum - len(texts)]
    where = f" for {tag}" if tag else ""
    message = (
        f"a Performance Max asset group needs at least {asset.minimum} {asset.name}{where}, the row has {len(texts)}"
    )
    problem(missing[0], message, f"add {' and '.join(missing)} (each a {asset.name[:-1]} option)", None)
