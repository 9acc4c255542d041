"""The embedded backdrop model: its data set is reproducible, its vocabulary covers the
prompts' words, training is deterministic and saves a pipeline loaded like any checkpoint,
and the shipped model draws smooth scenes whose colour and light follow the prompt."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import EXAMPLE_CAMPAIGN

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.render import loading
from pixio_ads.render import pipelines as render
from pixio_ads.render.tiny_model import EMBEDDED_BACKDROP_GUIDANCE, EMBEDDED_MODEL_ID
from pixio_ads.training import backdrops
from pixio_ads.training.backdrop_model import Recipe, train

SEEDS = [11, 22, 33]


def test_the_data_set_is_the_same_for_a_seed_and_differs_between_seeds():
    a, b, c = backdrops.sample(5, 4), backdrops.sample(5, 4), backdrops.sample(6, 4)
    assert [x.caption for x in a] == [x.caption for x in b]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    assert not np.array_equal(a[0].image, c[0].image)
    assert all(x.style in x.caption and x.image.shape == (256, 256, 3) for x in a)


def test_the_data_set_speaks_the_example_campaigns_style_words():
    """Every style of the example campaign is a phrase the captions use, so the model has
    learned what it means; the rest of its prompts come from the same built-in templates."""
    styles = {style for row in load_campaign(EXAMPLE_CAMPAIGN).rows for style in row.styles}
    phrases = set(backdrops.MOODS) | set(backdrops.COLOURS) | set(backdrops.NEUTRALS)
    assert styles <= phrases, styles - phrases
    captions = " ".join(item.caption for item in backdrops.sample(0, 200))
    assert all(style in captions for style in styles)
    assert {v.template_name for v in expand(load_campaign(EXAMPLE_CAMPAIGN))} <= set(backdrops.TEMPLATES)


@pytest.mark.slow
def test_training_is_deterministic_and_saves_a_loadable_pipeline(tmp_path):
    recipe = Recipe(images=24, vae_steps=3, vae_batch=4, unet_steps=3, unet_batch=4)
    first, second = (
        train(tmp_path / "a", recipe, log=lambda _: None),
        train(tmp_path / "b", recipe, log=lambda _: None),
    )
    for part in ("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors"):
        assert (first / part).read_bytes() == (second / part).read_bytes()
    assert "synthetic backdrops, not photographs" in (first / "README.md").read_text()
    model = loading.load_model(str(first), "cpu")  # what --model FOLDER does
    assert model.native_side == 256
    assert render.generate(model, ["golden hour studio"], [""], [1], 64, 64, 1, 2.0).images[0].size == (64, 64)


def backdrop(model, style: str, seed: int) -> np.ndarray:
    prompt = f"{style} studio backdrop for a product photo of a mug, seamless paper sweep, gentle gradient"
    image = render.generate(model, [prompt], [""], [seed], 256, 256, 4, EMBEDDED_BACKDROP_GUIDANCE).images[0]
    return np.asarray(image.convert("RGB"), dtype=np.float64)


def smooth_share(pixels: np.ndarray) -> float:
    """Share of a region's variance that survives 16x16 block averaging (1: all structure,
    no pixel noise)."""
    region = pixels[16:240, 16:240].mean(axis=2)
    blocks = region.reshape(14, 16, 14, 16).mean(axis=(1, 3))
    return float(np.repeat(np.repeat(blocks, 16, 0), 16, 1).var() / max(region.var(), 1e-9))


@pytest.fixture(scope="module")
def shipped():
    return loading.load_model(EMBEDDED_MODEL_ID, "cpu")


def test_the_shipped_model_draws_smooth_scenes(shipped):
    shares = [smooth_share(backdrop(shipped, "minimal studio", seed)) for seed in SEEDS]
    assert min(shares) >= 0.8, shares


def test_prompt_words_move_colour_and_light_as_they_say(shipped):
    def mean(style: str) -> np.ndarray:
        return np.mean([backdrop(shipped, style, seed).reshape(-1, 3).mean(axis=0) for seed in SEEDS], axis=0)

    golden, minimal, cozy = mean("golden hour"), mean("minimal studio"), mean("cozy evening")
    warmth = lambda rgb: rgb[0] - rgb[2]  # noqa: E731
    assert warmth(golden) > warmth(minimal) + 10, (golden, minimal)
    assert cozy.mean() < minimal.mean() - 30, (cozy, minimal)


def test_different_seeds_give_different_scenes(shipped):
    a, b = backdrop(shipped, "warm pastel", 1), backdrop(shipped, "warm pastel", 2)
    assert np.abs(a - b).mean() > 3
