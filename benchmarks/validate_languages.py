"""`pixio-ads validate` on a 10,000-row campaign in 5 languages (en, de, ja, ar, th).

    .venv/bin/python benchmarks/validate_languages.py [--rows 10000] [--repeats 3]

Each row: a distinct headline per language (words drawn from a per-language vocabulary,
seeded, with the row number), one of a few CTAs per language, two formats (square, story):
50,000 headline fits x 2 formats against the fonts each script needs (Noto CJK, Thai, DejaVu
for Arabic), line breaking by the language's rules (ICU) and German hyphenation. The real
command in a fresh process (start-up and imports included), the median of --repeats runs.
Goal on 2 cores: under 10 s. Ends with ``validate_10k_rows_5_languages_seconds``.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic  # noqa: E402

WORDS = {
    "en": "bright fresh bold new summer ready better faster lighter warm coffee morning focus light home".split(),
    "de": "hell frisch neu Sommer bereit besser schneller leichter warm Kaffee Morgen Licht Zuhause".split(),
    "ja": "明るい 新しい 夏の 朝の コーヒー を 楽しもう 毎日 光 家 もっと ゆっくり".split(),
    "ar": "جديد صيف قهوة صباح ضوء بيت أسرع أخف دافئ كل يوم".split(),
    "th": "ใหม่ ฤดูร้อน กาแฟ ตอนเช้า แสง บ้าน เร็วขึ้น เบา อบอุ่น ทุกวัน".split(),
}
CTAS = {
    "en": ["Shop now", "Buy now", "Learn more"],
    "de": ["Jetzt kaufen", "Mehr erfahren"],
    "ja": ["今すぐ購入", "詳しく見る"],
    "ar": ["تسوق الآن", "اعرف المزيد"],
    "th": ["ซื้อเลย", "ดูเพิ่มเติม"],
}
JOIN = {"ja": "", "th": ""}  # written without spaces between words


def write_campaign(folder: Path, rows: int) -> Path:
    (folder / "products").mkdir()
    Image.new("RGBA", (300, 500), (30, 120, 200, 255)).save(folder / "products" / "p.png")
    rng = random.Random(0)
    languages = list(WORDS)
    header = ["campaign_id", "product_id", "product_name", "product_image", "template", "audiences", "styles"]
    header += ["formats", "languages", "headline", "cta"]
    header += [f"{kind}[{lang}]" for lang in languages[1:] for kind in ("headline", "cta")]
    path = folder / "campaign.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(rows):
            copy = {}
            for lang in languages:
                words = [rng.choice(WORDS[lang]) for _ in range(rng.randint(2, 6))]
                copy[lang] = (JOIN.get(lang, " ").join(words) + f" {i}", rng.choice(CTAS[lang]))
            fixed = ["bench", f"p{i}", f"Product {i}", "products/p.png", "lifestyle", "runners", "minimal"]
            row = [*fixed, "square; story", "; ".join(languages), *copy["en"]]
            writer.writerow(row + [text for lang in languages[1:] for text in copy[lang]])
    return path


def main() -> None:
    synthetic.validate_benchmark(__doc__.splitlines()[0], write_campaign, 10_000, "rows_5_languages")


if __name__ == "__main__":
    main()
