"""pixio-ads export --to pmax on a real run (tiny model): the Editor CSV read back against its
fixture (tests/fixtures/export/pmax-header.csv cites each spelling and limit), the asset group's
text gathered from the rows' copy options, every image listed to attach present with the
manifest's bytes, one campaign budget that is what the rows ask for; and the budget shares."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import good_row, write_csv
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from test_export import header, row_format
from typer.testing import CliRunner

from pixio_ads.campaign.platforms import image_spec
from pixio_ads.cli import app
from pixio_ads.delivery.adsheet import ExportError
from pixio_ads.delivery.budgets import ad_set_budgets, split_amount

PMAX_ROW = {
    "campaign_id": "widgets-pmax", "audiences": "makers", "formats": "square; landscape; portrait",
    "headline": "Build more", "headline_2": "Widgets that last", "headline_3": "Made for makers",
    "primary_text": "Widgets built for every workshop, every day.", "description": "Free shipping",
    "description_2": "Ships in a day from our workshop", "platforms": "pmax", "link": "https://example.com/widget",
    "business_name": "Widget Co.", "call_to_action": "SHOP_NOW", "daily_budget": "30", "brand_kit": "kit.yaml",
}  # fmt: skip


def test_performance_max_asset_group_from_a_run(campaign_dir):
    Image.new("RGBA", (512, 128), (20, 30, 40, 255)).save(campaign_dir / "logo.png")  # a 4:1 logo
    (campaign_dir / "kit.yaml").write_text("logo: logo.png\ngoogle:\n  eu_political_ads: 'no'\n", encoding="utf-8")
    out = campaign_dir / "out"
    campaign = write_csv(campaign_dir, [good_row(**PMAX_ROW)])
    runner = CliRunner()
    ran = runner.invoke(app, ["run", str(campaign), "--out", str(out), "--steps", "1"])
    assert ran.exit_code == 0, ran.output
    exported = runner.invoke(app, ["export", str(out), "--to", "pmax"])
    assert exported.exit_code == 0, exported.output
    folder = out / "export" / "pmax"
    frame = pd.read_csv(folder / "pmax-asset-groups.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame.columns) == header("pmax-header.csv")
    campaign_row, group = frame.to_dict("records")
    assert (campaign_row["Campaign type"], campaign_row["Campaign status"], campaign_row["Budget"]) == (
        "Performance max",
        "Paused",
        "30.00",
    )  # one row x audience at 30 a day
    assert campaign_row["EU political ads"] == "Doesn't have EU political ads" and campaign_row["Asset group"] == ""
    assert (group["Asset group"], group["Asset group status"], group["Business name"]) == (
        "Widget",
        "Paused",
        "Widget Co.",
    )
    assert [group[f"Headline {i}"] for i in range(1, 5)] == ["Build more", "Widgets that last", "Made for makers", ""]
    assert (group["Long headline 1"], group["Long headline 2"]) == (PMAX_ROW["primary_text"], "")
    assert [group[f"Description {i}"] for i in range(1, 4)] == ["Free shipping", PMAX_ROW["description_2"], ""]
    assert group["Final URL"] == PMAX_ROW["link"] and group["Final URL suffix"].endswith("utm_content=widget")
    rows = {row["variant_id"]: row for row in pq.read_table(out / "manifest.parquet").to_pylist()}
    assert len(rows) == 9  # 3 headline options x 3 formats; their clean images are alike: one per shape is used
    attach = pd.read_csv(folder / "google-images.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert set(attach["Group"]) == {"Widget"} and set(attach["Campaign"]) == {"widgets-pmax"}
    fields = {"Landscape image": "landscape", "Square image": "square", "Portrait image": "portrait"}
    assert sorted(attach["Image field"]) == sorted([*fields, "Logo", "Landscape logo"])
    for image in attach[attach["Variant id"] != ""].to_dict("records"):
        row, path = rows[image["Variant id"]], folder / image["File"]
        assert path.read_bytes() == (out / row["clean_path"]).read_bytes()  # clean by default, as for Display
        assert image_spec("pmax", row_format(row)).name == fields[image["Image field"]]
        assert (int(image["Width"]), int(image["Height"])) == (row["width"], row["height"])
    with Image.open(folder / attach.set_index("Image field").loc["Logo", "File"]) as logo:
        assert logo.width == logo.height == 512
    assert {p.relative_to(folder).as_posix() for p in (folder / "images").rglob("*.*")} == set(attach["File"])


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=40))
def test_budget_shares_add_up_to_the_cent(cents, parts):
    amount = f"{Decimal(cents) / 100:.2f}"
    shares = split_amount(amount, parts)
    assert sum(shares) == Decimal(amount) and max(shares) - min(shares) <= Decimal("0.01")


def test_an_audience_budget_is_split_between_the_ad_sets_it_becomes():
    def row(source_row, audience, daily="10", lifetime=""):
        settings = {"meta": {"daily_budget": daily, "lifetime_budget": lifetime}}
        return {
            "campaign_id": "c",
            "source_row": source_row,
            "audience": audience,
            "ad_settings": json.dumps(settings),
        }

    runners, parents = row(2, "runners"), row(2, "parents")
    placed = [("a | feeds", runners), ("a | stories", runners), ("a | de | feeds", runners), ("a | feeds", runners)]
    placed += [("b | feeds", parents), ("shared | feeds", row(3, "x", "5")), ("shared | feeds", row(4, "y", "7"))]
    budgets = ad_set_budgets(placed, "meta")
    assert {name: f"{amount}" for name, (_, amount) in budgets.items()} == {
        "a | feeds": "3.34", "a | stories": "3.33", "a | de | feeds": "3.33", "b | feeds": "10.00",
        "shared | feeds": "12.00",  # two rows naming one ad_set: both budgets
    }  # fmt: skip
    mixed = [("m", row(5, "z")), ("m", row(6, "w", daily="", lifetime="100"))]
    with pytest.raises(ExportError, match="daily and rows with a lifetime budget"):
        ad_set_budgets(mixed, "meta")
