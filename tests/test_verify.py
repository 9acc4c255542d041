"""Provenance that survives the platforms (issue 30): the tiled watermark after crops, resizes,
re-encoding and rotation; `verify`'s verdicts and exit codes over a folder of platform
downloads against several manifests; its JSON against the documented schema; a stripped
signed file linked back to its kept C2PA manifest through the soft binding."""

from __future__ import annotations

import json
import shutil

import jsonschema
import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import SIZES, good_row, jpeg, scene, write_csv
from PIL import Image, ImageEnhance
from typer.testing import CliRunner

from pixio_ads.cli import EXIT_ALTERED, EXIT_NOT_RECOGNISED, app
from pixio_ads.run import planning, runner
from pixio_ads.settings import RenderSettings, Safeguards
from pixio_ads.trust import payload as marks
from pixio_ads.trust import tilemark, watermark
from pixio_ads.trust.provenance import encode_with_xmp, xmp_packet
from pixio_ads.trust.verify import ALTERED, NOT_RECOGNISED, PROVEN, Manifests, verify_file
from pixio_ads.trust.verify_schema import JSON_SCHEMA


def flat(width=1200, height=628) -> Image.Image:
    """A plain studio backdrop: where the mark is weakest (1 level)."""
    ramp = np.linspace(0, 1, height)[:, None, None]
    base = np.array([210, 190, 170]) + np.array([-30, -20, 10]) * ramp
    noise = np.random.default_rng(0).normal(0, 0.6, (height, width, 3))
    return Image.fromarray(np.clip(np.broadcast_to(base, (height, width, 3)) + noise, 0, 255).astype(np.uint8))


def centre_square(image: Image.Image) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def scaled(image: Image.Image, factor: float) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.BICUBIC)


PLATFORM_EDITS = {
    "resize90_jpeg70": lambda im: jpeg(scaled(im, 0.9), 70),
    "resize50_jpeg85": lambda im: jpeg(scaled(im, 0.5), 85),
    "square_crop_jpeg80": lambda im: jpeg(centre_square(im), 80),
    "side_crop10": lambda im: im.crop((im.width // 10, 0, im.width, im.height)),
    "rotate2": lambda im: im.rotate(2, Image.Resampling.BICUBIC),
    "brightness10": lambda im: ImageEnhance.Brightness(im).enhance(1.1),
}  # fmt: skip


@pytest.mark.parametrize("background", ["textured", "flat"])
@pytest.mark.parametrize("edit", list(PLATFORM_EDITS))
def test_the_tiled_mark_survives_what_platforms_do(background, edit):
    image = scene(1200, 628) if background == "textured" else flat()
    payload = marks.payload_for("variant-1")
    marked = marks.embed_watermark(image, payload)
    found = marks.read_watermark(PLATFORM_EDITS[edit](marked), SIZES)
    assert found.payload == payload and found.method == marks.WATERMARK_METHOD
    assert found.confidence >= tilemark.DETECTED_Z
    if edit == "rotate2":
        assert found.rotation == pytest.approx(2.0, abs=0.3)
    if edit == "resize50_jpeg85":
        assert found.scale == pytest.approx(0.5, abs=0.01)


def test_the_mark_is_invisible_by_psnr_and_absent_from_unmarked_images():
    for image in (scene(), flat()):
        marked = marks.embed_watermark(image, marks.payload_for("x"))
        difference = np.asarray(marked, float) - np.asarray(image, float)
        assert 10 * np.log10(255**2 / np.mean(difference**2)) >= 40
        assert np.abs(difference).max() <= tilemark.AMPLITUDE
    for seed in range(6):  # unmarked scenes, and crops of them: no mark is found
        rng = np.random.default_rng(seed)
        image = Image.fromarray(rng.integers(0, 255, (700, 900, 3), dtype=np.uint8)) if seed == 5 else scene()
        assert (
            tilemark.read(np.asarray(image.crop((seed * 37, 0, image.width, image.height)))).confidence
            < tilemark.DETECTED_Z
        )


def test_a_version_1_file_is_still_read():
    payload = marks.payload_for("made-before")
    old = Image.fromarray(watermark.embed(np.asarray(scene()), marks.payload_bits(payload)))
    found = marks.read_watermark(jpeg(old, 85), SIZES)
    assert found.payload == payload and found.method == marks.LEGACY_METHOD


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory, credentials):
    """A signed run (C2PA, kept manifest stores in c2pa/), rendered through the runner."""
    folder = tmp_path_factory.mktemp("signed")
    (folder / "products").mkdir()
    product = Image.new("RGBA", (64, 96), (0, 0, 0, 0))
    product.paste((30, 90, 200, 255), (16, 16, 48, 80))
    product.save(folder / "products" / "widget.png")
    path = write_csv(folder, [good_row(formats="landscape", audiences="a", campaign_id="signed-run")])
    out = folder / "out"
    guard = Safeguards(c2pa_cert=str(credentials / "chain.pem"), c2pa_key=str(credentials / "key.pem"))
    plan = planning.plan_campaign(path, out, RenderSettings(steps=1), safeguards=guard)
    shards = [runner.render_shard(plan.plan_path, ids, out, "cpu", safeguards=guard) for ids in plan.shards]
    runner.write_manifest(plan.plan_path, shards, out)
    return out


def downloads_of(run, folder, prefix: str, count: int = 4) -> dict[str, str]:
    """A run's first creatives as a platform serves them back: re-encoded, resized, cropped,
    turned; no metadata left. {file name: variant id}."""
    rows = [row for row in pq.read_table(run / "manifest.parquet").to_pylist() if row["status"] == "rendered"]
    expected = {}
    for index, row in enumerate(rows[:count]):
        edit = list(PLATFORM_EDITS.values())[index % len(PLATFORM_EDITS)]
        with Image.open(run / row["output_path"]) as image:
            edit(image.convert("RGB")).save(folder / f"{prefix}-{index}.jpg", quality=90)
        expected[f"{prefix}-{index}.jpg"] = row["variant_id"]
    return expected


def invoke(*args):
    result = CliRunner().invoke(app, ["verify", *map(str, args), "--json"])
    report = json.loads(result.stdout) if result.stdout.startswith("{") else None
    if report:
        jsonschema.validate(report, JSON_SCHEMA)
    return result, report


def test_a_folder_of_platform_downloads_against_two_manifests(example_out, signed_run, tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    expected = {**downloads_of(example_out, folder, "example"), **downloads_of(signed_run, folder, "signed")}
    result, report = invoke(folder, "--manifest", example_out, "--manifest", signed_run / "manifest.parquet")
    assert result.exit_code == 0, result.output
    assert report["verdict"] == PROVEN and report["counts"][PROVEN] == len(expected)
    for file in report["files"]:
        name = file["path"].rsplit("/", 1)[-1]
        assert file["watermark"]["row"] == expected[name], file
        assert file["metadata"]["status"] == "stripped" and file["c2pa"]["status"] == "absent"
        # the signed run's files are linked back to the manifest stores it kept; the other run signed none
        relinked = file["c2pa"]["relinked_manifest"]
        assert bool(relinked) == name.startswith("signed"), file
        assert not relinked or "Spring Co. signer" in file["c2pa"]["relinked_signer"]
    table = CliRunner().invoke(app, ["verify", str(folder), "--manifest", str(example_out)], env={"COLUMNS": "200"})
    assert "ai-origin-proven" in table.output and "Traceback" not in table.output


def test_a_stripped_file_finds_its_manifest_in_a_folder_of_manifests(signed_run, tmp_path):
    row = pq.read_table(signed_run / "manifest.parquet").to_pylist()[0]
    kept = tmp_path / "manifests"
    shutil.copytree(signed_run / "c2pa", kept)
    with Image.open(signed_run / row["output_path"]) as image:
        jpeg(image, 80).save(tmp_path / "stripped.jpg")
    result, report = invoke(tmp_path / "stripped.jpg", "--c2pa-manifests", kept)
    assert result.exit_code == 0, result.output
    (file,) = report["files"]
    assert file["c2pa"]["relinked_manifest"].startswith(str(kept))
    assert file["c2pa"]["relinked_variant_id"] == row["variant_id"] and file["watermark"]["row"] is None


def test_altered_and_unrecognised_files_get_their_verdicts_and_exit_codes(example_out, tmp_path):
    rows = [r for r in pq.read_table(example_out / "manifest.parquet").to_pylist() if r["status"] == "rendered"]
    first, second = rows[0], rows[1]
    with Image.open(example_out / second["output_path"]) as image:
        pixels = image.convert("RGB")
    # the first creative's XMP on the second's pixels: the metadata disagrees with the watermark
    xmp = xmp_packet(first["variant_id"], first["watermark_payload"])
    (tmp_path / "swapped.png").write_bytes(encode_with_xmp(pixels, "png", 90, xmp))
    scene().save(tmp_path / "unmarked.png")
    manifests = Manifests([(example_out, rows)])
    swapped = verify_file(tmp_path / "swapped.png", SIZES, manifests)
    assert swapped.verdict == ALTERED and swapped.metadata == "altered" and first["variant_id"] in swapped.reasons[0]
    unmarked = verify_file(tmp_path / "unmarked.png", SIZES, manifests)
    assert unmarked.verdict == NOT_RECOGNISED and not unmarked.watermark.found
    only_unmarked = tmp_path / "other"
    only_unmarked.mkdir()
    shutil.copy(tmp_path / "unmarked.png", only_unmarked)
    result, report = invoke(only_unmarked, "--manifest", example_out)
    assert result.exit_code == EXIT_NOT_RECOGNISED and report["verdict"] == NOT_RECOGNISED
    result, report = invoke(tmp_path, "--manifest", example_out)  # the swapped file makes the folder altered
    assert result.exit_code == EXIT_ALTERED and report["counts"] == {PROVEN: 0, NOT_RECOGNISED: 2, ALTERED: 1}
    assert CliRunner().invoke(app, ["verify", str(tmp_path), "--informational"]).exit_code == 0


def test_a_misnamed_download_is_read_by_its_real_type(tmp_path):
    """Platforms serve WebP under .jpg names: the file's bytes decide how it is read."""
    marked = marks.embed_watermark(scene(), marks.payload_for("misnamed"))
    marked.save(tmp_path / "download.jpg", "WEBP", quality=80)
    found = verify_file(tmp_path / "download.jpg", SIZES)
    assert (
        found.verdict == PROVEN
        and found.c2pa.status == "absent"
        and found.watermark.payload == marks.payload_for("misnamed")
    )


def test_verify_names_a_missing_manifest_without_a_traceback(tmp_path):
    scene().save(tmp_path / "a.png")
    result = CliRunner().invoke(app, ["verify", str(tmp_path), "--manifest", str(tmp_path / "none.parquet")])
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("size", [(1, 1), (60, 40), (127, 300), (128, 128), (130, 131), (205, 103), (400, 260)])
def test_any_image_size_reads_without_error(size):
    image = np.random.default_rng(sum(size)).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    found = tilemark.read(image)
    assert not found.detected and len(found.bits) == tilemark.BITS
    if min(size) >= tilemark.TILE:  # one whole tile or more: marked, its payload reads back (BCH)
        payload = marks.payload_for("small")
        found = marks.read_watermark(marks.embed_watermark(scene(*size), payload), SIZES)
        assert found.payload == payload and found.method == marks.WATERMARK_METHOD
