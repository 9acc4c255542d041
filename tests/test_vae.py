"""A VAE given in place of the checkpoint's own (an fp16-safe SDXL VAE): the spreadsheet
column and the CLI setting, the variant id and manifest column, loading from a folder, a
checkpoint folder's vae/ or a file, and clear errors."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from helpers import good_row, write_csv

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ModelLoadError
from pixio_ads.render import loading
from pixio_ads.render import pipelines as render
from pixio_ads.render.tiny_model import EMBEDDED_MODEL_ID, tiny_vae
from pixio_ads.run import planning, runner
from pixio_ads.settings import RenderSettings

SIZE = 64


@pytest.fixture(scope="module")
def other_vae(tmp_path_factory):
    """A tiny VAE with other weights than the embedded model's, saved as diffusers saves one,
    marked fp16-safe (force_upcast off) as madebyollin/sdxl-vae-fp16-fix is."""
    torch.manual_seed(7)
    vae = tiny_vae(512)
    vae.register_to_config(force_upcast=False)
    folder = tmp_path_factory.mktemp("vae")
    vae.save_pretrained(folder)
    return folder


def _pixels(spec: loading.ModelSpec) -> np.ndarray:
    model = loading.load_model(spec, "cpu")
    return np.stack(render.generate(model, ["a lamp"], [""], [5], SIZE, SIZE, 2, 7.5).pixels)


def test_the_given_vae_decodes(other_vae):
    own = loading.load_model(EMBEDDED_MODEL_ID, "cpu")
    model = loading.load_model(loading.ModelSpec(EMBEDDED_MODEL_ID, vae=str(other_vae)), "cpu")
    assert model is not own and model.pipeline.unet is not None
    assert model.pipeline.vae.config.force_upcast is False
    assert not np.array_equal(_pixels(loading.ModelSpec(EMBEDDED_MODEL_ID)), _pixels(model.spec))


def test_a_checkpoint_folders_vae_subfolder_is_found(other_vae, tmp_path):
    (tmp_path / "vae").symlink_to(other_vae, target_is_directory=True)
    vae = loading.load_vae(str(tmp_path), torch.float32)
    assert vae.config.force_upcast is False


def test_a_missing_or_broken_vae_is_named(tmp_path, campaign_dir):
    with pytest.raises(ModelLoadError, match=r"VAE path '/nowhere/vae' does not exist"):
        loading.load_model(loading.ModelSpec(EMBEDDED_MODEL_ID, vae="/nowhere/vae"), "cpu")
    with pytest.raises(ModelLoadError, match=r"VAE path '/nowhere/vae' does not exist"):  # before any rendering
        planning.plan_campaign(write_csv(campaign_dir, [good_row(vae="/nowhere/vae")]), tmp_path / "out")
    with pytest.raises(ModelLoadError, match=r"VAE folder .* has no config.json"):
        loading.resolve_vae(str(tmp_path))
    (tmp_path / "vae.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match=r"VAE file .*vae.bin' is not a .safetensors or .ckpt file"):
        loading.resolve_vae(str(tmp_path / "vae.bin"))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match=r"cannot load VAE .*broken.safetensors"):
        loading.load_model(loading.ModelSpec(EMBEDDED_MODEL_ID, vae=str(broken)), "cpu")


def test_the_vae_is_a_setting_of_the_variant_and_the_run(other_vae, campaign_dir, tmp_path):
    """Column and CLI setting (the CLI wins); only a set VAE changes the variant ids; the
    manifest says which VAE decoded each image."""
    plain = expand(load_campaign(write_csv(campaign_dir, [good_row(audiences="a")])))
    with_column = expand(load_campaign(write_csv(campaign_dir, [good_row(audiences="a", vae=str(other_vae))])))
    assert {v.vae for v in plain} == {""} and {v.vae for v in with_column} == {str(other_vae)}
    assert not {v.variant_id for v in plain} & {v.variant_id for v in with_column}
    overridden = expand(load_campaign(campaign_dir / "campaign.csv"), RenderSettings(vae="/elsewhere"))
    assert {v.vae for v in overridden} == {"/elsewhere"}

    plan = planning.plan_campaign(campaign_dir / "campaign.csv", tmp_path, RenderSettings(steps=1), limit=1)
    shards = [runner.render_shard(plan.plan_path, ids, tmp_path, "cpu") for ids in plan.shards]
    (row,) = pq.read_table(runner.write_manifest(plan.plan_path, shards, tmp_path).manifest_path).to_pylist()
    assert (row["status"], row["vae"]) == ("rendered", str(other_vae))
