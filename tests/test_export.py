"""pixio-ads export on a real run of the example campaign: every exported file read back
(openpyxl, pandas), header rows compared with the platforms' spelling (fixtures, each citing
where it comes from), every file a sheet names present with the manifest's pixels."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN
from openpyxl import load_workbook
from PIL import Image
from typer.testing import CliRunner

from pixio_ads.campaign import platforms
from pixio_ads.campaign.platforms import image_spec
from pixio_ads.cli import EXIT_FAILED_VARIANTS, EXIT_INVALID_INPUT, app
from pixio_ads.delivery import meta_sheet

FIXTURES = Path(__file__).parent / "fixtures" / "export"


def header(name: str) -> list[str]:
    """The fixture's header row (lines starting with # say where the spellings come from)."""
    with open(FIXTURES / name, encoding="utf-8") as handle:
        return next(csv.reader(line for line in handle if not line.startswith("#")))


@pytest.fixture
def run_out(example_copy) -> Path:
    return example_copy


def manifest_rows(out: Path) -> dict[str, dict]:
    return {row["variant_id"]: row for row in pq.read_table(out / "manifest.parquet").to_pylist()}


def exported(out: Path, target: str, *extra: str):
    result = CliRunner().invoke(app, ["export", str(out), "--to", target, *extra])
    assert result.exit_code == 0, result.output
    return result


def idea(row: dict) -> tuple:
    return (row["product_id"], row["audience"], row["style"], row["seed_index"])


def test_meta_bulk_sheet(run_out):
    exported(run_out, "meta")
    folder = run_out / "export" / "meta"
    book = load_workbook(folder / "meta-ads.xlsx")
    sheet = [[cell.value for cell in row] for row in book.active.iter_rows()]
    frame = pd.read_csv(folder / "meta-ads.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert sheet[0] == list(frame.columns) == header("meta-ads-header.csv")
    assert [["" if v is None else str(v) for v in row] for row in sheet[1:]] == frame.values.tolist()
    rows = manifest_rows(run_out)
    meta_rows = [r for r in rows.values() if "meta" in r["platforms"]]
    stories = {idea(r) for r in meta_rows if r["format"] == "story"}
    assert len(frame) == len({idea(r) for r in meta_rows}) + len(stories)  # a feeds ad per idea, a stories ad too
    assert set(frame["Campaign Status"]) == set(frame["Ad Set Run Status"]) == set(frame["Ad Status"]) == {"PAUSED"}
    assert set(frame["Creative Type"]) == {"Link Page Post Ad"} and frame["Ad Name"].is_unique
    assert not list(folder.glob("*.zip"))  # the media library takes images/, Ads Manager the sheet
    assert sorted(p.name for p in (folder / "images").iterdir()) == sorted(frame["Image File Name"])
    for ad in frame.to_dict("records"):
        variant = ad["URL Tags"].split("utm_content=", 1)[1].split("&")[0]
        row = rows[variant]
        with Image.open(folder / "images" / ad["Image File Name"]) as image:
            assert image.size == (row["width"], row["height"])
        assert (folder / "images" / ad["Image File Name"]).read_bytes() == (run_out / row["output_path"]).read_bytes()
        assert (ad["Title"], ad["Link"], ad["Call to Action"]) == (row["headline"], row["link"], "SHOP_NOW") or (
            row["product_id"] == "halo-lamp" and ad["Call to Action"] == "LEARN_MORE"
        )
        assert ad["Body"] == (row["primary_text"] or row["headline"])
        assert "utm_campaign" not in ad["URL Tags"] or "utm_campaign" not in ad["Link"]
        assert ad["URL Tags"].endswith("ad_id={{ad.id}}&placement={{placement}}")
        placement = "stories" if row["format"] == "story" else "feeds"
        assert ad["Ad Name"].endswith(placement) and ad["Ad Set Name"].endswith(f"| {placement}")
        expected = ("story", "story") if placement == "stories" else ("feed", "stream")
        assert (ad["Facebook Positions"], ad["Instagram Positions"]) == expected
        assert ad["Link Object ID"] == "o:100000000000001" and ad["Special Ad Categories"] == "None"
        assert ad["Optimization Goal"] == ("LINK_CLICKS" if row["objective"] == "traffic" else "OFFSITE_CONVERSIONS")
        conversion = ("tp:100000000000002", "PURCHASE") if row["objective"] == "sales" else ("", "")
        assert (ad["Optimized Conversion Tracking Pixels"], ad["Optimized Event"]) == conversion
        kit = row["brand_kit"] != ""  # the lamp row sets its own columns; the others take the brand kit's
        assert ad["Countries"] == ("US, CA" if kit else "US, GB")
        assert (ad["Age Min"], ad["Age Max"], ad["Billing Event"]) == ("18", "65", "IMPRESSIONS")
    assert_budgets_add_up(frame, rows)
    assert set(frame["Campaign Objective"]) == {"Outcome Sales", "Outcome Traffic"}


def assert_budgets_add_up(frame, rows: dict) -> None:
    """Each ad set's budget once: together exactly what the rows ask for, per row x audience."""
    ad_sets = frame.drop_duplicates("Ad Set Name")
    assert ad_sets["Ad Set Name"].is_unique and (ad_sets["Ad Set Daily Budget"] != "").all()
    variants = [row for row in rows.values() if "meta" in row["platforms"]]
    asked = {(r["source_row"], r["audience"]): json.loads(r["ad_settings"])["meta"]["daily_budget"] for r in variants}
    assert len(asked) == 4  # 2 audiences of the bottle, the mug's and the lamp's
    assert sum(Decimal(v) for v in ad_sets["Ad Set Daily Budget"]) == sum(Decimal(v) for v in asked.values())
    assert sorted(ad_sets["Ad Set Daily Budget"]) == ["10.00", "10.00", "10.00", "10.00", "10.00", "20.00"]


def test_google_editor_csv_lists_every_image_to_attach(run_out):
    exported(run_out, "google")
    folder = run_out / "export" / "google"
    frame = pd.read_csv(folder / "google-ads.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame.columns) == header("google-ads-header.csv")
    campaigns = frame[frame["Campaign type"] != ""]
    columns = ["Campaign", "Campaign type", "Campaign status", "Budget", "Budget type", "EU political ads"]
    assert campaigns[columns].values.tolist() == [
        ["spring-sale", "Display", "Paused", "20.00", "Daily", "Doesn't have EU political ads"]
    ]  # one row x audience (the mug's) at 20 a day
    assert list(campaigns["Bid strategy type"]) == ["Maximize conversions"]  # the rows' objective is sales
    groups = frame[frame["Ad group status"] != ""]
    assert list(groups["Ad group"]) == ["Mugs - remote workers"]
    ads = frame[frame["Ad type"] != ""]
    rows = manifest_rows(run_out)
    google = [r for r in rows.values() if "google" in r["platforms"]]
    assert len(ads) == len({idea(r) for r in google}) == 2
    assert set(ads["Ad type"]) == {"Responsive display ad"} and set(ads["Status"]) == {"Paused"}
    assert frame.index.get_loc(campaigns.index[0]) < frame.index.get_loc(groups.index[0]) < ads.index.min()
    for ad in ads.to_dict("records"):
        assert len(ad["Headline 1"]) <= 30 and len(ad["Long headline"]) <= 90 and len(ad["Description 1"]) <= 90
        assert ad["Business name"] == "Spring Co." and ad["Call to action"] == "Shop now"
    attach = pd.read_csv(folder / "google-images.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    for ad in ads.to_dict("records"):
        key = ad["Final URL suffix"].rsplit("&", 1)[1]  # utm_content=<the landscape image's variant id>
        images = attach[attach["Ad"] == key]
        assert set(images["Group"]) == {ad["Ad group"]} and set(images["Campaign"]) == {ad["Campaign"]}
        assert sorted(images["Image field"]) == ["Marketing image", "Square logo", "Square marketing image"]
        for image in images[images["Variant id"] != ""].to_dict("records"):
            path, row = folder / image["File"], rows[image["Variant id"]]
            # Google gets the clean image by default: no copy, button or logo drawn in
            assert path.stem.endswith("-clean") and row["deliverables"] == "creative; clean"
            assert path.read_bytes() == (run_out / row["clean_path"]).read_bytes()
            shape = image_spec("google", row_format(row)).name
            assert image["Image field"] == {"landscape": "Marketing image", "square": "Square marketing image"}[shape]
            assert (int(image["Width"]), int(image["Height"])) == (row["width"], row["height"])
        logo = images[images["Image field"] == "Square logo"].iloc[0]
        with Image.open(folder / logo["File"]) as square:  # the brand kit's 3:1 logo, padded to 1:1
            assert square.width == square.height >= 128 and square.getpixel((0, 0))[3] == 0
    names = {p.relative_to(folder).as_posix() for p in (folder / "images").rglob("*.*")}
    assert names == set(
        attach["File"]
    )  # nothing copied that no ad uses (no portrait: a responsive display ad has none)


def row_format(row):
    from pixio_ads.core.formats import AdFormat

    return AdFormat(row["format"], row["width"], row["height"])


def test_csv_export_has_every_creative(run_out):
    exported(run_out, "csv")
    folder = run_out / "export" / "csv"
    frame = pd.read_csv(folder / "creatives.csv", encoding="utf-8-sig", keep_default_na=False)
    rows = manifest_rows(run_out)
    assert sorted(frame["variant_id"]) == sorted(rows)
    for creative in frame.to_dict("records"):
        path = folder / creative["file"]
        assert path.stat().st_size == creative["bytes"]
        with Image.open(path) as image:
            assert image.size == (creative["width"], creative["height"])
        row = rows[creative["variant_id"]]
        if row["clean_path"]:  # the clean image beside the creative
            assert (folder / creative["clean_file"]).read_bytes() == (run_out / row["clean_path"]).read_bytes()
        else:
            assert creative["clean_file"] == ""


def test_a_file_over_the_platform_limit_is_left_out_with_its_reason(run_out, monkeypatch, tmp_path):
    google = [r for r in manifest_rows(run_out).values() if "google" in r["platforms"]]
    sizes = sorted((run_out / r["clean_path"]).stat().st_size for r in google)  # Google's images: the clean ones
    monkeypatch.setitem(platforms.MAX_FILE_BYTES, "google", sizes[0] - 1)
    result = CliRunner().invoke(app, ["export", str(run_out), "--to", "google", "--out", str(tmp_path / "g")])
    assert result.exit_code == EXIT_INVALID_INPUT  # no ad keeps its images
    assert "over Google Ads's" in result.output and "left out" in result.output
    monkeypatch.setitem(platforms.MAX_FILE_BYTES, "google", sizes[-1] - 1)
    result = CliRunner().invoke(app, ["export", str(run_out), "--to", "google", "--out", str(tmp_path / "g")])
    assert result.exit_code == EXIT_FAILED_VARIANTS and "1 creative(s) left out" in result.output


def test_a_failed_export_leaves_the_previous_one_whole(run_out, tmp_path, monkeypatch):
    dest = tmp_path / "meta"
    exported(run_out, "meta", "--out", str(dest))
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(meta_sheet, "write_xlsx", disk_full)
    result = CliRunner().invoke(app, ["export", str(run_out), "--to", "meta", "--out", str(dest)])
    assert result.exit_code == EXIT_FAILED_VARIANTS and "the previous one is unchanged" in result.output
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_export_errors_are_clear(tmp_path, run_out):
    missing = CliRunner().invoke(app, ["export", str(tmp_path), "--to", "meta"])
    assert missing.exit_code == EXIT_INVALID_INPUT and "no manifest.parquet" in missing.output
    unknown = CliRunner().invoke(app, ["export", str(run_out), "--to", "tiktok"])
    assert (
        unknown.exit_code == EXIT_INVALID_INPUT
        and "use one of meta, google, pmax, merchant-center, meta-catalog, csv" in unknown.output
    )


def test_rows_without_the_platform_are_not_exported_to_it(tmp_path, prefect_harness):
    campaign = tmp_path / "campaign"
    shutil.copytree(EXAMPLE_CAMPAIGN.parent, campaign)
    frame = pd.read_csv(campaign / "campaign.csv", dtype=str, keep_default_na=False)
    frame["platforms"] = ""
    frame.to_csv(campaign / "campaign.csv", index=False)
    out = tmp_path / "out"
    args = ["run", str(campaign / "campaign.csv"), "--out", str(out), "--steps", "1", "--limit", "2"]
    assert CliRunner().invoke(app, args).exit_code == 0
    result = CliRunner().invoke(app, ["export", str(out), "--to", "meta"])
    assert result.exit_code == EXIT_INVALID_INPUT and "add meta to the campaign's platforms column" in result.output


def test_a_changed_link_reaches_the_manifest_without_rendering_again(tmp_path, prefect_harness):
    campaign = tmp_path / "campaign"
    shutil.copytree(EXAMPLE_CAMPAIGN.parent, campaign)
    out = tmp_path / "out"
    args = ["run", str(campaign / "campaign.csv"), "--out", str(out), "--steps", "1", "--limit", "2"]
    assert CliRunner().invoke(app, args).exit_code == 0
    first = manifest_rows(out)
    frame = pd.read_csv(campaign / "campaign.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "link"] = "https://example.com/new-landing"
    frame.to_csv(campaign / "campaign.csv", index=False)
    rerun = CliRunner().invoke(app, args)
    assert rerun.exit_code == 0 and "0 rendered by this run" in rerun.output
    second = manifest_rows(out)
    assert second.keys() == first.keys()
    assert {row["link"] for row in second.values()} == {"https://example.com/new-landing"}
    assert all(second[v]["output_sha256"] == first[v]["output_sha256"] for v in first)
