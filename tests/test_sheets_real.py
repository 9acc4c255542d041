"""Campaign files as real spreadsheet programs write them: LibreOffice Calc's own XLSX, ODS and
semicolon/Windows-1252 CSV (tests/fixtures/sheets/, made by make_fixtures.py with soffice),
title rows above the table (Numbers' "Include table names", a marketer's heading), a header
with a non-breaking space, and short files whose code page is ambiguous."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import good_row
from openpyxl import Workbook

from pixio_ads.campaign.sheets import _hidden_ods_sheets
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.core.errors import ValidationError

FIXTURES = Path(__file__).parent / "fixtures" / "sheets"
LIBREOFFICE = ["libreoffice.xlsx", "libreoffice.ods", "libreoffice-semicolon-cp1252.csv"]


@pytest.mark.parametrize("name", LIBREOFFICE)
def test_files_libreoffice_wrote_read_as_the_same_campaign(campaign_dir, name):
    path = shutil.copy(FIXTURES / name, campaign_dir / name)
    campaign = load_campaign(path)
    rows = {row.product_id: row for row in campaign.rows}
    assert set(rows) == {"widget", "gadget"}
    # "Product\u00a0ID" is the product_id column; accents survive every encoding
    assert rows["widget"].product_name == "Widget Café" and rows["gadget"].product_name == "Gadget Crème"
    assert rows["widget"].variants == 2 and rows["widget"].base_seed == 7  # numbers typed as numbers
    assert rows["gadget"].formats and len(rows["gadget"].formats) == 2
    if name.endswith(".csv"):
        assert any("read as cp1252 text with semicolons" in w for w in campaign.warnings)
    else:
        assert campaign.sheet == "campaign"  # not the hidden lookup sheet


def test_a_hidden_ods_sheet_is_seen_as_hidden():
    assert _hidden_ods_sheets(FIXTURES / "libreoffice.ods") == {"lookup"}


def _xlsx_with_title(path: Path, rows: list[dict]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["Spring campaign 2026"])  # a heading, or the table name Numbers writes
    sheet.append([])
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    book.save(path)
    return path


def test_a_title_above_the_table_is_skipped_and_rows_keep_their_numbers(campaign_dir):
    path = _xlsx_with_title(campaign_dir / "titled.xlsx", [good_row(), good_row(product_id="b", formats="huge")])
    with pytest.raises(ValidationError) as caught:
        load_campaign(path)
    (issue,) = caught.value.issues
    assert issue.row == 5 and issue.column == "formats"  # title 1, blank 2, header 3, rows 4-5
    path = _xlsx_with_title(campaign_dir / "titled.xlsx", [good_row()])
    campaign = load_campaign(path)
    assert [row.product_id for row in campaign.rows] == ["widget"]
    assert any("the header is row 3" in w and "Spring campaign 2026" in w for w in campaign.warnings)


def test_a_csv_with_a_table_name_line_reads_from_its_header(campaign_dir):
    header = ",".join(good_row())
    lines = ["Table 1", header, ",".join(good_row().values()), ",".join(good_row(product_id="b", cta="").values())]
    path = campaign_dir / "numbers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_campaign(path)
    assert [(i.row, i.column) for i in caught.value.issues] == [(4, "cta")]  # line 4 of the file


def test_a_short_central_european_file_stays_windows_1250(campaign_dir):
    row = good_row(product_name="Zażółć gęślą jaźń", formats="square")
    text = ";".join(row) + "\n" + ";".join(row.values()).replace("makers; parents", "makers") + "\n"
    path = campaign_dir / "polish.csv"
    path.write_bytes(text.encode("cp1250"))
    campaign = load_campaign(path)
    assert campaign.rows[0].product_name == "Zażółć gęślą jaźń"


def test_a_summary_sheet_first_is_passed_over_for_the_campaign_table(campaign_dir):
    """Numbers' Excel export can put an "Export Summary" sheet first; the sheet used is the
    first one whose rows carry the campaign's header."""
    book = Workbook()
    summary = book.active
    summary.title = "Export Summary"
    summary.append(["This document was exported from Numbers."])
    summary.append(["Sheet 1 - Table 1"])
    table = book.create_sheet("Sheet 1 - Table 1")
    table.append(["Table 1"])
    table.append(list(good_row()))
    table.append(list(good_row().values()))
    path = campaign_dir / "numbers.xlsx"
    book.save(path)
    campaign = load_campaign(path)
    assert campaign.sheet == "Sheet 1 - Table 1" and [row.product_id for row in campaign.rows] == ["widget"]
    assert any("the header is row 2" in w for w in campaign.warnings)


def _csv_lines(row: dict, delimiter: str = ",") -> list[str]:
    return [delimiter.join(row), delimiter.join(f'"{value}"' for value in row.values())]


def test_excels_sep_hint_line_names_the_delimiter(campaign_dir):
    row = good_row(formats="square")
    path = campaign_dir / "hinted.csv"
    path.write_text("\n".join(["sep=;", *_csv_lines(row, ";")]) + "\n", encoding="utf-8")
    campaign = load_campaign(path)
    assert campaign.rows[0].audiences == ("makers", "parents")
    assert not any("ignored" in w for w in campaign.warnings)  # the hint is no title


def test_csv_macintosh_carriage_returns_and_mac_roman(campaign_dir):
    path = campaign_dir / "mac.csv"
    path.write_bytes(
        ("\r".join(_csv_lines(good_row(product_name="Crème brûlée", formats="square"))) + "\r").encode("mac_roman")
    )
    assert load_campaign(path).rows[0].product_name == "Crème brûlée"


def test_a_title_line_with_a_comma_is_not_taken_for_the_header(campaign_dir):
    header, first = _csv_lines(good_row(formats="square"))
    _, second = _csv_lines(good_row(product_id="b", formats="square", cta=""))
    path = campaign_dir / "titled.csv"
    path.write_text("\n".join(["Spring campaign, 2026", "", header, first, second]) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_campaign(path)
    assert [(i.row, i.column) for i in caught.value.issues] == [(5, "cta")]
