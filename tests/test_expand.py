"""Expand mode (issue 28, part 1): a photo or a finished creative carried to every format by
painting around it; its pixels kept exactly, seams blended, copy drawn or not."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import good_row, write_csv
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.cli import EXIT_INVALID_INPUT, app
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.formats import Box
from pixio_ads.creative.composite import ANCHORS
from pixio_ads.creative.expand import expand_inputs, expand_scene, placed_source, source_box
from pixio_ads.run.compose import Assets, finish

SIZES = {"square": (1080, 1080), "portrait": (1080, 1350), "story": (1080, 1920), "landscape": (1200, 628)}


def photo(size=(600, 400)) -> Image.Image:
    """A textured landscape photo stand-in: gradient, shapes, noise."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    base = np.stack([90 + 60 * np.sin(x / 40), 120 + 50 * np.cos(y / 30), 150 + 40 * np.sin((x + y) / 50)], axis=2)
    image = Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))
    ImageDraw.Draw(image).ellipse((200, 100, 400, 300), fill=(240, 200, 40))
    return image


def painted(size, seed=0) -> Image.Image:
    """What a model might paint: unrelated noise, far from the source's colours."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


@pytest.mark.parametrize("format_name", list(SIZES))
@pytest.mark.parametrize("anchor", ANCHORS)
def test_the_source_pixels_are_kept_exactly(format_name, anchor):
    size = SIZES[format_name]
    source = photo()
    scene, box = expand_scene(painted(size), source, anchor)
    placed = np.asarray(placed_source(source, box))
    kept = np.asarray(scene)[box.top : box.bottom, box.left : box.right]
    assert np.array_equal(kept, placed)
    # the largest size that fits: it touches both sides of one axis
    assert box.width == size[0] or box.height == size[1]
    assert 0 <= box.left and box.right <= size[0] and 0 <= box.top and box.bottom <= size[1]


@pytest.mark.parametrize(
    "anchor, edge", [("left", "left"), ("right", "right"), ("center", None), ("bottom-center", None)]
)
def test_the_anchor_places_the_source(anchor, edge):
    box = source_box((600, 400), (1200, 628), anchor)  # wider than the source: room left and right
    if edge == "left":
        assert box.left == 0
    elif edge == "right":
        assert box.right == 1200
    else:
        assert abs(box.left - (1200 - box.right)) <= 1


def test_the_mask_paints_only_outside_the_source():
    canvas, mask = expand_inputs(photo(), (512, 896), "center")
    box = source_box((600, 400), (512, 896), "center")
    mask = np.asarray(mask)
    assert (mask[box.top : box.bottom, box.left : box.right] == 0).all()
    assert (mask[: box.top] == 255).all() and (mask[box.bottom :] == 255).all()
    # the init image carries the source's colours outward, not a flat grey
    above = np.asarray(canvas)[: box.top].reshape(-1, 3).mean(axis=0)
    assert np.abs(above - np.asarray(photo()).reshape(-1, 3).mean(axis=0)).max() < 60


def test_the_seam_is_blended_into_the_source_edge():
    size = (1080, 1920)
    source = photo()
    scene, box = expand_scene(painted(size), source, "center")
    pixels = np.asarray(scene, dtype=float)
    edge_row = pixels[box.top]  # the source's first row
    just_outside = pixels[box.top - 1]
    far_outside = pixels[box.top - 200]
    noise_step = np.abs(far_outside - pixels[box.top - 201]).mean()
    assert np.abs(edge_row - just_outside).mean() < 5  # continuous at the seam
    assert noise_step > 40  # the model's own pixels a band away


@pytest.fixture
def expand_rows(campaign_dir):
    photo().save(campaign_dir / "products" / "photo.png")

    def made(**cells):
        row = good_row(mode="expand", source_image="products/photo.png", formats="story; landscape", audiences="a")
        row.update(cells)
        return expand(load_campaign(write_csv(campaign_dir, [row])))

    return made


def test_a_finished_creative_expands_without_drawing_copy_again(expand_rows):
    drawn, carried = expand_rows(), expand_rows(source_has_copy="yes")
    assert {v.variant_id for v in drawn}.isdisjoint(v.variant_id for v in carried)
    story = next(v for v in carried if v.format == "story")
    out = finish(story, painted((512, 896)), Assets())
    assert "headline_font_size" not in out.values and out.values["product_fidelity_score"] == pytest.approx(1.0)
    box = out.values["product_box"]
    source = np.asarray(placed_source(photo(), Box(*box)))
    top = np.asarray(out.image)[box[1] : box[3], box[0] : box[2]]
    # only the AI label (a bottom corner) is drawn over the source: the top half is the source's pixels
    assert np.array_equal(top[: top.shape[0] // 2], source[: top.shape[0] // 2])
    with_copy = finish(next(v for v in drawn if v.format == "story"), painted((512, 896)), Assets())
    assert with_copy.values["headline_font_size"] > 0


def test_bad_expand_rows_are_named(campaign_dir):
    photo().save(campaign_dir / "products" / "photo.png")
    path = write_csv(campaign_dir, [good_row(mode="compose", source_has_copy="yes"), good_row(mode="expand")])
    with pytest.raises(ValidationError) as caught:
        load_campaign(path)
    (issue,) = caught.value.issues
    assert issue.row == 2 and issue.column == "source_has_copy" and "expand" in issue.fix
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == EXIT_INVALID_INPUT and "source_has_copy" in result.output


def test_expand_renders_on_the_embedded_model_and_resumes(campaign_dir, tmp_path, prefect_harness):
    photo().save(campaign_dir / "products" / "photo.png")
    row = good_row(mode="expand", source_image="products/photo.png", formats="story; landscape", audiences="a")
    path, out = write_csv(campaign_dir, [row]), tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--steps", "1"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert {r["status"] for r in rows} == {"rendered"} and {r["mode"] for r in rows} == {"expand"}
    for r in rows:
        image = np.asarray(Image.open(out / r["output_path"]).convert("RGB"), dtype=int)
        left, top, right, bottom = r["product_box"]
        source = np.asarray(photo().resize((right - left, bottom - top), Image.Resampling.LANCZOS), dtype=int)
        inside = image[top:bottom, left:right]
        # the watermark's invisible changes only (copy covers parts: compare the median)
        assert np.median(np.abs(inside - source)) <= 2
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "(0 rendered by this run)" in again.output, again.output
