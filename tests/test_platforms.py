"""validate checks each platform a row names, at the limits' boundaries: copy lengths, the
link, the call to action, image shapes and sizes; warnings for what feeds truncate."""

from __future__ import annotations

import json

import pytest
from helpers import good_row, write_csv

from pixio_ads.campaign.platforms import (
    MAX_FILE_BYTES,
    call_to_action_key,
    check_ad,
    display_width,
    file_size_problem,
)
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.core.errors import ValidationError

AD = {
    "link": "https://example.com/widget",
    "description": "Free shipping",
    "business_name": "Widget Co.",
    "cta": "Shop now",
    "page_id": "104123456789012",
    "daily_budget": "25",
    "countries": "US",
}


def problems(folder, **changes) -> list:
    """The issues validate reports for one row (empty when it is valid)."""
    try:
        load_campaign(write_csv(folder, [good_row(**{**AD, **changes})]))
    except ValidationError as exc:
        return exc.issues
    return []


def warnings(folder, **changes) -> list[str]:
    return load_campaign(write_csv(folder, [good_row(**{**AD, **changes})])).warnings


def only(issues, column: str):
    assert [issue.column for issue in issues] == [column], [str(issue) for issue in issues]
    return issues[0]


@pytest.mark.parametrize(
    "column, limit",
    [("headline", 30), ("primary_text", 90), ("description", 90), ("business_name", 25)],
)
def test_google_copy_limits_are_errors_past_the_limit(campaign_dir, column, limit):
    base = {"platforms": "google", "formats": "square; landscape"}
    assert problems(campaign_dir, **base, **{column: "x" * limit}) == []
    issue = only(problems(campaign_dir, **base, **{column: "x" * (limit + 1)}), column)
    assert f"{limit + 1} characters, over the limit of {limit}" in issue.message
    assert issue.row == 2 and f"{limit} characters or fewer" in issue.fix


def test_long_headline_defaults_to_the_headline(campaign_dir):
    row = load_campaign(
        write_csv(campaign_dir, [good_row(**AD, platforms="google", formats="square; landscape")])
    ).rows[0]
    assert row.primary_text == "" and row.call_to_action == "SHOP_NOW"


@pytest.mark.parametrize("column, limit", [("headline", 40), ("primary_text", 125)])
def test_meta_copy_past_its_feed_length_is_a_warning(campaign_dir, column, limit):
    fits = {"platforms": "meta", column: "y" * limit}
    assert not [w for w in warnings(campaign_dir, **fits) if column in w]
    long = warnings(campaign_dir, **{**fits, column: "y" * (limit + 1)})
    assert any(f"column '{column}'" in w and f"over the limit of {limit}" in w and "truncate" in w for w in long)


@pytest.mark.parametrize(
    "link, message",
    [
        ("http://example.com", "https:// URL"),
        ("https://nohost", "not a valid URL"),
        ("https://exa mple.com", "not a valid URL"),
        ("example.com", "https:// URL"),
    ],
)
def test_the_link_must_be_an_https_url(campaign_dir, link, message):
    issue = only(problems(campaign_dir, platforms="meta", link=link), "link")
    assert message in issue.message and issue.value == link


def test_each_platform_needs_its_fields(campaign_dir):
    issues = problems(
        campaign_dir, platforms="meta; google", formats="square; landscape", link="", description="", business_name=""
    )
    assert sorted(issue.column for issue in issues) == ["business_name", "description", "link", "link"]
    assert any("Meta ads need a link" in issue.message for issue in issues)


def test_call_to_action_comes_from_the_cta_or_its_own_column(campaign_dir):
    assert call_to_action_key("Shop now") == "SHOP_NOW" == call_to_action_key("shop-now")
    assert problems(campaign_dir, platforms="meta", cta="Learn more") == []
    issue = only(problems(campaign_dir, platforms="meta", cta="Get yours"), "call_to_action")
    assert "'Get yours' names no platform call to action" in issue.message and "SHOP_NOW" in issue.fix
    assert problems(campaign_dir, platforms="meta", cta="Get yours", call_to_action="get offer") == []
    unknown = only(problems(campaign_dir, call_to_action="Click here"), "call_to_action")
    assert "unknown call to action 'Click here'" in unknown.message and "LEARN_MORE" in unknown.fix
    google = only(
        problems(campaign_dir, platforms="google", formats="square; landscape", call_to_action="GET_OFFER"),
        "call_to_action",
    )
    assert "Google Ads has no call to action GET_OFFER" in google.message and "VISIT_SITE" in google.fix


def test_formats_against_the_platforms_image_specs(campaign_dir):
    assert problems(campaign_dir, platforms="meta", formats="600x600; portrait; landscape; story") == []
    small = only(problems(campaign_dir, platforms="meta", formats="599x599"), "formats")
    assert "599x599 px, smaller than Meta's feed square 1:1 (at least 600x600 px)" in small.message
    assert problems(campaign_dir, platforms="google", formats="300x300; 600x314") == []
    assert only(problems(campaign_dir, platforms="google", formats="300x300; 598x313"), "formats")
    missing = only(problems(campaign_dir, platforms="google", formats="square; story"), "formats")
    assert "need a landscape image" in missing.message and "add landscape to formats" in missing.fix
    story = warnings(campaign_dir, platforms="google", formats="square; landscape; story")
    assert any("story (1080x1920) is no Google Ads image shape" in w for w in story)
    nothing = only(problems(campaign_dir, platforms="meta", formats="1000x300"), "formats")
    assert "no format of the row is a Meta image" in nothing.message


def test_platform_and_objective_values_are_checked(campaign_dir):
    issues = problems(campaign_dir, platforms="meta; tiktok", objective="fame")
    assert sorted(issue.column for issue in issues) == ["objective", "platforms"]
    assert "unknown platform 'tiktok'" in next(i.message for i in issues if i.column == "platforms")


def test_rows_without_platforms_are_not_checked_against_them(campaign_dir):
    assert problems(campaign_dir, headline="z" * 45, link="", cta="Get yours") == []


def test_file_size_limits_at_the_boundary():
    assert file_size_problem("google", MAX_FILE_BYTES["google"]) is None
    assert "over Google Ads's 5 MB limit" in file_size_problem("google", MAX_FILE_BYTES["google"] + 1)
    assert file_size_problem("meta", 30 * 1024 * 1024) is None
    assert file_size_problem("meta", 30 * 1024 * 1024 + 1)


# --- limits as each platform counts them ----------------------------------------------------

GOOGLE = {"platforms": "google", "formats": "square; landscape"}


def google_copy(**cells) -> list:
    """Problems check_ad finds in Google copy alone (the copy-fits-the-image check needs a font
    with the script's glyphs, which is the languages issue's, not the platform's)."""
    found = []
    check_ad(("google",), {**AD, **cells}, (), lambda *issue: found.append(issue), lambda *warning: None)
    return found


@pytest.mark.parametrize(
    "language, wide", [("Japanese", "夏のセール"), ("Chinese", "夏季大促销"), ("Korean", "여름세일중")]
)
def test_google_counts_display_width_cjk_at_the_headline_limit(language, wide):
    at_limit = (wide * 3)[:15]  # 15 double-width characters are 30 wide: Google's headline limit
    assert display_width(at_limit) == 30
    assert google_copy(headline=at_limit) == [], language
    [(column, message, fix, value)] = google_copy(headline=at_limit + "!")
    assert column == "headline" and value == at_limit + "!"
    assert "16 characters, 31 as Google Ads counts them (double-width characters count 2)" in message
    assert "15 double-width characters at most" in fix
    [(_, message, _, _)] = google_copy(headline=(wide * 4)[:20])  # 20 characters pass a character count
    assert "20 characters, 40 as Google Ads counts them" in message
    assert google_copy(business_name=(wide * 3)[:12]) == [] and google_copy(business_name=(wide * 3)[:13])


def test_fullwidth_latin_counts_two_combining_marks_nothing():
    assert display_width("ＳＡＬＥ") == 8 and display_width("Sale") == 4
    assert display_width("e\u0301") == 1 and display_width("ｶﾀｶﾅ") == 4  # halfwidth katakana counts 1


def test_meta_counts_characters_not_width():
    warned = []
    check_ad(("meta",), {**AD, "headline": "夏" * 40}, (), None, lambda *warning: warned.append(warning))
    assert warned == []
    check_ad(("meta",), {**AD, "headline": "夏" * 41}, (), None, lambda *warning: warned.append(warning))
    assert "41 characters, over the limit of 40" in warned[0][1]


def test_webp_is_refused_for_the_platforms_at_validate(campaign_dir):
    issue = only(problems(campaign_dir, platforms="meta", output_format="webp"), "output_format")
    assert "Meta does not take webp images" in issue.message and "png or jpeg" in issue.fix
    assert problems(campaign_dir, platforms="meta", output_format="jpg") == []
    assert problems(campaign_dir, output_format="webp") == []  # for no platform: any type


# --- campaign and ad set settings (adsettings.py) -------------------------------------------


def test_a_meta_row_without_page_budget_or_countries_is_refused_naming_each(campaign_dir):
    issues = problems(campaign_dir, platforms="meta", page_id="", daily_budget="", countries="")
    assert sorted(issue.column for issue in issues) == ["countries", "daily_budget", "page_id"]
    page = next(issue for issue in issues if issue.column == "page_id")
    assert "Meta ads need the id of the Facebook Page" in page.message and page.row == 2
    assert "in the page_id column or the brand kit's meta.page_id" in page.fix


def test_a_google_row_without_business_name_or_budget_is_refused(campaign_dir):
    issues = problems(campaign_dir, **GOOGLE, business_name="", daily_budget="")
    assert sorted(issue.column for issue in issues) == ["business_name", "daily_budget"]
    assert any("fill in business_name" in issue.fix for issue in issues)


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("page_id", "my-page", "Page ids are numbers"),
        ("daily_budget", "lots", "daily budget is not an amount"),
        ("daily_budget", "0", "daily budget is not an amount"),
        ("daily_budget", "10.555", "daily budget is not an amount"),
        ("countries", "USA; gb", "not a country code: USA"),
        ("age_range", "12-30", "not an age range Meta takes"),
        ("age_range", "40-20", "not an age range Meta takes"),
        ("special_ad_categories", "gambling", "unknown special ad category 'gambling'"),
        ("start_date", "10/12/2026", "start date is not a date"),
    ],
)
def test_meta_settings_are_checked(campaign_dir, column, value, message):
    issue = only(problems(campaign_dir, platforms="meta", **{column: value}), column)
    assert message in issue.message and issue.row == 2


def test_budgets_and_dates_across_columns(campaign_dir):
    both = only(problems(campaign_dir, platforms="meta", lifetime_budget="900"), "lifetime_budget")
    assert "not both" in both.message
    no_end = only(problems(campaign_dir, platforms="meta", daily_budget="", lifetime_budget="900"), "end_date")
    assert "an end date for a lifetime budget" in no_end.message
    order = only(problems(campaign_dir, platforms="meta", start_date="2026-12-20", end_date="2026-12-10"), "end_date")
    assert "before the start date" in order.message
    google = only(problems(campaign_dir, **GOOGLE, lifetime_budget="900"), "lifetime_budget")
    assert "Google Display campaign takes a daily budget" in google.message


def settings(folder, brand: str | None = None, **changes) -> dict:
    if brand is not None:
        (folder / "brand.yaml").write_text(brand, encoding="utf-8")
        changes["brand_kit"] = "brand.yaml"
    row = load_campaign(write_csv(folder, [good_row(**{**AD, **changes})])).rows[0]
    return json.loads(row.ad_settings)


def test_settings_come_from_the_column_else_the_brand_kit_else_defaults(campaign_dir):
    kit = "meta:\n  page_id: 555555555555\n  daily_budget: 40\n  countries: [de, AT]\n  age_range: 25-54\ngoogle:\n  daily_budget: 15.5\n"
    chosen = settings(
        campaign_dir,
        kit,
        platforms="meta; google",
        formats="square; landscape",
        page_id="",
        daily_budget="",
        countries="",
    )
    assert chosen["meta"] == {
        "page_id": "555555555555", "instagram_id": "", "daily_budget": "40.00", "lifetime_budget": "",
        "start_date": "", "end_date": "", "countries": ["DE", "AT"], "age_min": 25, "age_max": 54,
        "special_ad_categories": ["None"], "optimization_goal": "LINK_CLICKS", "billing_event": "IMPRESSIONS",
        "pixel_id": "", "conversion_event": "", "image": "creative",
    }  # fmt: skip
    assert chosen["google"] == {
        "daily_budget": "15.50",
        "start_date": "",
        "end_date": "",
        "bid_strategy": "Maximize clicks",
        "eu_political_ads": "Doesn't have EU political ads",
        "image": "clean",
    }
    own = settings(
        campaign_dir,
        kit,
        platforms="meta",
        daily_budget="12",
        special_ad_categories="credit; housing",
        objective="sales",
        pixel_id="1234567890123456",
        conversion_event="add to cart",
    )
    assert own["meta"]["daily_budget"] == "12.00" and own["meta"]["countries"] == ["US"]
    assert (own["meta"]["pixel_id"], own["meta"]["conversion_event"]) == ("1234567890123456", "ADD_TO_CART")
    assert own["meta"]["special_ad_categories"] == ["CREDIT", "HOUSING"]
    assert own["meta"]["optimization_goal"] == "OFFSITE_CONVERSIONS"


def test_a_brand_kits_ad_sections_do_not_change_the_variant_ids(campaign_dir):
    from pixio_ads.creative.brand import load_brand_kit

    base = "name: Widget Co.\n"
    path = campaign_dir / "kit.yaml"
    path.write_text(base + "meta:\n  page_id: 111111111111\n", encoding="utf-8")
    first = load_brand_kit(path).sha256
    load_brand_kit.cache_clear()
    path.write_text(base + "meta:\n  page_id: 222222222222\n  daily_budget: 9\n", encoding="utf-8")
    assert load_brand_kit(path).sha256 == first  # a new Page or budget renders nothing again
    load_brand_kit.cache_clear()
    path.write_text("name: Other Co.\nmeta:\n  page_id: 222222222222\n", encoding="utf-8")
    assert load_brand_kit(path).sha256 != first
    load_brand_kit.cache_clear()
    path.write_text(base + "meta:\n  pageid: 1\n", encoding="utf-8")
    with pytest.raises(ValidationError) as refused:
        load_brand_kit(path)
    assert refused.value.issues[0].key == "meta.pageid"


def test_sales_and_leads_ad_sets_need_a_pixel_and_a_standard_event(campaign_dir):
    """The Marketing API refuses an OFFSITE_CONVERSIONS ad set without its promoted object."""
    for objective, event in (("sales", "Purchase"), ("leads", "Lead")):
        found = problems(campaign_dir, platforms="meta", objective=objective)
        assert [issue.column for issue in found] == ["pixel_id", "conversion_event"]
        assert "meta.pixel_id" in found[0].fix and f"e.g. {event}" in found[1].fix
    assert problems(campaign_dir, platforms="meta", objective="traffic") == []  # clicks need no pixel
    wrong = problems(campaign_dir, platforms="meta", objective="sales", pixel_id="px-1", conversion_event="Buy")
    assert [issue.column for issue in wrong] == ["pixel_id", "conversion_event"]
    assert "numbers" in wrong[0].message and "not a Meta standard event" in wrong[1].message
    assert "Purchase" in wrong[1].fix and "ViewContent" in wrong[1].fix
    kit = "meta:\n  pixel_id: 1234567890123456\n  conversion_event: initiate checkout\n"
    chosen = settings(campaign_dir, kit, platforms="meta", objective="sales")["meta"]
    assert (chosen["pixel_id"], chosen["conversion_event"]) == ("1234567890123456", "INITIATED_CHECKOUT")
    tracking = settings(campaign_dir, kit, platforms="meta", objective="traffic")["meta"]
    assert (tracking["pixel_id"], tracking["conversion_event"]) == ("1234567890123456", "")  # tracking only


def test_eu_political_ads_is_declared_for_every_google_campaign(campaign_dir):
    assert settings(campaign_dir, **GOOGLE)["google"]["eu_political_ads"] == "Doesn't have EU political ads"
    declared = settings(campaign_dir, "google:\n  eu_political_ads: 'yes'\n", **GOOGLE)["google"]
    assert declared["eu_political_ads"] == "Has EU political ads"
    wrong = only(problems(campaign_dir, **GOOGLE, eu_political_ads="maybe"), "eu_political_ads")
    assert "yes" in wrong.fix and "google.eu_political_ads" in wrong.fix


PMAX = {
    "platforms": "pmax", "formats": "square; landscape", "headline_2": "Widgets that last",
    "headline_3": "Built to last", "description_2": "Ships in a day", "brand_kit": "kit.yaml",
}  # fmt: skip


def pmax_problems(folder, **changes) -> list:
    from PIL import Image

    Image.new("RGBA", (400, 100), (20, 30, 40, 255)).save(folder / "logo.png")
    (folder / "kit.yaml").write_text("logo: logo.png\n", encoding="utf-8")
    return problems(folder, **{**PMAX, **changes})


def test_performance_max_rows_meet_the_asset_group_minimums(campaign_dir):
    assert pmax_problems(campaign_dir) == []
    few = only(pmax_problems(campaign_dir, headline_3=""), "headline_3")
    assert "at least 3 headlines" in few.message and "the row has 2" in few.message
    assert "add headline_3" in few.fix
    none = pmax_problems(campaign_dir, headline_2="", headline_3="", description_2="")
    assert [issue.column for issue in none] == ["headline_2", "description_2"]
    assert "add headline_2 and headline_3" in none[0].fix and "at least 2 descriptions" in none[1].message
    long = pmax_problems(
        campaign_dir,
        headline="Widgets for every day",
        headline_2="Widgets made to last",
        headline_3="Widgets, built right",
    )
    assert only(long, "headline").message.startswith("Performance Max needs one of the headlines at 15")
    shape = only(pmax_problems(campaign_dir, formats="square; portrait"), "formats")
    assert "asset groups need a landscape image" in shape.message
    logo = only(pmax_problems(campaign_dir, brand_kit=""), "brand_kit")
    assert "need a logo" in logo.message
