"""Invisible watermark robustness and cost, measured side by side on the same images.

    .venv/bin/python benchmarks/watermark.py [IMAGES]

For each of IMAGES creative-like 1080x1080 scenes (gradients, shapes, texture; the tiny
model's noise would flatter the watermark), embed the 64-bit watermark (24-bit payload +
BCH parity), attack it, and read it back the way `pixio-ads verify` does (as is, and scaled
back to the known format sizes). Reports per attack: raw bits right at the best scale, exact
payload decodes (BCH, no manifest), and matches against a 1,000-row manifest (bit distance).
"""

from __future__ import annotations

import io
import sys
import time

import numpy as np
from PIL import Image, ImageDraw

from pixio_ads import provenance
from pixio_ads.formats import NAMED_FORMATS

SIZES = [(f.width, f.height) for f in NAMED_FORMATS.values()]


def scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:1080, 0:1080]
    phase = rng.uniform(0, 6.28, 3)
    base = np.stack([120 + 80 * np.sin(x / 90 + phase[0]), 110 + 60 * np.cos(y / 70 + phase[1]), 140 + 50 * np.sin((x + y) / 120 + phase[2])], axis=2)
    image = Image.fromarray(np.clip(base + rng.normal(0, rng.uniform(3, 15), base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        left, top = rng.integers(0, 800, 2)
        draw.rounded_rectangle((int(left), int(top), int(left) + 250, int(top) + 250), radius=40, fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return image


def jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def shrink(image: Image.Image, resample=Image.Resampling.LANCZOS) -> Image.Image:
    return image.resize((round(image.width * 0.9), round(image.height * 0.9)), resample)


ATTACKS = {
    "none": lambda im: im,
    "jpeg85": jpeg,
    "resize90": shrink,
    "resize90_bicubic": lambda im: shrink(im, Image.Resampling.BICUBIC),
    "resize90_jpeg85": lambda im: jpeg(shrink(im)),
}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    manifest = {f"v{i}": provenance.payload_for(f"v{i}") for i in range(1000)}
    stats = {name: {"bits": [], "decoded": 0, "matched": 0} for name in ATTACKS}
    encode_seconds = decode_seconds = 0.0
    reads_done = 0
    for index in range(count):
        original = scene(index)
        vid = f"v{index}"
        started = time.perf_counter()
        marked = provenance.embed_watermark(original, manifest[vid])
        encode_seconds += time.perf_counter() - started
        truth = np.array(provenance.payload_bits(manifest[vid]))[:63]
        for name, attack in ATTACKS.items():
            attacked = attack(marked)
            started = time.perf_counter()
            reads = provenance.read_at_scales(attacked, SIZES)
            read = provenance.decode_reads(reads)
            decode_seconds += time.perf_counter() - started
            reads_done += 1
            stats[name]["bits"].append(max(np.mean(np.array(bits)[:63] == truth) for _, bits in reads))
            stats[name]["decoded"] += read.payload == manifest[vid]
            stats[name]["matched"] += provenance.nearest_row(reads, manifest)[0] == vid
    print(f"{count} images, 1080x1080, dwtDctSvd, 64-bit watermark (24-bit payload + BCH(63,24), corrects 7 bits)")
    print(f"{'attack':<18} {'bits right':>10} {'decoded':>8} {'matched (1,000 rows)':>21}")
    for name, values in stats.items():
        print(f"{name:<18} {np.mean(values['bits']):>10.3f} {values['decoded']:>4}/{count:<3} {values['matched']:>13}/{count}")
    print(f"embed_seconds_per_image: {encode_seconds / count:.2f}")
    print(f"read_seconds_per_image: {decode_seconds / reads_done:.2f}")
    for name, values in stats.items():
        print(f"{name}_bits_right: {np.mean(values['bits']):.3f}")
        print(f"{name}_decoded_share: {values['decoded'] / count:.2f}")
        print(f"{name}_matched_share: {values['matched'] / count:.2f}")


if __name__ == "__main__":
    main()
