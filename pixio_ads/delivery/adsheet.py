"""What every platform's export shares: ideas grouped into ads, the result, the files.

An *ad* is one idea (product x audience x style x seed); its creatives are the idea's formats.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from openpyxl import Workbook

from pixio_ads.campaign.adsettings import settings_of
from pixio_ads.campaign.deliverables import CLEAN, image_for
from pixio_ads.campaign.platforms import file_size_problem, image_spec
from pixio_ads.core.errors import PixioError
from pixio_ads.core.formats import AdFormat


class ExportError(PixioError):
    pass


@dataclass
class Ad:
    """One idea: a product x audience x style x seed, and its creatives by format."""

    key: tuple
    creatives: list[dict] = field(default_factory=list)

    @property
    def first(self) -> dict:
        return self.creatives[0]

    @property
    def name(self) -> str:
        """product | audience | style | v1, then the copy option (h2, c2) and the language
        where the row has several."""
        row = self.first
        parts = [row["product_id"], row["audience"], row["style"], f"v{row['seed_index'] + 1}"]
        if len(self.key) > _IDEA_FIELDS + 1:  # ads per copy option
            parts += [f"h{row['headline_option']}"] * (row["headline_option"] > 1)
            parts += [f"c{row['cta_option']}"] * (row["cta_option"] > 1)
        return " | ".join(parts + _language_part(row))

    @property
    def ad_set(self) -> str:
        """The row's ad_set (or "product name - audience"); one per language where it has several."""
        name = self.first["ad_set"] or f"{self.first['product_name']} - {self.first['audience']}"
        return " | ".join([name, *_language_part(self.first)])


def _language_part(row: dict) -> list[str]:
    return [row["language"]] if len(text_options(row, "languages")) > 1 else []


def text_options(row: dict, kind: str) -> list[str]:
    """The row's copy options (copy_options JSON: headlines, primary_texts, descriptions,
    languages); an older manifest without them: its one headline, primary text, description."""
    if row.get("copy_options"):
        return list(json.loads(row["copy_options"]).get(kind, []))
    single = {"headlines": row["headline"], "primary_texts": row["primary_text"], "descriptions": row["description"]}
    return [single[kind]] if single.get(kind) else []


@dataclass
class ExportResult:
    target: str
    folder: Path
    files: list[Path]
    ads: int
    images: int
    warnings: list[str] = field(default_factory=list)
    left_out: int = 0  # creatives the platform would refuse (file size)
    unit: str = "ad"  # what ``ads`` counts: ads, asset groups (pmax), products (catalogue feeds)


_IDEA_FIELDS = 5  # campaign, product, audience, style, seed


def group_ads(rows: Iterable[dict], by_copy_option=lambda row: True) -> list[Ad]:
    """Creatives grouped into ads: one per idea and language, and per headline x CTA option
    where ``by_copy_option(row)`` (else the options' images, alike but for the copy drawn in,
    share one ad: Google's clean images)."""
    ads: dict[tuple, Ad] = {}
    for row in rows:
        key = (row["campaign_id"], row["product_id"], row["audience"], row["style"], row["seed_index"])
        key += (row.get("language") or "en",)
        if by_copy_option(row):
            key += (row.get("headline_option") or 1, row.get("cta_option") or 1)
        ads.setdefault(key, Ad(key)).creatives.append(row)
    return list(ads.values())


def row_platforms(row: dict) -> tuple[str, ...]:
    return tuple(part.strip() for part in row["platforms"].split(";") if part.strip())


def ad_format(row: dict) -> AdFormat:
    return AdFormat(row["format"], row["width"], row["height"])


def by_shape(out_dir: Path, platform: str, ad: Ad, result: ExportResult) -> dict[str, dict]:
    """The ad's creatives by the platform's image shape (the first of each shape), leaving out
    files the platform would refuse."""
    found: dict[str, dict] = {}
    for row in ad.creatives:
        spec = image_spec(platform, ad_format(row))
        if spec and spec.name not in found and usable(out_dir, platform, row, result):
            found[spec.name] = row
    return found


def image_path(row: dict, platform: str | None = None) -> str:
    """The file a platform's ad uses, relative to the output folder: the clean image where
    the row chose it for that platform (deliverables.py), else the creative."""
    if platform and row.get("clean_path"):
        chosen = image_for(settings_of(row["ad_settings"]).get(platform, {}))
        if chosen == CLEAN:
            return row["clean_path"]
    return row["output_path"]


def usable(out_dir: Path, platform: str, row: dict, result: ExportResult) -> bool:
    """The platform would take the file (size); a warning names the one it would refuse."""
    path = image_path(row, platform)
    problem = file_size_problem(platform, (out_dir / path).stat().st_size)
    if problem:
        result.warnings.append(f"{path}: left out of the {platform} export: {problem}")
        result.left_out += 1
    return problem is None


def link_parameters(link: str) -> set[str]:
    """The query parameter names the landing page already sets."""
    return {key for key, _ in parse_qsl(urlsplit(link).query)}


def url_tags(link: str, **tags: str) -> str:
    """Tracking parameters a platform appends to the link; those the link already sets are left to it."""
    present = link_parameters(link)
    return urlencode({key: value for key, value in tags.items() if key not in present})


def copy_creative(out_dir: Path, row: dict, folder: Path, name: str = "", platform: str | None = None) -> str:
    """Copy the image ``platform``'s ad uses (image_path) into ``folder`` (as ``name``,
    default its own); returns the name."""
    source = out_dir / image_path(row, platform)
    name = name or source.name
    shutil.copyfile(source, folder / name)
    return name


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(text: str) -> str:
    """A folder name every OS accepts: ``bottle | runners`` -> ``bottle - runners``."""
    return _UNSAFE.sub("-", text.replace(" | ", " - ")).strip(" .-")[:120]


def write_table_csv(path: Path, headers: tuple, rows: list[list]) -> Path:
    # UTF-8 with BOM: Excel and Ads Manager read the accents of copy correctly from it.
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, headers: tuple, rows: list[list]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Ads"
    sheet.append(list(headers))
    for values in rows:
        sheet.append(values)
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # copy is text, never a formula, whatever it starts with
    book.save(path)
    return path
