"""Campaign loading: every bad input gets an error naming file, row and column."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from helpers import EXAMPLE_CAMPAIGN, good_row, write_csv
from openpyxl import Workbook

from pixio_ads.campaign.rows import split_multi
from pixio_ads.campaign.spreadsheet import load_campaign
from pixio_ads.core.errors import ValidationError


def issues_of(path):
    with pytest.raises(ValidationError) as caught:
        load_campaign(path)
    return caught.value.issues


def only_issue(path):
    issues = issues_of(path)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def test_example_campaign_csv_and_xlsx_agree():
    csv_campaign = load_campaign(EXAMPLE_CAMPAIGN)
    xlsx_campaign = load_campaign(EXAMPLE_CAMPAIGN.with_suffix(".xlsx"))
    assert len(csv_campaign.rows) == 3
    assert xlsx_campaign.sheet == "campaign"

    def strip(rows):
        return [
            (r.product_id, r.audiences, r.styles, r.formats, r.variants, r.base_seed, r.product_image_sha256)
            for r in rows
        ]

    assert strip(csv_campaign.rows) == strip(xlsx_campaign.rows)


def test_multi_valued_cells_split_one_way():
    assert split_multi(" square ;story;; ") == ("square", "story")


def test_missing_required_column(campaign_dir):
    row = good_row()
    del row["cta"]
    issue = only_issue(write_csv(campaign_dir, [row]))
    assert issue.column == "cta" and issue.row == 1 and "missing" in issue.message


def test_empty_required_cell_names_row_and_column(campaign_dir):
    path = write_csv(campaign_dir, [good_row(), good_row(product_id="w2", headline="")])
    issue = only_issue(path)
    assert (issue.row, issue.column) == (3, "headline")
    assert str(path) in str(issue) and "row 3" in str(issue) and "'headline'" in str(issue)


def test_unknown_format_and_template(campaign_dir):
    issues = issues_of(write_csv(campaign_dir, [good_row(formats="square; squar", template="nope")]))
    by_column = {i.column: i for i in issues}
    assert by_column["formats"].value == "squar" and "square, portrait, story, landscape" in by_column["formats"].fix
    assert by_column["template"].value == "nope" and "studio" in by_column["template"].fix
    assert all(i.row == 2 for i in issues)


def test_custom_format_accepted(campaign_dir):
    campaign = load_campaign(write_csv(campaign_dir, [good_row(formats="1200x900")]))
    assert [(f.width, f.height) for f in campaign.rows[0].formats] == [(1200, 900)]


@pytest.mark.parametrize(
    "image, message",
    [
        ("products/missing.png", "not found"),
        ("/etc/passwd", "absolute"),
        ("C:\\images\\x.png", "absolute"),
        ("ftp://example.com/x.png", "URL"),  # http(s) and object-store images are fetched (test_catalogue.py)
        ("http://127.0.0.1/x.png", "refused"),  # a private address (server-side request forgery)
        ("../outside.png", "leaves the campaign folder"),
        ("products/../../outside.png", "leaves the campaign folder"),
        ("products/not-an-image.png", "not a readable image"),
    ],
)
def test_bad_product_images(campaign_dir, image, message):
    (campaign_dir / "products" / "not-an-image.png").write_text("hello")
    (campaign_dir.parent / "outside.png").write_bytes((campaign_dir / "products" / "widget.png").read_bytes())
    issue = only_issue(write_csv(campaign_dir, [good_row(product_image=image)]))
    assert (issue.row, issue.column) == (2, "product_image")
    assert message in issue.message


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"])
def test_formula_cells_are_rejected_not_evaluated(campaign_dir, cell):
    issue = only_issue(write_csv(campaign_dir, [good_row(headline=cell)]))
    assert (issue.row, issue.column) == (2, "headline")
    assert "formula" in issue.message and issue.value == cell


def test_xlsx_formula_is_rejected(campaign_dir):
    book = Workbook()
    sheet = book.active
    row = good_row()
    sheet.append(list(row))
    sheet.append(list(row.values()))
    sheet["I2"] = '=CONCAT("a","b")'  # headline column
    book.save(campaign_dir / "c.xlsx")
    issue = only_issue(campaign_dir / "c.xlsx")
    assert (issue.row, issue.column) == (2, "headline") and "formula" in issue.message


def test_all_errors_are_collected(campaign_dir):
    rows = [good_row(headline=""), good_row(product_id="b", formats="huge"), good_row(product_id="c", variants="two")]
    issues = issues_of(write_csv(campaign_dir, rows))
    assert [(i.row, i.column) for i in issues] == [(2, "headline"), (3, "formats"), (4, "variants")]


def test_numbers_and_ids(campaign_dir):
    rows = [
        good_row(variants="0"),
        good_row(product_id="has space"),
        good_row(product_id="z", steps="2.5", guidance="x"),
    ]
    issues = issues_of(write_csv(campaign_dir, rows))
    assert {(i.row, i.column) for i in issues} == {(2, "variants"), (3, "product_id"), (4, "steps"), (4, "guidance")}


def test_empty_rows_skipped_and_row_numbers_kept(campaign_dir):
    path = write_csv(campaign_dir, [good_row()])
    text = path.read_text()
    header, first = text.splitlines()[:2]
    path.write_text(
        f"{header}\n{first}\n,,,,,,,,,\n\n{first.replace('widget,Widget', 'w2,W2')}\n".replace("Build more", "")
    )
    issues = issues_of(path)
    assert [(i.row, i.column) for i in issues] == [(2, "headline"), (5, "headline")]


def test_unknown_column_is_a_warning(campaign_dir):
    campaign = load_campaign(write_csv(campaign_dir, [good_row(colour="red")]))
    assert any("colour" in w for w in campaign.warnings)


def test_not_a_spreadsheet(campaign_dir):
    (campaign_dir / "c.xlsx").write_text("just some text")
    issue = only_issue(campaign_dir / "c.xlsx")
    assert "cannot read this file as Excel workbook" in issue.message
    (campaign_dir / "c.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    assert "binary" in only_issue(campaign_dir / "c.csv").message
    (campaign_dir / "c.txt").write_text("a,b")
    assert "unsupported file type" in only_issue(campaign_dir / "c.txt").message
    assert "not found" in only_issue(campaign_dir / "nope.csv").message


def test_xlsx_with_several_sheets_uses_campaign_sheet(campaign_dir):
    path = campaign_dir / "multi.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([{"notes": "ignore me"}]).to_excel(writer, sheet_name="notes", index=False)
        pd.DataFrame([good_row()]).to_excel(writer, sheet_name="Campaign", index=False)
    campaign = load_campaign(path)
    assert campaign.sheet == "Campaign" and len(campaign.rows) == 1
    assert any("using sheet 'Campaign'" in w for w in campaign.warnings)


def test_xlsx_without_campaign_sheet_uses_first_and_says_so(campaign_dir):
    path = campaign_dir / "multi.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame([good_row()]).to_excel(writer, sheet_name="spring", index=False)
        pd.DataFrame([{"notes": "x"}]).to_excel(writer, sheet_name="notes", index=False)
    campaign = load_campaign(path)
    assert campaign.sheet == "spring" and any("using sheet 'spring'" in w for w in campaign.warnings)


def test_parquet_campaign(campaign_dir):
    path = campaign_dir / "c.parquet"
    pd.DataFrame([good_row(variants=2)]).to_parquet(path)
    assert load_campaign(path).rows[0].variants == 2


def test_campaign_templates_folder_wins(campaign_dir):
    (campaign_dir / "templates").mkdir()
    (campaign_dir / "templates" / "mine.j2").write_text("{{ product_name }} on {{ style }}")
    campaign = load_campaign(write_csv(campaign_dir, [good_row(template="mine")]))
    assert campaign.rows[0].template_path == campaign_dir / "templates" / "mine.j2"


def test_template_names_cannot_be_paths(campaign_dir):
    issue = only_issue(write_csv(campaign_dir, [good_row(template="../../etc/passwd")]))
    assert issue.column == "template"


def test_fifty_thousand_rows_validate_in_seconds(campaign_dir):
    rows = [good_row(product_id=f"p{i}") for i in range(50_000)]
    rows[49_999]["formats"] = "bogus"
    path = write_csv(campaign_dir, rows)
    started = time.perf_counter()
    issue = only_issue(path)
    elapsed = time.perf_counter() - started
    assert (issue.row, issue.column) == (50_001, "formats")
    assert elapsed < 30, f"50,000 rows took {elapsed:.1f}s"  # a guard against quadratic work, not a benchmark


# --- files as spreadsheet programs write them ---------------------------------------------


def _export(campaign_dir, rows: list[dict], delimiter: str, encoding: str, name: str = "export.csv"):
    columns = list(rows[0])
    lines = [delimiter.join(columns)] + [delimiter.join(row[c] for c in columns) for row in rows]
    path = campaign_dir / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def test_excel_european_csv_semicolons_and_windows_1252(campaign_dir):
    row = good_row(headline="Café crème – 20 € off", formats="square", audiences="makers", styles="minimal")
    campaign = load_campaign(_export(campaign_dir, [row], ";", "cp1252"))
    assert campaign.rows[0].headline == "Café crème – 20 € off"
    assert any("cp1252" in w and "semicolons" in w for w in campaign.warnings), campaign.warnings


def test_excel_unicode_text_is_utf16_with_tabs(campaign_dir):
    row = good_row(headline="Frühling ☀ — jetzt", formats="square")
    path = _export(campaign_dir, [row], "\t", "utf-16")  # Python writes the BOM, as Excel does
    campaign = load_campaign(path)
    assert campaign.rows[0].headline == "Frühling ☀ — jetzt"
    assert any("utf-16" in w and "tabs" in w for w in campaign.warnings)


def test_non_breaking_and_trailing_spaces_in_headers_and_values(campaign_dir):
    row = {f"{key}\u00a0 " if key == "headline" else key: value for key, value in good_row().items()}
    row["formats"] = "square;\u00a0story "
    campaign = load_campaign(write_csv(campaign_dir, [row]))
    assert campaign.rows[0].headline == "Build more"
    assert [f.name for f in campaign.rows[0].formats] == ["square", "story"]


def test_a_csv_without_clear_separators_is_refused_saying_what_was_tried(campaign_dir):
    path = campaign_dir / "odd.csv"
    path.write_text("campaign_id product_id\nx y\n", encoding="utf-8")
    issue = only_issue(path)
    assert "commas, semicolons or tabs" in issue.message and "tried" in issue.message


def test_hidden_sheets_are_not_taken_for_the_campaign(campaign_dir):
    from openpyxl import Workbook

    book = Workbook()
    hidden = book.active
    hidden.title = "lookup"
    hidden.append(["not", "a", "campaign"])
    hidden.sheet_state = "hidden"
    sheet = book.create_sheet("Sheet2")
    row = good_row(variants="2.0", formats="square")  # Excel hands whole numbers back as 2.0
    sheet.append(list(row))
    sheet.append(list(row.values()))
    path = campaign_dir / "book.xlsx"
    book.save(path)
    campaign = load_campaign(path)
    assert campaign.sheet == "Sheet2" and campaign.rows[0].variants == 2


def test_dates_excel_made_of_text_and_headerless_columns_are_named(campaign_dir):
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    row = good_row(formats="square")
    sheet.append([*row, None])  # a merged header leaves the last column without a name
    sheet.append([*row.values(), "left over"])
    sheet["J2"] = datetime(2026, 3, 4)  # 'cta' typed as 3/4: Excel stored a date
    path = campaign_dir / "dates.xlsx"
    book.save(path)
    campaign = load_campaign(path)
    assert campaign.rows[0].cta == "2026-03-04"
    (date,) = [w for w in campaign.warnings if "as a date" in w]
    assert "row 2, column 'cta'" in date and "format the column as Text" in date
    assert any("column K has values but no header" in w for w in campaign.warnings)


def test_symbols_no_font_has_are_a_warning_naming_row_and_column(campaign_dir):
    campaign = load_campaign(write_csv(campaign_dir, [good_row(headline="Summer sale \ua000 now", formats="square")]))
    (warning,) = [w for w in campaign.warnings if "no font" in w]
    assert "row 2, column 'headline'" in warning and "U+A000" in warning


def test_a_script_without_an_installed_font_is_an_error_naming_the_package(campaign_dir, monkeypatch, tmp_path):
    from pixio_ads.creative import scripts

    monkeypatch.setattr(scripts, "FONT_DIRS", (tmp_path / "no-fonts",))  # a machine without Noto
    scripts.system_font.cache_clear()
    try:
        with pytest.raises(ValidationError) as refused:
            load_campaign(write_csv(campaign_dir, [good_row(headline="夏のセール", formats="square")]))
    finally:
        scripts.system_font.cache_clear()
    (issue,) = refused.value.issues
    assert issue.column == "headline" and "U+590F" in issue.message and "no installed font" in issue.message
    assert "apt-get install fonts-noto-cjk" in issue.fix and "fonts.scripts.han" in issue.fix
    assert "shorten" not in str(issue)
