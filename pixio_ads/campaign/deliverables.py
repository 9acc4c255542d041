"""Which images a row delivers, and which one each ad platform gets.

Every variant is finished as a *creative* (scene, product, headline, button, logo, AI label).
It can also be written *clean*: the same scene and product with the AI label only, no copy,
button or logo. Google advises against text over the images of responsive display ads (it
adds the headline, description and logo itself), so Google gets the clean image by default;
Meta shows the image as it is, so it gets the creative.

The ``deliverables`` column says it per row: ``creative`` (every platform gets the creative,
no clean file), ``clean`` (every platform gets the clean image), ``both`` (both files, each
platform its default), or per platform, ``meta=creative; google=clean``. Empty: each
platform's default, from the brand kit's ``meta.deliverable`` / ``google.deliverable`` (which
``pmax`` reads too), else
the built-in one above. The creative is always written: it is what review shows, and one
decision covers both files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pixio_ads.campaign.platforms import BRAND_SECTION, PLATFORM_NAMES, PLATFORMS

CREATIVE, CLEAN = "creative", "clean"
KINDS = (CREATIVE, CLEAN)
DEFAULT_FOR_PLATFORM = {"meta": CREATIVE, "google": CLEAN, "pmax": CLEAN}
BOTH = "both"
FILE_SEPARATOR = "; "  # the manifest's ``deliverables``: "creative" or "creative; clean"

Problem = Callable[[str, str, str, "str | None"], None]  # (column, message, fix, value)
_ITEM = re.compile(r"^\s*([A-Za-z_]+)\s*[=:]\s*([A-Za-z_]+)\s*$")


@dataclass(frozen=True, slots=True)
class Deliverables:
    files: str  # "creative" or "creative; clean": the files written (part of the variant id with clean)
    per_platform: dict[str, str]  # platform -> "creative" or "clean": the image its export uses


def resolve_deliverables(
    cell: str, platforms: tuple[str, ...], brand: Mapping[str, Mapping[str, str]], problem: Problem
) -> Deliverables:
    """The row's deliverables from its cell, the brand kit's sections and the defaults.
    Problems name the column and the fix; a wrong part is ignored (the rest still resolves)."""
    word, named = _parse(cell.strip(), platforms, problem)
    choice = {}
    for platform in platforms:
        section = brand.get(BRAND_SECTION[platform], {})
        default = str(section.get("deliverable", "") or "") or DEFAULT_FOR_PLATFORM[platform]
        choice[platform] = named.get(platform) or (word if word in KINDS else default)
    clean = word in (CLEAN, BOTH) or CLEAN in choice.values()
    return Deliverables(FILE_SEPARATOR.join((CREATIVE, CLEAN) if clean else (CREATIVE,)), choice)


def _parse(cell: str, platforms: tuple[str, ...], problem: Problem) -> tuple[str, dict[str, str]]:
    """(``creative``/``clean``/``both``/"", {platform: kind}) from the cell."""
    if not cell:
        return "", {}
    if cell.lower() in (*KINDS, BOTH):
        return cell.lower(), {}
    named: dict[str, str] = {}
    fix = (
        "write creative, clean or both, or per platform e.g. meta=creative; google=clean "
        f"(platforms: {', '.join(PLATFORMS)}; images: {', '.join(KINDS)})"
    )
    for part in filter(str.strip, cell.split(";")):
        match = _ITEM.match(part)
        platform, kind = (match.group(1).lower(), match.group(2).lower()) if match else ("", "")
        if not match or platform not in PLATFORMS or kind not in KINDS:
            problem("deliverables", f"cannot read {part.strip()!r}", fix, part.strip())
        elif platform not in platforms:
            message = f"names {PLATFORM_NAMES[platform]}, which is not in the row's platforms"
            problem("deliverables", message, f"add {platform} to the platforms column or remove it here", part.strip())
        elif platform in named:
            problem("deliverables", f"names {platform} twice", "keep one image per platform", part.strip())
        else:
            named[platform] = kind
    return "", named


def writes_clean(files: str) -> bool:
    """Whether a manifest's ``deliverables`` value includes the clean image."""
    return CLEAN in (part.strip() for part in files.split(";"))


def image_for(settings: Mapping[str, str]) -> str:
    """The image a platform's export uses, from its ad settings (adsettings.py keeps the
    choice as ``image``); an older manifest without it: the creative."""
    return settings.get("image") or CREATIVE
