"""The array dwtDctSvd watermark against invisible-watermark's own encoder and decoder."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from helpers import SIZES, jpeg, scene
from imwatermark import WatermarkDecoder, WatermarkEncoder
from PIL import Image

from pixio_ads.trust import payload as marks
from pixio_ads.trust import provenance, watermark

BITS = marks.payload_bits(provenance.payload_for("interop"))


def resize_back(image: Image.Image) -> Image.Image:
    """A 90% resize, scaled back to the format size as `verify` does."""
    return image.resize((972, 972), Image.Resampling.LANCZOS).resize((1080, 1080), Image.Resampling.LANCZOS)


ATTACKS = {
    "png": lambda image: Image.open(io.BytesIO(_png(image))).convert("RGB"),
    "jpeg85": jpeg,
    "resize90": resize_back,
    "resize90_jpeg85": lambda image: jpeg(resize_back(image)),
}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def library_embed(image: Image.Image) -> Image.Image:
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", BITS)
    return Image.fromarray(
        cv2.cvtColor(
            encoder.encode(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR), "dwtDctSvd"), cv2.COLOR_BGR2RGB
        )
    )


def library_read(image: Image.Image) -> np.ndarray:
    decoder = WatermarkDecoder("bits", len(BITS))
    return np.array(
        decoder.decode(cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR), "dwtDctSvd"), dtype=int
    )


def ours_embed(image: Image.Image) -> Image.Image:
    return Image.fromarray(watermark.embed(np.asarray(image), BITS))


def ours_read(image: Image.Image) -> np.ndarray:
    return np.array(watermark.read_bits(np.asarray(image.convert("RGB")), len(BITS)))


@pytest.fixture(scope="module")
def marked() -> dict[str, Image.Image]:
    original = scene()
    return {"library": library_embed(original), "ours": ours_embed(original)}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_library_reads_our_marks_as_well_as_its_own(marked, attack):
    """The library's decoder on our marks: at least the bit accuracy it has on its own."""
    truth = np.array(BITS)
    own = (library_read(ATTACKS[attack](marked["library"])) == truth).mean()
    ours = (library_read(ATTACKS[attack](marked["ours"])) == truth).mean()
    assert ours >= own - 1 / 64, (attack, own, ours)
    assert ours >= 57 / 64  # within what BCH corrects (7 of 63)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_we_read_library_marks_at_least_as_well_as_it_does(marked, attack):
    truth = np.array(BITS)
    attacked = ATTACKS[attack](marked["library"])
    assert (ours_read(attacked) == truth).mean() >= (library_read(attacked) == truth).mean()


def test_marks_are_invisible_and_exact_on_a_clean_read(marked):
    original = np.asarray(scene(), dtype=np.float64)
    mse = np.mean((np.asarray(marked["ours"], dtype=np.float64) - original) ** 2)
    assert 10 * np.log10(255**2 / mse) >= 40  # PSNR, dB
    assert list(ours_read(marked["ours"])) == BITS


def test_soft_scores_say_how_sure_each_bit_is(marked):
    soft = watermark.soft_bits(np.asarray(marked["ours"]), len(BITS))
    assert np.all(np.sign(soft) == np.where(np.array(BITS) == 1, 1, -1))
    assert np.abs(soft).min() > 0.8  # clean marks sit on their quantisation level
    unmarked = watermark.soft_bits(np.asarray(scene()), len(BITS))
    assert np.abs(unmarked).mean() < 0.2  # an unmarked image scores about zero


def test_odd_sizes_and_saturated_colours():
    """Sizes that are no multiple of 8 (the library's crop) and pure colours (clipped in
    RGB) neither fail nor move pixels outside the marked area."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (1350 - 3, 1083, 3), dtype=np.uint8)
    image[:200, :200] = (0, 0, 255)
    out = watermark.embed(image, BITS)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[1344:], image[1344:]) and np.array_equal(out[:, 1080:], image[:, 1080:])
    assert list(watermark.read_bits(out, len(BITS))) == BITS


def test_verify_reads_through_provenance():
    payload = provenance.payload_for("row-7")
    marked_image = marks.embed_watermark(scene(), payload)
    assert marks.read_watermark(jpeg(marked_image, 70), SIZES).payload == payload
