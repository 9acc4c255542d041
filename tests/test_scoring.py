"""Scores on controlled images and layouts: each defect lowers its own score and the
combined one; ranks within product x format; weights from the brand kit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixio_ads.core.errors import ValidationError
from pixio_ads.core.formats import Box
from pixio_ads.creative import scoring
from pixio_ads.creative.brand import load_brand_kit

CANVAS = Box(0, 0, 1080, 1080)
SAFE = Box(54, 54, 1026, 1026)
BRAND = [(20, 33, 61), (252, 163, 17)]


def elements(**changes) -> scoring.Elements:
    values = dict(
        canvas=CANVAS,
        safe=SAFE,
        headline=Box(200, 80, 880, 200),
        cta=Box(380, 900, 700, 980),
        logo=Box(60, 60, 180, 120),
        label=Box(880, 960, 1020, 1000),
        product=Box(340, 300, 740, 860),
    )
    values.update(changes)
    return scoring.Elements(**values)


def smooth_scene(colour=(20, 33, 61)) -> Image.Image:
    """A soft vertical gradient of one colour with a little grain: a plausible studio backdrop."""
    ramp = np.linspace(0.85, 1.15, 1080)[:, None, None]
    grain = np.random.default_rng(1).normal(0, 3, (1080, 1080, 1))
    pixels = np.array(colour, dtype=np.float64)[None, None, :] * ramp + 20 + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def columns(scene=None, layout=None, alpha=None, contrasts=(8.0, 6.0), text_px=40, brand=BRAND) -> dict:
    alpha = np.full((560, 400), 255, np.uint8) if alpha is None else alpha
    return scoring.score_columns(scene or smooth_scene(), layout or elements(), alpha, list(contrasts), text_px, brand)


def overall(values: dict) -> float:
    return scoring.overall(values, scoring.DEFAULT_WEIGHTS)


def test_lower_headline_contrast_lowers_legibility_and_the_score():
    good, poor = columns(contrasts=(7.5, 7.0)), columns(contrasts=(4.5, 7.0))
    assert poor["legibility_score"] < good["legibility_score"] and overall(poor) < overall(good)
    small = columns(contrasts=(7.5, 7.0), text_px=16)
    assert small["legibility_score"] < good["legibility_score"]


def test_covering_the_product_lowers_its_visibility_and_the_score():
    clear, covered = columns(), columns(layout=elements(headline=Box(340, 300, 740, 580)))  # over its top half
    assert clear["product_visible_share"] == 1.0
    assert covered["product_visible_share"] == pytest.approx(0.5, abs=0.01)
    assert covered["product_visibility_score"] < clear["product_visibility_score"]
    assert overall(covered) < overall(clear)
    tiny = columns(layout=elements(product=Box(500, 500, 540, 540)), alpha=np.full((40, 40), 255, np.uint8))
    assert tiny["product_canvas_share"] < 0.01 and tiny["product_visibility_score"] < 0.1


def test_transparent_product_pixels_do_not_count():
    alpha = np.zeros((560, 400), np.uint8)
    alpha[280:] = 255  # only the bottom half is product; the headline covers the empty top half
    values = columns(layout=elements(headline=Box(340, 300, 740, 580)), alpha=alpha)
    assert values["product_visible_share"] == 1.0


def test_copy_outside_the_safe_zone_lowers_the_safe_zone_score():
    inside, outside = columns(), columns(layout=elements(cta=Box(380, 1000, 700, 1080)))
    assert inside["safe_zone_ok"] and inside["safe_zone_score"] == 1.0
    assert not outside["safe_zone_ok"] and outside["safe_zone_score"] < 1.0
    assert overall(outside) < overall(inside)


def test_text_coverage_past_a_fifth_of_the_canvas_costs():
    light = columns()
    heavy = columns(layout=elements(headline=Box(54, 54, 1026, 600)))
    assert light["text_coverage"] < 0.2 and light["text_coverage_score"] == 1.0
    assert heavy["text_coverage"] > 0.45 and heavy["text_coverage_score"] < 0.3


def test_colours_away_from_the_brand_lower_the_brand_colour_score():
    on_brand = columns(scene=smooth_scene((20, 33, 61)))
    off_brand = columns(scene=smooth_scene((40, 200, 60)))  # green, far from navy and orange
    assert on_brand["brand_colour_delta_e"] < 15 < off_brand["brand_colour_delta_e"]
    assert off_brand["brand_colour_score"] < on_brand["brand_colour_score"]
    assert overall(off_brand) < overall(on_brand)
    assert "brand_colour_score" not in columns(brand=None)  # absent without a kit


def test_noise_flat_and_clipped_scenes_score_low_on_quality():
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (1080, 1080, 3), dtype=np.uint8))
    flat = Image.new("RGB", (1080, 1080), (128, 128, 128))
    white = Image.new("RGB", (1080, 1080), (255, 255, 255))
    smooth = scoring.image_quality(smooth_scene())
    assert scoring.image_quality(noise).noisy_share > 0.9 and scoring.image_quality(noise).score < 0.1
    assert scoring.image_quality(flat).flat_share == 1.0 and scoring.image_quality(flat).score == 0
    assert scoring.image_quality(white).clipped_share == 1.0
    assert smooth.score > 0.4 and smooth.noisy_share == 0


def test_combined_leaves_out_what_does_not_apply():
    weights = scoring.DEFAULT_WEIGHTS
    assert scoring.combined({"legibility": 1.0, "brand_colour": None}, weights) == 1.0
    assert scoring.combined({"legibility": 1.0, "safe_zone": 0.0}, weights) == pytest.approx(0.25 / 0.35, abs=1e-4)


def test_ranks_within_product_and_format():
    rows = [
        dict(variant_id=v, campaign_id="c", product_id=p, format=f, status=s, score=score)
        for v, p, f, s, score in [
            ("a", "mug", "square", "rendered", 0.5),
            ("b", "mug", "square", "rendered", 0.9),
            ("c", "mug", "story", "rendered", 0.1),
            ("d", "mug", "square", "failed", None),
            ("e", "lamp", "square", "rendered", 0.2),
            ("f", "mug", "square", "rendered", 0.9),
        ]
    ]
    assert scoring.ranks(rows) == [3, 1, 1, None, 1, 2]


def test_brand_kit_palette_and_weights(tmp_path):
    kit = tmp_path / "brand.yaml"
    kit.write_text('colors:\n  palette: ["#112233", "#FCA311"]\nscoring:\n  weights: {legibility: 0.5}\n')
    loaded = load_brand_kit(kit)
    assert loaded.scoring_colours == [(0x11, 0x22, 0x33), (0xFC, 0xA3, 0x11)]
    assert dict(loaded.score_weights)["legibility"] == 0.5 and dict(loaded.score_weights)["safe_zone"] == 0.1
    bad = tmp_path / "bad.yaml"
    bad.write_text("scoring:\n  weights: {beauty: 1, legibility: -1}\n")
    with pytest.raises(ValidationError) as caught:
        load_brand_kit(bad)
    keys = {issue.key for issue in caught.value.issues}
    assert any(key and key.startswith("scoring.weights") for key in keys), [str(i) for i in caught.value.issues]


def test_image_quality_filters_match_scipys_definition():
    """The quality score's Gaussian and Laplacian (OpenCV, for speed) give scipy.ndimage's
    values: the same 4-sigma kernel and reflected edges."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    pixels = ndimage.gaussian_filter(rng.normal(128, 40, (300, 420)), 2).astype(np.float32)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    grey = np.asarray(image, dtype=np.float64)
    expected = float(ndimage.laplace(ndimage.gaussian_filter(grey, 1.0)).var())
    assert scoring.image_quality(image.convert("RGB")).sharpness == pytest.approx(expected, rel=1e-3)
