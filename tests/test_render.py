"""Rendering with the tiny model on CPU: loading, reproducibility, sizes, compositing, failure isolation."""

from __future__ import annotations

import random

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import EXAMPLE_CAMPAIGN
from PIL import Image

from pixio_ads.core.errors import ModelLoadError, ValidationError
from pixio_ads.core.formats import NAMED_FORMATS, AdFormat, parse_format, render_size
from pixio_ads.creative.composite import fit_cover
from pixio_ads.render import loading
from pixio_ads.render import pipelines as render
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID, embedded_model_path
from pixio_ads.run import planning, rendering, runner
from pixio_ads.settings import RenderSettings

PROMPTS = ["a red bottle", "a blue mug", "golden hour beach", "minimal studio backdrop"]
SEEDS = [11, 22, 33, 44]


@pytest.fixture(scope="module")
def tiny():
    return loading.load_model(EMBEDDED_MODEL_ID, "cpu")


def arrays(images):
    return [np.asarray(image, dtype=np.int16) for image in images]


def test_embedded_model_is_a_saved_checkpoint_loaded_like_any_other(tiny):
    folder = embedded_model_path()
    assert (folder / "model_index.json").is_file() and (folder / "tokenizer" / "tokenizer.json").is_file()
    assert type(tiny.pipeline).__name__ == "StableDiffusionPipeline"
    assert tiny.native_side == 256  # the backdrop model is trained at 256 px (backdrop_model.NATIVE_LATENT)
    by_path = loading.load_model(str(folder), "cpu")  # what --model /path/to/checkpoint does
    assert by_path is not tiny
    a = render.generate(tiny, PROMPTS[:1], [""], SEEDS[:1], 64, 64, 2, 7.5).images
    b = render.generate(by_path, PROMPTS[:1], [""], SEEDS[:1], 64, 64, 2, 7.5).images
    assert np.array_equal(*arrays(a + b))


def test_model_is_loaded_once_per_process(tiny):
    assert loading.load_model(EMBEDDED_MODEL_ID, "cpu") is tiny


@pytest.mark.parametrize(
    "ref, message",
    [
        ("./no/such/checkpoint", "does not exist"),
        ("/definitely/missing", "does not exist"),
        ("a b c", "does not exist"),
    ],
)
def test_bad_model_reference_is_named(ref, message):
    with pytest.raises(ModelLoadError, match=message) as caught:
        loading.load_model(ref, "cpu")
    assert repr(ref) in str(caught.value)


def test_folder_without_model_index_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="model_index.json"):
        loading.load_model(str(tmp_path), "cpu")


def test_same_image_whatever_batch_size_or_order(tiny):
    one_by_one = arrays(
        [render.generate(tiny, [p], [""], [s], 128, 128, 2, 7.5).images[0] for p, s in zip(PROMPTS, SEEDS)]
    )
    batch = arrays(render.generate(tiny, PROMPTS, [""] * 4, SEEDS, 128, 128, 2, 7.5).images)
    order = list(range(4))
    random.Random(3).shuffle(order)
    shuffled = arrays(
        render.generate(
            tiny, [PROMPTS[i] for i in order], [""] * 4, [SEEDS[i] for i in order], 128, 128, 2, 7.5
        ).images
    )
    for position, index in enumerate(order):
        assert np.array_equal(shuffled[position], batch[index])  # same batch size: byte-identical
    for a, b in zip(one_by_one, batch):
        assert np.abs(a - b).max() <= 1  # across batch sizes: float kernels differ by < 1/255
    assert not np.array_equal(batch[0], batch[1])


def test_generate_checks_its_inputs(tiny):
    with pytest.raises(ValueError, match="divisible by 8 but are 100 and 1000"):
        render.generate(tiny, ["x"], [""], [1], 1000, 100, 1, 1.0)
    with pytest.raises(ValueError, match="equally long"):
        render.generate(tiny, ["x", "y"], [""], [1], 64, 64, 1, 1.0)


@pytest.mark.parametrize("name", list(NAMED_FORMATS) + ["1200x900"])
def test_render_size_keeps_aspect_near_native_area(name):
    fmt = parse_format(name)
    width, height = render_size(fmt, 512)
    assert width % 64 == 0 and height % 64 == 0
    assert abs(width * height / 512**2 - 1) < 0.2
    assert abs((width / height) / fmt.aspect - 1) < 0.12


def test_fit_cover_gives_exact_pixels():
    image = Image.new("RGB", (384, 704), "red")
    for fmt in NAMED_FORMATS.values():
        assert fit_cover(image, fmt.width, fmt.height).size == (fmt.width, fmt.height)


def test_a_failing_batch_is_isolated(tmp_path, monkeypatch):
    plan = planning.plan_campaign(EXAMPLE_CAMPAIGN, tmp_path, RenderSettings(steps=1), limit=3)
    real_generate = render.generate
    doomed = None

    def flaky(model, prompts, *args, **kwargs):
        nonlocal doomed
        if doomed is None:
            doomed = prompts[0]
        if prompts[0] == doomed:
            raise RuntimeError("simulated render crash")
        return real_generate(model, prompts, *args, **kwargs)

    monkeypatch.setattr(render, "generate", flaky)
    shards = [runner.render_shard(plan.plan_path, ids, tmp_path, "cpu", 1, retry_delay=0.01) for ids in plan.shards]
    summary = runner.write_manifest(plan.plan_path, shards, tmp_path)
    table = pq.read_table(summary.manifest_path).to_pylist()
    failed = [row for row in table if row["status"] == "failed"]
    assert len(failed) == 1 and "simulated render crash" in failed[0]["error"] and failed[0]["output_path"] is None
    assert summary.counts["rendered"] == 2


def test_plan_fails_fast_on_a_bad_model_path(tmp_path):
    with pytest.raises(ValidationError) as caught:  # at validate, once for the run (not once per row)
        planning.plan_campaign(EXAMPLE_CAMPAIGN, tmp_path, RenderSettings(model="./missing-model"))
    (issue,) = caught.value.issues
    assert "missing-model" in issue.message and (issue.row, issue.column) == (None, "model")


def test_custom_format_roundtrip():
    assert parse_format(" 1200 x 628 ") == AdFormat("1200x628", 1200, 628)
    with pytest.raises(ValueError):
        parse_format("10x10")


def test_transient_failures_are_retried_with_backoff(tmp_path, monkeypatch, caplog):
    plan = planning.plan_campaign(EXAMPLE_CAMPAIGN, tmp_path, RenderSettings(steps=1), limit=1)
    real_generate = render.generate
    calls = []

    def fails_twice(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            raise OSError("device busy (simulated)")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(render, "generate", fails_twice)
    sleeps = []
    monkeypatch.setattr(rendering.time, "sleep", sleeps.append)
    result = runner.render_shard(plan.plan_path, plan.shards[0], tmp_path, "cpu", retries=2, retry_delay=1.5)
    assert result.rendered == 1 and len(calls) == 3
    assert sleeps == [1.5, 3.0]  # exponential backoff
    assert "retry 1/2" in caplog.text and "retry 2/2" in caplog.text


def test_bad_settings_fail_without_retrying(tmp_path, monkeypatch):
    plan = planning.plan_campaign(EXAMPLE_CAMPAIGN, tmp_path, RenderSettings(steps=1), limit=1)
    monkeypatch.setattr(rendering.time, "sleep", lambda seconds: pytest.fail("should not wait"))

    def invalid(*args, **kwargs):
        raise ValueError("`height` and `width` have to be divisible by 8")

    monkeypatch.setattr(render, "generate", invalid)
    result = runner.render_shard(plan.plan_path, plan.shards[0], tmp_path, "cpu")
    (row,) = pq.read_table(result.path).to_pylist()
    assert row["status"] == "failed" and "divisible by 8" in row["error"]
