"""The row-level report (CSV and XLSX, neutralised against formulas), saved mappings, who may
import what, and the fast paths that must agree with the full parsers."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator

import openpyxl
import pytest
from sqlalchemy import select

from clientops.auth import service as auth_service
from clientops.core import normalise
from clientops.core.cnaddress import split_address
from clientops.customers.models import Customer
from clientops.db import transaction
from clientops.exceptions import Forbidden, InvalidInput, NotFound
from clientops.imports import service, validate
from clientops.imports.models import Import
from clientops.jobs import flows as jobs_flows
from tests import factories
from tests.test_imports_service import (
    csv_bytes,
    customers,
    errors_by_row,
    external_ids,
    import_file,
    upload,
)


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[None]:
    """DBOS in this process, taking no queued work."""
    jobs_flows.start(listen=False)
    yield
    jobs_flows.stop()


HEADER = ["客户编号", "姓名", "手机", "备注"]
ROWS = [
    ["R1", "好人", "13800000001", "fine"],
    ["R2", '=HYPERLINK("http://evil","click")', "13800000002", "-2+3"],
    ["R3", "坏号", "12", "@SUM(A1)"],
]


def _imported_with_errors() -> Import:
    return import_file(csv_bytes([HEADER, *ROWS]))


def test_report_csv_has_the_original_cells_and_no_live_formulas(runtime: None) -> None:
    imp = _imported_with_errors()
    with transaction() as db:
        data = service.report_csv(db=db, imp=imp)
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["Row", "Error", "Column", "Message", *HEADER]
    assert rows[1][:3] == ["3", "formula", "姓名"]
    # The original cells follow, every one that starts like a formula defused with a quote.
    assert rows[1][4:] == ["R2", '\'=HYPERLINK("http://evil","click")', "13800000002", "'-2+3"]
    assert rows[2][:3] == ["4", "invalid_phone; formula", "手机; 备注"]
    assert rows[2][4:] == ["R3", "坏号", "12", "'@SUM(A1)"]
    assert "phone" in rows[2][3] and "formula" in rows[2][3]
    assert len(rows) == 3


def test_report_xlsx_holds_text_not_formulas(runtime: None) -> None:
    imp = _imported_with_errors()
    with transaction() as db:
        data = service.report_xlsx(db=db, imp=imp)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == ["Row", "Error", "Column", "Message", *HEADER]
    assert values[1][0] == 3 and values[1][5] == '\'=HYPERLINK("http://evil","click")'
    assert values[2][7] == "'@SUM(A1)"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_report_messages_follow_the_language(runtime: None) -> None:
    from clientops.core import i18n

    imp = _imported_with_errors()
    i18n.set_locale("zh_CN")
    try:
        with transaction() as db:
            header = next(service.report_rows(db=db, imp=imp))
    finally:
        i18n.set_locale("en")
    assert header[:4] == ["行号", "错误", "列", "说明"]


# --- saved mappings --------------------------------------------------------------------------


def test_a_saved_mapping_is_reused_for_the_next_file(runtime: None) -> None:
    first = upload(csv_bytes([["编号", "客户", "Tel"], ["A1", "甲", "13800000001"]]))
    with transaction() as db:
        imp = service.configure(
            db=db,
            principal=service.SYSTEM_PRINCIPAL,
            import_id=first,
            mapping={"编号": "external_id", "客户": "name", "Tel": "phone"},
            source="erp",
        )
        template = service.save_template(
            db=db,
            principal=service.SYSTEM_PRINCIPAL,
            kind="customers",
            name="ERP export",
            columns=imp.mapping,
            options={"source": "erp", "mode": "all-or-nothing"},
        )
        template_id = template.id
    # Next month's file: same columns, one header spelled with full-width letters.
    second = upload(csv_bytes([["编号", "客户", "ＴＥＬ"], ["A2", "乙", "13800000002"]]))
    with transaction() as db:
        imp = service.apply_template(
            db=db, principal=service.SYSTEM_PRINCIPAL, import_id=second, template_id=template_id
        )
        assert imp.mapping == {"编号": "external_id", "客户": "name", "TEL": "phone"}
        assert (imp.source, imp.mode) == ("erp", "all-or-nothing")
        document = service.template_document(service.get_template(db=db, template_id=template_id))
    parsed = service.parse_template(document)
    assert parsed == {
        "kind": "customers",
        "name": "ERP export",
        "columns": {"编号": "external_id", "客户": "name", "Tel": "phone"},
        "options": {"source": "erp", "mode": "all-or-nothing"},
    }


@pytest.mark.parametrize(
    "text",
    [
        "columns: [a, b]",
        "- just a list",
        "columns: {a: name}\noptions: 3",
        "kind: pets\ncolumns: {}",
    ],
)
def test_a_bad_mapping_document_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        service.parse_template(text)
    assert exc.value.errors["mapping"] == "invalid_mapping"


# --- who may import what ---------------------------------------------------------------------


def test_only_import_roles_may_import(runtime: None, world: factories.World) -> None:
    data = csv_bytes([["姓名", "手机"], ["张三", "13800000001"]])
    for role in ("agent", "analyst", "viewer", "project_manager"):
        with pytest.raises(Forbidden):
            upload(data, principal=world.principal(role))
    for role in ("ops_manager", "admin"):
        assert upload(data, principal=world.principal(role)) > 0


def test_a_team_scoped_import_stays_in_its_team(runtime: None, world: factories.World) -> None:
    manager = world.principal("ops_manager")  # sees team East only
    admin = world.principal("admin")
    west = world.customers["West"][0]  # John Smith, +44 20 7946 0958
    factories.make_customer(
        admin,
        name="West Held",
        team_id=world.teams["West"],
        external_ids=[{"source": "import", "external_id": "W-1"}],
    )
    header = ["客户编号", "姓名", "手机"]
    rows = [
        ["E-1", "新东区客户", "13800000001"],
        ["", "John Smith", "+44 20 7946 0958"],  # a West customer's phone: not matched
        ["W-1", "Taken", "13800000002"],  # a West customer's id: refused
    ]
    imp = import_file(csv_bytes([header, *rows]), principal=manager)
    assert (imp.created, imp.updated, imp.failed) == (2, 0, 1)
    assert errors_by_row(imp.id) == {4: "external_id_taken"}
    found = customers()
    assert found["新东区客户"]["team_id"] == world.teams["East"]
    assert found["新东区客户"]["owner_id"] == manager.user_id
    with transaction() as db:
        smiths = db.execute(
            select(Customer.id, Customer.team_id).where(Customer.name == "John Smith")
        ).all()
    # West's John Smith is untouched; the manager's row became an East customer of its own.
    assert sorted(smiths) == sorted(
        [(west, world.teams["West"]), (smiths[1][0], world.teams["East"])]
    )
    assert "Taken" not in found
    assert ("import", "W-1", found["West Held"]["id"]) in external_ids()
    with transaction() as db:
        assert service.get(db=db, principal=admin, import_id=imp.id).id == imp.id
    west_manager = factories.make_user("west_ops", "ops_manager", ["West"])
    with transaction() as db:
        outsider = auth_service.principal_of(auth_service.get_user(db=db, user_id=west_manager.id))
        with pytest.raises(NotFound):
            service.get(db=db, principal=outsider, import_id=imp.id)
        assert service.list_imports(db=db, principal=outsider) == []


def test_a_team_can_be_chosen_but_only_ones_own(runtime: None, world: factories.World) -> None:
    manager = world.principal("ops_manager")
    import_id = upload(csv_bytes([["姓名", "手机"], ["甲", "13800000001"]]), principal=manager)
    with transaction() as db:
        imp = service.get(db=db, principal=manager, import_id=import_id)
        with pytest.raises(InvalidInput) as exc:
            service.configure(
                db=db,
                principal=manager,
                import_id=import_id,
                mapping=imp.mapping,
                team_id=world.teams["West"],
            )
        assert exc.value.errors == {"team_id": "not_your_team"}


# --- fast paths agree with the full parsers ---------------------------------------------------


def _phones(rng: random.Random) -> list[str]:
    samples = ["13800138000", "+86 138 0013 8000", "0086-139-0013-9000", "8613800138000",
               "010-6552 9988", "+44 20 7946 0958", "12345", "1.38E+10", "14000000000",
               "19912345678", "16212345678", "17400000000", "1740 0000 000", "(010) 12345678",
               "+1 650 253 0000", "00447911123456", "１３８００１３８０００"]  # fmt: skip
    for _ in range(3000):
        body = f"1{rng.randint(30, 99)}{rng.randrange(10**8):08d}"
        samples.append(rng.choice((body, "+86" + body, f"{body[:3]} {body[3:7]} {body[7:]}")))
    return samples


def _parse(fn: object, *args: str) -> str:
    try:
        return fn(*args)  # type: ignore[operator,no-any-return]
    except ValueError as exc:
        return f"error:{exc}"


def test_fast_phone_parsing_agrees_with_the_full_parser() -> None:
    for value in _phones(random.Random(7)):
        cleaned = normalise.clean_text(value)
        assert _parse(validate.parse_phone, cleaned, "CN") == _parse(
            normalise.parse_phone, cleaned, "CN"
        ), value


def test_fast_email_parsing_agrees_with_the_full_validator() -> None:
    samples = ["a@example.com", "A.B-C+tag@Sub.Example.CN", "x@localhost", "x@test", "a..b@x.cn",
               ".a@x.cn", "a@x", "a@-x.cn", "a@x-.cn", "用户@例子.中国", "a@x.c", "a@123.45",
               "o'brien@example.ie", "a@example.invalid", "a" * 65 + "@x.cn",
               "tag%x@x.co.uk", "a@b.travel"]  # fmt: skip
    for value in samples:
        assert _parse(validate.parse_email, value) == _parse(normalise.parse_email, value), value


def test_address_divisions_read_before_the_first_digit_agree() -> None:
    samples = ["广东省深圳市南山区科技园路1号", "北京市朝阳区建国路88号", "深圳市南山区100号",
               "上海浦东新区世纪大道100号", "100020 北京市朝阳区", "邮编:518000 广东省深圳市",
               "浙江杭州西湖区文三路90号", "湖南路8号", "北京门头沟区1号", "江苏省南京市鼓楼区",
               "内蒙古自治区呼和浩特市新城区1号楼", "中国广东省广州市天河区体育西路191号",
               "北京市100000朝阳区"]  # fmt: skip
    for value in samples:
        full = split_address(value)
        assert validate.divisions(value) == (full.province, full.city, full.district), value
