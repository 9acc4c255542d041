"""The platforms' report files, as they download them, into one table of report rows.

- Meta Ads Manager: "Export table data" as CSV or XLSX. Columns by their English names:
  ``Ad name``, ``Day`` or ``Reporting starts``, ``Impressions``, ``Link clicks`` (else
  ``Clicks (all)``), ``Results``, ``Amount spent (EUR)`` (the currency in the header), and
  ``Campaign name``, ``Ad set name`` where present.
- Google Ads: a report downloaded as CSV (UTF-8, or UTF-16 "CSV for Excel" with tabs): a title
  row and a date-range row above the header, ``Total: ...`` rows at the end, ``--`` for
  nothing. Columns ``Ad group``, ``Day``, ``Impr.``, ``Clicks``, ``Conversions``, ``Cost``,
  ``Currency code``, and ``Final URL suffix`` or ``Asset`` (what joins a row to a creative).

Numbers come in the account's locale (``1,234.56``, ``1.234,56``, ``1 234,56``, with or
without currency signs): each file's decimal separator is found from its cost column. Every
problem is a ReportError naming the file (and row), never a traceback.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from pixio_ads.core.errors import PixioError


class ReportError(PixioError):
    pass


@dataclass(frozen=True, slots=True)
class ReportRow:
    source_file: str
    source_sha256: str
    platform: str  # meta or google
    report_row: int  # line in the file (1 = its first line)
    campaign: str
    ad_set: str
    ad_name: str  # Meta's ad name; Google's ad or asset text
    text: str  # every cell of the row joined: where a variant id (utm_content, a file name) is looked for
    day: date | None  # None: the row covers the whole reporting period
    impressions: int
    clicks: int
    conversions: float
    cost: float
    currency: str


# Header -> what it is, per platform (first found wins).
META_COLUMNS = {
    "ad_name": ("Ad name",),
    "campaign": ("Campaign name",),
    "ad_set": ("Ad set name",),
    "day": ("Day", "Reporting starts"),
    "impressions": ("Impressions",),
    "clicks": ("Link clicks", "Clicks (all)"),
    "conversions": ("Results", "Purchases", "Leads"),
    "cost": ("Amount spent",),
}
GOOGLE_COLUMNS = {
    "ad_name": ("Ad", "Asset", "Ad name", "Headline 1"),
    "campaign": ("Campaign",),
    "ad_set": ("Ad group",),
    "day": ("Day",),
    "impressions": ("Impr.", "Impressions"),
    "clicks": ("Clicks",),
    "conversions": ("Conversions",),
    "cost": ("Cost",),
}
REQUIRED = ("impressions", "clicks")


def read_report(path: str | Path) -> list[ReportRow]:
    """A Meta or Google report file's rows (totals left out)."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: no such file")
    data = path.read_bytes()
    if not data.strip():
        raise ReportError(f"{path}: the file is empty: download the report again from the ad manager")
    frame, first_line = _frame(path, data)
    platform = _platform(frame, path)
    columns = _columns(frame, META_COLUMNS if platform == "meta" else GOOGLE_COLUMNS, path, platform)
    sha = hashlib.sha256(data).hexdigest()
    decimal = _decimal_separator(frame[columns["cost"]] if "cost" in columns else frame[columns["clicks"]])
    currency = _currency(frame, columns)
    rows = []
    for index, record in frame.iterrows():
        if _is_total(record) or (platform == "meta" and not _cell(record, columns, "ad_name")):
            continue  # totals rows (Google's "Total: ...", Meta's summary row without an ad)
        line = first_line + index + 1
        rows.append(_row(record, columns, path, sha, platform, line, decimal, currency))
    if not rows:
        raise ReportError(f"{path}: the report has no ad rows (only a header or totals)")
    return rows


def _frame(path: Path, data: bytes) -> tuple[pd.DataFrame, int]:
    """(cells as text under their header, the header's line number)."""
    if path.suffix.lower() in (".xlsx", ".xls"):
        try:
            raw = pd.read_excel(io.BytesIO(data), header=None, dtype=str).fillna("")
        except Exception as exc:  # a corrupt or renamed file: openpyxl's own errors vary
            raise ReportError(f"{path}: cannot read as a spreadsheet ({exc.__class__.__name__}: {exc})") from None
        lines = raw.values.tolist()
    else:
        text = _decode(data, path)
        dialect = "excel-tab" if text.count("\t") > text.count(",") else "excel"
        lines = list(csv.reader(io.StringIO(text), dialect=dialect))
    header = next((i for i, line in enumerate(lines) if _looks_like_header(line)), None)
    if header is None:
        raise ReportError(
            f"{path}: no header row with impressions and clicks found: export the report with the Impressions "
            "and Clicks columns (Meta: Ad name, Impressions, Link clicks; Google: Impr., Clicks)"
        )
    names = [str(cell).strip() for cell in lines[header]]
    body = [
        line + [""] * (len(names) - len(line)) for line in lines[header + 1 :] if any(str(c).strip() for c in line)
    ]
    frame = pd.DataFrame([line[: len(names)] for line in body], columns=names, dtype=str)
    return frame, header + 1


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ReportError(f"{path}: not a text report (neither UTF-8, UTF-16 nor Windows-1252)")


def _looks_like_header(line: list) -> bool:
    cells = {str(cell).strip().lower() for cell in line}
    return bool(cells & {"impressions", "impr."}) and bool(cells & {"clicks", "link clicks", "clicks (all)"})


def _platform(frame: pd.DataFrame, path: Path) -> str:
    names = set(frame.columns)
    if "Ad name" in names or "Amount spent" in " ".join(names):
        return "meta"
    if "Impr." in names or "Ad group" in names:
        return "google"
    raise ReportError(f"{path}: neither a Meta Ads Manager nor a Google Ads report (columns: {', '.join(names)})")


def _columns(frame: pd.DataFrame, known: dict, path: Path, platform: str) -> dict[str, str]:
    found = {}
    for field, names in known.items():
        for name in names:
            match = next((c for c in frame.columns if c == name or c.startswith(name + " (")), None)
            if match:
                found[field] = match
                break
    missing = [field for field in (*REQUIRED, "ad_name") if field not in found]
    if missing and not (platform == "google" and missing == ["ad_name"]):
        wanted = ", ".join(known[field][0] for field in missing)
        raise ReportError(
            f"{path}: the {platform} report has no {wanted} column: add it to the report and download again"
        )
    return found


_NUMBER = re.compile(r"[^\d.,\-]")


def _decimal_separator(values: pd.Series) -> str:
    """',' when the file writes decimals with a comma (1.234,56 or 12,5), else '.'."""
    commas = dots = 0
    for value in values:
        text = _NUMBER.sub("", str(value))
        if re.search(r",\d{1,2}$", text):
            commas += 1
        elif re.search(r"\.\d{1,2}$", text):
            dots += 1
    return "," if commas > dots else "."


def parse_number(text: str, decimal: str = ".") -> float:
    """``1,234.56``, ``1.234,56`` (with ``decimal=','``), ``1 234``, ``$12``, ``--`` (0)."""
    text = str(text).strip().replace("\u00a0", "").replace("\u202f", "")
    if text in ("", "--", "-", "—"):
        return 0.0
    negative = text.startswith("-") or (text.startswith("(") and text.endswith(")"))
    digits = _NUMBER.sub("", text).lstrip("-")
    thousands = "," if decimal == "." else "."
    digits = digits.replace(thousands, "").replace(decimal, ".")
    if not digits or digits.count(".") > 1:
        raise ValueError(f"not a number: {text!r}")
    return -float(digits) if negative else float(digits)


def _currency(frame: pd.DataFrame, columns: dict) -> str:
    cost = columns.get("cost", "")
    if match := re.search(r"\(([A-Z]{3})\)", cost):
        return match.group(1)
    if "Currency code" in frame.columns and len(frame):
        codes = {c for c in frame["Currency code"] if c and c != "--"}
        return ", ".join(sorted(codes))
    return ""


def _is_total(record: pd.Series) -> bool:
    return str(record.iloc[0]).strip().lower().startswith("total")


def _row(record, columns, path: Path, sha, platform, line, decimal, currency) -> ReportRow:
    def number(field: str) -> float:
        if field not in columns:
            return 0.0
        try:
            return parse_number(record[columns[field]], decimal)
        except ValueError as exc:
            raise ReportError(f"{path}, line {line}, column {columns[field]!r}: {exc}") from None

    return ReportRow(
        str(path), sha, platform, line, _cell(record, columns, "campaign"), _cell(record, columns, "ad_set"),
        _cell(record, columns, "ad_name"), " ".join(str(cell) for cell in record), _day(record, columns, path, line),
        int(round(number("impressions"))), int(round(number("clicks"))), number("conversions"), number("cost"), currency,
    )  # fmt: skip


def _cell(record, columns: dict, field: str) -> str:
    return str(record[columns[field]]).strip() if field in columns else ""


def _day(record, columns: dict, path: Path, line: int) -> date | None:
    text = _cell(record, columns, "day")
    if not text:
        return None
    try:
        return pd.to_datetime(text, format="mixed").date()
    except (ValueError, TypeError):
        raise ReportError(f"{path}, line {line}, column {columns['day']!r}: not a date: {text!r}") from None
