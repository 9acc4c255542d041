"""Reading campaign files: CSV, XLSX/XLSM and Parquet into one frame of text cells.

Cells come back as stripped-of-nothing strings (validation in campaign.py decides what they
mean); headers are lower-cased with spaces as underscores. A file that is no spreadsheet, a
missing file and duplicated headers are ValidationErrors naming the file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pixio_ads.errors import Issue, ValidationError

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".parquet")
PREFERRED_SHEET = "campaign"
_KINDS = {".csv": "CSV text", ".parquet": "Parquet", ".xlsx": "Excel workbook", ".xlsm": "Excel workbook"}


def read_sheet(path: Path, known_columns: list[str]) -> tuple[pd.DataFrame, str | None, list[str]]:
    """(frame of text cells, sheet name for workbooks, warnings)."""
    file = str(path)
    if not path.is_file():
        raise ValidationError([Issue(file, "campaign file not found", "check the path")])
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        fix = "save the campaign as " + ", ".join(SUPPORTED_SUFFIXES)
        raise ValidationError([Issue(file, f"unsupported file type {suffix or '(none)'!r}", fix)])
    warnings: list[str] = []
    try:
        frame, sheet = _read_frame(path, suffix, warnings)
    except ValidationError:
        raise
    except Exception as exc:  # pandas/openpyxl raise many types for non-spreadsheets
        message = f"cannot read this file as {_KINDS[suffix]}: {exc}"
        raise ValidationError([Issue(file, message, f"export the campaign again as a real {suffix} file")]) from None
    frame = frame.rename(columns=lambda name: str(name).strip().lower().replace(" ", "_"))
    duplicated = sorted({name for name in frame.columns if list(frame.columns).count(name) > 1})
    if duplicated:
        raise ValidationError(
            [
                Issue(file, f"column {name!r} appears more than once", "keep one of them", column=name)
                for name in duplicated
            ]
        )
    unknown = [name for name in frame.columns if name not in known_columns and not name.startswith("unnamed:")]
    if unknown:
        warnings.append(
            f"{file}: ignoring unknown column(s) {', '.join(unknown)}; known columns: {', '.join(known_columns)}"
        )
    return frame, sheet, warnings


def _read_frame(path: Path, suffix: str, warnings: list[str]) -> tuple[pd.DataFrame, str | None]:
    if suffix == ".csv":
        if b"\x00" in path.read_bytes()[:8192]:
            raise ValueError("it contains binary data")
        return pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig"), None
    if suffix == ".parquet":
        frame = pd.read_parquet(path).astype(object)
        return frame.where(frame.notna(), "").astype(str), None
    # data_only=False: a formula comes back as its text ("=...") so it can be rejected; with
    # pandas' default we would silently get its cached result.
    with pd.ExcelFile(path, engine="openpyxl", engine_kwargs={"data_only": False}) as book:
        names = [str(name) for name in book.sheet_names]
        sheet = next((name for name in names if name.strip().lower() == PREFERRED_SHEET), names[0])
        if len(names) > 1:
            warnings.append(
                f"{path}: workbook has {len(names)} sheets ({', '.join(names)}); using sheet {sheet!r}"
                f" (name a sheet {PREFERRED_SHEET!r} to choose another)"
            )
        return pd.read_excel(book, sheet_name=sheet, dtype=str, keep_default_na=False, na_filter=False), sheet
