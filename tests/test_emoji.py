"""Colour emoji in the copy: runs split from the text, drawn in colour on the text's
baseline from the system's (or the brand kit's) colour emoji font, and reported when no
font has them."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
from helpers import good_row, write_csv
from PIL import Image

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.formats import NAMED_FORMATS
from pixio_ads.creative.brand import DEFAULT_BRAND, load_brand_kit
from pixio_ads.creative.composite import layout
from pixio_ads.creative.emoji import split_runs, system_emoji_font
from pixio_ads.creative.overlay import overlay_copy
from pixio_ads.creative.textfit import fit_text

EMOJI_FONT = system_emoji_font()
needs_font = pytest.mark.needs("emoji-font")


def runs(text: str) -> list[tuple[str, bool]]:
    """Runs against a text font with ASCII, '★' and '❤' and an emoji font with pictographs,
    digits, the heart and the modifiers."""
    text_has = lambda ch: ch.isascii() or ch in "★❤"  # noqa: E731
    emoji_has = lambda ch: ord(ch) >= 0x1F000 or ch in "0123456789❤\u200d\u20e3"  # noqa: E731
    return split_runs(text, text_has, emoji_has)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Sale 🔥 now", [("Sale ", False), ("🔥", True), (" now", False)]),
        ("Hi 👍🏽!", [("Hi ", False), ("👍🏽", True), ("!", False)]),  # skin tone stays with its emoji
        ("👨\u200d👩\u200d👧 time", [("👨\u200d👩\u200d👧", True), (" time", False)]),  # ZWJ family: one run
        ("Top 1\ufe0f\u20e3", [("Top ", False), ("1\ufe0f\u20e3", True)]),  # keycap
        ("I ❤\ufe0f it", [("I ", False), ("❤\ufe0f", True), (" it", False)]),  # VS16 asks for colour
        ("I ❤ it ★", [("I ❤ it ★", False)]),  # text presentation: the text font draws them
        ("🇫🇷🇩🇪", [("🇫🇷🇩🇪", True)]),
    ],
)
def test_copy_splits_into_text_and_emoji_runs(text, expected):
    assert runs(text) == expected


def _coloured_pixels(image: Image.Image, box) -> int:
    """Pixels of clearly saturated colour (the emoji's) inside ``box``."""
    rgb = np.asarray(image.crop(box.as_tuple()).convert("RGB"), dtype=np.int16)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 80).sum())


@needs_font
def test_emoji_render_in_colour_on_the_text_baseline():
    fmt = NAMED_FORMATS["square"]
    grey = Image.new("RGB", (fmt.width, fmt.height), (60, 60, 60))
    with_emoji, result = overlay_copy(grey, "Summer sale 🔥", "Shop 👉", layout(fmt), DEFAULT_BRAND)
    plain, plain_result = overlay_copy(grey, "Summer sale", "Shop", layout(fmt), DEFAULT_BRAND)
    assert result.missing_glyphs == "" and plain_result.missing_glyphs == ""
    assert _coloured_pixels(with_emoji, result.headline.box) > 500  # the flame's orange
    assert _coloured_pixels(plain, plain_result.headline.box) == 0
    fitted = fit_text("Sale 🔥", DEFAULT_BRAND.headline_fonts, 900, 200, 24, 1, DEFAULT_BRAND.emoji_path)
    text_only = fit_text("Sale", DEFAULT_BRAND.headline_fonts, 900, 200, 24, 1, DEFAULT_BRAND.emoji_path)
    # the emoji is about one em wide at the text's size, and the line no taller than text
    assert fitted.size == text_only.size or fitted.height <= text_only.height
    assert 0.8 * fitted.size < fitted.width - text_only.width * fitted.size / text_only.size < 1.6 * fitted.size


@needs_font
def test_emoji_the_font_has_are_not_reported_and_others_are(campaign_dir):
    rows = [good_row(headline="Summer sale 🔥 \ua000", cta="Shop 👍🏽", formats="square")]  # U+A000: Yi, no font
    campaign = load_campaign(write_csv(campaign_dir, rows))
    (warning,) = [w for w in campaign.warnings if "no font" in w]
    assert "row 2, column 'headline'" in warning and "U+A000" in warning and "U+1F525" not in warning


def test_without_an_emoji_font_emoji_are_left_out_and_the_fix_is_named(campaign_dir, monkeypatch):
    monkeypatch.setenv("PIXIO_ADS_EMOJI_FONT", "none")
    (campaign_dir / "brand.yaml").write_text("name: Plain\n")
    rows = [good_row(headline="Summer sale 🔥", formats="square", brand_kit="brand.yaml")]
    campaign = load_campaign(write_csv(campaign_dir, rows))
    (warning,) = [w for w in campaign.warnings if "no font" in w]
    assert "U+1F525" in warning and "fonts-noto-color-emoji" in warning and "fonts.emoji" in warning
    fmt = NAMED_FORMATS["square"]
    no_emoji = replace(DEFAULT_BRAND, emoji_font=None)
    _, result = overlay_copy(Image.new("RGB", (1080, 1080)), "Hot 🔥\ufe0f", "Shop", layout(fmt), no_emoji)
    assert result.missing_glyphs == "🔥"


@needs_font
def test_brand_kit_names_its_emoji_font_and_a_plain_font_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXIO_ADS_EMOJI_FONT", "none")
    shutil.copy(EMOJI_FONT, tmp_path / "emoji.ttf")
    shutil.copy(DEFAULT_BRAND.headline_fonts[0], tmp_path / "plain.ttf")
    kit = tmp_path / "brand.yaml"
    kit.write_text("fonts:\n  emoji: emoji.ttf\n")
    assert load_brand_kit(kit).emoji_font == tmp_path / "emoji.ttf"
    other = tmp_path / "other.yaml"
    other.write_text("fonts:\n  emoji: plain.ttf\n")
    with pytest.raises(ValidationError, match="fonts.emoji.*not a colour emoji font"):
        load_brand_kit(other)


@needs_font
def test_a_run_draws_emoji_in_colour_in_the_finishing_process(campaign_dir):
    import pyarrow.parquet as pq

    from pixio_ads.run import planning, runner
    from pixio_ads.settings import RenderSettings

    rows = [
        good_row(product_id=name, formats="square", audiences="a", styles="b", headline=headline, cta="Shop")
        for name, headline in (("plain", "Hot deal now"), ("emoji", "Hot deal 🔥🔥🔥"))
    ]
    out = campaign_dir / "out"
    plan = planning.plan_campaign(write_csv(campaign_dir, rows), out, RenderSettings(steps=1))
    ids = [vid for shard in plan.shards for vid in shard]
    result = runner.render_shard(plan.plan_path, ids, out, device="cpu", batch_size=2, finish_workers=1)
    runner.write_manifest(plan.plan_path, [result], out)
    records = {r["product_id"]: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    box = layout(NAMED_FORMATS["square"]).headline
    orange = {}
    for name, record in records.items():
        assert record["status"] == "rendered" and record["missing_glyphs"] == ""
        rgb = np.asarray(Image.open(out / record["output_path"]).convert("RGB").crop(box.as_tuple()), dtype=np.int16)
        flame = (rgb[..., 0] > 200) & (rgb[..., 1] > 60) & (rgb[..., 1] < 180) & (rgb[..., 2] < 80)
        orange[name] = int(flame.sum())
    assert orange["emoji"] > 300 and orange["plain"] < 30, orange  # three flames, drawn in colour
