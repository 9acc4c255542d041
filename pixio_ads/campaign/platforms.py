"""What the ad platforms accept: copy lengths, calls to action, image sizes and file sizes.

The figures are the platforms' published limits (Meta Ads Manager, Google responsive display
ads, Performance Max asset groups). ``check_ad`` applies them to one campaign row before any rendering, so a row the
platform would refuse is found by ``validate``, not by the ad manager after the GPU spent
its time; ``file_size_problem`` checks the finished files at export.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pixio_ads.campaign.assetgroups import check_asset_group
from pixio_ads.campaign.copy import copy_column
from pixio_ads.core.formats import AdFormat

PLATFORMS = ("meta", "google", "pmax")
# Google Ads takes a Display campaign (``google``) or a Performance Max one (``pmax``); both are one
# Google Ads account, so ``pmax`` reads the brand kit's ``google`` section and Google's button texts.
BRAND_SECTION = {"meta": "meta", "google": "google", "pmax": "google"}
# Meta's campaign objectives (the outcome-based set); the bulk sheet spells them "Outcome Sales".
OBJECTIVES = ("awareness", "traffic", "engagement", "leads", "app_promotion", "sales")
DEFAULT_OBJECTIVE = "traffic"


@dataclass(frozen=True, slots=True)
class CallToAction:
    key: str  # our name, also Meta's enum where Meta has it
    meta: str | None  # Meta's call_to_action type
    google: str | None  # Google Ads Editor's call-to-action text for responsive display ads


CALLS_TO_ACTION: dict[str, CallToAction] = {
    cta.key: cta
    for cta in (
        CallToAction("SHOP_NOW", "SHOP_NOW", "Shop now"),
        CallToAction("LEARN_MORE", "LEARN_MORE", "Learn more"),
        CallToAction("SIGN_UP", "SIGN_UP", "Sign up"),
        CallToAction("BOOK_NOW", "BOOK_TRAVEL", "Book now"),  # Meta's "Book now" button is BOOK_TRAVEL
        CallToAction("DOWNLOAD", "DOWNLOAD", "Download"),
        CallToAction("GET_QUOTE", "GET_QUOTE", "Get quote"),
        CallToAction("CONTACT_US", "CONTACT_US", "Contact us"),
        CallToAction("SUBSCRIBE", "SUBSCRIBE", "Subscribe"),
        CallToAction("APPLY_NOW", "APPLY_NOW", "Apply now"),
        CallToAction("SEE_MORE", "SEE_MORE", "See more"),
        CallToAction("GET_OFFER", "GET_OFFER", None),
        CallToAction("ORDER_NOW", "ORDER_NOW", None),
        CallToAction("BUY_NOW", "BUY_NOW", None),
        CallToAction("WATCH_MORE", "WATCH_MORE", None),
        CallToAction("DONATE_NOW", "DONATE_NOW", None),
        CallToAction("VISIT_SITE", None, "Visit site"),
    )
}


def call_to_action_key(text: str) -> str:
    """``"Shop now"``, ``"shop-now"``, ``"SHOP_NOW"`` -> ``"SHOP_NOW"``."""
    return re.sub(r"[^A-Z0-9]+", "_", text.strip().upper()).strip("_")


def call_to_action_text(platform: str, key: str) -> str | None:
    """The platform's spelling of a call to action (None: it has none)."""
    cta = CALLS_TO_ACTION[key]
    return cta.meta if platform == "meta" else cta.google


def allowed_calls_to_action(platform: str) -> list[str]:
    return [key for key in CALLS_TO_ACTION if call_to_action_text(platform, key)]


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """One image shape a platform takes: its aspect ratio and smallest size."""

    name: str
    ratio: tuple[int, int]  # width:height as the platform writes it
    min_width: int
    min_height: int

    def matches(self, fmt: AdFormat) -> bool:
        return abs(fmt.aspect / (self.ratio[0] / self.ratio[1]) - 1) <= RATIO_TOLERANCE

    @property
    def label(self) -> str:
        ratio = f"{self.ratio[0] / 100:g}:1" if self.ratio[1] == 100 else f"{self.ratio[0]}:{self.ratio[1]}"
        return f"{self.name} {ratio} (at least {self.min_width}x{self.min_height} px)"


RATIO_TOLERANCE = 0.01  # 1200x628 is 1.911:1, "1.91:1" on both platforms

IMAGE_SPECS: dict[str, tuple[ImageSpec, ...]] = {
    "meta": (
        ImageSpec("feed square", (1, 1), 600, 600),
        ImageSpec("feed portrait", (4, 5), 600, 750),
        ImageSpec("feed landscape", (191, 100), 600, 314),
        ImageSpec("stories", (9, 16), 600, 1067),
    ),
    "google": (
        ImageSpec("landscape", (191, 100), 600, 314),
        ImageSpec("square", (1, 1), 300, 300),
    ),  # a responsive display ad has no portrait image (Google Ads API ResponsiveDisplayAdInfo)
    # Performance Max asset groups (Google Ads API "Performance Max asset requirements"):
    # MARKETING_IMAGE, SQUARE_MARKETING_IMAGE, PORTRAIT_MARKETING_IMAGE, TALL_PORTRAIT_MARKETING_IMAGE.
    "pmax": (
        ImageSpec("landscape", (191, 100), 600, 314),
        ImageSpec("square", (1, 1), 300, 300),
        ImageSpec("portrait", (4, 5), 480, 600),
        ImageSpec("tall", (9, 16), 600, 1067),
    ),
}
# A responsive display ad and an asset group need at least one landscape and one square image.
REQUIRED_IMAGES = {"google": ("landscape", "square"), "pmax": ("landscape", "square")}
MAX_FILE_BYTES = {"meta": 30 * 1024 * 1024, "google": 5 * 1024 * 1024, "pmax": 5 * 1024 * 1024}
# Image file types each platform takes (our output_format names). Meta: JPG/PNG (also GIF and
# BMP); Google responsive display ads: JPEG, PNG, GIF. WebP is refused at validate rather than
# converted at export: a conversion would break the C2PA manifest, which signs the file's bytes.
FILE_TYPES = {"meta": ("png", "jpeg"), "google": ("png", "jpeg"), "pmax": ("png", "jpeg")}
PLATFORM_NAMES = {"meta": "Meta", "google": "Google Ads", "pmax": "Google Performance Max"}

# Copy limits: (platform, field the campaign column feeds, column, limit, hard?). A hard limit
# is refused by the platform (an error); a soft one is truncated in feeds (a warning). Google
# counts display width (an East Asian wide or fullwidth character counts 2), Meta characters.
TEXT_LIMITS = (
    ("google", "headline", "headline", 30, True),
    ("google", "long headline", "primary_text", 90, True),
    ("google", "description", "description", 90, True),
    ("google", "business name", "business_name", 25, True),
    ("pmax", "headline", "headline", 30, True),
    ("pmax", "long headline", "primary_text", 90, True),
    ("pmax", "description", "description", 90, True),
    ("pmax", "business name", "business_name", 25, True),
    ("meta", "headline", "headline", 40, False),
    ("meta", "primary text", "primary_text", 125, False),
)
REQUIRED_COLUMNS = {
    "meta": ("link",),
    "google": ("link", "business_name", "description"),
    "pmax": ("link", "business_name", "description"),
}
COUNTS_DISPLAY_WIDTH = {"google", "pmax"}


def display_width(text: str) -> int:
    """Length as Google Ads counts it: East Asian wide (W) and fullwidth (F) characters count 2
    (Google Ads help "Character limits for ads": double-width languages such as Chinese,
    Japanese and Korean), combining marks 0, every other character 1."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text
    )


def text_length(platform: str, text: str) -> int:
    return display_width(text) if platform in COUNTS_DISPLAY_WIDTH else len(text)


def image_spec(platform: str, fmt: AdFormat) -> ImageSpec | None:
    return next((spec for spec in IMAGE_SPECS[platform] if spec.matches(fmt)), None)


def url_problem(text: str) -> str | None:
    """Why ``text`` is not a landing page the platforms take (None: it is)."""
    parts = urlsplit(text)
    if parts.scheme != "https":
        return "the link must be an https:// URL"
    if not parts.hostname or "." not in parts.hostname or any(ch.isspace() for ch in text):
        return "the link is not a valid URL"
    return None


Problem = Callable[[str, str, str, "str | None"], None]  # (column, message, fix, value)


def check_ad(
    platforms: tuple[str, ...],
    cells: dict[str, str],
    formats: tuple[AdFormat, ...],
    problem: Problem,
    warn,
    languages: tuple[str, ...] = (),
) -> None:
    """The row's copy and formats against each named platform's limits. ``cells`` are the
    row's text cells, every copy option and language included (``primary_text`` falls back to
    the headline as the platforms' exports do); ``languages`` past the first need their own
    copy of what a platform requires."""
    for platform in platforms:
        name = PLATFORM_NAMES[platform]
        for column in REQUIRED_COLUMNS[platform]:
            tagged = [column] + ([f"{column}[{tag}]" for tag in languages[1:]] if copy_column(column) else [])
            for wanted in tagged:
                if not cells.get(wanted):
                    problem(wanted, f"{name} ads need a {column.replace('_', ' ')}", f"fill in {wanted}", None)
        for target, field, column, limit, hard in TEXT_LIMITS:
            for cell, text in _texts(cells, column) if target == platform else ():
                if text_length(platform, text) > limit:
                    message = f"{name} {field} is {_counted(platform, text)}, over the limit of {limit}"
                    if hard:
                        problem(cell, message, _shorten(platform, text, limit), text)
                    else:
                        warn(cell, f"{message}; feeds truncate it (shorten it to keep it whole)")
        output_format = cells.get("output_format", "").lower() or "png"
        if output_format.replace("jpg", "jpeg") not in FILE_TYPES[platform]:
            problem(
                "output_format",
                f"{name} does not take {output_format} images",
                f"use output_format {' or '.join(FILE_TYPES[platform])}, or remove {platform} from platforms",
                cells.get("output_format"),
            )
        _check_images(platform, formats, problem, warn)
        if platform == "pmax":
            check_asset_group(cells, languages, problem, display_width)


def _texts(cells: dict[str, str], column: str) -> list[tuple[str, str]]:
    """(cell, text) of every option and language of ``column``; the primary text the headline
    when empty."""
    if not copy_column(column):
        return [(column, cells.get(column) or "")]
    found = [(name, text) for name, text in cells.items() if text and (copy_column(name) or ("",))[0] == column]
    if column == "primary_text" and not cells.get("primary_text"):
        found.append(("primary_text", cells.get("headline") or ""))
    return found


def _counted(platform: str, text: str) -> str:
    width = text_length(platform, text)
    if width == len(text):
        return f"{len(text)} characters"
    return (
        f"{len(text)} characters, {width} as {PLATFORM_NAMES[platform]} counts them (double-width characters count 2)"
    )


def _shorten(platform: str, text: str, limit: int) -> str:
    if text_length(platform, text) != len(text):
        return f"shorten it to {limit} or fewer as {PLATFORM_NAMES[platform]} counts ({limit // 2} double-width characters at most)"
    return f"shorten it to {limit} characters or fewer"


_AD_KIND = {"google": "responsive display ads", "pmax": "asset groups"}


def _check_images(platform: str, formats: tuple[AdFormat, ...], problem: Problem, warn) -> None:
    name, specs = PLATFORM_NAMES[platform], IMAGE_SPECS[platform]
    accepted = "; ".join(spec.label for spec in specs)
    shapes: set[str] = set()  # shapes the row has (a too small one is its own error)
    for fmt in formats:
        spec = image_spec(platform, fmt)
        if spec is None:
            warn(
                "formats",
                f"{fmt.name} ({fmt.width}x{fmt.height}) is no {name} image shape and is left out of its export",
            )
            continue
        shapes.add(spec.name)
        if fmt.width < spec.min_width or fmt.height < spec.min_height:
            problem(
                "formats",
                f"{fmt.name} is {fmt.width}x{fmt.height} px, smaller than {name}'s {spec.label}",
                f"use a larger size of the same shape (e.g. {spec.min_width}x{spec.min_height})",
                fmt.name,
            )
    missing = [shape for shape in REQUIRED_IMAGES.get(platform, ()) if shape not in shapes]
    if missing and formats:
        problem(
            "formats",
            f"{name} {_AD_KIND.get(platform, 'ads')} need a {' and a '.join(missing)} image",
            f"add {'; '.join(missing)} to formats (accepted: {accepted}), or remove {platform} from platforms",
            None,
        )
    elif not shapes and formats:
        problem("formats", f"no format of the row is a {name} image", f"add one of: {accepted}", None)


def file_size_problem(platform: str, size: int) -> str | None:
    limit = MAX_FILE_BYTES[platform]
    if size <= limit:
        return None
    return (
        f"{size / 1024 / 1024:.1f} MB is over {PLATFORM_NAMES[platform]}'s {limit // 1024 // 1024} MB limit "
        "(render it as output_format jpeg, or lower its quality)"
    )
