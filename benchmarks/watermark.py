"""Invisible watermark after what the ad platforms do to uploads: version 1 (dwtDctSvd,
pixio_ads/trust/watermark.py, what files carried before) and version 2 (the tiled mark,
pixio_ads/trust/tilemark.py, what new files carry), side by side on the same creatives.

    .venv/bin/python benchmarks/watermark.py [--creatives 60] [--unmarked 1000] [--run OUT_DIR] [--sheet PNG]

Creatives: square, portrait, story and landscape, each a flat backdrop (a gradient, as studio
scenes are), a textured scene or a procedural backdrop of the embedded model's training set,
with a product-like shape, a headline and a button drawn on. Each gets its own payload; a
manifest of them plus decoys (1,000 rows) is what reads are matched against, as `pixio-ads
verify --manifest` matches (exact payload, else the nearest codeword within the false-match
bound). Attacks are the issue's list. False matches: unmarked images and crops of creatives
marked with payloads outside the manifest, each matched against the manifest: any match is
false. ``--sheet`` writes flat backdrops beside their version 2 copies at 1:1, for the eye.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from pixio_ads.core.formats import NAMED_FORMATS
from pixio_ads.creative.brand import DEFAULT_HEADLINE_FONT
from pixio_ads.outputs.manifest import read_table
from pixio_ads.training.backdrops import draw as draw_backdrop
from pixio_ads.trust import payload as marks
from pixio_ads.trust import tilemark, watermark
from pixio_ads.trust.verify import Manifests, match_row

SIZES = [(f.width, f.height) for f in NAMED_FORMATS.values()]
FORMATS = {"square": (1080, 1080), "portrait": (1080, 1350), "story": (1080, 1920), "landscape": (1200, 628)}
FAMILIES = ("flat", "textured", "backdrop")


def background(family: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    if family == "flat":  # a studio sweep: two colours, a gentle gradient, a little sensor noise
        top, bottom = rng.integers(20, 240, 3), rng.integers(20, 240, 3)
        ramp = np.linspace(0, 1, height)[:, None, None]
        base = np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3))
        return np.clip(base + rng.normal(0, 0.6, (height, width, 3)), 0, 255).astype(np.uint8)
    if family == "backdrop":
        pixels, _ = draw_backdrop(rng, 256)  # floats 0-1
        small = Image.fromarray(np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8))
        return np.asarray(small.resize(size, Image.Resampling.BICUBIC))
    y, x = np.mgrid[0:height, 0:width]
    phase = rng.uniform(0, 6.28, 3)
    base = np.stack(
        [120 + 80 * np.sin(x / 90 + phase[0]), 110 + 60 * np.cos(y / 70 + phase[1]), 140 + 50 * np.sin((x + y) / 120)],
        axis=2,
    )
    return np.clip(base + rng.normal(0, rng.uniform(3, 15), base.shape), 0, 255).astype(np.uint8)


def creative(index: int) -> Image.Image:
    """A creative-like image: background, a product shape, a headline and a button."""
    rng = np.random.default_rng(index)
    name = list(FORMATS)[index % len(FORMATS)]
    size = FORMATS[name]
    image = Image.fromarray(background(FAMILIES[index // len(FORMATS) % len(FAMILIES)], size, rng))
    draw = ImageDraw.Draw(image)
    width, height = size
    colour = tuple(int(c) for c in rng.integers(0, 255, 3))
    draw.rounded_rectangle((width * 0.35, height * 0.35, width * 0.65, height * 0.75), radius=30, fill=colour)
    font = ImageFont.truetype(str(DEFAULT_HEADLINE_FONT), max(24, height // 18))
    draw.text((width / 2, height * 0.15), "Your morning, slower", font=font, fill="black", anchor="mm")
    draw.rounded_rectangle((width * 0.35, height * 0.82, width * 0.65, height * 0.9), radius=25, fill=(245, 160, 30))
    return image


def encode(image: Image.Image, kind: str, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, kind, quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def resize(image: Image.Image, factor: float, resample=Image.Resampling.BICUBIC) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)), resample)


def centre_crop(image: Image.Image, aspect: float) -> Image.Image:
    """The largest centred part of ``aspect`` (width / height), as a platform fits a slot."""
    width, height = image.size
    if width / height > aspect:
        new = round(height * aspect)
        return image.crop(((width - new) // 2, 0, (width - new) // 2 + new, height))
    new = round(width / aspect)
    return image.crop((0, (height - new) // 2, width, (height - new) // 2 + new))


ATTACKS = {
    "none": lambda im: im,
    "resize90_jpeg70": lambda im: encode(resize(im, 0.9), "JPEG", 70),
    "resize50_jpeg85": lambda im: encode(resize(im, 0.5), "JPEG", 85),
    "crop_1x1_jpeg80": lambda im: encode(centre_crop(im, 1.0), "JPEG", 80),
    "crop_4x5_jpeg80": lambda im: encode(centre_crop(im, 0.8), "JPEG", 80),
    "crop_side10": lambda im: im.crop((round(im.width * 0.1), 0, im.width, im.height)),
    "rotate2": lambda im: im.rotate(2, Image.Resampling.BICUBIC),
    "webp75": lambda im: encode(im, "WEBP", 75),
    "colour_brightness10": lambda im: ImageEnhance.Color(ImageEnhance.Brightness(im).enhance(1.1)).enhance(1.1),
    "screenshot75": lambda im: resize(
        resize(im, 0.75, Image.Resampling.BILINEAR), 1 / 0.75, Image.Resampling.BILINEAR
    ),
}


def v1_embed(image: Image.Image, payload: str) -> Image.Image:
    return Image.fromarray(watermark.embed(np.asarray(image.convert("RGB")), marks.payload_bits(payload)))


def v1_reads(image: Image.Image) -> marks.Reads:
    return marks.read_at_scales(image, SIZES)


def v2_reads(image: Image.Image) -> marks.Reads:
    found = tilemark.read(np.asarray(image.convert("RGB")))
    return [(image.size, found.bits)] if found.detected else []


CODECS = {"v1": (v1_embed, v1_reads), "v2": (marks.embed_watermark, v2_reads)}


def manifest_of(payloads: dict[str, str]) -> Manifests:
    """A manifest of these rows (variant id: payload), as `verify` holds one."""
    return Manifests([(Path("."), [{"variant_id": vid, "watermark_payload": p} for vid, p in payloads.items()])])


def match(reads: marks.Reads, manifest: Manifests) -> str | None:
    """The row `verify` names (verify.match_row): the exact payload BCH decodes, else the
    nearest codeword within the false-match bound."""
    return match_row(reads, marks.decode_reads(reads), manifest)[0] if reads else None


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def robustness(count: int) -> dict:
    """Per codec: matched share per attack, PSNR, embed and read times."""
    payloads = {f"creative-{i}": marks.payload_for(f"creative-{i}") for i in range(count)}
    payloads.update({f"decoy-{i}": marks.payload_for(f"decoy-{i}") for i in range(max(0, 1000 - count))})
    manifest = manifest_of(payloads)
    stats = {
        codec: {"matched": {name: 0 for name in ATTACKS}, "psnr": [], "embed": [], "read": []} for codec in CODECS
    }
    for index in range(count):
        original, vid = creative(index), f"creative-{index}"
        for codec, (embed, reads_of) in CODECS.items():
            started = time.perf_counter()
            marked = embed(original, payloads[vid])
            stats[codec]["embed"].append(time.perf_counter() - started)
            stats[codec]["psnr"].append(psnr(original, marked))
            for name, attack in ATTACKS.items():
                attacked = attack(marked)
                started = time.perf_counter()
                reads = reads_of(attacked)
                stats[codec]["read"].append(time.perf_counter() - started)
                stats[codec]["matched"][name] += match(reads, manifest) == vid
    return stats


def false_matches(count: int, manifest_size: int = 1000) -> dict[str, int]:
    """Unmarked images and crops of creatives marked with payloads outside the manifest,
    matched against a manifest of ``manifest_size`` rows: every match is a false one."""
    manifest = manifest_of({f"row-{i}": marks.payload_for(f"row-{i}") for i in range(manifest_size)})
    found = {codec: 0 for codec in CODECS}
    for index in range(count):
        image = creative(10_000 + index)
        if index % 2:  # a crop of another campaign's creative
            for codec, (embed, reads_of) in CODECS.items():
                other = embed(image, marks.payload_for(f"elsewhere-{index}"))
                crop = ATTACKS[list(ATTACKS)[1 + index % (len(ATTACKS) - 1)]](other)
                found[codec] += match(reads_of(crop), manifest) is not None
        else:
            for codec, (_, reads_of) in CODECS.items():
                found[codec] += match(reads_of(image), manifest) is not None
    return found


def run_creatives(out_dir: Path) -> None:
    """A run's creatives, attacked, matched to its own manifest."""
    rows = [row for row in read_table(out_dir / "manifest.parquet").to_pylist() if row["status"] == "rendered"]
    manifest = manifest_of({row["variant_id"]: row["watermark_payload"] for row in rows})
    for name, attack in ATTACKS.items():
        matched = 0
        for row in rows:
            with Image.open(out_dir / row["output_path"]) as image:
                reads = marks.read_marks(attack(image.convert("RGB")), SIZES).reads
            matched += match(reads, manifest) == row["variant_id"]
        print(f"{out_dir.name}_{name}_matched: {matched}/{len(rows)}")


def contact_sheet(path: Path) -> None:
    """Flat backdrops (left) and their version 2 copies (right), 480 px crops at 1:1."""
    rows = []
    for index in range(4):
        rng = np.random.default_rng(100 + index)
        flat = Image.fromarray(background("flat", (1080, 1080), rng))
        marked = marks.embed_watermark(flat, marks.payload_for(f"sheet-{index}"))
        box = (300, 300, 780, 780)
        rows.append(np.concatenate([np.asarray(flat.crop(box)), np.asarray(marked.crop(box))], axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    print(f"contact sheet: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creatives", type=int, default=60)
    parser.add_argument("--unmarked", type=int, default=1000, help="images for the false-match count")
    parser.add_argument("--run", type=Path, action="append", default=[], help="a run's output folder")
    parser.add_argument("--sheet", type=Path, help="write the contact sheet of flat backdrops here")
    args = parser.parse_args()
    if args.sheet:
        contact_sheet(args.sheet)
    for out_dir in args.run:
        run_creatives(out_dir)
    stats = robustness(args.creatives) if args.creatives else {}
    false = false_matches(args.unmarked) if args.unmarked else {}
    if stats:
        print(f"\n{args.creatives} creatives; matched to their row of a 1,000-row manifest (v1 | v2)")
        for name in ATTACKS:
            v1, v2 = (stats[codec]["matched"][name] for codec in CODECS)
            print(f"  {name:<22} {v1:>4}/{args.creatives} | {v2:>4}/{args.creatives}")
    for codec, values in stats.items():
        for name in ATTACKS:
            print(f"{codec}_{name}_matched_share: {values['matched'][name] / args.creatives:.3f}")
        print(f"{codec}_psnr_db_min: {min(values['psnr']):.2f}")
        print(f"{codec}_embed_ms_median: {1000 * np.median(values['embed']):.1f}")
        print(f"{codec}_read_ms_median: {1000 * np.median(values['read']):.1f}")
        print(f"{codec}_read_ms_max: {1000 * np.max(values['read']):.1f}")
    for codec, count in false.items():
        print(f"{codec}_false_matches_of_{args.unmarked}: {count}")


if __name__ == "__main__":
    main()
