"""Creative quality without Prefect: cut-out, layout and safe zones, shadows, copy fitting
and contrast, brand kits, and the four modes driven by the tiny pipeline."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import good_row, write_csv
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.formats import NAMED_FORMATS, Box, parse_format, safe_box
from pixio_ads.creative.brand import DEFAULT_BRAND, DEFAULT_HEADLINE_FONT, load_brand_kit
from pixio_ads.creative.composite import (
    ANCHORS,
    LOGO_POSITIONS,
    Placement,
    compose,
    layout,
    product_box,
    scaled_product,
    shadow_shade,
)
from pixio_ads.creative.cutout import cut_out
from pixio_ads.creative.overlay import overlay_copy
from pixio_ads.creative.scripts import system_font
from pixio_ads.creative.textfit import TextFitError, fit_text, min_font_size
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID
from pixio_ads.run import planning, runner
from pixio_ads.settings import RenderSettings

FORMATS = [*NAMED_FORMATS.values(), parse_format("1080x2340"), parse_format("1600x400"), parse_format("300x250")]


def wcag_luminance(rgb: np.ndarray) -> np.ndarray:
    """Written out again here from the WCAG 2 definition, independent of the library's."""
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * c[..., 0] + 0.7152 * c[..., 1] + 0.0722 * c[..., 2]


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


# --- cut-out ---------------------------------------------------------------------------


def test_cutout_of_a_product_on_white_has_the_right_alpha_area():
    shot = Image.new("RGB", (400, 500), (252, 252, 250))
    draw = ImageDraw.Draw(shot)
    draw.ellipse((80, 60, 320, 440), fill=(200, 40, 40))
    draw.rectangle((170, 200, 230, 260), fill=(252, 252, 250))  # a white label inside the product
    product, method = cut_out(shot)
    assert method == "flood-fill"
    alpha = np.asarray(product.getchannel("A"))
    truth = Image.new("L", shot.size, 0)
    ImageDraw.Draw(truth).ellipse((80, 60, 320, 440), fill=255)
    expected = np.asarray(truth) > 0
    opaque = alpha >= 128
    assert abs(opaque.sum() - expected.sum()) / expected.sum() < 0.03
    assert (opaque == expected).mean() > 0.99
    assert alpha[230, 200] == 255  # the enclosed white label is part of the product
    assert alpha[5, 5] == 0 and alpha[490, 390] == 0


def test_cutout_prefers_a_mask_then_the_images_own_alpha_and_leaves_busy_photos_alone():
    transparent = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    transparent.paste((10, 20, 30, 255), (10, 10, 40, 40))
    assert cut_out(transparent)[1] == "alpha"
    mask = Image.new("L", (25, 25), 0)
    mask.paste(255, (0, 0, 12, 25))
    masked, method = cut_out(Image.new("RGB", (50, 50), "white"), mask)
    assert (
        method == "mask"
        and np.asarray(masked.getchannel("A"))[25, 5] == 255
        and np.asarray(masked.getchannel("A"))[25, 45] == 0
    )
    product, method = cut_out(noise(60, 60))
    assert method == "none" and product.getchannel("A").getextrema() == (255, 255)


# --- layout, safe zones, placement -----------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_every_element_stays_inside_the_safe_zone(fmt):
    safe = safe_box(fmt)
    if fmt.name == "story":
        assert safe.top >= 0.14 * fmt.height and fmt.height - safe.bottom >= 0.20 * fmt.height
    for logo_position in (None, *LOGO_POSITIONS):
        plan = layout(fmt, 0.03, logo_position)
        boxes = [plan.headline, plan.cta, plan.product_area] + ([plan.logo] if plan.logo else [])
        assert all(safe.contains(box) and box.width > 0 and box.height > 0 for box in boxes)
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]), (logo_position, boxes)
        for anchor in ANCHORS:
            for size in ((400, 800), (800, 200), (30, 30)):
                box = product_box(size, plan.canvas, plan.product_area, Placement(anchor=anchor, scale=0.9))
                assert plan.product_area.contains(box)
                assert abs(box.width / box.height - size[0] / size[1]) < 0.05 * size[0] / size[1] + 2 / box.height


def test_anchor_and_scale_move_and_size_the_product():
    plan = layout(NAMED_FORMATS["square"])
    area = plan.product_area
    left = product_box((100, 100), plan.canvas, area, Placement(anchor="left", scale=0.2))
    bottom = product_box((100, 100), plan.canvas, area, Placement(anchor="bottom-center", scale=0.2))
    assert left.left == area.left and bottom.bottom == area.bottom
    assert left.width == round(1080 * 0.2)


def test_shadow_darkens_the_ground_under_the_product_and_alpha_is_respected():
    background = Image.new("RGB", (400, 400), (200, 200, 200))
    product = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    product.paste((255, 0, 0, 255), (20, 20, 80, 80))
    box = Box(150, 100, 250, 200)
    plain = compose(background, product, box, Placement(shadow="none"))
    shaded = compose(background, product, box, Placement(shadow="both"))
    assert plain.getpixel((200, 150)) == (255, 0, 0)  # opaque centre of the product
    assert plain.getpixel((155, 105)) == (200, 200, 200)  # transparent corner shows the background
    assert sum(shaded.getpixel((200, 182))) < sum(plain.getpixel((200, 182))) - 30  # contact shadow at the foot
    assert shaded.getpixel((10, 10)) == (200, 200, 200)  # far away: untouched
    kept = shadow_shade(background.size, scaled_product(product, box), box, "both")  # as compose.Assets keeps it
    assert compose(background, product, box, Placement(shadow="both"), kept).tobytes() == shaded.tobytes()


def test_a_process_keeps_only_the_last_placed_products(campaign_dir):
    from pixio_ads.run.compose import Assets

    variants = expand(load_campaign(write_csv(campaign_dir, [good_row(formats="square")])))
    assets = Assets(recent=2)
    boxes = [Box(0, 0, side, side) for side in (40, 50, 60)]
    first = assets.placed(variants[0], boxes[0])
    assert first.size == (40, 40) and assets.placed(variants[0], boxes[0]) is first  # kept
    for box in boxes[1:]:
        assets.placed(variants[0], box)
    assert assets.placed(variants[0], boxes[0]) is not first  # pushed out by two newer ones


@pytest.mark.parametrize("seed", range(4))
def test_scrim_luminance_tables_match_blending_each_pixel(seed):
    from pixio_ads.creative.contrast import _luminance_under_scrim, relative_luminance

    rng = np.random.default_rng(seed)
    behind = rng.integers(0, 256, (500, 3), dtype=np.uint8)
    scrim, opacity = tuple(int(c) for c in rng.integers(0, 256, 3)), float(rng.uniform(0, 1))
    blended = relative_luminance(behind * (1 - opacity) + np.array(scrim) * opacity)
    np.testing.assert_allclose(_luminance_under_scrim(behind, scrim, opacity), blended, rtol=1e-12)


# --- copy: fitting, contrast, scripts --------------------------------------------------


def text_pixels(before: Image.Image, after: Image.Image) -> Box:
    left, top, right, bottom = ImageChops.difference(before, after).getbbox()
    return Box(left, top, right, bottom)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_copy_stays_inside_its_boxes_and_meets_the_contrast_ratio(fmt):
    plan = layout(fmt)
    for seed, background in enumerate(
        (noise(fmt.width, fmt.height), Image.new("RGB", (fmt.width, fmt.height), (118, 118, 118)))
    ):
        headline = "Hydration, upgraded for every single run this spring" if seed == 0 else "Go"
        image, result = overlay_copy(background, headline, "Shop now", plan, DEFAULT_BRAND)
        changed = text_pixels(background.crop(plan.headline.as_tuple()), image.crop(plan.headline.as_tuple()))
        assert ImageChops.difference(background, image).crop((0, 0, fmt.width, plan.headline.top)).getbbox() is None
        assert changed.width <= plan.headline.width and result.headline.box.width <= plan.headline.width
        assert plan.cta.contains(result.cta.box)
        # Contrast measured on the output: the text colour against the pixels around the
        # glyphs (glyph pixels and their anti-aliased edges excluded).
        region = np.asarray(image.crop(result.headline.box.as_tuple()), dtype=np.int16)
        colour = np.array(result.headline.colour)
        is_text = Image.fromarray(((np.abs(region - colour).max(axis=2) <= 8) * 255).astype(np.uint8))
        behind = region[np.asarray(is_text.filter(ImageFilter.MaxFilter(9))) == 0]
        lum_text, lum_behind = wcag_luminance(colour), wcag_luminance(behind)
        ratios = (np.maximum(lum_text, lum_behind) + 0.05) / (np.minimum(lum_text, lum_behind) + 0.05)
        assert np.percentile(ratios, 5) >= 4.4, (fmt.name, seed, result.headline)
        assert result.headline.contrast >= 4.5 and result.cta.contrast >= 4.5


def test_long_copy_shrinks_then_wraps_then_fails_clearly():
    fonts = (DEFAULT_HEADLINE_FONT,)
    one_line = fit_text("Sale", fonts, 600, 120, 20)
    wrapped = fit_text("A much longer headline that cannot stay on one line", fonts, 600, 300, 20)
    assert len(one_line.lines) == 1 and len(wrapped.lines) > 1 and wrapped.width <= 600 and wrapped.height <= 300
    with pytest.raises(TextFitError, match="minimum legible size of 20 px"):
        fit_text("word " * 80, fonts, 600, 120, 20)
    assert min_font_size(Box(0, 0, 1080, 1080)) == 24


def test_copy_that_cannot_fit_is_a_validation_error_naming_row_column_and_format(campaign_dir):
    path = write_csv(
        campaign_dir, [good_row(), good_row(product_id="b", headline="Unbelievably " * 30, cta="Buy " * 40)]
    )
    with pytest.raises(ValidationError) as caught:
        load_campaign(path)
    text = str(caught.value)
    assert "row 3, column 'headline'" in text and "row 3, column 'cta'" in text and "format square" in text


@pytest.mark.parametrize(
    "headline", ["تخفيضات الربيع الآن", "מבצע אביב עכשיו", "Frühling — ça va ✓", "Spring sale 春のセール"]
)
def test_rtl_and_non_latin_copy_renders_and_reports_missing_glyphs(headline):
    fmt = NAMED_FORMATS["square"]
    image, result = overlay_copy(noise(1080, 1080), headline, "Shop", layout(fmt), DEFAULT_BRAND)
    assert image.size == (1080, 1080) and result.headline.box.width > 0
    if "春" in headline and not system_font("han", True, "ja"):  # DejaVu has no CJK: reported, the rest drawn
        assert "春" in result.missing_glyphs and "セ" in result.missing_glyphs
    else:  # with Noto Sans CJK installed (make install-system), drawn in it
        assert result.missing_glyphs == ""


# --- brand kit --------------------------------------------------------------------------


def test_brand_kit_errors_name_the_file_and_key(tmp_path):
    (tmp_path / "not-a-font.ttf").write_text("nope")
    kit = tmp_path / "brand.yaml"
    kit.write_text(
        "logo: missing.png\nlogo_position: middle\nfonts:\n  headline: not-a-font.ttf\ncolors:\n  text: white\ncta:\n  colour: '#fff'\n"
    )
    with pytest.raises(ValidationError) as caught:
        load_brand_kit(kit)
    text = str(caught.value)
    assert (
        f"{kit}, key 'logo_position'" in text
        and "key 'colors.text'" in text
        and "key 'cta.colour': unknown key" in text
    )
    kit.write_text("logo: missing.png\nfonts:\n  headline: not-a-font.ttf\n")
    load_brand_kit.cache_clear()
    with pytest.raises(ValidationError) as caught:
        load_brand_kit(kit)
    assert "key 'logo': file not found" in str(caught.value) and "key 'fonts.headline': not a readable font" in str(
        caught.value
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "logo": }')
    with pytest.raises(ValidationError, match="broken.json, line 2: not valid JSON"):
        load_brand_kit(broken)


def test_brand_kit_drives_logo_colours_and_ids(campaign_dir):
    logo = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    logo.paste((10, 200, 10, 255), (0, 0, 200, 100))
    logo.save(campaign_dir / "logo.png")
    (campaign_dir / "brand.json").write_text(
        json.dumps(
            {"logo": "logo.png", "logo_position": "top-right", "cta": {"color": "#0000FF", "text_color": "#FFFFFF"}}
        )
    )
    plain = expand(load_campaign(write_csv(campaign_dir, [good_row()])))[0]
    branded_campaign = load_campaign(write_csv(campaign_dir, [good_row(brand_kit="brand.json")], name="b.csv"))
    branded = expand(branded_campaign)[0]
    assert branded.variant_id != plain.variant_id and branded.brand_kit_sha256
    brand = branded_campaign.rows[0].brand
    plan = layout(NAMED_FORMATS["square"], 0.03, brand.logo_position)
    image, result = overlay_copy(Image.new("RGB", (1080, 1080), (128, 128, 128)), "Hello", "Buy", plan, brand)
    assert result.logo is not None and plan.logo.contains(result.logo)
    assert image.getpixel((result.logo.left + 5, result.logo.top + 5)) == (10, 200, 10)
    assert image.getpixel((result.cta.box.left + result.cta.box.width // 2, result.cta.box.top + 2)) == (0, 0, 255)
    (campaign_dir / "logo.png").write_bytes(b"changed")  # assets are hashed: a new logo changes the ids
    load_brand_kit.cache_clear()
    with pytest.raises(ValidationError, match="key 'logo': not a readable image"):
        load_campaign(campaign_dir / "b.csv")


# --- the four modes through the tiny pipeline -----------------------------------------


@pytest.fixture(scope="module")
def modes_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("modes")
    (folder / "products").mkdir()
    product = Image.new("RGBA", (200, 300), (0, 0, 0, 0))
    ImageDraw.Draw(product).rounded_rectangle((20, 20, 180, 280), radius=30, fill=(30, 90, 200, 255))
    product.save(folder / "products" / "widget.png")
    portrait = Image.new("RGB", (320, 320), (230, 200, 170))
    ImageDraw.Draw(portrait).ellipse((80, 60, 240, 260), fill=(120, 80, 60))
    portrait.save(folder / "portrait.jpg")
    mask = Image.new("L", (320, 320), 0)
    mask.paste(255, (0, 0, 320, 110))  # repaint the top band only
    mask.save(folder / "mask.png")
    rows = [
        good_row(product_id="compose", formats="square; story", output_format="webp", quality="80"),
        good_row(product_id="inpaint", mode="inpaint", formats="square; landscape"),
        good_row(
            product_id="restyle",
            mode="restyle",
            source_image="portrait.jpg",
            strength="0.5",
            formats="square",
            output_format="jpeg",
        ),
        good_row(
            product_id="replace",
            mode="replace",
            source_image="portrait.jpg",
            replace_mask="mask.png",
            formats="square",
        ),
    ]
    campaign = write_csv(folder, rows)
    out = folder / "out"
    plan = planning.plan_campaign(campaign, out, RenderSettings(steps=2))
    shards = [runner.render_shard(plan.plan_path, ids, out, "cpu", 2) for ids in plan.shards]
    summary = runner.write_manifest(plan.plan_path, shards, out)
    rows = {(row["product_id"], row["format"]): row for row in pq.read_table(summary.manifest_path).to_pylist()}
    return folder, out, rows


def test_all_four_modes_render_with_the_tiny_pipeline(modes_run):
    _, out, rows = modes_run
    assert {row["status"] for row in rows.values()} == {"rendered"}, [row["error"] for row in rows.values()]
    for (product, fmt), row in rows.items():
        with Image.open(out / row["output_path"]) as image:
            assert image.size == (row["width"], row["height"])
            assert image.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[row["output_format"]]
        assert row["headline_contrast"] >= 4.5 and row["cta_contrast"] >= 4.5
    assert rows["compose", "square"]["cutout_method"] == "alpha" and rows["restyle", "square"]["cutout_method"] is None


def test_inpaint_keeps_the_products_own_pixels_exactly(modes_run):
    folder, out, rows = modes_run
    product = Image.open(folder / "products" / "widget.png")
    for fmt in ("square", "landscape"):
        row = rows["inpaint", fmt]
        box = Box(*row["product_box"])
        placed = np.asarray(scaled_product(product, box))
        creative = np.asarray(Image.open(out / row["output_path"]).convert("RGB"))[
            box.top : box.bottom, box.left : box.right
        ]
        opaque = placed[..., 3] == 255
        assert opaque.sum() > 0.5 * box.width * box.height
        assert np.array_equal(creative[opaque], placed[..., :3][opaque])
        # ...and the model painted the rest: the scene is not the grey fill it started from.
        outside = np.asarray(Image.open(out / row["output_path"]).convert("RGB"))[: box.top]
        assert np.abs(outside.astype(int) - 127).mean() > 5


def test_replace_repaints_only_the_masked_region(modes_run):
    folder, out, rows = modes_run
    row = rows["replace", "square"]
    creative = np.asarray(Image.open(out / row["output_path"]).convert("RGB"), dtype=np.int16)
    source = np.asarray(
        Image.open(folder / "portrait.jpg").convert("RGB").resize((1080, 1080), Image.Resampling.LANCZOS),
        dtype=np.int16,
    )
    plan = layout(NAMED_FORMATS["square"])
    kept = (
        creative[400 : plan.cta.top - 10, 100:980],
        source[400 : plan.cta.top - 10, 100:980],
    )  # below the mask, above the button
    # Kept up to the invisible watermark, which moves pixels by a few levels.
    assert np.abs(kept[0] - kept[1]).mean() <= 1.5 and np.percentile(np.abs(kept[0] - kept[1]), 99) <= 6
    repainted = creative[plan.headline.bottom + 5 : 360, :60], source[plan.headline.bottom + 5 : 360, :60]
    assert np.abs(repainted[0] - repainted[1]).mean() > 10


def test_mode_inputs_are_validated(campaign_dir):
    Image.new("L", (10, 10)).save(campaign_dir / "small-mask.png")
    rows = [
        good_row(mode="replace"),
        good_row(product_id="b", mode="replace", replace_mask="small-mask.png"),
        good_row(product_id="c", mode="compose", source_image="products/widget.png"),
        good_row(product_id="d", mode="sketch", strength="2"),
    ]
    with pytest.raises(ValidationError) as caught:
        load_campaign(write_csv(campaign_dir, rows))
    text = str(caught.value)
    assert "row 2, column 'replace_mask': mode 'replace' needs a mask" in text
    assert "row 3, column 'replace_mask': mask is (10, 10) px but the source image is (64, 96) px" in text
    assert (
        "row 4, column 'source_image'" in text
        and "row 5, column 'mode'" in text
        and "row 5, column 'strength'" in text
    )


def test_an_inpainting_checkpoint_can_be_the_rows_model(campaign_dir):
    """A 9-channel inpainting UNet (latents + mask + masked image) saved as a checkpoint and
    named in the model column: inpaint mode runs it through the same from_pretrained path."""
    from diffusers import StableDiffusionInpaintPipeline, UNet2DConditionModel

    from pixio_ads.render import loading

    base = loading.load_model(EMBEDDED_MODEL_ID, "cpu").pipeline
    unet = UNet2DConditionModel.from_config({**base.unet.config, "in_channels": 9})
    checkpoint = campaign_dir / "tiny-inpainting"
    StableDiffusionInpaintPipeline(**{**base.components, "unet": unet}).save_pretrained(checkpoint)
    path = write_csv(campaign_dir, [good_row(mode="inpaint", model=str(checkpoint), formats="square")])
    out = campaign_dir / "out"
    plan = planning.plan_campaign(path, out, RenderSettings(steps=2))
    shard = runner.render_shard(plan.plan_path, plan.shards[0], out, "cpu")
    row = pq.read_table(shard.path).to_pylist()[0]
    assert row["status"] == "rendered", row["error"]
    assert loading.load_model(str(checkpoint), "cpu").pipeline.unet.config.in_channels == 9
