"""Product fidelity (issue 28, part 5): the product in the result against the source: 1 where
its pixels are pasted, lower as it is changed on purpose, a row's minimum fails the creative."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import good_row, write_csv
from PIL import Image, ImageDraw, ImageFilter

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ValidationError
from pixio_ads.creative.fidelity import product_fidelity
from pixio_ads.run import finishing
from pixio_ads.run.compose import Assets, ProductChanged, _source, finish


def product_photo(size=(300, 400)) -> Image.Image:
    """A printed box on a transparent background: shape, text-like print, two colours."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((40, 40, 260, 360), radius=20, fill=(200, 40, 40, 255))
    for y in range(80, 320, 24):
        draw.rectangle((70, y, 230, y + 8), fill=(250, 240, 220, 255))
    return image


@pytest.fixture
def variants(campaign_dir):
    product_photo().save(campaign_dir / "products" / "box.png")

    def made(**cells):
        row = good_row(product_image="products/box.png", formats="square", audiences="a", **cells)
        return expand(load_campaign(write_csv(campaign_dir, [row])))

    return made


def generated(size=512, seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(60, 200, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("mode", ["compose", "inpaint"])
def test_a_pasted_product_has_fidelity_1_by_construction(variants, mode):
    (variant,) = variants(mode=mode)
    values = finish(variant, generated(), Assets()).values
    assert values["product_fidelity_score"] == pytest.approx(1.0) and values["product_delta_e"] == pytest.approx(0.0)


def test_fidelity_drops_as_the_product_is_changed_on_purpose():
    source = np.asarray(product_photo().convert("RGB"))
    region = np.asarray(product_photo().getchannel("A")) == 255
    changed = {
        "blurred": np.asarray(Image.fromarray(source).filter(ImageFilter.GaussianBlur(3))),
        "recoloured": source[..., [2, 1, 0]],  # red box turned blue
        "replaced": np.asarray(Image.new("RGB", source.shape[1::-1], (120, 120, 120))),
    }
    same = product_fidelity(source, source, region)
    scores = {name: product_fidelity(source, image, region) for name, image in changed.items()}
    assert same.score == pytest.approx(1.0)
    assert 1.0 > scores["blurred"].score > scores["recoloured"].score >= scores["replaced"].score
    assert scores["recoloured"].delta_e > 20 and scores["blurred"].ssim < 0.9


def test_a_restyle_below_the_rows_minimum_fails_with_the_reason(variants, tmp_path):
    (variant,) = variants(mode="restyle", min_product_fidelity="0.6")
    assets = Assets()
    kept = finish(variant, _source(variant, assets), assets).values  # the model gave the source back
    assert kept["product_fidelity_score"] > 0.95
    with pytest.raises(ProductChanged, match="below the row's min_product_fidelity 0.6"):
        finish(variant, generated(seed=1), assets)
    (row,) = finishing.finish_batch([(variant, generated(seed=1), {"status": "rendered"})], tmp_path, None)
    assert row["status"] == "failed" and "product fidelity" in row["error"] and row["output_path"] is None
    recorded = dataclasses.replace(variant, min_product_fidelity=0.0)
    (row,) = finishing.finish_batch([(recorded, generated(seed=1), {"status": "rendered"})], tmp_path, None)
    assert row["status"] == "rendered" and row["product_fidelity_score"] < 0.6


def test_the_minimum_is_checked_at_validate(campaign_dir):
    with pytest.raises(ValidationError) as refused:
        load_campaign(write_csv(campaign_dir, [good_row(min_product_fidelity="1.5")]))
    assert [issue.column for issue in refused.value.issues] == ["min_product_fidelity"]


def test_a_harmonised_product_is_measured_not_assumed(variants):
    """Harmonising changes the pasted product's colour: its fidelity is measured (below 1),
    while the same row without it skips the measurement and scores exactly 1."""
    (variant,) = variants(mode="compose")
    assets = Assets()
    plain = finish(variant, generated(), assets).values
    pulled = finish(dataclasses.replace(variant, harmonize=1.0), generated(), assets).values
    assert plain["product_fidelity_score"] == 1.0
    assert pulled["product_delta_e"] > 1 and pulled["product_fidelity_score"] < 1.0
