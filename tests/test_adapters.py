"""LoRA adapters and a style reference image (issue 28, parts 2, 3 and 6): tiny random adapters
built offline with peft and the project's builders, loaded through diffusers' real loaders."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import good_row, write_csv
from PIL import Image
from typer.testing import CliRunner

from pixio_ads.campaign.adapters import variant_loras
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.cli import EXIT_INVALID_INPUT, app
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.fileio import sha256_file
from pixio_ads.render import loading, pipelines
from pixio_ads.render.adapters import release_adapters, use_adapters
from pixio_ads.render.tiny_adapters import build_tiny_ip_adapter, build_tiny_lora
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID, EMBEDDED_RANDOM_ID, EMBEDDED_SDXL_ID
from pixio_ads.run.runner import _batches
from pixio_ads.trust.provenance import read_xmp


@pytest.fixture(scope="session")
def adapters(tmp_path_factory):
    """Tiny random adapters: LoRAs for the backdrop, SD and SDXL models (with text encoder
    weights), a second backdrop LoRA, and an IP-Adapter for the backdrop model."""
    folder = tmp_path_factory.mktemp("adapters")
    made = {
        "backdrops": build_tiny_lora(EMBEDDED_MODEL_ID, folder / "backdrops.safetensors", seed=0, text_encoder=True),
        "backdrops-2": build_tiny_lora(EMBEDDED_MODEL_ID, folder / "backdrops-2.safetensors", seed=1),
        "sd": build_tiny_lora(EMBEDDED_RANDOM_ID, folder / "sd.safetensors", text_encoder=True),
        "sdxl": build_tiny_lora(EMBEDDED_SDXL_ID, folder / "sdxl.safetensors", text_encoder=True),
        "ip": build_tiny_ip_adapter(EMBEDDED_MODEL_ID, folder / "ip" / "ip-adapter.safetensors"),
    }
    return made


@pytest.fixture(autouse=True)
def clean_pipelines():
    """The process's pipelines are shared by every test: each leaves them without adapters."""
    yield
    release_adapters()


def render(model, **extra) -> np.ndarray:
    out = pipelines.generate(model, ["studio backdrop, soft light"], [""], [7], 128, 128, 2, 1.0, **extra)
    return np.asarray(out.images[0], dtype=int)


def lora(path, weight=1.0):
    return [(str(path), sha256_file(path), weight)]


@pytest.mark.parametrize(
    "model_id, name", [(EMBEDDED_MODEL_ID, "backdrops"), (EMBEDDED_RANDOM_ID, "sd"), (EMBEDDED_SDXL_ID, "sdxl")]
)
def test_a_lora_changes_the_image_and_renders_the_same_twice(adapters, model_id, name):
    model = loading.load_model(model_id)
    use_adapters(model, [])
    plain = render(model)
    use_adapters(model, lora(adapters[name], 0.8))
    with_lora = render(model)
    assert np.abs(with_lora - plain).mean() > 1
    use_adapters(model, [])
    assert np.array_equal(render(model), plain)  # switched off: the model as it was
    use_adapters(model, lora(adapters[name], 0.8))
    assert np.array_equal(render(model), with_lora)  # on again: the same pixels
    use_adapters(model, lora(adapters[name], 0.3))
    assert not np.array_equal(render(model), with_lora)  # the weight counts
    release_adapters()
    assert np.array_equal(render(model), plain) and not model._loras  # unloaded: as loaded


def test_a_style_image_changes_the_image_through_the_ip_adapter(adapters):
    model = loading.load_model(EMBEDDED_MODEL_ID)
    use_adapters(model, [])
    plain = render(model)
    red, blue = Image.new("RGB", (64, 64), (220, 30, 30)), Image.new("RGB", (64, 64), (30, 30, 220))
    ip = (str(adapters["ip"]), sha256_file(adapters["ip"]))
    use_adapters(model, [], ip, 0.8)
    styled = render(model, style_image=red)
    assert np.abs(styled - plain).mean() > 1
    assert np.array_equal(render(model, style_image=red), styled)
    assert not np.array_equal(render(model, style_image=blue), styled)
    # the img2img/inpaint pipelines made from it carry the adapter too
    out = pipelines.generate(
        model, ["backdrop"], [""], [7], 128, 128, 2, 1.0, init_images=[Image.new("RGB", (128, 128), "grey")],
        strength=0.8, style_image=red,
    )  # fmt: skip
    assert out.images[0].size == (128, 128)
    use_adapters(model, [])
    assert np.array_equal(render(model), plain)


@pytest.fixture
def adapter_campaign(campaign_dir, adapters):
    """A campaign folder holding the tiny adapters and a style image."""
    target = campaign_dir / "adapters"
    shutil.copytree(adapters["ip"].parent, target / "ip")
    for name in ("backdrops", "backdrops-2", "sd", "sdxl"):
        shutil.copy(adapters[name], target / f"{name}.safetensors")
    Image.new("RGB", (64, 64), (220, 30, 30)).save(campaign_dir / "products" / "style.png")
    return campaign_dir


def rows_of(folder, rows):
    return expand(load_campaign(write_csv(folder, rows)))


def test_adapters_go_into_the_variant_id_and_batches_never_mix_them(adapter_campaign):
    plain = good_row(formats="square", audiences="a; b; c")
    a = dict(plain, lora="adapters/backdrops.safetensors:0.8")
    b = dict(plain, product_id="other", lora="adapters/backdrops-2.safetensors")
    variants = rows_of(adapter_campaign, [plain, a, b])
    assert len({v.variant_id for v in variants}) == len(variants) == 9
    (alone,) = {v.variant_id for v in rows_of(adapter_campaign, [dict(plain, audiences="a")])}
    assert alone in {v.variant_id for v in variants}  # a row without adapters keeps its ids
    reweighted = rows_of(adapter_campaign, [dict(a, lora="adapters/backdrops.safetensors:0.5")])
    assert not {v.variant_id for v in reweighted} & {v.variant_id for v in variants}
    for batch in _batches(variants, 8):
        assert len({v.lora for v in batch}) == 1
    with_a = [v for v in variants if v.lora]
    assert variant_loras(with_a[0])[0][2] == 0.8 and len(with_a[0].lora_sha256) == 64


def test_the_brand_kits_lora_and_style_apply_and_a_row_can_change_them(adapter_campaign):
    kit_dir = adapter_campaign / "kit"
    kit_dir.mkdir()
    # kit paths stay inside the kit's folder: the adapters are copied beside it
    shutil.copy(adapter_campaign / "adapters" / "backdrops.safetensors", kit_dir / "look.safetensors")
    shutil.copytree(adapter_campaign / "adapters" / "ip", kit_dir / "ip")
    shutil.copy(adapter_campaign / "products" / "style.png", kit_dir / "mood.png")
    kit = {
        "lora": "look.safetensors:0.7",
        "style": {"image": "mood.png", "ip_adapter": "ip/ip-adapter.safetensors", "scale": 0.4},
    }
    (kit_dir / "brand.yaml").write_text(yaml.safe_dump(kit), encoding="utf-8")
    base = good_row(formats="square", audiences="a", brand_kit="kit/brand.yaml")
    (from_kit,) = rows_of(adapter_campaign, [base])
    assert from_kit.lora.endswith("look.safetensors:0.7") and from_kit.style_scale == 0.4
    assert from_kit.style_image.endswith("mood.png") and from_kit.ip_adapter.endswith("ip-adapter.safetensors")
    (reweighted,) = rows_of(adapter_campaign, [dict(base, lora="kit/look.safetensors:0.2", style_scale="0.9")])
    assert reweighted.lora.endswith("look.safetensors:0.2") and reweighted.lora.count(";") == 0
    assert reweighted.style_scale == 0.9
    (added,) = rows_of(adapter_campaign, [dict(base, lora="adapters/backdrops-2.safetensors")])
    assert added.lora.count(";") == 1
    (off,) = rows_of(adapter_campaign, [dict(base, lora="none")])
    assert off.lora == "" and off.style_image  # `none` turns the LoRAs off, not the style


def test_bad_adapters_are_refused_at_validate_naming_row_column_and_file(adapter_campaign):
    (adapter_campaign / "adapters" / "broken.safetensors").write_bytes(b"\x00" * 64)
    (adapter_campaign / "adapters" / "model.bin").write_bytes(b"\x00" * 64)
    (adapter_campaign / "adapters" / "bare").mkdir()
    (adapter_campaign / "adapters" / "ip" / "ip-adapter.safetensors").replace(
        adapter_campaign / "adapters" / "bare" / "ip-adapter.safetensors"
    )
    cells = [
        {"lora": "adapters/sdxl.safetensors"},  # made for SDXL; the row's model is the backdrop model
        {"lora": "adapters/missing.safetensors"},
        {"lora": "adapters/broken.safetensors"},
        {"lora": "adapters/backdrops.safetensors:3"},
        {"lora": "adapters/model.bin"},
        {"lora": "adapters/sd.safetensors"},  # SD's text width, another UNet
        {"style_image": "products/style.png", "ip_adapter": "adapters/bare/ip-adapter.safetensors"},
        {"style_image": "products/style.png"},
        {"model": EMBEDDED_SDXL_ID, "lora": "adapters/backdrops.safetensors"},
    ]
    rows = [
        good_row(product_id=f"p{index}", formats="square", audiences="a", **cell) for index, cell in enumerate(cells)
    ]
    path = write_csv(adapter_campaign, rows)
    with pytest.raises(ValidationError) as caught:
        load_campaign(path)
    found = {issue.row: issue for issue in caught.value.issues}
    assert sorted(found) == list(range(2, 2 + len(cells)))  # every row, each named
    expected = [
        "made for a model with 64-wide", "not found", "cannot read it as safetensors", "out of range",
        ".safetensors files only", "does not fit the row's model", "no image encoder", "needs both",
        "made for a model with 32-wide",
    ]  # fmt: skip
    for row, text in zip(range(2, 2 + len(cells)), expected):
        assert text in found[row].message, (row, found[row].message)
    assert found[2].column == "lora" and "sdxl.safetensors" in found[2].message
    assert found[8].column == "ip_adapter" and found[9].column == "ip_adapter"
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == EXIT_INVALID_INPUT and "Traceback" not in result.output


def test_a_runs_model_override_checks_the_rows_adapters_again(adapter_campaign):
    from pixio_ads.settings import RenderSettings

    campaign = load_campaign(write_csv(adapter_campaign, [good_row(lora="adapters/backdrops.safetensors")]))
    with pytest.raises(ValidationError) as caught:
        expand(campaign, RenderSettings(model=EMBEDDED_SDXL_ID))
    (issue,) = caught.value.issues
    assert issue.row == 2 and issue.column == "lora" and "backdrops.safetensors" in issue.message


def test_a_batch_renders_each_variant_with_its_own_lora_recorded_in_manifest_and_xmp(
    adapter_campaign, tmp_path, prefect_harness
):
    """Two rows with different LoRAs in one run at batch size 4 give each image the pixels it
    gets when its row runs alone (no batch ever used a neighbour's adapter)."""
    plain = good_row(formats="square", audiences="a; b")
    a = dict(plain, lora="adapters/backdrops.safetensors:0.8")
    b = dict(plain, product_id="other", lora="adapters/backdrops-2.safetensors", style_image="products/style.png",
             ip_adapter="adapters/ip/ip-adapter.safetensors")  # fmt: skip
    together = run(adapter_campaign, [a, b, plain], tmp_path / "together")
    apart = {**run(adapter_campaign, [b], tmp_path / "b"), **run(adapter_campaign, [plain], tmp_path / "plain")}
    assert len(together) == 6
    for variant_id, row in apart.items():
        assert together[variant_id]["output_sha256"] == row["output_sha256"]
    for row in together.values():
        data = (tmp_path / "together" / row["output_path"]).read_bytes()
        xmp = read_xmp(data).get("pixio:Adapters", "")
        if row["product_id"] == "other":
            assert "backdrops-2.safetensors" in xmp and row["lora_sha256"] in xmp and "style style.png" in xmp
            assert row["style_image_sha256"] and row["ip_adapter"].endswith("ip-adapter.safetensors")
        elif row["lora"]:
            assert "backdrops.safetensors" in xmp and "weight 0.8" in xmp and str(tmp_path) not in xmp
        else:
            assert xmp == ""


def run(folder, rows, out) -> dict[str, dict]:
    path = write_csv(folder, rows)
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--steps", "1", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    return {row["variant_id"]: row for row in pq.read_table(out / "manifest.parquet").to_pylist()}


def test_a_lora_from_the_local_hugging_face_cache(adapter_campaign, monkeypatch, tmp_path):
    """`hf:org/name/file.safetensors` resolves in the local hub cache (never a download at
    validate: the variant id needs the file's hash); a file not there names the command."""
    import huggingface_hub.constants

    snapshot = tmp_path / "hub" / "models--brand--look" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    shutil.copy(adapter_campaign / "adapters" / "backdrops.safetensors", snapshot / "look.safetensors")
    (tmp_path / "hub" / "models--brand--look" / "refs").mkdir()
    (tmp_path / "hub" / "models--brand--look" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    (variant,) = rows_of(
        adapter_campaign, [good_row(formats="square", audiences="a", lora="hf:brand/look/look.safetensors:0.5")]
    )
    assert variant.lora == f"{snapshot / 'look.safetensors'}:0.5"
    with pytest.raises(ValidationError) as caught:
        rows_of(adapter_campaign, [good_row(lora="hf:brand/other/missing.safetensors")])
    assert "hf download brand/other missing.safetensors" in caught.value.issues[0].message


@pytest.mark.parametrize(
    "cell, named, problem",
    [
        ("a.safetensors", [("a.safetensors", 1.0)], None),
        ("a.safetensors:0.8; b.safetensors:-0.5", [("a.safetensors", 0.8), ("b.safetensors", -0.5)], None),
        ("hf:org/name/a.safetensors", [("hf:org/name/a.safetensors", 1.0)], None),
        ("hf:org/name/a.safetensors:0.3", [("hf:org/name/a.safetensors", 0.3)], None),
        ("a.safetensors:strong", [], "must be a number"),
        ("a.safetensors:2.5", [], "out of range"),
        ("a.safetensors:0", [], "out of range"),
        ("a.safetensors; a.safetensors:0.5", [("a.safetensors", 1.0)], "named twice"),
    ],
)
def test_lora_cells(cell, named, problem):
    from pixio_ads.creative.kit_sections import parse_loras

    found, problems = parse_loras(cell)
    assert found == named
    assert (problem is None and not problems) or (problem and problem in problems[0])
