"""A pipeline call that stays on the device (render/streamline.py): the safety checker's
input made from the decoded tensor, and the scheduler told where text-to-image begins;
the same verdicts and the same images as diffusers' own path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import tiny_safety_checker

from pixio_ads.render import loading
from pixio_ads.render import pipelines as render
from pixio_ads.render.streamline import (
    as_diffusers_does,
    begin_at_first_timestep,
    clip_pixels,
    processor_supported,
    streamline,
)
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID

SIZE = 64


@pytest.fixture(scope="module")
def sd():
    return loading.load_model(EMBEDDED_MODEL_ID, "cpu")


def _processor_input(images, processor):
    """What diffusers gives the safety checker: the batch as PIL images, through the processor."""
    from diffusers.image_processor import VaeImageProcessor

    pil = VaeImageProcessor().postprocess(images, output_type="pil")
    return processor(pil, return_tensors="pt").pixel_values


@pytest.mark.parametrize("shape", [(2, 3, 512, 512), (1, 3, 768, 512), (1, 3, 512, 1024), (2, 3, 96, 80)])
def test_clip_pixels_match_the_image_processor(shape):
    """The SD checkpoints' processor (224 px, bicubic, centre crop): equal to within one 8-bit
    level after normalising, in under 1% of the values (float rounding in the resize)."""
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    if min(shape[2:]) < 224:
        processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    assert processor_supported(processor)
    torch.manual_seed(0)
    smooth = torch.nn.functional.interpolate(
        torch.rand(shape[0], 3, 16, 16) * 2.4 - 1.2, size=shape[2:], mode="bilinear"
    )
    images = smooth + 0.1 * torch.randn(shape)  # texture and out-of-range values, as a VAE's output has
    expected, ours = _processor_input(images, processor), clip_pixels(images, processor)
    assert ours.shape == expected.shape
    one_level = 1 / 255 / min(processor.image_std)
    difference = (ours - expected).abs()
    assert difference.max() <= 1.01 * one_level, difference.max()
    assert difference.mean() <= 0.01 * one_level  # one level off in under 1% of the values


def test_other_processors_keep_diffusers_path():
    from transformers import CLIPImageProcessor

    assert not processor_supported(None)
    assert not processor_supported(CLIPImageProcessor(size={"height": 224, "width": 224}))
    assert not processor_supported(CLIPImageProcessor(resample=2))
    assert not processor_supported(
        CLIPImageProcessor(size={"shortest_edge": 200}, crop_size={"height": 224, "width": 224})
    )


def _checking_pipeline(sd, streamlined: bool):
    """The embedded model with a tiny safety checker whose threshold flags about half of the
    images; a fresh pipeline object each time (its own scheduler)."""
    from diffusers import StableDiffusionPipeline

    checker, extractor = tiny_safety_checker(always_flag=None)
    modules = {name: getattr(sd.pipeline, name) for name in ("vae", "text_encoder", "tokenizer", "unet")}
    scheduler = type(sd.pipeline.scheduler).from_config(sd.pipeline.scheduler.config)
    pipeline = StableDiffusionPipeline(
        **modules, scheduler=scheduler, safety_checker=checker, feature_extractor=extractor
    )
    pipeline.set_progress_bar_config(disable=True)
    if streamlined:
        streamline(pipeline)
    return pipeline


def _call(pipeline, seeds):
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    prompts = ["a red chair in a white studio"] * len(seeds)
    return pipeline(prompts, num_inference_steps=2, height=SIZE, width=SIZE, generator=generators, output_type="pt")


def test_the_safety_checker_gives_diffusers_verdicts_without_a_pil_round_trip(sd, monkeypatch):
    seeds = list(range(8))
    plain = _checking_pipeline(sd, streamlined=False)
    # thresholds between the images' scores: about half flagged (each concept equal, so any one)
    with torch.inference_mode():
        decoded = _call(plain, seeds)  # nothing flagged yet: thresholds as built are 1
        embeds = plain.safety_checker.visual_projection(
            plain.safety_checker.vision_model(_processor_input(decoded.images * 2 - 1, plain.feature_extractor))[1]
        )
        scores = torch.nn.functional.cosine_similarity(embeds, plain.safety_checker.concept_embeds[:1]).sort().values
    threshold = float(scores[len(seeds) // 2 - 1] + scores[len(seeds) // 2]) / 2
    plain.safety_checker.concept_embeds_weights.data.fill_(threshold)
    plain.safety_checker.special_care_embeds_weights.data.fill_(10.0)

    with torch.inference_mode():
        expected = _call(plain, seeds)
        streamlined = _checking_pipeline(sd, streamlined=True)
        streamlined.safety_checker.load_state_dict(plain.safety_checker.state_dict())
        monkeypatch.setattr(type(streamlined.feature_extractor), "__call__", _never_called)
        ours = _call(streamlined, seeds)
    assert sum(expected.nsfw_content_detected) == len(seeds) // 2
    assert ours.nsfw_content_detected == expected.nsfw_content_detected
    torch.testing.assert_close(ours.images, expected.images)  # flagged ones black in both


def _never_called(*args, **kwargs):
    raise AssertionError("the CLIP image processor ran on the CPU")


@pytest.mark.parametrize("scheduler", loading.SCHEDULER_NAMES)
def test_text_to_image_never_searches_for_its_first_timestep(sd, scheduler, monkeypatch):
    """Same pixels with the begin index set as without it, and no timestep search (the
    device-to-host sync) during the call."""
    pipeline = sd.with_scheduler(scheduler)
    expected = _render(sd, scheduler, as_diffusers_does(pipeline).scheduler)
    searched = []
    scheduler_class = type(pipeline.scheduler)
    if hasattr(scheduler_class, "set_begin_index"):  # DDIM and LCM keep no step index to find
        original = scheduler_class.index_for_timestep
        monkeypatch.setattr(
            scheduler_class, "index_for_timestep", lambda *a, **k: searched.append(1) or original(*a, **k)
        )
    ours = _render(sd, scheduler, None)
    np.testing.assert_array_equal(ours, expected)
    assert searched == []


def _render(sd, scheduler_name, replacement):
    """The embedded model's pixels at 3 steps; with ``replacement``: that scheduler, unhooked."""
    pipeline = sd.with_scheduler(scheduler_name)
    kept = pipeline.scheduler
    if replacement is not None:
        pipeline.scheduler = replacement
    try:
        return np.stack(
            render.generate(sd, ["a lamp", "a mug"], ["", ""], [3, 4], SIZE, SIZE, 3, 7.5, scheduler_name).pixels
        )
    finally:
        pipeline.scheduler = kept


def test_image_to_image_still_begins_where_its_strength_says(sd):
    from PIL import Image

    scheduler = sd.with_scheduler(loading.DEFAULT_SCHEDULER, loading.IMG2IMG).scheduler
    begin_at_first_timestep(scheduler)  # idempotent
    init = [Image.new("RGB", (SIZE, SIZE), "teal")]
    render.generate(sd, ["a lamp"], [""], [1], SIZE, SIZE, 4, 7.5, init_images=init, strength=0.5)
    assert scheduler.begin_index == 2 * scheduler.order  # 4 steps at strength 0.5: the last two
