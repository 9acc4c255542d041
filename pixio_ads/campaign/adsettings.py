"""Campaign, ad set and targeting settings the platforms need to create what `export` writes.

A Meta ad set needs a Page to run the ad from, a budget, countries, an optimisation goal and a
billing event, and for sales and leads the pixel and the conversion event it optimises for; a
Google Display or Performance Max campaign needs a daily budget, a bid strategy and the EU
political ads declaration. Each setting comes from the row's column, else from the brand kit's
``meta`` / ``google`` section (shared by every row of a brand; ``pmax`` reads ``google``), else
from a default. ``resolve`` checks them at ``validate`` (errors name
the column and the brand kit key that can fill it) and returns them as the JSON the manifest's
``ad_settings`` column carries to the export. None of them changes the pixels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from pixio_ads.campaign.platforms import BRAND_SECTION, PLATFORM_NAMES

# The row's columns for these settings (columns.py documents each).
SETTING_COLUMNS = (
    "page_id", "instagram_id", "daily_budget", "lifetime_budget", "start_date", "end_date", "countries",
    "age_range", "special_ad_categories", "bid_strategy", "pixel_id", "conversion_event", "eu_political_ads",
)  # fmt: skip
# Keys a brand kit's section may set (kit_sections.py validates their types).
BRAND_KEYS = {
    "meta": ("page_id", "instagram_id", "daily_budget", "lifetime_budget", "countries", "age_range",
             "special_ad_categories", "pixel_id", "conversion_event"),
    "google": ("daily_budget", "bid_strategy", "eu_political_ads"),
}  # fmt: skip

# Meta's special ad categories (Marketing API enum), as the bulk sheet spells them.
SPECIAL_AD_CATEGORIES = {
    "none": "None",
    "housing": "HOUSING",
    "employment": "EMPLOYMENT",
    "credit": "CREDIT",
    "financial_products_services": "FINANCIAL_PRODUCTS_SERVICES",
    "issues_elections_politics": "ISSUES_ELECTIONS_POLITICS",
}
# Optimisation goal and billing event of a new ad set, per campaign objective (the outcome-based
# objectives' usual pairing in Ads Manager; Marketing API optimization_goal / billing_event).
META_OPTIMISATION = {
    "awareness": ("REACH", "IMPRESSIONS"),
    "traffic": ("LINK_CLICKS", "IMPRESSIONS"),
    "engagement": ("POST_ENGAGEMENT", "IMPRESSIONS"),
    "leads": ("OFFSITE_CONVERSIONS", "IMPRESSIONS"),
    "sales": ("OFFSITE_CONVERSIONS", "IMPRESSIONS"),
    "app_promotion": ("APP_INSTALLS", "IMPRESSIONS"),
}
# Google Ads Editor's "Bid strategy type" values for Display campaigns.
BID_STRATEGIES = {"maximize_clicks": "Maximize clicks", "maximize_conversions": "Maximize conversions"}
CONVERSION_OBJECTIVES = ("leads", "sales")  # a Meta conversion ad set; Maximize conversions on Google
# Meta Pixel standard events -> the promoted object's custom_event_type, which the sheet's
# "Optimized Event" carries (Meta Pixel reference, "Standard events": the table's last column).
CONVERSION_EVENTS = {
    "AddPaymentInfo": "ADD_PAYMENT_INFO", "AddToCart": "ADD_TO_CART", "AddToWishlist": "ADD_TO_WISHLIST",
    "CompleteRegistration": "COMPLETE_REGISTRATION", "Contact": "CONTACT", "CustomizeProduct": "CUSTOMIZE_PRODUCT",
    "Donate": "DONATE", "FindLocation": "FIND_LOCATION", "InitiateCheckout": "INITIATED_CHECKOUT", "Lead": "LEAD",
    "Purchase": "PURCHASE", "Schedule": "SCHEDULE", "Search": "SEARCH", "StartTrial": "START_TRIAL",
    "SubmitApplication": "SUBMIT_APPLICATION", "Subscribe": "SUBSCRIBE", "ViewContent": "CONTENT_VIEW",
}  # fmt: skip
# Any spelling of an event -> its name: "purchase", "PURCHASE", "add to cart", "INITIATED_CHECKOUT".
_EVENT_NAMES = {
    re.sub(r"[^a-z]", "", spelling.lower()): event
    for event, enum in CONVERSION_EVENTS.items()
    for spelling in (event, enum)
}
SUGGESTED_EVENT = {"sales": "Purchase", "leads": "Lead"}
# Google Ads Editor's "EU political ads" values (the API's CONTAINS_/DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING).
EU_POLITICAL_ADS = {"no": "Doesn't have EU political ads", "yes": "Has EU political ads"}
AGE_LIMITS = (13, 65)  # Meta's targeting range; 65 means 65+
DEFAULT_AGE_RANGE = (18, 65)

Problem = Callable[[str, str, str, "str | None"], None]  # (column, message, fix, value)
_DIGITS = re.compile(r"^\d{5,20}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def resolve(
    platforms: tuple[str, ...],
    cells: Mapping[str, str],
    brand: Mapping[str, Mapping[str, str]],
    objective: str,
    problem: Problem,
    images: Mapping[str, str] | None = None,
) -> str:
    """The row's settings for each platform it names, as JSON ("" when it names none);
    ``images``: the image each platform's ad uses (deliverables.py), kept as its ``image``."""
    if not platforms:
        return ""
    settings: dict[str, dict] = {}
    for platform in platforms:
        source = _Source(platform, cells, brand.get(BRAND_SECTION[platform], {}), problem)
        settings[platform] = _meta(source, objective) if platform == "meta" else _google(source, objective)
        if images and platform in images:
            settings[platform]["image"] = images[platform]
    return json.dumps(settings, sort_keys=True)


def settings_of(value: str) -> dict[str, dict]:
    """The manifest's ``ad_settings`` cell back as a mapping per platform."""
    return json.loads(value) if value else {}


class _Source:
    """One platform's view of a row: a column's cell, else the brand kit section's key."""

    def __init__(self, platform: str, cells: Mapping[str, str], section: Mapping[str, str], problem: Problem):
        self.platform, self.name, self.kit = platform, PLATFORM_NAMES[platform], BRAND_SECTION[platform]
        self.cells, self.section, self.problem = cells, section, problem

    def get(self, column: str) -> str:
        return (self.cells.get(column) or "").strip() or str(self.section.get(column, "")).strip()

    def fix(self, column: str, what: str) -> str:
        where = f"the {column} column"
        if column in BRAND_KEYS[self.kit]:
            where += f" or the brand kit's {self.kit}.{column}"
        return f"{what} in {where}"

    def missing(self, column: str, why: str, example: str) -> None:
        self.problem(column, f"{self.name} ads need {why}", self.fix(column, f"write it (e.g. {example})"), None)


def _meta(source: _Source, objective: str) -> dict:
    page_id, instagram_id = _account_id(source, "page_id"), _account_id(source, "instagram_id")
    if not source.get("page_id"):
        source.missing("page_id", "the id of the Facebook Page that runs them (Link Object ID)", "104123456789012")
    daily, lifetime = _budget(source, "daily_budget"), _budget(source, "lifetime_budget")
    start, end = _date(source, "start_date"), _date(source, "end_date")
    if not source.get("daily_budget") and not source.get("lifetime_budget"):
        source.missing("daily_budget", "an ad set budget (daily_budget or lifetime_budget)", "50")
    elif daily and lifetime:
        message = "an ad set has a daily or a lifetime budget, not both"
        source.problem("lifetime_budget", message, "empty one of daily_budget and lifetime_budget", lifetime)
    elif lifetime and not end:
        source.missing("end_date", "an end date for a lifetime budget", "2026-12-31")
    _check_order(source, start, end)
    countries = _countries(source)
    if not countries:
        source.missing("countries", "the countries the ad sets target", "US; CA")
    age_min, age_max = _age_range(source)
    categories = _special_categories(source)
    goal, billing = META_OPTIMISATION[objective]
    pixel_id, event = _conversion(source, objective)
    return {
        "page_id": page_id, "instagram_id": instagram_id, "daily_budget": daily, "lifetime_budget": lifetime,
        "start_date": start, "end_date": end, "countries": countries, "age_min": age_min, "age_max": age_max,
        "special_ad_categories": categories, "optimization_goal": goal, "billing_event": billing,
        "pixel_id": pixel_id, "conversion_event": event,
    }  # fmt: skip


def _conversion(source: _Source, objective: str) -> tuple[str, str]:
    """The pixel and the standard event (as custom_event_type) a sales or leads ad set optimises
    for: the Marketing API refuses an OFFSITE_CONVERSIONS ad set without them ("promoted object is
    missing"). Other objectives keep a given pixel for conversion tracking only."""
    pixel_id = _account_id(source, "pixel_id")
    cell = source.get("conversion_event")
    event = _EVENT_NAMES.get(re.sub(r"[^a-z]", "", cell.lower()), "") if cell else ""
    if cell and not event:
        fix = source.fix("conversion_event", "use a Meta standard event: " + ", ".join(CONVERSION_EVENTS))
        source.problem("conversion_event", f"{cell!r} is not a Meta standard event", fix, cell)
    if objective in CONVERSION_OBJECTIVES:
        why = f"for {objective} ad sets, which optimise for conversions"
        if not source.get("pixel_id"):
            source.missing("pixel_id", f"the Meta pixel (dataset) id {why}", "1234567890123456")
        if not cell:
            source.missing("conversion_event", f"the conversion event {why}", SUGGESTED_EVENT[objective])
    return pixel_id, CONVERSION_EVENTS.get(event, "") if objective in CONVERSION_OBJECTIVES else ""


def _google(source: _Source, objective: str) -> dict:
    daily = _budget(source, "daily_budget")
    if not source.get("daily_budget"):
        source.missing("daily_budget", "a campaign daily budget", "50")
    if source.cells.get("lifetime_budget", "").strip():
        kind = "Performance Max" if source.platform == "pmax" else "Display"
        message = f"a Google {kind} campaign takes a daily budget"
        source.problem("lifetime_budget", message, "use daily_budget for Google rows", source.get("lifetime_budget"))
    start, end = _date(source, "start_date"), _date(source, "end_date")
    _check_order(source, start, end)
    default = "maximize_conversions" if objective in CONVERSION_OBJECTIVES else "maximize_clicks"
    strategy = (source.get("bid_strategy") or default).lower().replace(" ", "_")
    if strategy not in BID_STRATEGIES:
        fix = "use one of: " + ", ".join(BID_STRATEGIES)
        source.problem("bid_strategy", f"unknown bid strategy {source.get('bid_strategy')!r}", fix, strategy)
        strategy = default
    return {
        "daily_budget": daily, "start_date": start, "end_date": end, "bid_strategy": BID_STRATEGIES[strategy],
        "eu_political_ads": _eu_political_ads(source),
    }  # fmt: skip


def _eu_political_ads(source: _Source) -> str:
    """The campaign's EU political advertising declaration, which Google requires of every new
    campaign (Google Ads API Campaign.contains_eu_political_advertising): ``no`` unless said."""
    value = source.get("eu_political_ads").lower()
    answer = {"": "no", "no": "no", "false": "no", "yes": "yes", "true": "yes"}.get(value)
    if answer is None:
        fix = source.fix("eu_political_ads", "write yes (the campaign has EU political ads) or no")
        source.problem("eu_political_ads", f"cannot read {value!r} as yes or no", fix, value)
        answer = "no"
    return EU_POLITICAL_ADS[answer]


def _account_id(source: _Source, column: str) -> str:
    value = source.get(column)
    if value and not _DIGITS.match(value):
        what = {"page_id": "Page", "instagram_id": "Instagram account", "pixel_id": "Pixel"}[column]
        message = f"{what} ids are numbers (5-20 digits)"
        source.problem(column, message, source.fix(column, "copy the id from Business Settings"), value)
        return ""
    return value


def _budget(source: _Source, column: str) -> str:
    """An amount in the ad account's currency, e.g. ``50`` -> ``"50.00"``."""
    value = source.get(column)
    if not value:
        return ""
    try:
        amount = Decimal(value.replace(",", ""))
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:
        fix = source.fix(column, "write an amount above 0 in the account's currency, at most 2 decimals")
        source.problem(column, f"{column.replace('_', ' ')} is not an amount", fix, value)
        return ""
    return f"{amount:.2f}"


def _date(source: _Source, column: str) -> str:
    value = source.get(column)
    if not value:
        return ""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        source.problem(column, f"{column.replace('_', ' ')} is not a date", "write it as YYYY-MM-DD", value)
        return ""


def _check_order(source: _Source, start: str, end: str) -> None:
    if start and end and end < start:
        source.problem("end_date", f"end date {end} is before the start date {start}", "swap or correct them", end)


def _countries(source: _Source) -> list[str]:
    """ISO 3166-1 alpha-2 codes from ``US; CA`` (or a brand kit list)."""
    raw = source.section.get("countries") if not source.cells.get("countries", "").strip() else None
    items = raw if isinstance(raw, list) else re.split(r"[;,]", source.get("countries"))
    codes = [str(item).strip().upper() for item in items if str(item).strip()]
    wrong = [code for code in codes if not _COUNTRY.match(code)]
    if wrong:
        fix = source.fix("countries", "write two-letter ISO country codes separated by ';' (e.g. US; GB)")
        source.problem("countries", f"not a country code: {', '.join(wrong)}", fix, "; ".join(wrong))
    return list(dict.fromkeys(code for code in codes if code not in wrong))


def _age_range(source: _Source) -> tuple[int, int]:
    """``18-65`` (65 means 65 and older), ``25-`` or ``-44``; default 18-65."""
    value = source.get("age_range")
    if not value:
        return DEFAULT_AGE_RANGE
    match = re.fullmatch(r"\s*(\d*)\s*-\s*(\d*)\s*\+?", value)
    low, high = AGE_LIMITS
    if match:
        age_min = int(match.group(1) or DEFAULT_AGE_RANGE[0])
        age_max = int(match.group(2) or high)
        if low <= age_min <= age_max <= high:
            return age_min, age_max
    fix = source.fix("age_range", f"write MIN-MAX between {low} and {high}, e.g. 18-65")
    source.problem("age_range", f"not an age range Meta takes: {value!r}", fix, value)
    return DEFAULT_AGE_RANGE


def _special_categories(source: _Source) -> list[str]:
    items = [item.strip().lower() for item in re.split(r"[;,]", source.get("special_ad_categories")) if item.strip()]
    wrong = [item for item in items if item not in SPECIAL_AD_CATEGORIES]
    if wrong:
        fix = source.fix("special_ad_categories", "use none or one or more of: " + ", ".join(SPECIAL_AD_CATEGORIES))
        source.problem("special_ad_categories", f"unknown special ad category {wrong[0]!r}", fix, wrong[0])
    chosen = [item for item in items if item in SPECIAL_AD_CATEGORIES and item != "none"]
    return [SPECIAL_AD_CATEGORIES[item] for item in chosen] or [SPECIAL_AD_CATEGORIES["none"]]
