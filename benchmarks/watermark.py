"""Invisible watermark robustness and cost: invisible-watermark's own dwtDctSvd and ours
(pixio_ads/trust/watermark.py), measured side by side on the same images in one run.

    .venv/bin/python benchmarks/watermark.py [--images N] [--run OUT_DIR ...]

For each of N creative-like 1080x1080 scenes (gradients, shapes, texture), embed the
64-bit watermark (24-bit payload + BCH parity) with each encoder, attack it, and read it
back the way `pixio-ads verify` does (as is, and scaled back to the known format sizes),
each encoder with its own decoder. Reports per attack: raw bits right at the best scale,
exact payload decodes (BCH, no manifest), and matches against a 1,000-row manifest.

With --run, also the creatives of a finished run (e.g. `make demo`'s out/demo), attacked
and matched against that run's manifest, as `pixio-ads verify --manifest` matches them.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixio_ads.core.formats import NAMED_FORMATS
from pixio_ads.outputs.manifest import read_table
from pixio_ads.trust import payload as marks
from pixio_ads.trust import provenance

SIZES = [(f.width, f.height) for f in NAMED_FORMATS.values()]


def scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:1080, 0:1080]
    phase = rng.uniform(0, 6.28, 3)
    base = np.stack(
        [
            120 + 80 * np.sin(x / 90 + phase[0]),
            110 + 60 * np.cos(y / 70 + phase[1]),
            140 + 50 * np.sin((x + y) / 120 + phase[2]),
        ],
        axis=2,
    )
    image = Image.fromarray(np.clip(base + rng.normal(0, rng.uniform(3, 15), base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        left, top = rng.integers(0, 800, 2)
        draw.rounded_rectangle(
            (int(left), int(top), int(left) + 250, int(top) + 250),
            radius=40,
            fill=tuple(int(c) for c in rng.integers(0, 255, 3)),
        )
    return image


def jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def shrink(image: Image.Image, resample=Image.Resampling.LANCZOS) -> Image.Image:
    return image.resize((round(image.width * 0.9), round(image.height * 0.9)), resample)


ATTACKS = {
    "none": lambda im: im,
    "jpeg85": jpeg,
    "jpeg70": lambda im: jpeg(im, 70),
    "resize90": shrink,
    "resize90_bicubic": lambda im: shrink(im, Image.Resampling.BICUBIC),
    "resize90_jpeg85": lambda im: jpeg(shrink(im)),
}


def library_embed(image: Image.Image, payload: str) -> Image.Image:
    import cv2
    from imwatermark import WatermarkEncoder

    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", marks.payload_bits(payload))
    bgr = encoder.encode(cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR), "dwtDctSvd")
    return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def library_read(image: Image.Image) -> list[int]:
    import cv2
    from imwatermark import WatermarkDecoder

    decoder = WatermarkDecoder("bits", marks.WATERMARK_BITS)
    return [
        int(b) for b in decoder.decode(cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR), "dwtDctSvd")
    ]


CODECS = {
    "library": (library_embed, library_read),
    "pixio": (marks.embed_watermark, marks.read_watermark_bits),
}


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b.convert("RGB"), dtype=np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def synthetic(count: int) -> None:
    manifest = {f"v{i}": provenance.payload_for(f"v{i}") for i in range(1000)}
    for codec, (embed, read) in CODECS.items():
        stats = {name: {"bits": [], "decoded": 0, "matched": 0} for name in ATTACKS}
        embed_seconds = read_seconds = 0.0
        psnrs, reads_done = [], 0
        for index in range(count):
            original, vid = scene(index), f"v{index}"
            started = time.perf_counter()
            marked = embed(original, manifest[vid])
            embed_seconds += time.perf_counter() - started
            psnrs.append(psnr(original, marked))
            truth = np.array(marks.payload_bits(manifest[vid]))[:63]
            for name, attack in ATTACKS.items():
                attacked = attack(marked)
                started = time.perf_counter()
                reads = marks.read_at_scales(attacked, SIZES, read)
                decoded = marks.decode_reads(reads)
                read_seconds += time.perf_counter() - started
                reads_done += 1
                stats[name]["bits"].append(max(np.mean(np.array(bits)[:63] == truth) for _, bits in reads))
                stats[name]["decoded"] += decoded.payload == manifest[vid]
                stats[name]["matched"] += marks.nearest_row(reads, manifest)[0] == vid
        print(f"\n{codec}: {count} images, 1080x1080, 64-bit watermark (24-bit payload + BCH(63,24), corrects 7 bits)")
        print(f"{'attack':<18} {'bits right':>10} {'decoded':>8} {'matched (1,000 rows)':>21}")
        for name, values in stats.items():
            print(
                f"{name:<18} {np.mean(values['bits']):>10.3f} {values['decoded']:>4}/{count:<3} {values['matched']:>13}/{count}"
            )
        print(f"{codec}_embed_ms_per_image: {1000 * embed_seconds / count:.1f}")
        print(f"{codec}_read_ms_per_image: {1000 * read_seconds / reads_done:.1f}")
        print(f"{codec}_psnr_db_min: {min(psnrs):.2f}")
        for name, values in stats.items():
            print(f"{codec}_{name}_bits_right: {np.mean(values['bits']):.3f}")
            print(f"{codec}_{name}_decoded_share: {values['decoded'] / count:.2f}")
            print(f"{codec}_{name}_matched_share: {values['matched'] / count:.2f}")


def run_creatives(out_dir: Path) -> None:
    """A run's creatives, attacked, matched to the run's manifest as `verify` does."""
    rows = [row for row in read_table(out_dir / "manifest.parquet").to_pylist() if row["status"] == "rendered"]
    payloads = {row["variant_id"]: row["watermark_payload"] for row in rows}
    sizes = SIZES + sorted({(row["width"], row["height"]) for row in rows})
    label = out_dir.name
    print(f"\n{out_dir}: {len(rows)} creatives, matched against its manifest")
    for name, attack in ATTACKS.items():
        matched = 0
        for row in rows:
            with Image.open(out_dir / row["output_path"]) as image:
                reads = marks.read_at_scales(attack(image.convert("RGB")), sizes)
            decoded = marks.decode_reads(reads).payload
            by_payload = {payload: vid for vid, payload in payloads.items()}
            vid = by_payload.get(decoded) or marks.nearest_row(reads, payloads)[0]
            matched += vid == row["variant_id"]
        print(f"{label}_{name}_matched: {matched}/{len(rows)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument(
        "--run", type=Path, action="append", default=[], help="a run's output folder (with manifest.parquet)"
    )
    args = parser.parse_args()
    for out_dir in args.run:
        run_creatives(out_dir)
    if args.images:
        synthetic(args.images)


if __name__ == "__main__":
    main()
