"""Hostile files and cells: each gets a clear, specific error and changes nothing."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clientops import config
from clientops.core.tabular import TabularError
from clientops.customers.models import Customer
from clientops.db import transaction
from clientops.imports import messages, service
from clientops.imports.models import Import
from clientops.jobs import flows as jobs_flows
from tests.test_imports_service import (
    SYSTEM,
    csv_bytes,
    customers,
    errors_by_row,
    import_file,
    report,
    run,
    upload,
)


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[None]:
    """DBOS in this process, taking no queued work."""
    jobs_flows.start(listen=False)
    yield
    jobs_flows.stop()


def _nothing_kept() -> None:
    with transaction() as db:
        assert db.scalar(select(func.count()).select_from(Import)) == 0
        assert db.scalar(select(func.count()).select_from(Customer)) == 0
    assert list(service.storage_dir().iterdir()) == []


def _refused(data: bytes, file_name: str = "bad.csv") -> dict[str, str]:
    with pytest.raises(TabularError) as exc:
        upload(data, file_name=file_name)
    _nothing_kept()
    return exc.value.errors


@pytest.fixture(autouse=True)
def empty_storage(database_url: str) -> Iterator[None]:
    """Each test starts with no stored uploads."""
    for path in service.storage_dir().iterdir():
        path.unlink()
    yield


# --- refused files ---------------------------------------------------------------------------


def test_nul_bytes(runtime: None) -> None:
    errors = _refused(b"name,phone\nA,13800138000\nB,\x00138\n")
    assert errors == {"file": "nul_byte", "line": "3"}
    assert "NUL" in messages.file_message(errors) and "3" in messages.file_message(errors)


def test_mixed_encodings(runtime: None) -> None:
    data = "姓名,手机\n".encode("gbk") + "张伟,13800138000\n".encode("gbk")
    data += "欧阳娜娜,13900139000\n".encode()
    errors = _refused(data)
    assert errors == {"file": "mixed_encoding", "line": "3"}


def test_bytes_in_no_encoding(runtime: None) -> None:
    assert _refused(bytes(range(128, 256)) * 4)["file"] == "encoding"


@pytest.mark.parametrize(
    ("header", "code"),
    [("姓名,,手机", "empty_header"), ("姓名,手机,姓名", "duplicate_header")],
)
def test_empty_or_duplicate_headers(runtime: None, header: str, code: str) -> None:
    errors = _refused(f"{header}\n张伟,13800138000,x\n".encode())
    assert errors["header"] == code


def test_empty_file(runtime: None) -> None:
    assert _refused(b"") == {"file": "empty_file"}


def test_oversized_file(runtime: None) -> None:
    with config.override(import_max_bytes=2048):
        errors = _refused(csv_bytes([["姓名", "手机"]] + [["张伟", "13800138000"]] * 200))
    assert errors == {"file": "too_large", "limit": "2048"}


def test_xlsx_zip_bomb(runtime: None, tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))
    with config.override(import_xlsx_max_ratio=50):
        errors = _refused(path.read_bytes(), "bomb.xlsx")
    assert errors["file"] == "zip_bomb"


def test_too_many_rows_is_refused_while_staging(runtime: None) -> None:
    rows = [[f"C{i}", f"客户{i}", f"1380000000{i}"] for i in range(6)]
    with config.override(import_max_rows=4):
        import_id = upload(csv_bytes([["客户编号", "姓名", "手机"], *rows]))
        imp = run(import_id)
    assert imp.status == "failed"
    assert imp.error == "The file has more than 4 rows."
    assert imp.options["refused"] is True
    assert customers() == {}


def test_an_unclosed_quote_is_refused_while_staging(runtime: None) -> None:
    data = b'name,phone\nA,13800138001\nB,13800138002\n"C,13800138003\n'
    imp = run(upload(data))
    assert imp.status == "failed" and imp.error is not None and "Row 4" in imp.error
    assert customers() == {}


# --- refused cells ---------------------------------------------------------------------------

HEADER = ["客户编号", "姓名", "手机", "邮箱", "职位", "邮编", "身份证号"]
HOSTILE = [
    (["H01", "张\u200b伟", "13800000001", "", "", "", ""], "hidden_characters", "姓名"),
    (["H02", "\u202eevil.exe", "13800000002", "", "", "", ""], "hidden_characters", "姓名"),
    (["H03", "=1+2", "13800000003", "", "", "", ""], "formula", "姓名"),
    (["H04", "Cmd", "13800000004", "", "+cmd|' /C calc'!A0", "", ""], "formula", "职位"),
    (["H05", "@SUM(A1)", "13800000005", "", "", "", ""], "formula", "姓名"),
    (["H06", "科学计数", "1.38E+10", "", "", "", ""], "scientific_notation", "手机"),
    (["13800138000.0", "浮点", "13800000007", "", "", "", ""], "float_suffix", "客户编号"),
    (["H08", "邮编", "13800000008", "", "", "10001", ""], "leading_zeros_lost", "邮编"),
    (["H09", "身份证", "13800000009", "", "", "", "110101199003071234"], "invalid_id_number",
     "身份证号"),
    (["H10", "坏手机", "1380000", "", "", "", ""], "invalid_phone", "手机"),
    (["H11", "坏邮箱", "13800000011", "a@@b", "", "", ""], "invalid_email", "邮箱"),
]  # fmt: skip
GOOD = [
    ["G01", "全角", "１３８００１３８０００", "", "", "", ""],  # full-width digits are fine
    ["G02", "正常", "13900139000", "", "", "100020", "11010519491231002X"],
]


@pytest.mark.parametrize("mode", ["all-or-nothing", "valid-rows"])
def test_every_hostile_cell_is_named_in_the_report(runtime: None, mode: str) -> None:
    rows = [row for row, _code, _column in HOSTILE] + GOOD
    imp = import_file(csv_bytes([HEADER, *rows]), mode=mode)
    lines = {line[0]: line for line in report(imp.id)[1:]}
    expected = {n: (code, column) for n, (_row, code, column) in enumerate(HOSTILE, start=2)}
    assert {n: (line[1], line[2]) for n, line in lines.items()} == expected
    for line in lines.values():
        assert line[3] == messages.row_message(line[1])  # the sentence for that code
    if mode == "all-or-nothing":
        assert (imp.status, imp.created) == ("rejected", 0)
        assert customers() == {}
    else:
        assert (imp.status, imp.created, imp.failed) == ("succeeded", 2, len(HOSTILE))
        found = customers()
        assert set(found) == {"全角", "正常"}
        assert found["全角"]["phone"] == "+8613800138000"


def test_identifiers_that_lost_their_leading_zeros(runtime: None) -> None:
    header = ["会员编号", "姓名", "手机"]
    rows = [
        ["000123", "甲", "13800000001"],
        ["004567", "乙", "13800000002"],
        ["89", "丙", "13800000003"],  # was 000089 before a spreadsheet saw it
        ["123456", "丁", "13800000004"],  # as wide as the padded ones: fine
    ]
    imp = import_file(csv_bytes([header, *rows]))
    assert errors_by_row(imp.id) == {4: "leading_zeros_lost"}
    assert set(customers()) == {"甲", "乙", "丁"}


def test_a_refused_mapping_names_the_problem(runtime: None) -> None:
    import_id = upload(csv_bytes([["姓名", "手机"], ["张伟", "13800138000"]]))
    with transaction() as db:
        for mapping, errors in [
            ({"姓名": "nonsense"}, {"mapping": "unknown_field", "field": "nonsense"}),
            ({"姓名": "name", "手机": "name"}, {"mapping": "field_twice", "field": "name"}),
            ({"邮箱": "email"}, {"mapping": "missing_column", "column": "邮箱"}),
            ({"姓名": None, "手机": "phone"}, {"mapping": "missing_field", "field": "name"}),
        ]:
            with pytest.raises(Exception) as exc:
                service.configure(db=db, principal=SYSTEM, import_id=import_id, mapping=mapping)
            assert getattr(exc.value, "errors", None) == errors
            assert "{" not in messages.file_message(errors)
