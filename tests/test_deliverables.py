"""Clean images (deliverables.py): the column and brand kit keys, the clean file's pixels,
watermark and manifest columns, resuming, review, and the image each export uses."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN, SIZES, good_row, write_csv
from PIL import Image
from typer.testing import CliRunner

from pixio_ads.campaign.deliverables import resolve_deliverables
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.cli import EXIT_INVALID_INPUT, app
from pixio_ads.core.errors import ValidationError
from pixio_ads.delivery.review import ReviewStore, write_approved
from pixio_ads.run.compose import Assets, finish, plan_layout
from pixio_ads.trust.payload import payload_for, read_watermark

AD = {
    "link": "https://example.com/widget",
    "description": "Free shipping",
    "business_name": "Widget Co.",
    "page_id": "104123456789012",
    "daily_budget": "25",
    "countries": "US",
    "cta": "Shop now",
    "formats": "square; landscape",
}


def resolved(cell: str, platforms=("meta", "google"), brand=None):
    found = []
    result = resolve_deliverables(cell, platforms, brand or {}, lambda *problem: found.append(problem))
    return result.files, result.per_platform, [message for _, message, _, _ in found]


@pytest.mark.parametrize(
    "cell, platforms, files, images",
    [
        ("", ("meta", "google"), "creative; clean", {"meta": "creative", "google": "clean"}),
        ("", ("meta",), "creative", {"meta": "creative"}),
        ("", (), "creative", {}),
        ("creative", ("meta", "google"), "creative", {"meta": "creative", "google": "creative"}),
        ("clean", ("meta",), "creative; clean", {"meta": "clean"}),
        ("Both", ("meta",), "creative; clean", {"meta": "creative"}),
        ("both", (), "creative; clean", {}),
        (
            "meta=clean; google=creative",
            ("meta", "google"),
            "creative; clean",
            {"meta": "clean", "google": "creative"},
        ),
        ("google: creative", ("meta", "google"), "creative", {"meta": "creative", "google": "creative"}),
    ],
)
def test_the_column_resolves_to_files_and_an_image_per_platform(cell, platforms, files, images):
    assert resolved(cell, platforms) == (files, images, [])


def test_the_brand_kit_sets_a_platforms_default_and_the_row_wins():
    kit = {"google": {"deliverable": "creative"}, "meta": {"deliverable": "clean"}}
    assert resolved("", brand=kit)[:2] == ("creative; clean", {"meta": "clean", "google": "creative"})
    assert resolved("creative", brand=kit)[:2] == ("creative", {"meta": "creative", "google": "creative"})
    assert resolved("meta=creative", brand=kit)[:2] == ("creative", {"meta": "creative", "google": "creative"})


@pytest.mark.parametrize(
    "cell, message",
    [
        ("everything", "cannot read 'everything'"),
        ("meta=poster", "cannot read 'meta=poster'"),
        ("tiktok=clean", "cannot read 'tiktok=clean'"),
        ("google=clean", "names Google Ads, which is not in the row's platforms"),
        ("meta=clean; meta=creative", "names meta twice"),
    ],
)
def test_bad_cells_are_named(cell, message):
    assert resolved(cell, ("meta",))[2] == [message]


def test_validate_names_row_column_and_fix(campaign_dir):
    path = write_csv(campaign_dir, [good_row(**AD, platforms="meta", deliverables="meta=clean; google=clean")])
    with pytest.raises(ValidationError) as refused:
        load_campaign(path)
    [issue] = refused.value.issues
    assert (issue.row, issue.column) == (2, "deliverables")
    assert "add google to the platforms column" in issue.fix
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == EXIT_INVALID_INPUT and "deliverables" in result.output
    assert "Traceback" not in result.output


def test_a_brand_kit_with_an_unknown_deliverable_is_refused(campaign_dir):
    (campaign_dir / "kit.yaml").write_text("google:\n  deliverable: poster\n", encoding="utf-8")
    with pytest.raises(ValidationError) as refused:
        load_campaign(write_csv(campaign_dir, [good_row(**AD, platforms="google", brand_kit="kit.yaml")]))
    assert any("deliverable" in str(issue) for issue in refused.value.issues)


def test_only_rows_that_write_a_clean_image_get_other_variant_ids(campaign_dir):
    def ids(**changes) -> list[str]:
        return [v.variant_id for v in expand(load_campaign(write_csv(campaign_dir, [good_row(**AD, **changes)])))]

    plain = ids()  # no platform: the creative only, as before the column existed
    assert (
        ids(platforms="meta")
        == ids(deliverables="creative")
        == ids(platforms="meta; google", deliverables="creative")
        == plain
    )
    assert set(ids(platforms="google")).isdisjoint(plain)  # a clean image to write: new ids, rendered again
    assert ids(platforms="google") == ids(deliverables="both")


def test_the_clean_image_is_the_creative_without_copy_button_and_logo(campaign_dir):
    shutil.copy(EXAMPLE_CAMPAIGN.parent / "logo.png", campaign_dir / "logo.png")
    (campaign_dir / "kit.yaml").write_text("logo: logo.png\nlogo_position: top-left\n", encoding="utf-8")
    path = write_csv(campaign_dir, [good_row(deliverables="both", brand_kit="kit.yaml", formats="square")])
    variant = expand(load_campaign(path))[0]
    rng = np.random.default_rng(3)
    generated = Image.fromarray(rng.integers(60, 200, (512, 512, 3), dtype=np.uint8))
    assets = Assets()
    made = finish(variant, generated, assets)
    creative, clean = np.asarray(made.image), np.asarray(made.clean)
    plan = plan_layout(variant, assets.brand(variant))
    copy_area = np.zeros(creative.shape[:2], bool)
    for box in (plan.headline, plan.cta, plan.logo):
        copy_area[box.top : box.bottom, box.left : box.right] = True
    assert (creative[~copy_area] == clean[~copy_area]).all()  # scene, product and AI label: the same pixels
    assert not copy_area[plan.label.top : plan.label.bottom, plan.label.left : plan.label.right].any()
    for box in (plan.headline, plan.cta, plan.logo):  # nothing of the copy, button or logo
        region = (slice(box.top, box.bottom), slice(box.left, box.right))
        assert (creative[region] != clean[region]).any(axis=2).mean() > 0.02
    assert (
        finish(variant.__class__(**{**_fields(variant), "deliverables": "creative"}), generated, assets).clean is None
    )


def _fields(variant) -> dict:
    return {name: getattr(variant, name) for name in variant.__slots__}


@pytest.fixture
def example_rows(example_out) -> dict[str, dict]:
    return {row["variant_id"]: row for row in pq.read_table(example_out / "manifest.parquet").to_pylist()}


def test_a_run_writes_each_clean_image_with_its_own_watermark_and_hash(example_out, example_rows):
    with_clean = [row for row in example_rows.values() if row["clean_path"]]
    assert with_clean and all("google" in row["platforms"] for row in with_clean)  # the default: Google's rows
    assert all(row["deliverables"] == "creative" for row in example_rows.values() if not row["clean_path"])
    for row in with_clean:
        data = (example_out / row["clean_path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["clean_sha256"]
        assert row["clean_watermark_payload"] == payload_for(row["variant_id"], "clean") != row["watermark_payload"]
        with Image.open(example_out / row["clean_path"]) as image:
            assert image.size == (row["width"], row["height"])
            assert read_watermark(image, SIZES).payload == row["clean_watermark_payload"]
        assert b'pixio:Image="clean"' in data and b"trainedAlgorithmicMedia" in data


def test_verify_tells_the_clean_image_from_its_creative(example_out, example_rows):
    row = next(row for row in example_rows.values() if row["clean_path"])
    for path, label in ((row["clean_path"], f"{row['variant_id']}/clean"), (row["output_path"], row["variant_id"])):
        result = CliRunner().invoke(app, ["verify", str(example_out / path), "--json"])
        assert result.exit_code == 0, result.output
        (found,) = json.loads(result.output)["files"]
        assert found["watermark"]["row"] == label and found["watermark"]["row_distance_bits"] <= 2


def test_a_lost_clean_image_is_rendered_again(example_copy, example_rows):
    row = next(row for row in example_rows.values() if row["clean_path"])
    (example_copy / row["clean_path"]).unlink()
    args = ["run", str(EXAMPLE_CAMPAIGN), "--out", str(example_copy), "--steps", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and "(1 rendered by this run)" in result.output, result.output
    again = {r["variant_id"]: r for r in pq.read_table(example_copy / "manifest.parquet").to_pylist()}
    assert (example_copy / row["clean_path"]).is_file()
    assert again[row["variant_id"]]["clean_sha256"] == row["clean_sha256"]  # the same pixels


def test_one_review_decision_covers_both_files(example_copy, example_rows):
    row = next(row for row in example_rows.values() if row["clean_path"])
    idea = [r for r in example_rows.values() if _idea(r) == _idea(row)]  # its landscape and square formats
    for creative in idea:
        ReviewStore(example_copy).record(creative["variant_id"], creative["output_sha256"], "approved", "tester")
    assert write_approved(example_copy).approved == len(idea) == 2
    for path in (row["output_path"], row["clean_path"]):
        assert (example_copy / "approved" / path).read_bytes() == (example_copy / path).read_bytes()
    result = CliRunner().invoke(app, ["export", str(example_copy), "--to", "google"])
    assert result.exit_code == 0 and "1 ad(s), 2 image(s)" in result.output, result.output
    exported = sorted((example_copy / "export" / "google" / "images").rglob("*-clean.png"))
    assert sorted(p.read_bytes() for p in exported) == sorted(
        (example_copy / r["clean_path"]).read_bytes() for r in idea
    )


def _idea(row: dict) -> tuple:
    return (row["product_id"], row["audience"], row["style"], row["seed_index"])


def test_a_google_row_that_chooses_the_creative_exports_it_and_writes_no_clean_file(tmp_path, prefect_harness):
    campaign = tmp_path / "campaign"
    shutil.copytree(EXAMPLE_CAMPAIGN.parent, campaign)
    frame = pd.read_csv(campaign / "campaign.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["product_id"] == "ember-mug"].assign(deliverables="google=creative", styles="minimal")
    frame.to_csv(campaign / "campaign.csv", index=False)
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["run", str(campaign / "campaign.csv"), "--out", str(out), "--steps", "1"])
    assert run.exit_code == 0, run.output
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert [row["clean_path"] for row in rows] == [None, None] and not list(out.rglob("*-clean.*"))
    export = CliRunner().invoke(app, ["export", str(out), "--to", "google"])
    assert export.exit_code == 0, export.output
    sheet = pd.read_csv(out / "export/google/google-ads.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    [ad] = sheet[sheet["Ad type"] != ""].to_dict("records")
    by_id = {row["variant_id"]: row for row in rows}
    attach = pd.read_csv(
        out / "export/google/google-images.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False
    )
    [image] = attach[attach["Image field"] == "Marketing image"].to_dict("records")
    assert ad["Final URL suffix"].endswith(image["Ad"]) and not image["File"].endswith("-clean.png")
    landscape = out / "export/google" / image["File"]
    assert landscape.read_bytes() == (out / by_id[image["Variant id"]]["output_path"]).read_bytes()
