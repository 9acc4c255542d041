"""Copy options and languages (copy.py), every script drawn (scripts.py, linebreak.py), the AI
label in the creative's language (labels.py), and the exports grouped by language."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN, good_row, write_csv
from PIL import Image
from typer.testing import CliRunner

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.cli import app
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.formats import NAMED_FORMATS
from pixio_ads.creative.brand import DEFAULT_BRAND, load_brand_kit
from pixio_ads.creative.labels import LABELS, label_for
from pixio_ads.creative.linebreak import break_units
from pixio_ads.creative.overlay import copy_fonts, label_text, layout_for, overlay_copy
from pixio_ads.creative.scripts import is_rtl, scripts_in
from pixio_ads.creative.textfit import fit_text
from pixio_ads.creative.typeface import choose_font, font_coverage
from pixio_ads.trust.provenance import disclose

SAMPLES = {
    "ar": "تخفيضات الربيع على كل الأكواب الآن",
    "he": "מבצע אביב על כל הספלים עכשיו",
    "ja": "あなたの朝を、もっとゆっくりと。毎日のコーヒーを楽しもう",
    "zh-Hans": "让你的早晨慢下来，享受每一杯咖啡的温暖",
    "ko": "당신의 아침을 더 여유롭게 만들어 드립니다",
    "th": "สวัสดีตอนเช้าที่ช้าลงกับกาแฟแก้วโปรดของคุณทุกวัน",
    "hi": "आपकी सुबह, धीमी और सुकून भरी कॉफी के साथ",
    "ru": "Ваше утро станет медленнее и теплее",
    "el": "Το πρωινό σας, πιο αργά και πιο ζεστό",
    "de": "Donaudampfschifffahrtsgesellschaftskapitänsmützenkaffeebecher",
}
needs_noto = pytest.mark.needs("noto")


def variants_of(folder, **cells):
    return expand(load_campaign(write_csv(folder, [good_row(**cells)])))


def problems(folder, **cells) -> list:
    with pytest.raises(ValidationError) as refused:
        load_campaign(write_csv(folder, [good_row(**cells)]))
    return refused.value.issues


# --- copy options and languages ----------------------------------------------------------------


def test_headline_and_cta_options_multiply_variants_and_keep_the_first_options_ids(campaign_dir):
    plain = variants_of(campaign_dir, audiences="a", formats="square")
    options = variants_of(
        campaign_dir,
        audiences="a",
        formats="square",
        headline_2="Build faster",
        cta_2="Order now",
        headline_3="Make it",
    )
    assert len(options) == 3 * 2 * len(plain)
    assert [(v.headline_option, v.cta_option) for v in options] == [(h, c) for h in (1, 2, 3) for c in (1, 2)]
    assert {(v.headline, v.cta) for v in options} == {
        (h, c) for h in ("Build more", "Build faster", "Make it") for c in ("Buy now", "Order now")
    }
    assert options[0].variant_id == plain[0].variant_id  # an existing one-headline campaign keeps its ids
    assert len({v.variant_id for v in options}) == len(options)
    assert {v.seed for v in options} == {plain[0].seed}  # the same scene: only the copy differs


def test_languages_are_a_variant_dimension_with_their_own_copy(campaign_dir):
    found = variants_of(
        campaign_dir,
        audiences="a",
        formats="square; story",
        languages="en; de; ru",
        **{
            "headline[de]": "Mehr bauen",
            "cta[de]": "Jetzt kaufen",
            "headline[ru]": "Строить больше",
            "cta[ru]": "Купить",
            "primary_text[de]": "Werkzeug für alle",
        },
    )  # Cyrillic: the bundled DejaVu font draws it, so this runs without the Noto fonts too
    assert [(v.language, v.format) for v in found] == [
        (lang, fmt) for lang in ("en", "de", "ru") for fmt in ("square", "story")
    ]
    german = [v for v in found if v.language == "de"]
    assert {(v.headline, v.cta, v.primary_text) for v in german} == {
        ("Mehr bauen", "Jetzt kaufen", "Werkzeug für alle")
    }
    assert json.loads(german[0].copy_options)["languages"] == ["en", "de", "ru"]
    english = variants_of(campaign_dir, audiences="a", formats="square; story")
    assert [v.variant_id for v in found[:2]] == [v.variant_id for v in english]  # en ids as before


@pytest.mark.parametrize(
    "cells, column, words",
    [
        ({"languages": "en; fr", "headline[fr]": "Construire"}, "cta[fr]", "the fr cta is empty"),
        ({"headline[it]": "Costruire"}, "headline[it]", "does not list"),
        ({"languages": "en; english"}, "languages", "is not a language tag"),
        ({"languages": "en; de; DE", "headline[de]": "a", "cta[de]": "b"}, "languages", "listed twice"),
        ({"headline_2": "Build more"}, "headline_2", "repeats an earlier headline option"),
        ({"headline[en]": "Build"}, "headline[en]", "first language"),
    ],
)
def test_bad_copy_columns_are_named(campaign_dir, cells, column, words):
    issues = problems(campaign_dir, **cells)
    assert [issue.column for issue in issues] == [column], [str(i) for i in issues]
    assert words in issues[0].message or words in issues[0].fix


def test_tags_are_normalised(campaign_dir):
    (row,) = load_campaign(
        write_csv(
            campaign_dir, [good_row(languages="EN; pt-br", **{"headline[pt-BR]": "Construa", "cta[pt-br]": "Compre"})]
        )
    ).rows
    assert [copy.language for copy in row.copy] == ["en", "pt-BR"]


def test_platform_limits_apply_to_every_option_and_language(campaign_dir):
    ad = {"platforms": "google", "link": "https://example.com", "business_name": "Widget Co.", "daily_budget": "9",
          "description": "Free shipping", "cta": "Shop now", "formats": "square; landscape"}  # fmt: skip
    issues = problems(
        campaign_dir, **ad, languages="en; ja", headline_2="x" * 31,
        **{"headline[ja]": "あ" * 16, "cta[ja]": "購入", "description[ja]": "送料無料"},
    )  # fmt: skip
    assert sorted(issue.column for issue in issues) == ["headline[ja]", "headline_2"]
    missing = problems(campaign_dir, **ad, languages="en; de", **{"headline[de]": "Bauen", "cta[de]": "Kaufen"})
    assert [issue.column for issue in missing] == ["description[de]"]


# --- every script -------------------------------------------------------------------------------


@needs_noto
@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_every_script_is_drawn_with_a_font_that_has_each_character(language):
    text = SAMPLES[language]
    fmt = NAMED_FORMATS["square"]
    plan = layout_for(fmt, 0.05, DEFAULT_BRAND, is_rtl(text))
    background = Image.new("RGB", (fmt.width, fmt.height), (90, 110, 130))
    image, result = overlay_copy(background, text, "OK", plan, DEFAULT_BRAND, language)
    assert result.missing_glyphs == ""
    fonts = copy_fonts(text, DEFAULT_BRAND.headline_fonts, DEFAULT_BRAND, language)
    fitted = fit_text(text, fonts, plan.headline.width, plan.headline.height, 24, 3, None, language)
    covered = font_coverage(fitted.font_path)
    assert all(char in covered for char in text if not char.isspace())  # no missing-glyph box
    assert "".join(fitted.lines).replace(" ", "").replace("-", "") == text.replace(" ", "").replace("-", "")
    box = result.headline.box
    drawn = np.asarray(image.crop(box.as_tuple())) != np.asarray(background.crop(box.as_tuple()))
    assert drawn.any(axis=2).mean() > 0.05  # ink where the headline is
    reference = Image.new("RGB", background.size, (90, 110, 130))  # the same lines in the chosen font alone
    from PIL import ImageDraw, ImageFont

    font = ImageFont.truetype(*_file_and_face(fitted.font_path, fitted.size))
    ImageDraw.Draw(reference).text((10, 10), fitted.lines[0], font=font, fill=(255, 255, 255))
    assert (np.asarray(reference) != (90, 110, 130)).any(axis=2).sum() > 0


def _file_and_face(spec: str, size: int):
    path, _, face = spec.rpartition("#")
    return (path, size, int(face)) if path and face.isdigit() else (spec, size, 0)


@needs_noto
def test_cjk_lines_break_between_characters_but_never_before_closing_punctuation():
    text = SAMPLES["ja"]
    fonts = copy_fonts(text, DEFAULT_BRAND.headline_fonts, DEFAULT_BRAND, "ja")
    fitted = fit_text(text, fonts, 420, 400, 24, 3, None, "ja")
    assert len(fitted.lines) >= 2 and "".join(fitted.lines) == text
    assert not any(line[0] in "。、，」）ーっゃゅょァィゥェォッャュョ" for line in fitted.lines[1:])  # strict kinsoku
    assert fitted.font_path.endswith("NotoSansCJK-Bold.ttc")  # its first face: Japanese
    assert copy_fonts("春", DEFAULT_BRAND.headline_fonts, DEFAULT_BRAND, "zh-Hant")[-2].endswith("#3")


@pytest.mark.needs("pyicu")
@needs_noto
def test_thai_breaks_between_words():
    text = SAMPLES["th"]
    words = break_units(text, "th")
    assert len(words) >= 6 and "".join(words) == text  # the dictionary found the words
    fonts = copy_fonts(text, DEFAULT_BRAND.headline_fonts, DEFAULT_BRAND, "th")
    fitted = fit_text(text, fonts, 500, 400, 24, 3, None, "th")
    ends, position = set(), 0
    for word in words:
        position += len(word)
        ends.add(position)
    position = 0
    for line in fitted.lines[:-1]:
        position += len(line)
        assert position in ends  # never inside a word


def test_a_long_german_word_is_hyphenated_before_the_type_shrinks():
    text = SAMPLES["de"]
    fonts = DEFAULT_BRAND.headline_fonts
    plain = fit_text(text, fonts, 600, 300, 10, 3, None, "")
    german = fit_text(text, fonts, 600, 300, 10, 3, None, "de")
    assert len(plain.lines) == 1 and len(german.lines) > 1
    assert all(line.endswith("-") for line in german.lines[:-1])
    assert german.size > 1.3 * plain.size
    assert "".join(line[:-1] for line in german.lines[:-1]) + german.lines[-1] == text
    short = fit_text("Frühling für alle", fonts, 600, 300, 20, 3, None, "de")
    assert not any(line.endswith("-") for line in short.lines)  # ordinary copy is not hyphenated


def test_right_to_left_copy_mirrors_logo_and_label_where_the_kit_allows(campaign_dir):
    shutil.copy(EXAMPLE_CAMPAIGN.parent / "logo.png", campaign_dir / "logo.png")
    kit_path = campaign_dir / "kit.yaml"
    kit_path.write_text("logo: logo.png\nlogo_position: top-left\n", encoding="utf-8")
    kit = load_brand_kit(kit_path)
    fmt = NAMED_FORMATS["square"]
    ltr, rtl = layout_for(fmt, 0.05, kit, False), layout_for(fmt, 0.05, kit, is_rtl(SAMPLES["ar"]))
    assert ltr.logo.left < fmt.width / 2 < rtl.logo.left  # the logo moves to the right
    assert rtl.label.left < fmt.width / 2 < ltr.label.left  # the label to the left
    kit_path.write_text("logo: logo.png\nlogo_position: top-left\nmirror_rtl: false\n", encoding="utf-8")
    load_brand_kit.cache_clear()
    fixed = load_brand_kit(kit_path)
    assert layout_for(fmt, 0.05, fixed, True).logo == ltr.logo
    assert is_rtl(SAMPLES["he"]) and not is_rtl("Sale " + SAMPLES["ar"]) and scripts_in(SAMPLES["ja"])[0] == "han"


# --- the AI label -------------------------------------------------------------------------------

EU = "bg cs da de el en es et fi fr ga hr hu it lt lv mt nl pl pt ro sk sl sv".split()


def test_the_label_is_translated_and_a_kit_overrides_it(campaign_dir):
    assert {*EU, "ar", "he", "hi", "ja", "ko", "zh", "th"} <= set(LABELS)
    assert (
        label_for("de") == "KI-generiert"
        and label_for("pt-BR") == "Gerado por IA"
        and label_for("xx") == "AI-generated"
    )
    assert label_for("en-GB", english="Made with AI") == "Made with AI"
    (campaign_dir / "kit.yaml").write_text("ai_label:\n  translations:\n    de: Mit KI erstellt\n", encoding="utf-8")
    kit = load_brand_kit(campaign_dir / "kit.yaml")
    assert label_text(kit, "de") == "Mit KI erstellt" and label_text(kit, "fr") == "Généré par IA"


@needs_noto
@pytest.mark.parametrize("language", ["ja", "th", "hi", "ar", "de"])
def test_the_label_is_drawn_in_the_creatives_language(language):
    fmt = NAMED_FORMATS["square"]
    plan = layout_for(fmt, 0.05, DEFAULT_BRAND, language == "ar")
    background = Image.new("RGB", (fmt.width, fmt.height), (200, 200, 200))
    english = overlay_copy(background, "Sale", "Buy", plan, DEFAULT_BRAND, "en")[0]
    translated = overlay_copy(background, "Sale", "Buy", plan, DEFAULT_BRAND, language)[0]
    box = plan.label.as_tuple()
    assert (np.asarray(english.crop(box)) != np.asarray(translated.crop(box))).any()
    text = label_text(DEFAULT_BRAND, language)
    _, drawable, missing = choose_font(text, copy_fonts(text, DEFAULT_BRAND.cta_fonts, DEFAULT_BRAND, language))
    assert missing == "" and drawable == text  # every character of the label drawn


def test_xmp_names_the_language():
    data = disclose(Image.new("RGB", (256, 256), "white"), "abc", "png", 90, "x.png", None, language="ja").data
    assert b"<dc:language><rdf:Bag><rdf:li>ja</rdf:li></rdf:Bag></dc:language>" in data


# --- a run and its exports ------------------------------------------------------------------------


def test_a_run_in_two_languages_with_text_options_exports_them_grouped_by_language(tmp_path, prefect_harness):
    campaign = tmp_path / "campaign"
    shutil.copytree(EXAMPLE_CAMPAIGN.parent, campaign)
    frame = pd.read_csv(campaign / "campaign.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["product_id"] == "ember-mug"].assign(
        styles="minimal", languages="en; de", primary_text_2="Keeps coffee warm.", description_2="Free returns.",
        headline_2="Coffee, slower",
        **{"headline[de]": "Dein Morgen, langsamer", "cta[de]": "20 % sparen", "description[de]": "Kostenlose Rückgabe",
           "primary_text[de]": "Steinzeug, das warm hält."},
    )  # fmt: skip
    frame.to_csv(campaign / "campaign.csv", index=False)
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["run", str(campaign / "campaign.csv"), "--out", str(out), "--steps", "1"])
    assert run.exit_code == 0, run.output
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert sorted((r["language"], r["headline_option"], r["format"]) for r in rows) == sorted(
        [("en", h, f) for h in (1, 2) for f in ("square", "landscape")]
        + [("de", 1, f) for f in ("square", "landscape")]
    )
    for target in ("meta", "google"):
        assert CliRunner().invoke(app, ["export", str(out), "--to", target]).exit_code == 0
    meta = pd.read_csv(out / "export/meta/meta-ads.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert {name.rsplit(" | ", 1)[0] for name in meta["Ad Set Name"]} == {
        "Mugs - remote workers | en",
        "Mugs - remote workers | de",
    }
    budgets = meta.drop_duplicates("Ad Set Name")["Ad Set Daily Budget"]
    assert sorted(budgets) == ["10.00", "10.00"]  # the audience's 20 a day, split between its two languages
    english = meta[meta["Ad Set Name"].str.contains(r"\| en")]
    assert set(english["Additional Body 1"]) == {"Keeps coffee warm."} and set(
        english["Additional Link Description 1"]
    ) == {"Free returns."}
    assert len(english) == 2 and set(meta[meta["Ad Set Name"].str.contains(r"\| de")]["Body"]) == {
        "Steinzeug, das warm hält."
    }
    google = pd.read_csv(out / "export/google/google-ads.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    ads = google[google["Ad type"] != ""]
    assert sorted(ads["Ad group"]) == [
        "Mugs - remote workers | de",
        "Mugs - remote workers | en",
    ]  # clean images: one ad
    en_ad = ads[ads["Ad group"].str.endswith("| en")].iloc[0]
    assert (en_ad["Headline 1"], en_ad["Headline 2"]) == ("Your morning, slower", "Coffee, slower")
    assert (en_ad["Description 1"], en_ad["Description 2"]) == (
        "20% off every mug this week. Free returns.",
        "Free returns.",
    )


@pytest.mark.parametrize(
    "text, edge", [("מבצע אביב על כל הספלים עכשיו", "right"), ("Spring sale on every mug now", "left")]
)
def test_start_aligned_lines_sit_on_the_start_edge_of_their_direction(text, edge):
    from pixio_ads.core.formats import Box
    from pixio_ads.creative.overlay import _draw_lines

    fitted = fit_text(text, DEFAULT_BRAND.headline_fonts, 420, 400, 24, 3, None, "he" if edge == "right" else "en")
    assert len(fitted.lines) >= 2 and len({len(line) for line in fitted.lines}) > 1
    canvas = Image.new("RGB", (600, 500), "black")
    block = _draw_lines(canvas, fitted, Box(50, 50, 550, 450), (255, 255, 255), "start")
    ink = np.asarray(canvas.convert("L")) > 128
    rows = np.flatnonzero(ink.any(axis=1))
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 3) + 1)  # one band of ink rows per line
    assert len(bands) == len(fitted.lines)
    edges = [np.flatnonzero(ink[band].any(axis=0))[-1 if edge == "right" else 0] for band in bands]
    assert max(edges) - min(edges) <= 4  # every line flush with the same edge
    assert abs(edges[0] - (block.right if edge == "right" else block.left)) <= 6
