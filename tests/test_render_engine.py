"""The rendering engine with tiny SD and SDXL pipelines on CPU: schedulers, compel, OOM
back-off, the safety checker and model settings carried into the manifest."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from helpers import EXAMPLE_CAMPAIGN, good_row, tiny_safety_checker, write_csv

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ModelLoadError, ValidationError
from pixio_ads.render import loading
from pixio_ads.render import pipelines as render
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID, EMBEDDED_SDXL_ID, embedded_model_path
from pixio_ads.run import planning, runner
from pixio_ads.settings import RenderSettings

SIZE = 64


@pytest.fixture(scope="module")
def sd():
    return loading.load_model(EMBEDDED_MODEL_ID, "cpu")


@pytest.fixture(scope="module")
def sdxl():
    return loading.load_model(EMBEDDED_SDXL_ID, "cpu")


def pixels(output):
    return [np.asarray(image, dtype=np.int16) for image in output.images]


def test_tiny_sdxl_loads_from_a_saved_folder_with_two_text_encoders(sdxl):
    assert (embedded_model_path(EMBEDDED_SDXL_ID) / "text_encoder_2" / "config.json").is_file()
    assert type(sdxl.pipeline).__name__ == "StableDiffusionXLPipeline" and sdxl.is_sdxl
    out = render.generate(sdxl, ["a red bottle", "a mug"], ["blurry", ""], [1, 2], SIZE, SIZE, 2, 5.0)
    assert [image.size for image in out.images] == [(SIZE, SIZE)] * 2 and out.nsfw == [False, False]


@pytest.mark.parametrize("name", list(loading.SCHEDULERS))
def test_every_scheduler_renders_from_the_checkpoint_config(sd, name):
    out = render.generate(sd, ["a lamp"], [""], [5], SIZE, SIZE, 2, 7.5, scheduler=name)
    pipeline = sd.with_scheduler(name)
    assert type(pipeline.scheduler).__name__ == loading.SCHEDULERS[name][0]
    assert pipeline.unet is sd.pipeline.unet  # scheduler variants share the loaded weights
    assert sd.with_scheduler(name) is pipeline
    assert out.images[0].size == (SIZE, SIZE)


def test_scheduler_changes_the_image(sd):
    default, ddim = (
        pixels(render.generate(sd, ["a lamp"], [""], [5], SIZE, SIZE, 3, 7.5, scheduler=s))[0]
        for s in ("default", "ddim")
    )
    assert not np.array_equal(default, ddim)


def test_unknown_scheduler_lists_valid_ones(sd, campaign_dir):
    with pytest.raises(ValueError, match="unknown scheduler 'karras'; valid: default, euler, euler_a, dpmpp_2m"):
        render.generate(sd, ["x"], [""], [1], SIZE, SIZE, 1, 1.0, scheduler="karras")
    with pytest.raises(ValueError, match="unknown scheduler"):
        RenderSettings(scheduler="karras")
    with pytest.raises(ValidationError) as caught:
        load_campaign(write_csv(campaign_dir, [good_row(scheduler="karras", dtype="fp8")]))
    assert {(i.column, i.row) for i in caught.value.issues} == {("scheduler", 2), ("dtype", 2)}
    assert "dpmpp_2m" in caught.value.issues[0].fix


@pytest.mark.parametrize("fixture", ["sd", "sdxl"])
def test_compel_weighting_and_long_prompts(fixture, request):
    model = request.getfixturevalue(fixture)
    plain, weighted, long_prompt = (
        "a red dress on a beach",
        "a (red dress)1.3 on a beach++",
        " ".join(["golden hour beach photo"] * 40),
    )
    embeds = render.encode_prompts(model, [plain, weighted, long_prompt], ["", "", ""])
    assert embeds[0]["prompt_embeds"].shape == embeds[1]["prompt_embeds"].shape
    assert not torch.equal(embeds[0]["prompt_embeds"], embeds[1]["prompt_embeds"])  # weights change the embedding
    assert embeds[2]["prompt_embeds"].shape[1] > 77  # not truncated to CLIP's 77 tokens
    assert embeds[2]["negative_prompt_embeds"].shape == embeds[2]["prompt_embeds"].shape
    if model.is_sdxl:
        assert embeds[0]["pooled_prompt_embeds"].shape[0] == 1
    out = render.generate(model, [plain, weighted, long_prompt], ["", "", "blurry"], [1, 2, 3], SIZE, SIZE, 2, 7.5)
    assert len(out.images) == 3


def test_long_prompt_does_not_change_its_batch_neighbours(sd):
    short, long_prompt = "a mug", " ".join(["soft studio light"] * 40)
    alone = pixels(render.generate(sd, [short], [""], [9], SIZE, SIZE, 2, 7.5))[0]
    mixed = pixels(render.generate(sd, [long_prompt, short], ["", ""], [3, 9], SIZE, SIZE, 2, 7.5))[1]
    assert np.array_equal(alone, mixed)


def test_cuda_out_of_memory_halves_the_batch(sd, caplog):
    calls = []
    real_pipeline = sd.pipeline

    class OutOfMemoryAboveOne:
        """Wraps the real pipeline; raises torch's OOM error for batches larger than one."""

        def __getattr__(self, name):
            return getattr(real_pipeline, name)

        def __call__(self, **kwargs):
            calls.append(len(kwargs["generator"]))
            if len(kwargs["generator"]) > 1:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
            return real_pipeline(**kwargs)

    limited = loading.LoadedModel(sd.spec, OutOfMemoryAboveOne(), sd.device, sd.dtype, sd.native_side, sd.family)
    with caplog.at_level(logging.WARNING, logger="pixio_ads.render.pipelines"):
        out = render.generate(limited, ["a", "b", "c", "d"], [""] * 4, [1, 2, 3, 4], SIZE, SIZE, 1, 7.5)
    assert calls == [4, 2, 1, 1, 2, 1, 1] and len(out.images) == 4
    assert "out of memory at batch size 4; retrying as batches of 2 and 2" in caplog.text
    reference = pixels(render.generate(sd, ["a", "b", "c", "d"], [""] * 4, [1, 2, 3, 4], SIZE, SIZE, 1, 7.5))
    assert all(np.abs(a - b).max() <= 1 for a, b in zip(pixels(out), reference))


def test_out_of_memory_at_batch_one_fails_the_variant(sd):
    class AlwaysOutOfMemory:
        def __getattr__(self, name):
            return getattr(sd.pipeline, name)

        def __call__(self, **kwargs):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    limited = loading.LoadedModel(sd.spec, AlwaysOutOfMemory(), sd.device, sd.dtype, sd.native_side, sd.family)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        render.generate(limited, ["a", "b"], ["", ""], [1, 2], SIZE, SIZE, 1, 7.5)


@pytest.fixture(scope="module")
def flagging_checkpoint(tmp_path_factory, sd):
    """The embedded model saved again with a safety checker that flags every image."""
    from diffusers import StableDiffusionPipeline

    checker, extractor = tiny_safety_checker(always_flag=True)
    components = {
        name: getattr(sd.pipeline, name) for name in ("vae", "text_encoder", "tokenizer", "unet", "scheduler")
    }
    folder = tmp_path_factory.mktemp("flagging-checkpoint")
    StableDiffusionPipeline(**components, safety_checker=checker, feature_extractor=extractor).save_pretrained(folder)
    return folder


def test_safety_checker_stays_on_and_blocks_flagged_images(flagging_checkpoint, tmp_path):
    plan = planning.plan_campaign(
        EXAMPLE_CAMPAIGN, tmp_path, RenderSettings(model=str(flagging_checkpoint), steps=1), limit=2
    )
    shards = [runner.render_shard(plan.plan_path, ids, tmp_path, "cpu") for ids in plan.shards]
    summary = runner.write_manifest(plan.plan_path, shards, tmp_path)
    rows = pq.read_table(summary.manifest_path).to_pylist()
    assert summary.counts["blocked"] == 2
    assert all(r["status"] == "blocked" and "safety checker" in r["error"] and r["output_path"] is None for r in rows)
    assert all(r["safety_checker"] == "on" for r in rows)
    assert not (tmp_path / "images").exists()  # flagged images are never written


def test_safety_checker_can_be_turned_off(flagging_checkpoint, tmp_path):
    plan = planning.plan_campaign(
        EXAMPLE_CAMPAIGN, tmp_path, RenderSettings(model=str(flagging_checkpoint), steps=1), limit=1
    )
    shard = runner.render_shard(plan.plan_path, plan.shards[0], tmp_path, "cpu", safety_checker=False)
    (row,) = pq.read_table(shard.path).to_pylist()
    assert (row["status"], row["safety_checker"]) == ("rendered", "off")


def test_settings_reach_the_manifest(tmp_path):
    overrides = RenderSettings(model=EMBEDDED_SDXL_ID, steps=1, scheduler="euler_a", dtype="fp32", guidance=3.0)
    plan = planning.plan_campaign(EXAMPLE_CAMPAIGN, tmp_path, overrides, limit=1)
    (row,) = pq.read_table(runner.render_shard(plan.plan_path, plan.shards[0], tmp_path, "cpu").path).to_pylist()
    assert row["status"] == "rendered", row["error"]
    assert (row["model_id"], row["scheduler"], row["dtype"], row["torch_dtype"], row["steps"], row["guidance"]) == (
        EMBEDDED_SDXL_ID, "euler_a", "fp32", "fp32", 1, 3.0,
    )  # fmt: skip
    # SDXL ships no safety checker: its family says so (families.py), the manifest records "none"
    assert (row["safety_checker"], row["resize_method"], row["device"]) == ("none", "lanczos", "cpu")
    assert row["model_family"] == "sdxl"


def test_scheduler_is_part_of_the_variant_id():
    a = expand(load_campaign(EXAMPLE_CAMPAIGN))
    b = expand(load_campaign(EXAMPLE_CAMPAIGN), RenderSettings(scheduler="ddim"))
    assert all(x.variant_id != y.variant_id and x.seed == y.seed for x, y in zip(a, b))


def test_single_file_checkpoint_errors_name_the_file(tmp_path):
    not_a_checkpoint = tmp_path / "model.bin"
    not_a_checkpoint.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="model.bin.*not a .safetensors or .ckpt"):
        loading.load_model(str(not_a_checkpoint), "cpu")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="cannot load model .*broken.safetensors"):
        loading.load_model(str(broken), "cpu")


def test_unknown_dtype_is_refused():
    with pytest.raises(ModelLoadError, match="unknown dtype 'fp8'"):
        loading.load_model(loading.ModelSpec(EMBEDDED_MODEL_ID, dtype="fp8"), "cpu")


def test_upscaler_enlarges_by_its_factor():
    from PIL import Image

    from pixio_ads.render import upscale
    from pixio_ads.render.tiny_model import EMBEDDED_UPSCALER_ID

    upscaler = upscale.load_upscaler(EMBEDDED_UPSCALER_ID, "cpu")
    assert type(upscaler.pipeline).__name__ == "StableDiffusionUpscalePipeline"
    image = Image.new("RGB", (64, 48), "red")
    assert upscale.needs_upscale(image, 200, 48) and not upscale.needs_upscale(image, 64, 48)
    a = upscale.upscale(upscaler, image, "a photo", seed=3, steps=2)
    b = upscale.upscale(upscaler, image, "a photo", seed=3, steps=2)
    assert a.size == (256, 192) and np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_manifest_says_which_resize_was_used(tmp_path, campaign_dir):
    from pixio_ads.render.tiny_model import EMBEDDED_UPSCALER_ID

    # 600x600 needs enlarging from the 512 px render; 256x256 does not.
    path = write_csv(campaign_dir, [good_row(formats="600x600; 256x256", audiences="a")])
    overrides = RenderSettings(steps=1, upscaler=EMBEDDED_UPSCALER_ID, upscaler_steps=1)
    plan = planning.plan_campaign(path, tmp_path, overrides)
    shards = [runner.render_shard(plan.plan_path, ids, tmp_path, "cpu") for ids in plan.shards]
    rows = {
        r["format"]: r
        for r in pq.read_table(runner.write_manifest(plan.plan_path, shards, tmp_path).manifest_path).to_pylist()
    }
    assert (
        rows["600x600"]["resize_method"] == f"upscaler:{EMBEDDED_UPSCALER_ID}"
        and rows["600x600"]["upscaler_steps"] == 1
    )
    assert rows["256x256"]["resize_method"] == "lanczos"
    from PIL import Image

    with Image.open(tmp_path / rows["600x600"]["output_path"]) as image:
        assert image.size == (600, 600)


@pytest.mark.parametrize("fixture", ["sd", "sdxl"])
def test_a_batchs_new_prompts_share_one_text_encoder_pass_and_match_one_by_one(fixture, request):
    """Plain prompts are padded to the full window, so encoding them together gives each the
    embedding it gets alone; negatives are encoded only when guidance uses them."""
    model = request.getfixturevalue(fixture)
    prompts = [f"a {colour} mug on a table, studio light" for colour in ("red", "green", "blue", "white")]
    calls = []
    hook = model.pipeline.text_encoder.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        model._embeddings.clear()
        together = render.encode_prompts(model, prompts, [""] * 4, guidance=7.5)
        assert len(calls) == 2  # prompts, then negatives: one pass each, not one per prompt
        model._embeddings.clear()
        alone = [render.encode_prompts(model, [prompt], [""], guidance=7.5)[0] for prompt in prompts]
        calls.clear()
        model._embeddings.clear()
        unguided = render.encode_prompts(model, prompts, [""] * 4, guidance=1.0)
        assert len(calls) == 1 and all("negative_prompt_embeds" not in e for e in unguided)
    finally:
        hook.remove()
        model._embeddings.clear()
    for batched, single in zip(together, alone):
        assert batched.keys() == single.keys()
        for name in batched:
            assert batched[name].shape == single[name].shape
            torch.testing.assert_close(batched[name], single[name], rtol=1e-5, atol=1e-5)
    out = render.generate(model, prompts[:2], ["", ""], [1, 2], SIZE, SIZE, 2, 0.0)  # as turbo models sample
    assert len(out.images) == 2
