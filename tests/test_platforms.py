"""validate checks each platform a row names, at the limits' boundaries: copy lengths, the
link, the call to action, image shapes and sizes; warnings for what feeds truncate."""

from __future__ import annotations

import pytest
from helpers import good_row, write_csv

from pixio_ads.campaign.platforms import MAX_FILE_BYTES, call_to_action_key, file_size_problem
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.core.errors import ValidationError

AD = {
    "link": "https://example.com/widget",
    "description": "Free shipping",
    "business_name": "Widget Co.",
    "cta": "Shop now",
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
