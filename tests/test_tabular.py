"""Reading real-world CSV and XLSX files into cleaned rows."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from clientops.core.tabular import (
    Limits,
    Table,
    TabularError,
    clean_cell,
    excel_damage,
    open_table,
)

CN_HEADERS = ["姓名", "手机", "邮箱", "公司", "地址"]
CN_TEXT = (
    "姓名,手机,邮箱,公司,地址\r\n"
    "张三,13800138000,zs@example.com,北京某某科技有限公司,北京市朝阳区建国路88号\r\n"
    "李四,13900139000,ls@example.cn,上海某某贸易有限公司,上海市浦东新区世纪大道100号\r\n"
)


def _write(tmp_path: Path, data: bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _workbook() -> tuple[Workbook, Worksheet]:
    """A new workbook and its first sheet."""
    book = openpyxl.Workbook()
    return book, book.worksheets[0]


def _rows(table: Table) -> list[tuple[int, list[str]]]:
    return list(table.rows)


def _error(exc: pytest.ExceptionInfo[TabularError]) -> dict[str, str]:
    return exc.value.errors


def test_utf8(tmp_path: Path) -> None:
    table = open_table(_write(tmp_path, CN_TEXT.encode("utf-8")))
    assert table.headers == CN_HEADERS
    assert (table.encoding, table.delimiter, table.confident) == ("utf-8", ",", True)
    rows = _rows(table)
    assert rows[0] == (
        2,
        ["张三", "13800138000", "zs@example.com", "北京某某科技有限公司", "北京市朝阳区建国路88号"],
    )
    assert [number for number, _ in rows] == [2, 3]


def test_utf8_with_bom(tmp_path: Path) -> None:
    table = open_table(_write(tmp_path, CN_TEXT.encode("utf-8-sig")))
    assert table.encoding == "utf-8-sig"
    assert table.headers == CN_HEADERS
    assert _rows(table)[1][1][0] == "李四"


@pytest.mark.parametrize("codec", ["gbk", "gb18030"])
def test_gb_encoded_chinese(tmp_path: Path, codec: str) -> None:
    table = open_table(_write(tmp_path, (CN_TEXT * 3).encode(codec)))
    assert table.encoding == "gb18030"
    assert table.headers == CN_HEADERS
    rows = _rows(table)
    assert rows[0][1][3] == "北京某某科技有限公司"
    assert len(rows) == 8  # the two repeated header lines are data rows here
    assert rows[-1] == (
        9,
        [
            "李四",
            "13900139000",
            "ls@example.cn",
            "上海某某贸易有限公司",
            "上海市浦东新区世纪大道100号",
        ],
    )


def test_utf16_with_bom_tab_separated(tmp_path: Path) -> None:
    text = CN_TEXT.replace(",", "\t")
    table = open_table(_write(tmp_path, text.encode("utf-16"), "export.txt"))
    assert (table.encoding, table.delimiter) == ("utf-16", "\t")
    assert table.headers == CN_HEADERS
    assert _rows(table)[0][1][1] == "13800138000"


def test_semicolon_delimiter(tmp_path: Path) -> None:
    text = "Name;Phone;City\nMüller;+49 30 1234567;Berlin, Mitte\nDupont;+33 1 23 45 67 89;Paris\n"
    table = open_table(_write(tmp_path, text.encode("utf-8")))
    assert table.delimiter == ";"
    assert _rows(table) == [
        (2, ["Müller", "+49 30 1234567", "Berlin, Mitte"]),
        (3, ["Dupont", "+33 1 23 45 67 89", "Paris"]),
    ]


def test_quoted_newline_counts_as_one_row(tmp_path: Path) -> None:
    text = 'name,address\nA,"Line 1\nLine 2\nLine 3"\nB,plain\n\nC,after blank\n'
    rows = _rows(open_table(_write(tmp_path, text.encode("utf-8"))))
    assert rows == [
        (2, ["A", "Line 1 Line 2 Line 3"]),
        (3, ["B", "plain"]),
        (5, ["C", "after blank"]),
    ]


def test_nul_byte_reports_line(tmp_path: Path) -> None:
    data = b"name,phone\nA,1\nB,\x002\n"
    with pytest.raises(TabularError) as exc:
        open_table(_write(tmp_path, data))
    assert _error(exc) == {"file": "nul_byte", "line": "3"}


@pytest.mark.parametrize(
    ("header", "duplicate"),
    [("姓名,手机,手机", "手机"), ("Name,Email,ＥＭＡＩＬ", "EMAIL"), ("a, Phone ,phone", "phone")],
)
def test_duplicate_header(tmp_path: Path, header: str, duplicate: str) -> None:
    with pytest.raises(TabularError) as exc:
        open_table(_write(tmp_path, f"{header}\n1,2,3\n".encode()))
    assert _error(exc) == {"header": "duplicate_header", "column": duplicate}


def test_empty_header_column_number(tmp_path: Path) -> None:
    with pytest.raises(TabularError) as exc:
        open_table(_write(tmp_path, b"name,,phone\nA,x,1\n"))
    assert _error(exc) == {"header": "empty_header", "column": "2"}


def test_trailing_empty_headers_are_dropped(tmp_path: Path) -> None:
    table = open_table(_write(tmp_path, b"name,phone,,\nA,1,,\nB\n"))
    assert table.headers == ["name", "phone"]
    assert _rows(table) == [(2, ["A", "1"]), (3, ["B", ""])]


def test_extra_non_empty_cell_is_an_error(tmp_path: Path) -> None:
    table = open_table(_write(tmp_path, b"name,phone\nA,1\nB,2,surprise\n"))
    rows = table.rows
    assert next(rows) == (2, ["A", "1"])
    with pytest.raises(TabularError) as exc:
        next(rows)
    assert _error(exc) == {"cells": "too_many_cells", "row": "3"}


def test_leading_blank_lines_and_header_row(tmp_path: Path) -> None:
    table = open_table(_write(tmp_path, b"\n,,\nname,phone\nA,1\n"))
    assert table.headers == ["name", "phone"]
    assert _rows(table) == [(4, ["A", "1"])]


def test_empty_file(tmp_path: Path) -> None:
    for data in (b"", b"\n , \n\n"):
        with pytest.raises(TabularError) as exc:
            open_table(_write(tmp_path, data))
        assert _error(exc) == {"file": "empty_file"}


def test_cells_are_cleaned(tmp_path: Path) -> None:
    text = "姓名,手机\n\u200b张\u200d三\u202e ,１３８　００１３\u200f８０００\n"
    assert _rows(open_table(_write(tmp_path, text.encode("utf-8")))) == [
        (2, ["张三", "138 00138000"])
    ]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ＡＢＣ１２３", "ABC123"),
        ("a\u3000\u3000b", "a b"),
        ("  two\nlines\r\n  here ", "two lines here"),
        ("\ufeffname", "name"),
        ("x\u2066y\u2069z\u2060", "xyz"),
        ("bell\x07 and\x1b esc\x85 nel", "bell and esc nel"),
        ("tab\tsep", "tab sep"),
        ("", ""),
    ],
)
def test_clean_cell(raw: str, clean: str) -> None:
    assert clean_cell(raw) == clean


def test_explicit_wrong_encoding(tmp_path: Path) -> None:
    path = _write(tmp_path, CN_TEXT.encode("gb18030"))
    with pytest.raises(TabularError) as exc:
        open_table(path, encoding="utf-8")
    assert _error(exc)["file"] == "encoding"
    assert _error(exc)["line"] == "1"


def test_explicit_encoding_is_honoured(tmp_path: Path) -> None:
    path = _write(tmp_path, "Name,City\nJosé,Bogotá\n".encode("cp1252"))
    table = open_table(path, encoding="cp1252")
    assert table.encoding == "cp1252"
    assert _rows(table) == [(2, ["José", "Bogotá"])]


def test_unknown_explicit_encoding(tmp_path: Path) -> None:
    with pytest.raises(TabularError) as exc:
        open_table(_write(tmp_path, b"a\n1\n"), encoding="no-such-codec")
    assert _error(exc)["file"] == "encoding"


def test_too_large(tmp_path: Path) -> None:
    path = _write(tmp_path, b"name\n" + b"x\n" * 100)
    with pytest.raises(TabularError) as exc:
        open_table(path, limits=Limits(max_bytes=100))
    assert _error(exc)["file"] == "too_large"
    assert open_table(path, limits=Limits(max_bytes=205)).headers == ["name"]


def test_too_many_rows_is_raised_while_iterating(tmp_path: Path) -> None:
    path = _write(tmp_path, b"name\na\nb\n\nc\n")
    assert len(_rows(open_table(path, limits=Limits(max_rows=3)))) == 3
    table = open_table(path, limits=Limits(max_rows=2))
    with pytest.raises(TabularError) as exc:
        _rows(table)
    assert _error(exc)["file"] == "too_many_rows"


def test_unterminated_quote_is_not_swallowed(tmp_path: Path) -> None:
    table = open_table(_write(tmp_path, b'name,note\nA,"open\nB,x\n'))
    with pytest.raises(TabularError) as exc:
        _rows(table)
    assert _error(exc)["file"] == "malformed_row"


def test_xlsx_values_as_the_user_saw_them(tmp_path: Path) -> None:
    book, sheet = _workbook()
    sheet.append(["姓名", "手机", "金额", "日期", "时间", "备注", "VIP"])
    sheet.append(
        ["张三", 13800138000, 1.5, date(2024, 5, 1), datetime(2024, 5, 1, 9, 30), None, True]
    )
    sheet.append([None, None, None, None, None, None, None])
    sheet.append(["李四", 42, 0.1 + 0.2, None, None, "ＶＩＰ\u200b客户", False])
    path = tmp_path / "customers.xlsx"
    book.save(path)

    table = open_table(path)
    assert (table.encoding, table.delimiter, table.confident) == (None, None, True)
    assert table.headers == ["姓名", "手机", "金额", "日期", "时间", "备注", "VIP"]
    assert _rows(table) == [
        (2, ["张三", "13800138000", "1.5", "2024-05-01", "2024-05-01 09:30:00", "", "TRUE"]),
        (4, ["李四", "42", "0.3", "", "", "VIP客户", "FALSE"]),
    ]


def test_xlsx_detected_by_content_and_sheet_by_name(tmp_path: Path) -> None:
    book, first = _workbook()
    first.append(["ignored"])
    second = book.create_sheet("客户")
    second["C3"] = "name"
    second["D3"] = "phone"
    second["C5"] = "A"
    second["D5"] = "1"
    path = tmp_path / "misnamed.csv"
    book.save(path)

    table = open_table(path, sheet="客户")
    assert table.headers == ["name", "phone"]
    assert _rows(table) == [(5, ["A", "1"])]
    assert open_table(path, sheet=1).headers == ["name", "phone"]
    with pytest.raises(TabularError) as exc:
        open_table(path, sheet="missing")
    assert _error(exc)["sheet"] == "sheet_not_found"


def test_xlsx_empty_header_reports_spreadsheet_column(tmp_path: Path) -> None:
    book, sheet = _workbook()
    sheet["B1"] = "name"
    sheet["D1"] = "phone"
    sheet["B2"] = "A"
    path = tmp_path / "gap.xlsx"
    book.save(path)
    with pytest.raises(TabularError) as exc:
        open_table(path)
    assert _error(exc) == {"header": "empty_header", "column": "3"}


def test_xlsx_zip_bomb_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(TabularError) as exc:
        open_table(path)
    assert _error(exc) == {"file": "zip_bomb", "member": "xl/worksheets/sheet1.xml"}


def test_xlsx_zip_bomb_total_size(tmp_path: Path) -> None:
    book, sheet = _workbook()
    sheet.append(["name"])
    path = tmp_path / "small.xlsx"
    book.save(path)
    assert open_table(path).headers == ["name"]
    with pytest.raises(TabularError) as exc:
        open_table(path, limits=Limits(max_unzipped_bytes=1000))
    assert _error(exc)["file"] == "zip_bomb"


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(TabularError) as exc:
        open_table(path)
    assert _error(exc) == {"file": "not_a_table"}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1.38E+10", "scientific_notation"),
        ("1.3800138E+10", "scientific_notation"),
        (" 4.40101E+17 ", "scientific_notation"),
        ("13800138000.0", "float_suffix"),
        ("110101.00", "float_suffix"),
        ("13800138000", None),
        ("1.0", None),
        ("1.5", None),
        ("E+10", None),
        ("Ernst", None),
        ("", None),
    ],
)
def test_excel_damage(value: str, code: str | None) -> None:
    assert excel_damage(value) == code


def test_short_ambiguous_legacy_text_is_not_confident(tmp_path: Path) -> None:
    table = open_table(_write(tmp_path, "Name,City\nJosé,Bogotá\n".encode("cp1252")))
    assert table.confident is False
    assert _rows(table) == [(2, ["José", "Bogotá"])]


def test_undecodable_bytes(tmp_path: Path) -> None:
    with pytest.raises(TabularError) as exc:
        open_table(_write(tmp_path, bytes(range(128, 256))))
    assert _error(exc)["file"] == "encoding"
