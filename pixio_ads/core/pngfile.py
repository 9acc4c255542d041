"""Writing PNG files fast: libpng through OpenCV, with text chunks (XMP) added to its bytes.

Pillow's PNG encoder was finishing's largest cost (~85 ms of ~150 for a 1080 px creative):
it tries every row filter on every row. libpng's "fast filters" (none, sub, up; chosen per
row) with zlib's run-length strategy encode a creative in about half the time for files ~3%
larger than Pillow's at the same strategy (benchmarks/png_level.py, RESULTS.md). OpenCV
has no way to add a text chunk, so ``encode_png`` splices it into the bytes, after IHDR and
before the image data, where XMP readers look first (the PNG specification's chunk layout:
length, type, data, CRC-32 of type and data).
"""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_COMPRESS_LEVEL = 4  # with Z_RLE the level barely matters (benchmarks/png_level.py)
# IMWRITE_PNG_FILTER arrived in OpenCV 4.11; older builds use libpng's default (all filters).
_FILTER = [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS] if hasattr(cv2, "IMWRITE_PNG_FILTER") else []
_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION,
    PNG_COMPRESS_LEVEL,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
    *_FILTER,
]
_TO_OPENCV = {"RGB": cv2.COLOR_RGB2BGR, "RGBA": cv2.COLOR_RGBA2BGRA}


def encode_png(image: Image.Image, itxt: dict[str, str] | None = None) -> bytes:
    """``image`` as PNG bytes (8-bit grey, RGB or RGBA; other modes are converted to RGB or
    RGBA) with each of ``itxt``'s keyword: text pairs as an uncompressed iTXt chunk."""
    if image.mode not in ("L", *_TO_OPENCV):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    pixels = np.asarray(image)
    if image.mode in _TO_OPENCV:
        pixels = cv2.cvtColor(pixels, _TO_OPENCV[image.mode])
    ok, encoded = cv2.imencode(".png", pixels, _PARAMS)
    if not ok:  # OpenCV returns False rather than raising on a write it cannot do
        raise ValueError(f"OpenCV could not encode a {image.mode} image of {image.size} as PNG")
    data = encoded.tobytes()
    return insert_chunks(data, [itxt_chunk(key, text) for key, text in (itxt or {}).items()])


def itxt_chunk(keyword: str, text: str) -> bytes:
    """An uncompressed iTXt chunk: keyword, compression flag and method 0, empty language
    tag and translated keyword, UTF-8 text (PNG specification, 11.3.4.5)."""
    return chunk(b"iTXt", keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8"))


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def insert_chunks(png: bytes, chunks: list[bytes]) -> bytes:
    """``chunks`` placed right after the IHDR chunk of ``png`` (a valid file's first)."""
    if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file starting with its IHDR chunk")
    (length,) = struct.unpack(">I", png[8:12])
    end_of_ihdr = 8 + 4 + 4 + length + 4
    return png[:end_of_ihdr] + b"".join(chunks) + png[end_of_ihdr:]
