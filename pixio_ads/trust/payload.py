"""The invisible watermark's payload: 24 bits of the variant id's hash with BCH parity (corrects
7 of 63 bits), embedded as the tiled mark (tilemark.py) and read back wherever a platform moved,
scaled, cropped or turned it, then matched to the nearest manifest row under a false-match
bound. Files marked before the tiled mark carry version 1 (watermark.py: dwtDctSvd), which is
still read, at the candidate sizes a platform may have resized to."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from pixio_ads.trust import tilemark, watermark

WATERMARK_METHOD = "pixio-tile-v2"  # what new files carry (tilemark.py)
LEGACY_METHOD = "dwtDctSvd"  # version 1 (watermark.py), read for files made before
PAYLOAD_BYTES = 3  # 24 bits of the variant id's hash
BCH_T, BCH_M = 7, 6  # BCH over GF(2^6): n = 63 bits, 39 parity bits, corrects 7
WATERMARK_BITS = 64  # 24 data + 39 parity + 1 padding bit
# XORed over the embedded bits, so that a flat read (all zeros from an unmarked image) is not
# the codeword of payload 000000.
_PAYLOAD_SCRAMBLE = np.unpackbits(
    np.frombuffer(hashlib.sha256(b"pixio-ads watermark v1").digest()[:8], dtype=np.uint8)
)


# --- invisible watermark -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _bch_code():
    import bchlib

    return bchlib.BCH(t=BCH_T, m=BCH_M)


def payload_for(variant_id: str, image: str = "creative") -> str:
    """The 24-bit short hash a creative carries, as 6 hex digits. A variant's clean image
    (deliverables.py) carries its own, so a platform's copy tells which file it was."""
    key = variant_id if image in ("creative", "video") else f"{variant_id}/{image}"  # a video: the creative's
    return hashlib.sha256(key.encode()).digest()[:PAYLOAD_BYTES].hex()


def payload_bits(payload_hex: str) -> list[int]:
    """Payload + BCH parity as WATERMARK_BITS bits."""
    data = bytes.fromhex(payload_hex)
    ecc = bytes(_bch_code().encode(bytearray(data)))
    bits = np.unpackbits(np.frombuffer(data + ecc, dtype=np.uint8))[: PAYLOAD_BYTES * 8 + _bch_code().ecc_bits]
    bits = np.concatenate([bits, np.zeros(WATERMARK_BITS - len(bits), np.uint8)])
    return [int(b) for b in bits ^ _PAYLOAD_SCRAMBLE]


def decode_bits(bits: list[int]) -> tuple[str | None, int]:
    """(payload hex, corrected bit errors), or (None, -1) when more than BCH_T bits are wrong."""
    bch = _bch_code()
    bits = np.array(bits, dtype=np.uint8) ^ _PAYLOAD_SCRAMBLE
    data_bits = bits[: PAYLOAD_BYTES * 8]
    ecc_bits = bits[PAYLOAD_BYTES * 8 : PAYLOAD_BYTES * 8 + bch.ecc_bits]
    data = bytearray(np.packbits(data_bits).tobytes())
    ecc = bytearray(
        np.packbits(np.concatenate([ecc_bits, np.zeros(bch.ecc_bytes * 8 - bch.ecc_bits, np.uint8)])).tobytes()
    )
    errors = bch.decode(data, ecc)
    if errors < 0:
        return None, -1
    bch.correct(data, ecc)
    return bytes(data).hex(), errors


def embed_watermark(image: Image.Image, payload_hex: str) -> Image.Image:
    """The image with the payload's codeword embedded as the tiled mark (tilemark.py)."""
    return Image.fromarray(tilemark.embed(np.asarray(image.convert("RGB")), payload_bits(payload_hex)))


def frame_mark(poster: np.ndarray, payload_hex: str, keep: np.ndarray | None = None) -> np.ndarray:
    """The levels a video adds to every frame (int16, (H, W, 3)): the tiled mark as the poster
    would carry it, zero where ``keep`` (bool, (H, W)) promises exact pixels (the product)."""
    levels = tilemark.pattern(poster, payload_bits(payload_hex))
    if keep is not None:
        levels[keep] = 0
    return np.repeat(levels[..., None], 3, axis=2)


def read_frames_mark(frames) -> Marks:
    """The mark of a video: its frames' luminance averaged (the mark is in the same place in
    each, the scene moves) and read as one picture (tilemark.read_luminance)."""
    import cv2

    total, count = None, 0
    for rgb in frames:
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
        total = gray if total is None else cv2.add(total, gray)
        count += 1
    if total is None:
        return Marks([((0, 0), [0] * WATERMARK_BITS)], WATERMARK_METHOD)
    found = tilemark.read_luminance(total / count)
    size = (total.shape[1], total.shape[0])
    method = WATERMARK_METHOD if found.detected else ""
    return Marks([(size, found.bits)], method, found.confidence, found.scale, found.rotation)


def legacy_bits(image: Image.Image) -> list[int]:
    """Version 1's bits (dwtDctSvd, watermark.py) as the image is."""
    return watermark.read_bits(np.asarray(image.convert("RGB")), WATERMARK_BITS)


@dataclass(frozen=True, slots=True)
class WatermarkRead:
    payload: str | None  # decoded and error-corrected; None when unreadable
    corrected_bits: int  # -1 when unreadable
    size: tuple[int, int]  # the size it was read at (after scaling back to a format)
    method: str = ""  # WATERMARK_METHOD or LEGACY_METHOD: which mark was found ("" none)
    confidence: float = 0.0  # the tiled mark's sync z-score (tilemark.DETECTED_Z and above: found)
    scale: float = 1.0  # the file's size against the creative's, as the read found it
    rotation: float = 0.0  # degrees


@dataclass(frozen=True, slots=True)
class Marks:
    """What an image carries: the bits of each read, and how they were found."""

    reads: "Reads"
    method: str
    confidence: float = 0.0
    scale: float = 1.0
    rotation: float = 0.0


def read_marks(image: Image.Image, sizes: list[tuple[int, int]]) -> Marks:
    """The tiled mark wherever it is; failing that, version 1's at each candidate size (a
    file made before the tiled mark). An unmarked image gives reads that match nothing."""
    found = tilemark.read(np.asarray(image.convert("RGB")))
    if found.detected:
        return Marks([(image.size, found.bits)], WATERMARK_METHOD, found.confidence, found.scale, found.rotation)
    return Marks(read_at_scales(image, sizes), LEGACY_METHOD, found.confidence)


def candidate_sizes(size: tuple[int, int], sizes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The image's own size, then the known format sizes of about its aspect ratio."""
    width, height = size
    return [size] + sorted(
        {s for s in sizes if s != size and abs(s[0] / s[1] - width / height) < 0.03}, key=lambda s: abs(s[0] - width)
    )


Reads = list[tuple[tuple[int, int], list[int]]]


def read_at_scales(image: Image.Image, sizes: list[tuple[int, int]], read=legacy_bits) -> Reads:
    """Version 1's bits read from the image as it is and scaled back to each known ad
    format size of about its aspect ratio (a platform's resize moves its blocks; scaling
    back restores them). Each read costs ~25 ms at 1080 px. ``read``: the bit reader (the
    benchmark passes the library's to compare)."""
    reads = []
    for size in candidate_sizes(image.size, sizes):
        scaled = image if size == image.size else image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        reads.append((size, read(scaled)))
    return reads


def decode_reads(reads: Reads) -> WatermarkRead:
    """The read that needed the fewest corrections. A read at the wrong scale is noise,
    which BCH rejects, or now and then "corrects" into a wrong payload with many
    corrections: the cleanest read wins."""
    best = WatermarkRead(None, -1, reads[0][0])
    for size, bits in reads:
        payload, corrected = decode_bits(bits)
        if payload is not None and (best.payload is None or corrected < best.corrected_bits):
            best = WatermarkRead(payload, corrected, size)
    return best


def read_watermark(image: Image.Image, sizes: list[tuple[int, int]]) -> WatermarkRead:
    return read_of(read_marks(image, sizes))


def read_of(marks: Marks) -> WatermarkRead:
    """The decoded payload of ``marks``, with how it was found."""
    read = decode_reads(marks.reads)
    method = marks.method if read.payload or marks.method == WATERMARK_METHOD else ""
    return WatermarkRead(
        read.payload, read.corrected_bits, read.size, method, marks.confidence, marks.scale, marks.rotation
    )


FALSE_MATCH_RATE = 1e-3  # expected false matches per verified image, over the whole manifest


def match_threshold(rows: int, bits: int = 63) -> int:
    """The largest bit distance that an unrelated read (bits ~ coin flips) reaches with at
    most FALSE_MATCH_RATE over ``rows`` codewords: 16 for 10 rows, 11 for 10,000."""
    tail, distance = 0.0, -1
    while True:
        tail += math.comb(bits, distance + 1) / 2**bits
        if rows * tail > FALSE_MATCH_RATE:
            return distance
        distance += 1


def nearest_row(reads: Reads, payloads: dict[str, str]) -> tuple[str | None, int]:
    """With a manifest at hand: (variant id, bit distance) of the row whose watermark is
    nearest to what the image carries, at any of its read scales; None when none is within
    :func:`match_threshold`. Soft matching reaches past BCH's 7-bit limit (two payloads'
    codewords differ in >= 15 of 63 bits)."""
    max_distance = match_threshold(max(1, len(payloads)))
    codewords = {vid: np.array(payload_bits(payload))[:63] for vid, payload in payloads.items()}
    best: tuple[str | None, int] = (None, 64)
    for _, read in reads:
        bits = np.array(read)[:63]
        for vid, codeword in codewords.items():
            distance = int((bits != codeword).sum())
            if distance < best[1]:
                best = (vid, distance)
    return best if best[1] <= max_distance else (None, best[1])


def match_watermark(
    image: Image.Image, sizes: list[tuple[int, int]], payloads: dict[str, str]
) -> tuple[str | None, int]:
    return nearest_row(read_marks(image, sizes).reads, payloads)
