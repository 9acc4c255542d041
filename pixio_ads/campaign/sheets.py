"""Reading campaign files: CSV, XLSX/XLSM, ODS and Parquet into one frame of text cells.

Cells come back as stripped-of-nothing strings (validation in spreadsheet.py decides what they
mean); headers are lower-cased with spaces as underscores. A file that is no spreadsheet, a
missing file and duplicated headers are ValidationErrors naming the file.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pixio_ads.core.errors import Issue, ValidationError

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".ods", ".parquet")
PREFERRED_SHEET = "campaign"
_KINDS = {
    ".csv": "CSV text",
    ".parquet": "Parquet",
    ".xlsx": "Excel workbook",
    ".xlsm": "Excel workbook",
    ".ods": "OpenDocument spreadsheet",
}
_ENGINES = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".ods": "odf"}  # pandas' readers


@dataclass
class Sheet:
    frame: pd.DataFrame  # text cells, columns named by header_name
    name: str | None  # the sheet read, for workbooks
    warnings: list[str]
    header_row: int = 1  # the spreadsheet row of the header; data starts below it


def read_sheet(path: Path, known_columns: list[str]) -> Sheet:
    """The campaign's cells, the sheet used and what the user should know about how it was read."""
    file = str(path)
    if not path.is_file():
        raise ValidationError([Issue(file, "campaign file not found", "check the path")])
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        fix = "save the campaign as " + ", ".join(SUPPORTED_SUFFIXES)
        raise ValidationError([Issue(file, f"unsupported file type {suffix or '(none)'!r}", fix)])
    warnings: list[str] = []
    try:
        frame, sheet, rows_above = _read_frame(path, suffix, known_columns, warnings)
    except ValidationError:
        raise
    except Exception as exc:  # pandas/openpyxl raise many types for non-spreadsheets
        message = f"cannot read this file as {_KINDS[suffix]}: {exc}"
        raise ValidationError([Issue(file, message, f"export the campaign again as a real {suffix} file")]) from None
    frame, header_row = _find_header(frame, known_columns, path, warnings)
    header_row += rows_above
    if suffix in _ENGINES:
        _note_dates(frame, path, header_row, warnings)
        _note_headerless_columns(frame, path, warnings)
    frame = frame.rename(columns=header_name)
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
    return Sheet(frame, sheet, warnings, header_row)


def header_name(name) -> str:
    """A header cell as a column name: "Product ID", "product id " and "Product\u00a0ID" (a
    non-breaking space, as spreadsheets keep from pasted text) all become ``product_id``."""
    return "_".join(unicodedata.normalize("NFKC", str(name)).lower().split())


def _read_frame(
    path: Path, suffix: str, known_columns: list[str], warnings: list[str]
) -> tuple[pd.DataFrame, str | None, int]:
    """(frame, sheet name for workbooks, lines skipped above the table: row numbers count
    from the file's first line)."""
    if suffix == ".csv":
        frame, rows_above = _read_csv(path, warnings)
        return frame, None, rows_above
    if suffix == ".parquet":
        frame = pd.read_parquet(path).astype(object)
        return frame.where(frame.notna(), "").astype(str), None, 0
    # data_only=False: a formula in an XLSX comes back as its text ("=...") so it can be
    # rejected; with pandas' default we would silently get its cached result. (An ODS gives
    # the formula's value: odfpy keeps no formula text for pandas.)
    engine = _ENGINES[suffix]
    options = {"engine_kwargs": {"data_only": False}} if engine == "openpyxl" else {}
    with pd.ExcelFile(path, engine=engine, **options) as book:
        names = [str(name) for name in book.sheet_names]
        # hidden sheets (lookup tables, old versions) are never the campaign unless named so
        hidden = _hidden_ods_sheets(path) if engine == "odf" else _hidden_xlsx_sheets(book)
        visible = [name for name in names if name not in hidden] or names
        sheet = next((name for name in names if name.strip().lower() == PREFERRED_SHEET), None)
        sheet = sheet or _first_campaign_sheet(book, visible, known_columns)
        if len(names) > 1:
            warnings.append(
                f"{path}: workbook has {len(names)} sheets ({', '.join(names)}); using sheet {sheet!r}"
                f" (name a sheet {PREFERRED_SHEET!r} to choose another)"
            )
        frame = pd.read_excel(book, sheet_name=sheet, dtype=str, keep_default_na=False, na_filter=False)
    return frame, sheet, 0


HEADER_SEARCH_ROWS = 10  # how far down a header under title rows is looked for


def _known_count(cells, known_columns: list[str]) -> int:
    return sum(header_name(cell) in known_columns for cell in cells)


def _find_header(
    frame: pd.DataFrame, known_columns: list[str], path: Path, warnings: list[str]
) -> tuple[pd.DataFrame, int]:
    """(frame, header row). Row 1 is the header unless it names fewer than two known columns
    and a row below does (a title above the table, or the table name Numbers writes with
    "Include table names"): then that row is the header, what is above it is ignored and a
    warning says so. Row numbers in every message count from the file's first row."""
    if _known_count(frame.columns, known_columns) >= 2:
        return frame, 1
    for position in range(min(HEADER_SEARCH_ROWS, len(frame))):
        cells = [str(cell) for cell in frame.iloc[position]]
        if _known_count(cells, known_columns) >= 2:
            above = [str(c) for c in frame.columns if not str(c).startswith("Unnamed:")]
            above += [str(c) for i in range(position) for c in frame.iloc[i] if str(c).strip()]
            header_row = position + 2
            warnings.append(
                f"{path}: the header is row {header_row}; the row(s) above it are ignored"
                + (f" ({'; '.join(above)[:80]})" if above else "")
            )
            body = frame.iloc[position + 1 :].reset_index(drop=True)
            body.columns = [cell if cell.strip() else f"Unnamed: {i}" for i, cell in enumerate(cells)]
            return body, header_row
    return frame, 1


def _first_campaign_sheet(book: pd.ExcelFile, visible: list[str], known_columns: list[str]) -> str:
    """The first visible sheet with a header of known columns in its first rows, else the first
    visible one: Numbers' Excel export may put an "Export Summary" sheet first."""
    for name in visible:
        top = pd.read_excel(book, sheet_name=name, header=None, nrows=HEADER_SEARCH_ROWS, dtype=str)
        if any(_known_count(row, known_columns) >= 2 for row in top.fillna("").itertuples(index=False)):
            return name
    return visible[0]


def _hidden_xlsx_sheets(book: pd.ExcelFile) -> set[str]:
    return {str(sheet.title) for sheet in book.book.worksheets if sheet.sheet_state != "visible"}


def _hidden_ods_sheets(path: Path) -> set[str]:
    """Sheets an ODS hides: their table style says ``table:display="false"`` (content.xml)."""
    import zipfile
    from xml.etree import ElementTree

    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    style = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as content:
        root = ElementTree.parse(content).getroot()
    hidden_styles = {
        element.get(f"{{{style}}}name")
        for element in root.iter(f"{{{style}}}style")
        if any(p.get(f"{{{table}}}display") == "false" for p in element.iter(f"{{{style}}}table-properties"))
    }
    return {
        element.get(f"{{{table}}}name")
        for element in root.iter(f"{{{table}}}table")
        if element.get(f"{{{table}}}style-name") in hidden_styles
    }


_EXCEL_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$")


def _note_dates(frame: pd.DataFrame, path: Path, header_row: int, warnings: list[str]) -> None:
    """Spreadsheets turn text such as '3/4' or 'Jan 5' into a date: such a cell is read as the
    date (YYYY-MM-DD), and a warning names it, since the typed text cannot be recovered."""
    for column in frame.columns:
        for index, value in frame[column].items():
            if isinstance(value, str) and (match := _EXCEL_DATE.match(value)):
                frame.at[index, column] = match[1]
                warnings.append(
                    f"{path}, row {index + header_row + 1}, column '{str(column).strip()}': the spreadsheet stored this cell as a date; "
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
_SINGLE_BYTE = ("cp1252", "latin_1", "cp1250", "mac_roman", "utf_16")  # by how common, for ties
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _read_csv(path: Path, warnings: list[str]) -> tuple[pd.DataFrame, int]:
    """Excel in many European locales writes ';' and Windows-1252, its "Unicode text" is
    tab-separated UTF-16, Google Sheets and Numbers write UTF-8 with commas: the encoding and
    the delimiter are detected, and said when they are not plain UTF-8 with commas."""
    data = path.read_bytes()
    text, encoding = _decode(data)
    delimiter, start = _delimiter(path, text)
    if (encoding, delimiter) not in (("utf-8", ","), ("utf-8-sig", ",")):
        warnings.append(f"{path}: read as {encoding} text with {DELIMITERS[delimiter]} between columns")
    frame = pd.read_csv(
        io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skip_blank_lines=False, skiprows=start
    )
    above = "; ".join(
        line.strip(delimiter + " ")
        for line in text.splitlines()[:start]
        if line.strip(delimiter + " ") and not _SEP_HINT.match(line)
    )
    if above:
        warnings.append(
            f"{path}: the table starts on line {start + 1}; the line(s) above it are ignored ({above[:80]})"
        )
    return frame, start


def _reads_as_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): a byte-order mark first, then strict UTF-8, then charset-normalizer's
    best guess (Windows-1252, Latin-1, ...)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), encoding
    head = data[:8192]
    # A stray NUL in a cell is the cell's problem (reported with its row and column): a few NULs
    # in text that reads as UTF-8 are cells; many, or any in bytes that are not text, a binary file.
    nuls = head.count(b"\x00")
    if nuls > len(head) // 100 and (nuls > 8 or not _reads_as_utf8(head)):
        raise ValueError("it contains binary data")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, cp_isolation=list(_SINGLE_BYTE)))
    if not matches:
        raise ValueError(
            "its text encoding could not be recognised (tried UTF-8, UTF-16, Windows-1252, Latin-1, "
            "Windows-1250, Mac Roman)"
        )
    # Short files often fit several code pages equally well ("Crème" is plausible in cp1250 as
    # "Crčme"): on a tie the more common one wins, Windows-1252 first.
    rank = {name: position for position, name in enumerate(_SINGLE_BYTE)}
    best = min(matches, key=lambda m: (round(m.chaos, 3), -round(m.coherence, 3), rank.get(m.encoding, len(rank))))
    return str(best), best.encoding


_SEP_HINT = re.compile(r'^"?sep=(.)"?\s*$')  # Excel's first-line hint: sep=;


def _fields(line: str, delimiter: str) -> int:
    return len(next(csv.reader([line], delimiter=delimiter), []))


def _delimiter(path: Path, text: str) -> tuple[str, int]:
    """(delimiter, lines above the table). Excel's ``sep=;`` first line names it. Otherwise
    the table's first line is the first as wide as half the widest of the first lines (a
    title line above it, as some exports write, is skipped), and the delimiter is the one
    that splits it into the most columns; refused when two split it equally (the file
    would mean different things)."""
    lines = text.splitlines()[:HEADER_SEARCH_ROWS] or [""]
    hint = _SEP_HINT.match(lines[0])
    if hint and hint[1] in DELIMITERS:
        return hint[1], 1
    widest = max(_fields(line, delimiter) for line in lines for delimiter in DELIMITERS)
    for start, header in enumerate(lines):
        counts = {delimiter: _fields(header, delimiter) for delimiter in DELIMITERS}
        if max(counts.values()) >= 2 and 2 * max(counts.values()) >= widest:
            break
    else:
        start, counts = 0, {delimiter: _fields(lines[0], delimiter) for delimiter in DELIMITERS}
    best = max(counts.values())
    winners = [delimiter for delimiter, count in counts.items() if count == best]
    if best < 2 or len(winners) > 1:
        tried = ", ".join(f"{DELIMITERS[d]} ({counts[d]} column(s))" for d in DELIMITERS)
        raise ValueError(
            f"its columns are not separated by commas, semicolons or tabs in any clear way; tried {tried}"
        )
    return winners[0], start
