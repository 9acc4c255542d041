"""Prompt alignment with a tiny random CLIPModel built offline and loaded with from_pretrained,
as --clip-model loads a real one: the score is CLIPScore (100 x cosine, floored at 0)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
import torch
from helpers import EXAMPLE_CAMPAIGN
from PIL import Image
from typer.testing import CliRunner

from pixio_ads.cli import EXIT_INVALID_INPUT, app
from pixio_ads.core.errors import ModelLoadError
from pixio_ads.render.clip import ALIGNED_CLIP_SCORE, alignment_columns, check_reference, clip_scores
from pixio_ads.render.tiny_model import build_tiny_clip


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_clip_score_is_100_times_the_cosine_of_the_embeddings(tiny_clip):
    from transformers import CLIPModel, CLIPProcessor

    images = [Image.new("RGB", (96, 64), colour) for colour in ((200, 30, 30), (20, 40, 220), (240, 240, 240))]
    prompts = ["a red bottle on a table", "blue evening sky", "white studio"]
    scores = clip_scores(str(tiny_clip), "cpu", images, prompts)
    model, processor = CLIPModel.from_pretrained(tiny_clip).eval(), CLIPProcessor.from_pretrained(tiny_clip)
    with torch.no_grad():
        output = model(**processor(text=prompts, images=images, return_tensors="pt", padding=True))
    cosine = torch.nn.functional.cosine_similarity(output.image_embeds, output.text_embeds)
    assert scores == [pytest.approx(round(100 * max(float(c), 0.0), 2), abs=0.02) for c in cosine]
    assert alignment_columns(ALIGNED_CLIP_SCORE * 2)["prompt_alignment_score"] == 1.0
    assert alignment_columns(ALIGNED_CLIP_SCORE / 2)["prompt_alignment_score"] == 0.5


def test_a_missing_or_wrong_clip_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        check_reference(str(tmp_path / "nowhere"))
    with pytest.raises(ModelLoadError, match="has no config.json"):
        check_reference(str(tmp_path))
    check_reference("openai/clip-vit-base-patch32")  # a hub id is left to from_pretrained


def test_a_run_with_clip_model_scores_prompt_alignment(tiny_clip, tmp_path, prefect_harness):
    out = tmp_path / "out"
    args = ["run", str(EXAMPLE_CAMPAIGN), "--out", str(out), "--limit", "2", "--steps", "1"]
    result = CliRunner().invoke(app, [*args, "--clip-model", str(tiny_clip)])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    assert all(0 <= row["clip_score"] <= 100 and row["prompt_alignment_score"] is not None for row in rows)
    assert all(row["score"] is not None and row["rank"] >= 1 for row in rows)
    wrong = CliRunner().invoke(app, [*args, "--clip-model", str(tmp_path / "missing")])
    assert wrong.exit_code == EXIT_INVALID_INPUT and "CLIP model path" in wrong.output
