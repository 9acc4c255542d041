"""The spreadsheet's ad platform columns: what `pixio-ads export` writes into the Meta and Google
sheets, and the campaign and ad set settings (adsettings.py). Part of columns.COLUMNS."""

from __future__ import annotations

from pixio_ads.campaign import parsers
from pixio_ads.campaign.parsers import Column
from pixio_ads.campaign.platforms import CALLS_TO_ACTION, DEFAULT_OBJECTIVE, OBJECTIVES, PLATFORMS
from pixio_ads.campaign.rows import MULTI_SEPARATOR

AD_COLUMNS: tuple[Column, ...] = (
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
        "Daily budget in the ad account's currency that each of the row's audiences spends: Meta splits it between the "
        "ad sets that audience becomes (placements, languages); a Google campaign's budget is the sum over its rows' "
        "audiences (required for Google and pmax). Brand kit: `meta.daily_budget`, `google.daily_budget`.",
        "50",
    ),
    Column(
        "lifetime_budget",
        False,
        "Meta lifetime budget instead of a daily one, per audience like daily_budget (needs end_date). Brand kit: `meta.lifetime_budget`.",
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
    Column(
        "pixel_id",
        False,
        "Meta pixel (dataset) id a sales or leads ad set optimises for (required for them); other objectives track "
        "conversions with it. Brand kit: `meta.pixel_id`.",
        "1234567890123456",
    ),
    Column(
        "conversion_event",
        False,
        "Meta standard event a sales or leads ad set optimises for (required for them): Purchase, Lead, AddToCart, "
        "CompleteRegistration, InitiateCheckout, ... Brand kit: `meta.conversion_event`.",
        "Purchase",
    ),
    Column(
        "eu_political_ads",
        False,
        "Whether the Google campaign (Display or Performance Max) has EU political ads: no (default) or yes; Google "
        "requires the declaration of every new campaign. Brand kit: `google.eu_political_ads`.",
        "no",
    ),
)
