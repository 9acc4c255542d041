"""The cut-out keeps the product (issue 28, part 4): a packshot that fills its frame is kept
whole or refused at validate, never cut down to its label; the `cutout` column; a creative
whose cut-out would keep a fragment fails with the reason instead of shipping."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import good_row, write_csv
from PIL import Image, ImageDraw

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ValidationError
from pixio_ads.creative.cutout import CutoutError, cut_out
from pixio_ads.run import finishing


def box_shot(colour, size=(400, 500), texture: str = "solid", seed: int = 0) -> Image.Image:
    """A box photographed edge to edge: its colour reaches every border; a white label inside."""
    width, height = size
    if texture == "gradient":
        ramp = np.linspace(1.0, 0.55, height)[:, None, None]
        pixels = (np.array(colour) * ramp * np.ones((height, width, 3))).astype(np.uint8)
    else:
        pixels = np.full((height, width, 3), colour, np.uint8)
    if texture == "photo":  # sensor noise and a soft shading
        rng = np.random.default_rng(seed)
        shade = np.linspace(1.0, 0.9, width)[None, :, None]
        pixels = np.clip(pixels * shade + rng.normal(0, 4, pixels.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    ImageDraw.Draw(image).rectangle((120, 180, 280, 320), fill=(250, 250, 250))
    return image


@pytest.mark.parametrize("texture", ["solid", "gradient", "photo"])
def test_a_saturated_box_filling_its_frame_is_kept_whole(texture, campaign_dir):
    shot = box_shot((200, 30, 35), texture=texture)
    product, method = cut_out(shot)
    assert method == "none" and product.getchannel("A").getextrema() == (255, 255)
    shot.save(campaign_dir / "products" / "box.jpg", quality=92)
    (row,) = load_campaign(write_csv(campaign_dir, [good_row(product_image="products/box.jpg")])).rows  # valid


def test_a_neutral_box_filling_its_frame_is_refused_at_validate_and_cutout_none_takes_it(campaign_dir):
    box_shot((150, 150, 150)).save(campaign_dir / "products" / "grey-box.png")
    with pytest.raises(CutoutError, match="keep only"):
        cut_out(box_shot((150, 150, 150)))
    with pytest.raises(ValidationError) as refused:
        load_campaign(write_csv(campaign_dir, [good_row(product_image="products/grey-box.png")]))
    (issue,) = refused.value.issues
    assert (issue.row, issue.column) == (2, "product_image") and "products/grey-box.png" in issue.message
    assert "product_mask" in issue.fix and "cutout to none" in issue.fix
    campaign = load_campaign(write_csv(campaign_dir, [good_row(product_image="products/grey-box.png", cutout="none")]))
    assert campaign.rows[0].cutout == "none"


def test_a_product_on_a_studio_backdrop_is_still_cut_out():
    shot = Image.new("RGB", (400, 500), (245, 240, 236))  # a warm white sweep
    ImageDraw.Draw(shot).ellipse((80, 60, 320, 440), fill=(200, 40, 40))
    product, method = cut_out(shot)
    alpha = np.asarray(product.getchannel("A"))
    assert method == "flood-fill" and alpha[5, 5] == 0 and alpha[250, 200] == 255


@pytest.mark.parametrize(
    "cells, column",
    [({"cutout": "mask"}, "cutout"), ({"cutout": "none", "product_mask": "products/mask.png"}, "product_mask")],
)
def test_the_cutout_column_against_the_mask(campaign_dir, cells, column):
    Image.new("L", (64, 96), 255).save(campaign_dir / "products" / "mask.png")
    with pytest.raises(ValidationError) as refused:
        load_campaign(write_csv(campaign_dir, [good_row(**cells)]))
    assert [issue.column for issue in refused.value.issues] == [column]


def test_ids_change_only_with_a_chosen_cutout(campaign_dir):
    def ids(**cells):
        return [v.variant_id for v in expand(load_campaign(write_csv(campaign_dir, [good_row(**cells)])))]

    assert ids() == ids(cutout="auto") and set(ids(cutout="none")).isdisjoint(ids())


def test_a_creative_whose_cut_out_keeps_a_fragment_fails_with_the_reason(campaign_dir, tmp_path):
    box_shot((150, 150, 150)).save(campaign_dir / "products" / "grey-box.png")
    path = write_csv(campaign_dir, [good_row(product_image="products/grey-box.png", cutout="none", formats="square")])
    variant = dataclasses.replace(expand(load_campaign(path))[0], cutout="auto")  # as an older plan had it
    generated = Image.new("RGB", (512, 512), (90, 120, 160))
    (row,) = finishing.finish_batch([(variant, generated, {"status": "rendered"})], tmp_path, None)
    assert row["status"] == "failed" and "keep only" in row["error"] and row["output_path"] is None
    kept = dataclasses.replace(variant, cutout="none")
    (row,) = finishing.finish_batch([(kept, generated, {"status": "rendered"})], tmp_path, None)
    assert row["status"] == "rendered" and row["cutout_method"] == "none"
