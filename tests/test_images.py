"""Images as cameras, phones and design tools write them: orientation, modes, colour
profiles, frames, damaged files and sizes, through images.open_image and validation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from helpers import good_row, write_csv
from PIL import Image, ImageCms

from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.core import images
from pixio_ads.core.errors import ValidationError


def test_exif_orientation_is_applied(tmp_path):
    """A phone photo stored landscape with 'rotate 90' in EXIF comes out portrait."""
    stored = Image.new("RGB", (120, 60), (200, 200, 200))
    stored.paste((255, 0, 0), (0, 0, 20, 20))  # a red corner marks the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = images.open_image(tmp_path / "phone.jpg")
    assert upright.size == (60, 120)
    pixels = np.asarray(upright).astype(int)
    red = np.argwhere((pixels[:, :, 0] > 200) & (pixels[:, :, 1] < 80))
    assert red[:, 1].min() >= 35 and red[:, 0].max() < 25  # the stored top-left is now top-right


@pytest.mark.parametrize(
    ("mode", "alpha"),
    [("CMYK", False), ("I;16", False), ("P", True), ("LA", True), ("L", False), ("RGBA", True), ("1", False)],
)
def test_every_mode_becomes_8_bit_rgb_keeping_transparency(tmp_path, mode, alpha):
    base = Image.new("RGBA", (40, 30), (30, 120, 200, 255))
    base.paste((0, 0, 0, 0), (0, 0, 10, 10))
    if mode == "I;16":
        image = Image.fromarray((np.arange(1200, dtype=np.uint16).reshape(30, 40) * 50).astype(np.uint16))
    elif mode == "P":
        image = base.convert("P")
        image.info["transparency"] = image.getpixel((0, 0))
    else:
        image = base.convert(mode)
    suffix = ".jpg" if mode == "CMYK" else ".png"
    path = tmp_path / f"img{suffix}"
    image.save(path, transparency=image.info["transparency"]) if mode == "P" else image.save(path)
    opened = images.open_image(path)
    assert opened.mode == ("RGBA" if alpha else "RGB") and opened.size == (40, 30)
    if alpha:
        assert opened.getpixel((0, 0))[3] == 0 and opened.getpixel((30, 20))[3] == 255
    if mode == "I;16":
        values = np.asarray(opened)[:, :, 0]
        assert values.max() > 200 and values.min() == 0  # 16-bit range mapped onto 8 bits


def test_an_srgb_profile_changes_nothing(tmp_path):
    image = Image.new("RGB", (32, 32), (10, 200, 90))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    image.save(tmp_path / "tagged.png", icc_profile=profile.tobytes())
    assert images.open_image(tmp_path / "tagged.png").getpixel((5, 5)) == (10, 200, 90)


def test_camera_size_photos_are_downscaled_once(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_SIDE", 100)
    Image.new("RGB", (400, 300), "white").save(tmp_path / "camera.jpg")
    assert images.open_image(tmp_path / "camera.jpg").size == (100, 75)


def _campaign_with(campaign_dir, name: str):
    return write_csv(campaign_dir, [good_row(product_image=f"products/{name}", formats="square")])


def test_an_animated_file_uses_its_first_frame_with_a_warning(campaign_dir):
    frames = [Image.new("RGB", (64, 96), colour) for colour in ("red", "blue")]
    frames[0].save(campaign_dir / "products" / "anim.gif", save_all=True, append_images=frames[1:])
    campaign = load_campaign(_campaign_with(campaign_dir, "anim.gif"))
    assert any("2 frames" in warning and "first is used" in warning for warning in campaign.warnings)
    assert images.open_image(campaign.rows[0].product_image_path).getpixel((5, 5)) == (255, 0, 0)


def test_a_truncated_image_is_a_validation_error_naming_row_and_column(campaign_dir):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    (campaign_dir / "products" / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ValidationError) as caught:
        load_campaign(_campaign_with(campaign_dir, "cut.png"))
    (issue,) = caught.value.issues
    assert (issue.row, issue.column) == (2, "product_image") and "cut.png" in issue.message


def test_an_image_past_the_pixel_limit_is_a_validation_error_with_the_limit(campaign_dir, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 5_000_000)
    Image.new("1", (3000, 2000)).save(campaign_dir / "products" / "huge.png")  # 6 MP, tiny file
    with pytest.raises(ValidationError) as caught:
        load_campaign(_campaign_with(campaign_dir, "huge.png"))
    (issue,) = caught.value.issues
    assert (issue.row, issue.column) == (2, "product_image")
    assert "3000x2000" in issue.message and "5 MP limit" in issue.message and "megapixels" in issue.fix


# --- writing PNG (core/pngfile.py) -------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "LA"])
def test_png_round_trips_pixels_and_its_text_chunks(mode):
    """Pixels come back unchanged (converted only where PNG-through-OpenCV cannot keep the
    mode), the iTXt chunk is read by Pillow, and every chunk's CRC checks out."""
    from pixio_ads.core.pngfile import encode_png

    rng = np.random.default_rng(3)
    source = Image.fromarray(rng.integers(0, 256, (37, 53, 4), dtype=np.uint8), "RGBA").convert(mode)
    text = '<x:xmpmeta xmlns:x="adobe:ns:meta/">ünïcode ✓</x:xmpmeta>'
    data = encode_png(source, {"XML:com.adobe.xmp": text, "Comment": "two"})
    Image.open(io.BytesIO(data)).verify()  # checks every chunk's CRC
    decoded = Image.open(io.BytesIO(data))
    assert decoded.text == {"XML:com.adobe.xmp": text, "Comment": "two"}
    expected = {"P": "RGB", "LA": "RGBA"}.get(mode, mode)
    assert decoded.mode == expected
    assert np.array_equal(np.asarray(decoded), np.asarray(source.convert(expected)))


def test_png_text_chunks_come_before_the_image_data():
    from pixio_ads.core.pngfile import encode_png

    data = encode_png(Image.new("RGB", (8, 8), "red"), {"XML:com.adobe.xmp": "x"})
    assert data.index(b"IHDR") < data.index(b"iTXt") < data.index(b"IDAT")


def test_a_file_that_is_not_png_gets_no_chunks():
    from pixio_ads.core.pngfile import insert_chunks

    with pytest.raises(ValueError, match="not a PNG"):
        insert_chunks(b"GIF89a....", [])
