"""Opening the images a campaign points at (products, sources, masks, logos) as cameras,
phones and design tools write them, into what the pipeline composites:

- the pixel limit is checked before any pixel is decoded (decompression bombs, and photos
  too large to be product shots): MAX_PIXELS;
- the first frame of an animated or multi-page file is used (and said);
- the EXIF orientation is applied (a phone photo is not composited lying on its side);
- an embedded ICC profile (Display P3, Adobe RGB, CMYK) is converted to sRGB;
- every mode (CMYK, 16-bit, I;16, palette, LA, ...) becomes 8-bit RGB or RGBA;
- camera-size photos are downscaled once, here, to MAX_SIDE on their long side.

``inspect`` says what is wrong with a file (for validation, with the limit), never raising.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

MAX_PIXELS = 100_000_000  # 100 MP: larger than any camera's product shot, far below what exhausts memory
MAX_SIDE = 4096  # long side kept after loading: twice the largest ad format's (1920 px)


class ImageProblem(ValueError):
    """A file that cannot be used as an image, with how to fix it."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.message, self.fix = message, fix


@dataclass(frozen=True, slots=True)
class Inspection:
    size: tuple[int, int]  # as stored, before orientation and downscaling
    frames: int


def inspect(path: Path) -> Inspection:
    """Header checks and a full decode (truncated files show only then); raises ImageProblem."""
    try:
        with Image.open(path) as image:
            _check_size(image.size)
            frames = getattr(image, "n_frames", 1)
            image.load()
            return Inspection(image.size, frames)
    except ImageProblem:
        raise
    except Image.DecompressionBombError:
        raise ImageProblem("image is larger than the pixel limit", _SHRINK_FIX) from None
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise ImageProblem(
            f"not a readable image ({exc.__class__.__name__})", "use a PNG, JPEG or WebP file"
        ) from None
    except (OSError, ValueError) as exc:
        raise ImageProblem(
            f"image data is damaged or truncated ({exc})", "export or download the image again"
        ) from None


def open_image(path: Path | str) -> Image.Image:
    """The image as the pipeline uses it: first frame, upright, sRGB, 8-bit RGB(A), at most
    MAX_SIDE on its long side."""
    with Image.open(path) as image:
        _check_size(image.size)
        image.seek(0)
        image.load()
        icc = image.info.get("icc_profile")
        upright = ImageOps.exif_transpose(image)
    rgb = _to_srgb(upright, icc)
    if max(rgb.size) > MAX_SIDE:
        rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return rgb


_SHRINK_FIX = f"export it at most {MAX_PIXELS // 1_000_000} megapixels (e.g. {MAX_SIDE} px on the long side)"


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        message = f"image is {width}x{height} px ({width * height / 1e6:.0f} MP), over the {MAX_PIXELS // 1_000_000} MP limit"
        raise ImageProblem(message, _SHRINK_FIX)


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """8-bit RGB or RGBA in sRGB, transparency kept."""
    if image.mode in ("P", "PA"):  # palette: through RGBA when it has transparency, which keeps it
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 else 1.0  # 16-bit grey to 8-bit
        image = Image.fromarray(np.clip(values / scale, 0, 255).astype(np.uint8), "L")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if "srgb" in ImageCms.getProfileDescription(source).lower() and image.mode != "CMYK":
                raise _AlreadySrgb
            mode = "CMYK" if image.mode == "CMYK" else "RGB"
            image = ImageCms.profileToProfile(image.convert(mode), source, _SRGB, outputMode="RGB")
        except _AlreadySrgb:
            pass
        except (ImageCms.PyCMSError, OSError, ValueError):
            image = image.convert("RGB")  # a broken profile: the pixels as they are
    rgb = image.convert("RGB")
    if alpha is not None:
        rgb.putalpha(alpha)
    return rgb


_SRGB = ImageCms.createProfile("sRGB")


class _AlreadySrgb(Exception):
    pass
