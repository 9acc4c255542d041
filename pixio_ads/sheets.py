"""Reading campaign files: CSV, XLSX/XLSM and Parquet into one frame of text cells.

Cells come back as stripped-of-nothing strings (validation in campaign.py decides what they
mean); headers are lower-cased with spaces as underscores. A file that is no spreadsheet, a
missing file and duplicated headers are ValidationErrors naming the file.
"""

from __future__ import annotations

import csv
import io
import re
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
        return _read_csv(path, warnings), None
    if suffix == ".parquet":
        frame = pd.read_parquet(path).astype(object)
        return frame.where(frame.notna(), "").astype(str), None
    # data_only=False: a formula comes back as its text ("=...") so it can be rejected; with
    # pandas' default we would silently get its cached result.
    with pd.ExcelFile(path, engine="openpyxl", engine_kwargs={"data_only": False}) as book:
        names = [str(name) for name in book.sheet_names]
        # hidden sheets (lookup tables, old versions) are never the campaign unless named so
        visible = [name for name in names if book.book[name].sheet_state == "visible"] or names
        sheet = next((name for name in names if name.strip().lower() == PREFERRED_SHEET), visible[0])
        if len(names) > 1:
            warnings.append(
                f"{path}: workbook has {len(names)} sheets ({', '.join(names)}); using sheet {sheet!r}"
                f" (name a sheet {PREFERRED_SHEET!r} to choose another)"
            )
        frame = pd.read_excel(book, sheet_name=sheet, dtype=str, keep_default_na=False, na_filter=False)
    _note_dates(frame, path, warnings)
    _note_headerless_columns(frame, path, warnings)
    return frame, sheet


_EXCEL_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$")


def _note_dates(frame: pd.DataFrame, path: Path, warnings: list[str]) -> None:
    """Excel turns text such as '3/4' or 'Jan 5' into a date: such a cell is read as the
    date (YYYY-MM-DD), and a warning names it, since the typed text cannot be recovered."""
    for column in frame.columns:
        for index, value in frame[column].items():
            if isinstance(value, str) and (match := _EXCEL_DATE.match(value)):
                frame.at[index, column] = match[1]
                warnings.append(
                    f"{path}, row {index + 2}, column '{str(column).strip()}': Excel stored this cell as a date; "
                    f"it is read as {match[1]} (format the column as Text and type it again if you meant text)"
                )


def _note_headerless_columns(frame: pd.DataFrame, path: Path, warnings: list[str]) -> None:
    """A column without a header (e.g. under a merged header cell) is ignored: say so when
    it holds values."""
    for position, column in enumerate(frame.columns):
        if str(column).startswith("Unnamed:") and frame[column].astype(str).str.strip().ne("").any():
            letter = _column_letter(position)
            warnings.append(
                f"{path}: column {letter} has values but no header (merged header cells?); it is ignored "
                "(give every column its own header cell in row 1)"
            )


def _column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


# --- CSV as spreadsheet programs write it ----------------------------------------------------

DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _read_csv(path: Path, warnings: list[str]) -> pd.DataFrame:
    """Excel in many European locales writes ';' and Windows-1252, its "Unicode text" is
    tab-separated UTF-16, Google Sheets and Numbers write UTF-8 with commas: the encoding and
    the delimiter are detected, and said when they are not plain UTF-8 with commas."""
    data = path.read_bytes()
    text, encoding = _decode(data)
    delimiter = _delimiter(path, text)
    if (encoding, delimiter) not in (("utf-8", ","), ("utf-8-sig", ",")):
        warnings.append(f"{path}: read as {encoding} text with {DELIMITERS[delimiter]} between columns")
    return pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skip_blank_lines=False)


def _decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): a byte-order mark first, then strict UTF-8, then charset-normalizer's
    best guess (Windows-1252, Latin-1, ...)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    head = data[:8192]
    if head.count(b"\x00") > len(head) // 100:  # a stray NUL in a cell is the cell's problem
        raise ValueError("it contains binary data")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["cp1252", "latin_1", "cp1250", "mac_roman", "utf_16"]).best()
    if best is None:
        raise ValueError(
            "its text encoding could not be recognised (tried UTF-8, UTF-16, Windows-1252, Latin-1, Mac Roman)"
        )
    return str(best), best.encoding


def _delimiter(path: Path, text: str) -> str:
    """The delimiter that splits the header row into the most columns; refused when two
    candidates split it equally (the file would mean different things)."""
    header = next(iter(text.splitlines()), "")
    counts = {delimiter: len(next(csv.reader([header], delimiter=delimiter))) for delimiter in DELIMITERS}
    best = max(counts.values())
    winners = [delimiter for delimiter, count in counts.items() if count == best]
    if best < 2 or len(winners) > 1:
        tried = ", ".join(f"{DELIMITERS[d]} ({counts[d]} column(s))" for d in DELIMITERS)
        raise ValueError(
            f"its columns are not separated by commas, semicolons or tabs in any clear way; tried {tried}"
        )
    return winners[0]
