"""Model families (render/families.py) with tiny random pipelines of each, built offline
(render/tiny_families.py): read from the checkpoint at validate, refused when unsupported or
incomplete, rendered through the shard loop in each family's modes, resumed, batch-invariant,
with a tiny LoRA; and edit mode's product kept (run/compose.py, creative/locate.py)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import good_row, write_csv
from PIL import Image, ImageDraw

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ModelLoadError, ValidationError
from pixio_ads.creative.locate import find_product
from pixio_ads.render import families, loading
from pixio_ads.render import pipelines as render
from pixio_ads.render.adapters import lora_problem, use_adapters
from pixio_ads.render.tiny_adapters import build_tiny_lora
from pixio_ads.render.tiny_model import EMBEDDED_RANDOM_ID, ensure_embedded_model
from pixio_ads.run import planning, runner
from pixio_ads.run.compose import Assets, ProductChanged, edit_scene
from pixio_ads.settings import RenderSettings

SD3, FLUX, FLUX_DEV, KONTEXT, KLEIN, QWEN = (
    "embedded:tiny-sd3",
    "embedded:tiny-flux",
    "embedded:tiny-flux-dev",
    "embedded:tiny-flux-kontext",
    "embedded:tiny-flux2-klein",
    "embedded:tiny-qwen-image",
)
DIT_MODELS = {
    SD3: "sd3",
    FLUX: "flux-schnell",
    FLUX_DEV: "flux-dev",
    KONTEXT: "flux-kontext",
    KLEIN: "flux2-klein",
    QWEN: "qwen-image",
}
SIZE = 128  # px: every family's size multiple divides it


@pytest.fixture(scope="module", params=list(DIT_MODELS))
def dit(request):
    return loading.load_model(request.param, "cpu")


def test_the_family_is_read_from_the_checkpoint_without_loading_it():
    for model_id, name in {**DIT_MODELS, EMBEDDED_RANDOM_ID: "sd", "embedded:tiny-sdxl": "sdxl"}.items():
        assert loading.family_of(model_id).name == name
    # FLUX.1 dev and schnell share pipelines: told apart by the transformer's guidance embedding
    assert families.BY_NAME["flux-dev"].guidance == families.DISTILLED
    assert families.BY_NAME["flux-schnell"].guidance == families.NO_GUIDANCE


def test_a_checkpoint_of_no_supported_family_is_refused_naming_what_it_is(tmp_path):
    folder = tmp_path / "wan"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline", "transformer": ["d", "W"]}))
    with pytest.raises(ModelLoadError) as caught:
        loading.family_of(str(folder))
    message = str(caught.value)
    assert "WanPipeline" in message and "a video model" in message and "FLUX.1 dev" in message
    with pytest.raises(ModelLoadError, match="an upscaler"):
        loading.family_of("embedded:tiny-upscaler")


def test_a_checkpoint_folder_missing_a_component_is_refused_naming_it(tmp_path):
    folder = tmp_path / "flux"
    shutil.copytree(ensure_embedded_model(FLUX), folder)
    shutil.rmtree(folder / "text_encoder_2")
    with pytest.raises(ModelLoadError, match=r"text_encoder_2/"):
        loading.family_of(str(folder))


def test_validate_names_row_and_column_of_each_model_problem(campaign_dir):
    rows = [
        good_row(product_id="a", model=FLUX, mode="edit"),  # FLUX.1 schnell cannot edit
        good_row(product_id="b", model=SD3, scheduler="euler_a"),  # flow matching: its own scheduler
        good_row(product_id="c", model="embedded:tiny-upscaler"),  # not a text-to-image family
        good_row(product_id="d", mode="edit"),  # the embedded SD model cannot edit either
        good_row(product_id="e", model=KONTEXT, mode="restyle"),  # Kontext edits, it has no img2img
    ]
    with pytest.raises(ValidationError) as caught:
        expand(load_campaign(write_csv(campaign_dir, rows)), RenderSettings())
    found = {(issue.row, issue.column): issue.message for issue in caught.value.issues}
    assert set(found) == {(2, "mode"), (3, "scheduler"), (4, "model"), (5, "mode"), (6, "mode")}
    assert "FLUX.1 Kontext dev" in found[2, "mode"] and "an upscaler" in found[4, "model"]


def test_a_runs_model_is_checked_against_every_rows_mode(campaign_dir):
    path = write_csv(campaign_dir, [good_row(mode="expand")])
    with pytest.raises(ValidationError) as caught:
        expand(load_campaign(path), RenderSettings(model=KONTEXT))
    (issue,) = caught.value.issues
    assert (issue.row, issue.column) == (2, "mode") and f"--model {KONTEXT}" in issue.message


def test_family_defaults_fill_steps_and_guidance_sd_keeps_its_own(campaign_dir):
    rows = [good_row(product_id=p, model=m, formats="square", audiences="a") for p, m in [("f", FLUX_DEV), ("s", SD3)]]
    variants = {v.product_id: v for v in expand(load_campaign(write_csv(campaign_dir, rows)), RenderSettings())}
    assert variants["f"].guidance == 3.5 and variants["s"].guidance == 7.0  # the families' own
    assert variants["f"].steps == 4  # embedded models render in 4 steps
    sd = families.BY_NAME["sd"]
    assert (sd.default_steps, sd.default_guidance) == (30, 7.5)  # as before families: the same variant ids


def test_every_family_renders_text_to_image_batch_invariant(dit):
    guidance = dit.family.default_guidance
    batch = render.generate(dit, ["a red mug on marble", "a lamp"], ["blurry", ""], [1, 2], SIZE, SIZE, 2, guidance)
    alone = render.generate(dit, ["a lamp"], [""], [2], SIZE, SIZE, 2, guidance)
    assert [p.shape for p in batch.pixels] == [(SIZE, SIZE, 3)] * 2
    # the same image whatever its batch (float rounding aside)
    assert np.abs(batch.pixels[1].astype(int) - alone.pixels[0].astype(int)).max() <= 2
    assert not np.array_equal(batch.pixels[0], batch.pixels[1])


def test_each_family_renders_its_image_modes(dit):
    source = Image.new("RGB", (SIZE, SIZE), (200, 60, 40))
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, (0, 0, SIZE // 2, SIZE))
    guidance = dit.family.default_guidance
    for task, extra in [("img2img", {}), ("inpaint", {"masks": [mask]}), ("edit", {"edit": True})]:
        if task not in dit.family.pipelines:
            with pytest.raises(ValueError, match=f"no {task} pipeline"):
                render.generate(dit, ["x"], [""], [1], SIZE, SIZE, 2, guidance, init_images=[source], **extra)
            continue
        out = render.generate(dit, ["on marble"], [""], [3], SIZE, SIZE, 2, guidance, init_images=[source], **extra)
        assert out.pixels[0].shape == (SIZE, SIZE, 3), task


def test_compile_targets_the_transformer_of_a_dit_family():
    from diffusers import FluxPipeline

    from pixio_ads.render.compiled import compile_pipeline

    pipeline = FluxPipeline.from_pretrained(str(ensure_embedded_model(FLUX)))
    compile_pipeline(pipeline, "default", "transformer")
    assert type(pipeline.transformer).__name__ == "OptimizedModule"  # compiled lazily, at its first call


def _campaign(folder, **changes):
    return write_csv(folder, [good_row(formats="square", audiences="makers", **changes)])


def _render(campaign, out, **overrides):
    plan = planning.plan_campaign(campaign, out, RenderSettings(steps=2, **overrides))
    shards = [runner.render_shard(plan.plan_path, ids, out, "cpu") for ids in plan.shards]
    return runner.write_manifest(plan.plan_path, shards, out)


@pytest.mark.parametrize(
    ("model_id", "mode"), [(SD3, "expand"), (FLUX_DEV, "compose"), (QWEN, "restyle"), (KLEIN, "edit")]
)
def test_a_campaign_renders_resumes_and_records_its_family(campaign_dir, tmp_path, model_id, mode):
    campaign = _campaign(campaign_dir, model=model_id, mode=mode)
    summary = _render(campaign, tmp_path / "out")
    (row,) = pq.read_table(summary.manifest_path).to_pylist()
    assert row["status"] == "rendered", row["error"]
    assert (row["model_family"], row["safety_checker"]) == (DIT_MODELS[model_id], "none")
    assert row["render_width"] % 16 == 0 and row["render_height"] % 16 == 0
    again = _render(campaign, tmp_path / "out")
    assert again.rendered_now == 0 and again.counts["rendered"] == 1  # resumed: nothing rendered twice


def _product() -> Image.Image:
    product = Image.new("RGBA", (120, 200), (0, 0, 0, 0))
    draw = ImageDraw.Draw(product)
    draw.rounded_rectangle((10, 10, 110, 190), 20, fill=(200, 40, 40, 255))
    draw.rectangle((35, 60, 85, 120), fill=(250, 240, 30, 255))
    return product


def _scene_with(product: Image.Image, box: tuple[int, int, int, int], size=(1080, 1080)) -> Image.Image:
    scene = Image.new("RGB", size, (110, 150, 190))
    draw = ImageDraw.Draw(scene)
    for x in range(0, size[0], 70):
        draw.line((x, 0, x, size[1]), fill=(80, 90, 100), width=4)
    placed = product.resize((box[2] - box[0], box[3] - box[1]))
    scene.paste(placed, box[:2], placed)
    return scene


def test_the_product_is_found_where_an_edit_put_it():
    found = find_product(_scene_with(_product(), (600, 500, 780, 800)), _product())
    assert found.match > 0.95
    assert all(abs(a - b) <= 8 for a, b in zip(found.box.as_tuple(), (600, 500, 780, 800)))


@pytest.fixture
def edit_variant(campaign_dir):
    _product().save(campaign_dir / "products" / "widget.png")
    rows = [good_row(model=KONTEXT, mode="edit", formats="square", audiences="a", min_product_fidelity="0.8")]
    (variant,) = expand(load_campaign(write_csv(campaign_dir, rows)), RenderSettings())
    return variant


def test_an_edit_that_kept_the_product_ships_as_edited(edit_variant):
    edited = _scene_with(_product(), (600, 500, 780, 800))
    scene, keep, _, box, values = edit_scene(edit_variant, edited, Assets())
    assert scene is edited and keep is None and values["product_kept"] == "edit"
    assert values["product_fidelity_score"] >= 0.8  # found within a few pixels: above the row's minimum


def test_an_edit_that_changed_the_product_gets_its_pixels_back_or_fails(edit_variant):
    changed = _product()
    changed.paste((40, 200, 40, 255), (35, 60, 85, 120))  # the label repainted green
    changed.paste((40, 40, 200, 255), (10, 130, 110, 190))
    edited = _scene_with(changed, (600, 500, 780, 800))
    scene, keep, placed, box, values = edit_scene(edit_variant, edited, Assets())
    assert values["product_kept"] == "pasted" and values["product_fidelity_score"] < 0.8
    window = np.asarray(scene.crop(box.as_tuple()))
    opaque = np.asarray(placed.getchannel("A")) == 255
    assert np.array_equal(window[opaque], np.asarray(placed.convert("RGB"))[opaque])  # the product's own pixels
    assert np.asarray(keep).max() == 255  # and the watermark must leave them exact
    with pytest.raises(ProductChanged, match="edit changed the product"):
        edit_scene(dataclasses.replace(edit_variant, edit_keep_product="fail"), edited, Assets())
    off = edit_scene(dataclasses.replace(edit_variant, edit_keep_product="off"), edited, Assets())
    assert off[0] is edited and off[4]["product_kept"] == "edit"


def test_an_edit_campaign_runs_through_the_shard_loop(edit_variant, campaign_dir, tmp_path):
    summary = _render(campaign_dir / "campaign.csv", tmp_path / "out")
    (row,) = pq.read_table(summary.manifest_path).to_pylist()
    assert row["status"] == "rendered", row["error"]
    assert (row["mode"], row["model_family"], row["edit_keep_product"]) == ("edit", "flux-kontext", "paste")
    assert row["product_kept"] in ("edit", "pasted") and row["product_fidelity_score"] is not None


def test_a_lora_for_a_dit_family_loads_and_changes_the_image(tmp_path):
    lora = build_tiny_lora(FLUX, tmp_path / "flux-lora.safetensors")
    assert lora_problem(lora, FLUX) is None and lora_problem(lora, FLUX_DEV) is None
    unet_lora = build_tiny_lora(EMBEDDED_RANDOM_ID, tmp_path / "sd-lora.safetensors")
    assert "made for a UNet model" in lora_problem(unet_lora, FLUX)
    assert "made for a transformer model" in lora_problem(lora, EMBEDDED_RANDOM_ID)
    assert "another base model" in lora_problem(lora, SD3)  # FLUX's layers are not SD3's
    model = loading.load_model(FLUX, "cpu")
    plain = render.generate(model, ["a lamp"], [""], [4], SIZE, SIZE, 2, 0.0).pixels[0]
    use_adapters(model, [(str(lora), "f" * 64, 1.0)])
    styled = render.generate(model, ["a lamp"], [""], [4], SIZE, SIZE, 2, 0.0).pixels[0]
    use_adapters(model, [])
    again = render.generate(model, ["a lamp"], [""], [4], SIZE, SIZE, 2, 0.0).pixels[0]
    assert not np.array_equal(plain, styled) and np.abs(plain.astype(int) - again.astype(int)).max() <= 1


def test_offloaded_model_renders_the_same_images():
    """--offload model: diffusers' CPU offload (accelerate hooks move each module to the
    device for its turn); on this CPU-only machine the hooks run, the images must not change."""
    plain = loading.load_model(FLUX, "cpu")
    offloaded = loading.load_model(loading.ModelSpec(FLUX, offload="model"), "cpu")
    assert offloaded is not plain  # another process-cached entry: offload is part of the key
    source = Image.new("RGB", (SIZE, SIZE), (100, 50, 50))
    for extra in ({}, {"init_images": [source], "strength": 0.6}):
        one, two = (
            render.generate(m, ["a lamp"], [""], [3], SIZE, SIZE, 2, 0.0, **extra).pixels[0]
            for m in (plain, offloaded)
        )
        assert np.abs(one.astype(int) - two.astype(int)).max() <= 1


def test_a_checkpoint_changed_after_it_was_read_is_read_again(tmp_path):
    """A long-lived process (serve, a fleet worker) sees a component deleted after a first read."""
    folder = tmp_path / "flux"
    shutil.copytree(ensure_embedded_model(FLUX), folder)
    assert loading.family_of(str(folder)).name == "flux-schnell"
    shutil.rmtree(folder / "text_encoder_2")
    with pytest.raises(ModelLoadError, match=r"text_encoder_2/"):
        loading.family_of(str(folder))
