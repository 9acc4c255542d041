"""Templates (sandbox, error locations) and expansion (ids, seeds, order)."""

from __future__ import annotations

import pytest
from helpers import EXAMPLE_CAMPAIGN, good_row, write_csv

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ValidationError
from pixio_ads.render.tiny_model import EMBEDDED_DEFAULT_STEPS, EMBEDDED_MODEL_ID
from pixio_ads.settings import RenderSettings


def campaign_with_template(folder, source: str, **row):
    (folder / "templates").mkdir(exist_ok=True)
    (folder / "templates" / "t.j2").write_text(source)
    return load_campaign(write_csv(folder, [good_row(template="t", **row)]))


def expand_issues(campaign):
    with pytest.raises(ValidationError) as caught:
        expand(campaign)
    return caught.value.issues


def test_expansion_is_the_full_product_in_stable_order(campaign_dir):
    campaign = campaign_with_template(
        campaign_dir, "{{ product_name }} for {{ audience }}, {{ style }}, {{ format }}", styles="a; b", variants="3"
    )
    variants = expand(campaign)
    assert len(variants) == 2 * 2 * 2 * 3  # audiences x styles x formats x seeds
    assert [(v.audience, v.style, v.format, v.seed_index) for v in variants[:4]] == [
        ("makers", "a", "square", 0), ("makers", "a", "square", 1), ("makers", "a", "square", 2), ("makers", "a", "story", 0),
    ]  # fmt: skip
    assert variants[0].prompt == "Widget for makers, a, square"
    assert len({v.variant_id for v in variants}) == len(variants)


def test_ids_and_seeds_are_deterministic():
    first = expand(load_campaign(EXAMPLE_CAMPAIGN))
    second = expand(load_campaign(EXAMPLE_CAMPAIGN))
    assert [(v.variant_id, v.seed) for v in first] == [(v.variant_id, v.seed) for v in second]
    assert [(v.variant_id, v.seed) for v in first] == [
        (v.variant_id, v.seed) for v in expand(load_campaign(EXAMPLE_CAMPAIGN.with_suffix(".xlsx")))
    ]


def test_variant_id_follows_what_determines_pixels():
    base = expand(load_campaign(EXAMPLE_CAMPAIGN))
    other_model = expand(load_campaign(EXAMPLE_CAMPAIGN), RenderSettings(model="some/model"))
    more_steps = expand(load_campaign(EXAMPLE_CAMPAIGN), RenderSettings(steps=9))
    assert all(a.variant_id != b.variant_id for a, b in zip(base, other_model))
    assert all(a.variant_id != b.variant_id for a, b in zip(base, more_steps))
    assert [v.seed for v in base] == [v.seed for v in other_model]  # seeds follow the idea, not settings


def test_base_seed_and_formats_share_seeds(campaign_dir):
    campaign = campaign_with_template(campaign_dir, "x {{ style }}", base_seed="100", variants="2", audiences="one")
    variants = expand(campaign)
    assert [(v.format, v.seed) for v in variants] == [("square", 100), ("square", 101), ("story", 100), ("story", 101)]


def test_cli_overrides_win_and_defaults_follow_model(campaign_dir):
    campaign = campaign_with_template(campaign_dir, "x", steps="12", guidance="3", model="org/m")
    v = expand(campaign)[0]
    assert (v.model_id, v.steps, v.guidance) == ("org/m", 12, 3.0)
    v = expand(campaign, RenderSettings(model="other/m", steps=5, guidance=0.0))[0]
    assert (v.model_id, v.steps, v.guidance) == ("other/m", 5, 0.0)
    v = expand(campaign_with_template(campaign_dir, "x"))[0]
    assert (v.model_id, v.steps) == (EMBEDDED_MODEL_ID, EMBEDDED_DEFAULT_STEPS)


def test_sandbox_blocks_python_internals(campaign_dir):
    (issue,) = expand_issues(campaign_with_template(campaign_dir, "ok\n{{ ''.__class__.__mro__ }}"))
    assert issue.file.endswith("t.j2") and issue.line == 2
    assert "sandbox" in issue.message and "__class__" in issue.message


def test_undefined_variable_names_template_line(campaign_dir):
    (issue,) = expand_issues(campaign_with_template(campaign_dir, "{{ product_name }}\n\n{{ colour }}"))
    assert issue.line == 3 and "colour" in issue.message and "product_name" in issue.fix
    assert "first used by campaign row 2" in issue.message


def test_syntax_error_names_template_line(campaign_dir):
    (issue,) = expand_issues(campaign_with_template(campaign_dir, "fine\n{% if %}\n"))
    assert issue.line == 2 and "syntax" in issue.message


def test_one_template_error_is_reported_once_for_many_rows(campaign_dir):
    (campaign_dir / "templates").mkdir()
    (campaign_dir / "templates" / "t.j2").write_text("{{ nope }}")
    rows = [good_row(template="t", product_id=f"p{i}") for i in range(50)]
    assert len(expand_issues(load_campaign(write_csv(campaign_dir, rows)))) == 1


def test_duplicate_rows_are_reported(campaign_dir):
    path = write_csv(campaign_dir, [good_row(), good_row()])
    (issue,) = expand_issues(load_campaign(path))
    assert issue.row == 3 and "row 2" in issue.message


def test_whitespace_in_templates_does_not_reach_the_prompt(campaign_dir):
    campaign = campaign_with_template(
        campaign_dir, "{# note #}\n  {{ product_name }}\n{% if format == 'story' %}tall,{% endif %}\n  end\n"
    )
    assert {v.prompt for v in expand(campaign)} == {"Widget end", "Widget tall, end"}


def test_limit_takes_the_first_variants():
    full = expand(load_campaign(EXAMPLE_CAMPAIGN))
    assert expand(load_campaign(EXAMPLE_CAMPAIGN), limit=3) == full[:3]
