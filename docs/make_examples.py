"""Render the README's example images with the embedded backdrop model (synthetic
backdrops: what these show is the scene, cut-out, layout, shadows, copy, brand kit and the
four modes).

    .venv/bin/python docs/make_examples.py

Writes small JPEGs to docs/examples/: the first creative of each mode and format.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from pixio_ads.run import planning, runner
from pixio_ads.settings import RenderSettings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "campaigns" / "spring-sale"
OUT = REPO / "docs" / "examples"
HEIGHT = 360  # preview height in px: the files stay small enough to commit


def modes_campaign(folder: Path) -> Path:
    """The example campaign plus a restyle and a replace row on a drawn portrait."""
    shutil.copytree(EXAMPLE, folder, dirs_exist_ok=True)
    portrait = Image.new("RGB", (640, 640), (232, 206, 178))
    draw = ImageDraw.Draw(portrait)
    draw.ellipse((200, 120, 440, 400), fill=(150, 100, 70))
    draw.rectangle((170, 400, 470, 640), fill=(40, 90, 150))
    portrait.save(folder / "portrait.png")
    mask = Image.new("L", portrait.size, 0)
    ImageDraw.Draw(mask).rectangle((170, 400, 470, 640), fill=255)  # repaint the shirt
    mask.save(folder / "shirt-mask.png")
    with open(folder / "campaign.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    base = {**rows[0], "brand_kit": "brand.yaml", "output_format": "jpeg", "formats": "square", "variants": "1"}
    base.update(platforms="", link="", primary_text="", description="", call_to_action="", anchor="")
    rows.append({**base, "product_id": "profile-restyle", "product_name": "Profile picture", "template": "studio",
                 "audiences": "creators", "styles": "watercolour", "base_seed": "7", "headline": "Your look",
                 "cta": "Try it", "negative_prompt": "", "mode": "restyle", "source_image": "portrait.png",
                 "strength": "0.6"})  # fmt: skip
    rows.append({**base, "product_id": "shirt-replace", "product_name": "New shirt", "template": "studio",
                 "audiences": "creators", "styles": "linen shirt", "base_seed": "8", "headline": "New season",
                 "cta": "Shop", "negative_prompt": "", "mode": "replace", "source_image": "portrait.png",
                 "replace_mask": "shirt-mask.png", "strength": "1"})  # fmt: skip
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(folder / "campaign.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    (folder / "campaign.xlsx").unlink()
    return folder / "campaign.csv"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        campaign = modes_campaign(Path(temp) / "campaign")
        out = Path(temp) / "out"
        plan = planning.plan_campaign(campaign, out, RenderSettings(steps=4))
        shards = [runner.render_shard(plan.plan_path, ids, out, "cpu") for ids in plan.shards]
        manifest = pq.read_table(runner.write_manifest(plan.plan_path, shards, out).manifest_path).to_pylist()
        picked: dict[tuple[str, str], dict] = {}
        for row in manifest:  # first creative of each mode and format
            picked.setdefault((row["mode"], row["format"]), row)
        for (mode, fmt), row in sorted(picked.items()):
            with Image.open(out / row["output_path"]) as image:
                preview = image.convert("RGB")
                preview.thumbnail((10_000, HEIGHT), Image.Resampling.LANCZOS)
            preview.save(OUT / f"{mode}-{fmt}.jpg", quality=80)
    print(f"wrote {len(picked)} examples to {OUT}")


if __name__ == "__main__":
    main()
