"""The content policy's image side: a checker function and a transformers image classifier
(a tiny random one built offline) screen every rendered image; blocked ones are never written."""

from __future__ import annotations

import textwrap

import pyarrow.parquet as pq
import pytest
from helpers import good_row, write_csv

from pixio_ads.core.errors import ValidationError
from pixio_ads.run import planning, runner, shards
from pixio_ads.settings import RenderSettings, Safeguards
from pixio_ads.trust.policy import DEFAULT_POLICY, load_policy


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """A 2-label ViT image classifier with random weights, saved as a local model folder."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    folder = tmp_path_factory.mktemp("nsfw-vit")
    torch.manual_seed(0)
    config = ViTConfig(
        image_size=32, patch_size=8, num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
        intermediate_size=32, num_labels=2, id2label={0: "safe", 1: "nsfw"}, label2id={"safe": 0, "nsfw": 1},
    )  # fmt: skip
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def _policy(tmp_path, extra: str):
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT_POLICY.read_text() + "\n" + textwrap.dedent(extra))
    return path


def _render(campaign_dir, policy_path):
    path = write_csv(campaign_dir, [good_row(formats="square", audiences="a; b", styles="minimal")])
    out = campaign_dir / "out"
    guard = Safeguards(policy=str(policy_path))
    plan = planning.plan_campaign(path, out, RenderSettings(steps=1), safeguards=guard)
    ids = [vid for shard in plan.shards for vid in shard]
    result = runner.render_shard(
        plan.plan_path, ids, out, device="cpu", batch_size=1, safeguards=guard, finish_workers=0
    )
    return out, pq.read_table(result.path).to_pylist()


@pytest.mark.parametrize(("threshold", "blocked"), [(0.0, True), (1.01, False)])
def test_an_image_classifier_blocks_before_anything_is_written(campaign_dir, tiny_classifier, threshold, blocked):
    policy = _policy(
        campaign_dir,
        f"""
        image_classifiers:
          - model: {tiny_classifier}
            labels: [nsfw]
            threshold: {threshold}
        """,
    )
    out, rows = _render(campaign_dir, policy)
    assert len(rows) == 2
    if blocked:
        assert all(r["status"] == "blocked" and r["policy_field"] == "image" for r in rows)
        assert all(r["policy_category"] == "image_classifier" and r["policy_term"].startswith("nsfw") for r in rows)
        assert not (out / "images").exists() or not list((out / "images").rglob("*.*"))  # nothing written
    else:
        assert all(r["status"] == "rendered" and (out / r["output_path"]).is_file() for r in rows)


def test_a_checker_function_named_in_the_policy(campaign_dir, monkeypatch):
    module = campaign_dir / "house_rules.py"
    module.write_text(
        "from pixio_ads.trust.policy import Match\n"
        "def no_audience_a(image, variant):\n"
        "    return Match('house', 'audience a', 'image') if variant.audience == 'a' else None\n"
    )
    monkeypatch.syspath_prepend(str(campaign_dir))
    out, rows = _render(campaign_dir, _policy(campaign_dir, "image_checkers: [house_rules:no_audience_a]\n"))
    by_audience = {r["audience"]: r for r in rows}
    assert by_audience["a"]["status"] == "blocked" and by_audience["a"]["output_path"] is None
    assert by_audience["b"]["status"] == "rendered"


def test_policy_file_errors_for_image_checks_name_the_key(tmp_path):
    path = _policy(
        tmp_path,
        "image_checkers: [nowhere.module:fn]\nimage_classifiers:\n  - model: ./missing\n    labels: [x]\n  - {}\n",
    )
    with pytest.raises(ValidationError) as caught:
        load_policy(path)
    keys = {issue.key for issue in caught.value.issues}
    assert keys == {"image_checkers.0", "image_classifiers.0.model", "image_classifiers.1"}


def test_an_image_the_checks_blocked_stays_blocked_on_a_rerun_until_the_checks_change(campaign_dir, monkeypatch):
    """A rerun does not render a blocked image again (same variant, same checks: same verdict,
    and no quota or GPU time spent on it); editing the image checks re-decides it."""
    calls = campaign_dir / "calls.txt"
    (campaign_dir / "counted_rules.py").write_text(
        "from pathlib import Path\n"
        "from pixio_ads.trust.policy import Match\n"
        f"CALLS = Path({str(calls)!r})\n"
        "def no_audience_a(image, variant):\n"
        "    CALLS.write_text(CALLS.read_text() + variant.audience if CALLS.exists() else variant.audience)\n"
        "    return Match('house', 'audience a', 'image') if variant.audience == 'a' else None\n"
        "def nothing(image, variant):\n"
        "    return None\n"
    )
    monkeypatch.syspath_prepend(str(campaign_dir))
    policy = _policy(campaign_dir, "image_checkers: [counted_rules:no_audience_a]\n")
    out, rows = _render(campaign_dir, policy)
    assert sorted(calls.read_text()) == ["a", "b"]
    assert {r["audience"]: r["status"] for r in rows} == {"a": "blocked", "b": "rendered"}
    assert all(r["policy_checks"] for r in rows if r["status"] == "blocked")
    assert shards.shard_complete(out, [r["variant_id"] for r in rows])

    out, rows = _render(campaign_dir, policy)  # rerun, same checks: nothing rendered or checked
    assert sorted(calls.read_text()) == ["a", "b"]
    assert {r["audience"]: r["status"] for r in rows} == {"a": "blocked", "b": "rendered"}

    edited = _policy(campaign_dir, "image_checkers: [counted_rules:no_audience_a, counted_rules:nothing]\n")
    out, rows = _render(campaign_dir, edited)  # the checks changed: the blocked image is re-decided
    assert sorted(calls.read_text()) == ["a", "a", "b"]
    assert {r["audience"]: r["status"] for r in rows} == {"a": "blocked", "b": "rendered"}


def test_a_family_without_safety_checker_is_screened_by_the_policy_and_says_so(campaign_dir, tiny_classifier):
    """FLUX ships no safety checker: the policy's classifier screens its images (``policy``);
    without one nothing does, and the rows say ``none`` (render/families.py, run/rendering.py)."""
    path = write_csv(campaign_dir, [good_row(formats="square", audiences="a", model="embedded:tiny-flux")])
    screened = _policy(
        campaign_dir, f"image_classifiers:\n  - {{model: {tiny_classifier}, labels: [nsfw], threshold: 1.01}}\n"
    )
    for policy, expected in [(screened, "policy"), (DEFAULT_POLICY, "none")]:
        guard, out = Safeguards(policy=str(policy)), campaign_dir / f"out-{expected}"
        plan = planning.plan_campaign(path, out, RenderSettings(steps=1), safeguards=guard)
        result = runner.render_shard(
            plan.plan_path, plan.shards[0], out, device="cpu", safeguards=guard, finish_workers=0
        )
        (row,) = pq.read_table(result.path).to_pylist()
        assert (row["status"], row["model_family"], row["safety_checker"]) == ("rendered", "flux-schnell", expected)
