"""Video creatives (issue 41): the video columns' checks, camera and model motion, the MP4 as a
decoder sees it, the product's pixels in every frame, the watermark after a platform's
re-encode, XMP and C2PA on the clip, audio, and a clip cut short leaving nothing half-written."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import numpy as np
import pytest
from helpers import good_row, write_csv
from PIL import Image

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.campaign.variants import expand
from pixio_ads.core.errors import ValidationError
from pixio_ads.core.video import Clip, probe, read_frames, top_level_boxes, write_mp4
from pixio_ads.render.video_models import animate
from pixio_ads.run.clips import motion_source
from pixio_ads.run.compose import placed_product
from pixio_ads.run.finishing import save_creative, shared_assets
from pixio_ads.settings import RenderSettings, Safeguards
from pixio_ads.trust.credentials import read_c2pa
from pixio_ads.trust.provenance import read_xmp
from pixio_ads.trust.verify import Manifests, verify_file

VIDEO = dict(motion="zoom", duration="3", fps="24", formats="square", audiences="makers")


def _variants(folder: Path, overrides: RenderSettings = RenderSettings(), **changes):
    return expand(load_campaign(write_csv(folder, [good_row(**{**VIDEO, **changes})])), overrides)


def _scene(width: int, height: int) -> Image.Image:
    """A textured backdrop, as a model's scene is (flat colour carries little of a mark)."""
    rng = np.random.default_rng(3)
    small = rng.integers(40, 215, (height // 24, width // 24, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def _problems(folder: Path, overrides: RenderSettings = RenderSettings(), **changes) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        _variants(folder, overrides, **changes)
    return [(issue.row, issue.column, issue.message) for issue in caught.value.issues]


def test_bad_video_cells_are_named_by_row_and_column(campaign_dir):
    (campaign_dir / "music.m4a").write_bytes(b"not audio at all")
    found = _problems(campaign_dir, motion="spin", duration="45", fps="60", audio="music.m4a")
    columns = {column for _, column, _ in found}
    assert {"motion", "duration", "fps", "audio"} <= columns, found
    assert all(row == 2 for row, _, _ in found)
    assert any("cannot be read as audio" in message for _, column, message in found if column == "audio")
    still = _problems(campaign_dir, motion="none", duration="6")
    assert still == [(2, name, f"{name} is for videos and this row's motion is none") for name in ("duration", "fps")]


def test_model_motion_needs_an_image_to_video_model(campaign_dir, tmp_path):
    assert [c for _, c, _ in _problems(campaign_dir, motion="model")] == ["video_model"]
    image_model, text_to_video = tmp_path / "sd", tmp_path / "wan-t2v"
    for folder, index in (
        (image_model, {"_class_name": "StableDiffusionPipeline"}),
        (text_to_video, {"_class_name": "WanPipeline", "transformer": ["diffusers", "WanTransformer3DModel"]}),
    ):
        folder.mkdir()
        (folder / "model_index.json").write_text(json.dumps(index))
    message = _problems(campaign_dir, motion="model", video_model=str(image_model))[0][2]
    assert "an image model (StableDiffusionPipeline), which --model and the model column take" in message
    message = _problems(campaign_dir, motion="model", video_model=str(text_to_video))[0][2]
    assert "text-to-video" in message
    # --video-model wins over the cell, and is checked the same way (once, not per row)
    overrides = RenderSettings(video_model=str(image_model))
    assert len(_problems(campaign_dir, overrides, motion="model", video_model="embedded:tiny-wan")) == 1
    assert (
        _variants(campaign_dir, motion="model", video_model="embedded:tiny-wan")[0].video_model == "embedded:tiny-wan"
    )
    assert [c for _, c, _ in _problems(campaign_dir, motion="pan", video_model="embedded:tiny-wan")] == ["video_model"]


def test_motion_prompt_is_a_template_with_the_prompts_names(campaign_dir):
    variant = _variants(
        campaign_dir, motion="model", video_model="embedded:tiny-wan", motion_prompt="{{ style }} leaves"
    )[0]
    assert variant.motion_prompt == "minimal leaves"
    found = _problems(campaign_dir, motion="model", video_model="embedded:tiny-wan", motion_prompt="{{ weather }}")
    assert found[0][:2] == (2, "motion_prompt") and "weather" in found[0][2]
    assert (
        _problems(campaign_dir, motion="model", video_model="embedded:tiny-wan", motion_prompt="{{ x")[0][1]
        == "motion_prompt"
    )


def test_stills_keep_their_ids_and_videos_get_their_own(campaign_dir):
    still = expand(load_campaign(write_csv(campaign_dir, [good_row(formats="square", audiences="makers")])))
    clip = _variants(campaign_dir)
    assert still[0].motion == "none" and clip[0].motion == "zoom"
    assert still[0].variant_id != clip[0].variant_id
    assert _variants(campaign_dir)[0].variant_id == clip[0].variant_id  # stable


def _product_window(variant):
    product, _, box = placed_product(variant, shared_assets())
    opaque = np.asarray(product.getchannel("A")) == 255
    return np.asarray(product.convert("RGB")), opaque, box


@pytest.mark.parametrize("motion", ["zoom", "pan", "parallax"])
def test_camera_motion_clip_keeps_the_product_and_the_copy(campaign_dir, tmp_path, motion):
    variant = _variants(campaign_dir, motion=motion)[0]
    values = save_creative(variant, _scene(1080, 1080), tmp_path, None)
    found = probe(tmp_path / values["output_path"])
    assert (found.width, found.height, found.frames, found.codec, found.pix_fmt) == (1080, 1080, 72, "h264", "yuv420p")
    assert found.fps == 24 and abs(found.seconds - 3.0) < 0.05 and found.faststart and not found.audio_codec
    assert values["media_type"] == "video" and values["frames"] == 72
    assert (tmp_path / values["poster_path"]).is_file() and values["poster_path"].endswith("-poster.png")
    source, opaque, box = _product_window(variant)
    frames = list(read_frames(tmp_path / values["output_path"]))
    for index in (0, 35, 71):
        window = frames[index][box.top : box.bottom, box.left : box.right]
        assert _psnr(window[opaque], source[opaque]) >= 35, index
    # the scene moved around it: the corners differ between the first and last frames
    assert _psnr(frames[0][:100, :100], frames[-1][:100, :100]) < 30
    # the copy fades in: the headline's band is not the same at the start and at the end
    poster = np.asarray(Image.open(tmp_path / values["poster_path"]).convert("RGB"))
    band = slice(60, 260)
    assert _psnr(frames[-1][band], poster[band]) > _psnr(frames[0][band], poster[band]) + 3


def _reencoded(path: Path, out: Path, width: int, height: int, bitrate: int) -> Path:
    """What a platform does to an upload: decoded, scaled, encoded again at its own bitrate."""
    import cv2

    clip = Clip(width, height, 30, 0, bitrate=bitrate)
    scaled = (cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA) for frame in read_frames(path))
    write_mp4(out, clip, scaled)
    return out


def test_watermark_survives_a_reencode_at_720p_and_c2pa_verifies(campaign_dir, tmp_path, credentials):
    variant = _variants(campaign_dir, formats="story")[0]
    signer = Safeguards(c2pa_cert=str(credentials / "chain.pem"), c2pa_key=str(credentials / "key.pem")).signer()
    values = save_creative(variant, _scene(1080, 1920), tmp_path, signer)
    clip = tmp_path / values["output_path"]
    data = clip.read_bytes()
    assert read_xmp(data)["pixio:VariantId"] == variant.variant_id
    assert read_xmp(data)["Iptc4xmpExt:DigitalSourceType"].endswith("trainedAlgorithmicMedia")
    c2pa = read_c2pa(data, "mp4", (credentials / "ca.pem").read_bytes())
    assert c2pa.present and c2pa.state in ("Valid", "Trusted") and c2pa.variant_id == variant.variant_id
    assert "moov" in top_level_boxes(clip) and probe(clip).faststart
    row = {"variant_id": variant.variant_id, "watermark_payload": values["watermark_payload"]}
    manifests = Manifests([(tmp_path, [row])])
    copy = _reencoded(clip, tmp_path / "platform.mp4", 720, 1280, 2_500_000)
    assert probe(copy).width == 720
    found = verify_file(copy, [(1080, 1920)], manifests)
    assert found.watermark.payload == values["watermark_payload"] and found.watermark.row == variant.variant_id
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0xFF
    assert read_c2pa(bytes(tampered), "mp4").state == "Invalid"


def _tone(path: Path, seconds: float) -> Path:
    rate = 44_100
    samples = (np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate) * 12_000).astype(np.int16)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1), file.setsampwidth(2), file.setframerate(rate)
        file.writeframes(samples.tobytes())
    return path


def test_audio_bed_is_aac_cut_to_the_clip(campaign_dir, tmp_path):
    _tone(campaign_dir / "bed.wav", 10.0)
    variant = _variants(campaign_dir, audio="bed.wav", formats="landscape")[0]
    values = save_creative(variant, _scene(1200, 628), tmp_path, None)
    found = probe(tmp_path / values["output_path"])
    assert found.audio_codec == "aac" and abs(found.seconds - 3.0) < 0.1


@pytest.mark.parametrize("model", ["embedded:tiny-ltx-video", "embedded:tiny-wan"])
def test_model_motion_animates_the_scene_not_the_product(campaign_dir, tmp_path, model):
    variant = _variants(campaign_dir, motion="model", video_model=model, duration="3", fps="24")[0]
    generated = _scene(1080, 1080)
    scene = motion_source(variant, generated, shared_assets())
    animation = animate(model, "cpu", scene, variant.motion_prompt, "", variant.seed, 1.0)
    assert animation.frames.shape[0] == 9 and animation.frames.dtype == np.uint8
    values = save_creative(variant, generated, tmp_path, None, animation)
    frames = list(read_frames(tmp_path / values["output_path"]))
    assert len(frames) == 72
    source, opaque, box = _product_window(variant)
    for index in (0, 30, 71):
        window = frames[index][box.top : box.bottom, box.left : box.right]
        assert _psnr(window[opaque], source[opaque]) >= 35
    assert variant.motion_prompt == variant.prompt  # no motion_prompt: the scene's prompt


def test_a_clip_cut_short_leaves_nothing_and_a_rerun_writes_the_same_file(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (256, 256, 3), dtype=np.uint8) for _ in range(12)]
    clip, target = Clip(256, 256, 24, 12, threads=1), tmp_path / "out" / "clip.mp4"

    def killed():
        yield from frames[:5]
        raise KeyboardInterrupt  # the run stopped mid-clip

    with pytest.raises(KeyboardInterrupt):
        write_mp4(target, clip, killed())
    assert list(target.parent.iterdir()) == []  # no half-written clip, no temp file
    write_mp4(target, clip, iter(frames))
    whole = target.read_bytes()
    write_mp4(tmp_path / "again.mp4", clip, iter(frames))
    assert (tmp_path / "again.mp4").read_bytes() == whole
    assert io.BytesIO(whole).read(12)[4:8] == b"ftyp"


def test_meta_sheet_carries_the_video_and_google_lists_it_for_youtube(tmp_path):
    import csv
    import shutil

    from helpers import EXAMPLE_CAMPAIGN

    from pixio_ads.delivery.export import export
    from pixio_ads.outputs.manifest import rows_to_table, write_table
    from pixio_ads.run.finishing import finish_batch

    folder = tmp_path / "campaign"
    shutil.copytree(EXAMPLE_CAMPAIGN.parent, folder)
    with open(folder / "campaign.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    video = {**rows[1], "motion": "pan", "duration": "3", "fps": "24", "styles": "minimal"}
    variants = expand(load_campaign(write_csv(folder, [video], "video.csv")))
    out = tmp_path / "out"
    sizes = {v.variant_id: (v.width, v.height) for v in variants}
    batch = [(v, _scene(*sizes[v.variant_id]), {"status": "rendered"}) for v in variants]
    write_table(rows_to_table(finish_batch(batch, out, None)), out / "manifest.parquet")
    meta = export(out, "meta")
    with open(meta.folder / "meta-ads.csv", newline="", encoding="utf-8-sig") as handle:
        ads = list(csv.DictReader(handle))
    assert ads and all(ad["Creative Type"] == "Video Page Post Ad" for ad in ads)
    for ad in ads:
        assert ad["Video File Name"].endswith(".mp4") and (meta.folder / "videos" / ad["Video File Name"]).is_file()
        assert (
            ad["Image File Name"].endswith("-poster.png")
            and (meta.folder / "images" / ad["Image File Name"]).is_file()
        )
    google = export(out, "google")
    with open(google.folder / "youtube-uploads.csv", newline="", encoding="utf-8-sig") as handle:
        listed = list(csv.DictReader(handle))
    assert {line["Variant id"] for line in listed} == {v.variant_id for v in variants if "google" in v.platforms}
    assert all((google.folder / line["File"]).is_file() and line["Seconds"] == "3.0" for line in listed)
    assert any("YouTube" in warning for warning in google.warnings)
    # the review page plays the clip over its poster; its thumbnail is the poster's
    from fastapi.testclient import TestClient

    from pixio_ads.delivery.reviewapp import ReviewContext, create_app

    api = TestClient(create_app(ReviewContext(out, "alice", None, None)))
    first = api.get("/api/creatives").json()[0]
    detail = api.get(f"/creative/{first['variant_id']}").text
    assert '<video src="/files/videos/' in detail and "-poster.png" in detail
    clip = detail.split('<video src="')[1].split('"')[0]
    assert api.get(clip).headers["content-type"] == "video/mp4"
    assert api.get(first["thumb"]).headers["content-type"] == "image/jpeg"


def test_a_videos_image_quality_is_its_worst_sampled_frames(campaign_dir, tmp_path):
    variant = _variants(campaign_dir, motion="zoom")[0]
    values = save_creative(variant, _scene(1080, 1080), tmp_path, None)
    still = save_creative(
        _variants(campaign_dir, motion="none", duration="", fps="")[0], _scene(1080, 1080), tmp_path, None
    )
    assert 0 <= values["image_quality_score"] <= 1 and values["sharpness"] != still["sharpness"]


_KILLED_WRITER = """
import pickle, sys
from pathlib import Path
from PIL import Image
from pixio_ads.run.finishing import save_creative
variant, scene = pickle.loads(Path(sys.argv[1]).read_bytes())
save_creative(variant, scene, Path(sys.argv[2]), None)
"""


def test_a_run_killed_mid_clip_resumes_to_the_same_files(campaign_dir, tmp_path):
    import os
    import pickle
    import signal
    import subprocess
    import sys
    import time

    variant = _variants(campaign_dir, duration="4", fps="24")[0]  # 96 frames: ~3 s of encoding here
    scene = _scene(1080, 1080)
    (tmp_path / "job.pkl").write_bytes(pickle.dumps((variant, scene)))
    killed = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path / "job.pkl"), str(killed)])
    try:
        deadline = time.monotonic() + 120
        while not list(killed.rglob("*.mp4.part")) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)  # some frames in
        assert child.poll() is None, "the clip was finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not list(killed.rglob("*.mp4")), "no MP4 under its final name after the kill"
    resumed = save_creative(variant, scene, killed, None)
    whole = save_creative(variant, scene, tmp_path / "whole", None)
    assert resumed["output_sha256"] == whole["output_sha256"] and resumed["poster_sha256"] == whole["poster_sha256"]
    assert not list(killed.rglob("*.part")), "the killed run's partial clip is cleared"
