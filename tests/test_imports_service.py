"""Customer imports end to end through the service and the durable job: what lands in the
database, idempotent re-imports, both modes, duplicates, and the key order (external id, then
phone, then e-mail).

The job runtime runs in this process for the whole module (on the test database's jobs
database); each import is a real DBOS workflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from clientops import config
from clientops.audit.models import AuditEvent
from clientops.core.access import Principal
from clientops.customers.models import Customer, ExternalId, Tag, customer_tags
from clientops.db import transaction
from clientops.imports import flows, service
from clientops.imports.models import Import
from clientops.jobs import flows as jobs_flows
from clientops.jobs.models import Job
from tests import factories

SYSTEM = service.SYSTEM_PRINCIPAL


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[None]:
    """DBOS running in this process for the module's imports (which run here); it takes no
    work from the queue, so the identity resolution an import asks for stays queued."""
    jobs_flows.start(listen=False)
    yield
    jobs_flows.stop()


# --- helpers (also used by the other import test modules) ------------------------------------


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    """A CSV file from rows (the first is the header), quoting cells that need it."""
    lines = []
    for row in rows:
        cells = [
            '"' + c.replace('"', '""') + '"' if any(x in c for x in ',"\n') else c for c in row
        ]
        lines.append(",".join(cells))
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def upload(
    data: bytes,
    *,
    kind: str = "customers",
    principal: Principal = SYSTEM,
    file_name: str = "customers.csv",
    **options: Any,
) -> int:
    """Store a file as a new import and apply a mapping/options when given; its id."""
    mapping = options.pop("mapping", None)
    with transaction() as db:
        imp = service.create(db=db, principal=principal, kind=kind, file_name=file_name, data=data)
        if mapping is not None or options:
            service.configure(
                db=db,
                principal=principal,
                import_id=imp.id,
                mapping=mapping if mapping is not None else imp.mapping,
                **options,
            )
        return imp.id


def run(import_id: int, *, principal: Principal = SYSTEM, dry_run: bool = False) -> Import:
    """Run the import's job to its end; the import row afterwards."""
    job = flows.submit(principal=principal, import_id=import_id, dry_run=dry_run, run_here=True)
    finished = jobs_flows.wait(job.id, timeout=120, poll_seconds=0.05)
    assert finished.status in ("succeeded", "failed"), finished.status
    with transaction() as db:
        imp = db.get(Import, import_id)
        assert imp is not None
        db.expunge(imp)
        return imp


def import_file(data: bytes, **options: Any) -> Import:
    """Upload and run a committed import."""
    principal = options.get("principal", SYSTEM)
    dry_run = options.pop("dry_run", False)
    return run(upload(data, **options), principal=principal, dry_run=dry_run)


def report(import_id: int) -> list[list[Any]]:
    """The report rows, header first."""
    with transaction() as db:
        imp = db.get(Import, import_id)
        assert imp is not None
        return list(service.report_rows(db=db, imp=imp))


def errors_by_row(import_id: int) -> dict[int, str]:
    """Row number → error codes, from the report."""
    return {row[0]: row[1] for row in report(import_id)[1:]}


def customers() -> dict[str, dict[str, Any]]:
    """Every customer by name, with the columns the tests look at."""
    columns = ("id", "kind", "phone", "phone_key", "email", "address", "province", "city",
               "district", "birth_date", "account_id", "team_id", "owner_id", "updated_at",
               "title")  # fmt: skip
    with transaction() as db:
        rows = db.execute(select(Customer.name, *(getattr(Customer, c) for c in columns))).all()
    return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in rows}


def tags_of(customer_id: int) -> set[str]:
    with transaction() as db:
        stmt = (
            select(Tag.name)
            .join(customer_tags, customer_tags.c.tag_id == Tag.id)
            .where(customer_tags.c.customer_id == customer_id)
        )
        return set(db.scalars(stmt))


def external_ids() -> set[tuple[str, str, int]]:
    with transaction() as db:
        rows = db.execute(select(ExternalId.source, ExternalId.external_id, ExternalId.customer_id))
        return {(source, ext, cid) for source, ext, cid in rows}


def audit_batches() -> list[dict[str, Any]]:
    with transaction() as db:
        stmt = select(AuditEvent.changes).where(AuditEvent.action == "import.batch")
        return list(db.scalars(stmt.order_by(AuditEvent.id)))


HEADER = ["客户编号", "姓名", "手机", "邮箱", "公司", "地址", "标签", "生日"]
ROWS = [
    ["C001", "张伟", "138 0013 8000", "ZhangWei@Example.com", "深圳华信科技有限公司",
     "广东省深圳市南山区科技园路1号", "vip,新客", "1990-01-05"],
    ["C002", "李娜", "+86 139-0013-9000", "lina@example.cn", "深圳华信科技有限公司",
     "上海市浦东新区世纪大道100号", "vip", "1985/3/4"],
    ["C003", "John Smith", "+44 20 7946 0958", "john.smith@example.com", "Acme Ltd",
     "10 Downing Street, London", "wholesale", "1979年12月1日"],
]  # fmt: skip


# --- what an import writes -------------------------------------------------------------------


def test_customers_people_companies_tags_addresses(runtime: None) -> None:
    imp = import_file(csv_bytes([HEADER, *ROWS]))
    assert (imp.status, imp.rows_total, imp.created, imp.failed) == ("succeeded", 3, 3, 0)
    assert not service.file_path(imp).exists()  # done: the stored upload is deleted
    assert imp.accounts_created == 2  # 深圳华信科技有限公司 once for two people, and Acme Ltd
    found = customers()
    zhang, li, john = found["张伟"], found["李娜"], found["John Smith"]
    assert (zhang["phone"], zhang["email"]) == ("+8613800138000", "zhangwei@example.com")
    assert li["phone"] == "+8613900139000"
    assert john["phone"] == "+442079460958"
    assert (zhang["province"], zhang["city"], zhang["district"]) == ("广东省", "深圳市", "南山区")
    assert (li["province"], li["city"], li["district"]) == ("上海市", "上海市", "浦东新区")
    assert zhang["address"] == "广东省深圳市南山区科技园路1号"
    assert (zhang["birth_date"], li["birth_date"], john["birth_date"]) == (
        date(1990, 1, 5),
        date(1985, 3, 4),
        date(1979, 12, 1),
    )
    company = found["深圳华信科技有限公司"]
    assert company["kind"] == "company"
    assert zhang["account_id"] == li["account_id"] == company["id"]
    assert john["account_id"] == found["Acme Ltd"]["id"]
    assert tags_of(zhang["id"]) == {"vip", "新客"}
    assert tags_of(john["id"]) == {"wholesale"}
    assert {(s, e) for s, e, _ in external_ids()} == {
        ("import", "C001"),
        ("import", "C002"),
        ("import", "C003"),
    }


def test_reimport_changes_nothing_not_even_updated_at_or_audit(runtime: None) -> None:
    data = csv_bytes([HEADER, *ROWS])
    first = import_file(data)
    before = customers()
    events = audit_batches()
    again = import_file(data)
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 3, 0)
    assert again.accounts_created == 0
    assert customers() == before  # same rows, same updated_at
    assert audit_batches() == events  # no audit noise
    assert first.created == 3


def test_a_changed_row_updates_only_what_changed(runtime: None) -> None:
    import_file(csv_bytes([HEADER, *ROWS]))
    before = customers()
    changed = [list(row) for row in ROWS]
    changed[1][3] = "li.na@new.example.cn"
    changed[1][6] = "vip,复购"
    imp = import_file(csv_bytes([HEADER, *changed]))
    assert (imp.created, imp.updated, imp.unchanged) == (0, 1, 2)
    after = customers()
    li = after["李娜"]
    assert li["email"] == "li.na@new.example.cn"
    assert li["updated_at"] > before["李娜"]["updated_at"]
    assert {k: v for k, v in li.items() if k not in ("email", "updated_at")} == {
        k: v for k, v in before["李娜"].items() if k not in ("email", "updated_at")
    }
    assert tags_of(li["id"]) == {"vip", "复购"}
    for name in ("张伟", "John Smith", "深圳华信科技有限公司"):
        assert after[name] == before[name]
    assert audit_batches()[-1]["updated"] == [li["id"]]
    assert audit_batches()[-1]["created"] == []


def test_an_empty_cell_never_erases_a_stored_value(runtime: None) -> None:
    import_file(csv_bytes([HEADER, *ROWS]))
    blanked = [list(row) for row in ROWS]
    blanked[0][3] = ""  # no e-mail this time
    blanked[0][5] = ""
    imp = import_file(csv_bytes([HEADER, *blanked]))
    assert (imp.updated, imp.unchanged) == (0, 3)
    assert customers()["张伟"]["email"] == "zhangwei@example.com"


def test_keys_external_id_then_phone_then_email(runtime: None, world: factories.World) -> None:
    admin = world.principal("admin")
    by_phone = factories.make_customer(admin, name="Phone Person", phone="13600136000")
    by_email = factories.make_customer(admin, name="Mail Person", email="mail@example.com")
    claimed = factories.make_customer(
        admin,
        name="Claimed",
        phone="13500135000",
        external_ids=[{"source": "crm", "external_id": "OTHER"}],
    )
    header = ["ID", "Name", "Mobile", "Email", "Title"]
    rows = [
        ["X1", "Phone Person", "136 0013 6000", "", "CEO"],  # no X1 yet: phone matches
        ["", "Mail Person", "", "MAIL@example.com", "CFO"],  # no id, no phone: e-mail
        ["X2", "Someone Else", "135 0013 5000", "", ""],  # phone holder has a crm id already
        ["X3", "Brand New", "13700137000", "", ""],
    ]
    imp = import_file(csv_bytes([header, *rows]), source="crm")
    assert (imp.created, imp.updated, imp.failed) == (2, 2, 0)
    found = customers()
    assert found["Phone Person"]["id"] == by_phone and found["Phone Person"]["title"] == "CEO"
    assert found["Mail Person"]["id"] == by_email and found["Mail Person"]["title"] == "CFO"
    assert found["Someone Else"]["id"] not in (claimed, by_phone)
    assert ("crm", "X1", by_phone) in external_ids()
    # From now on X1 is found by its id, even with another phone number.
    moved = [["X1", "Phone Person", "13911112222", "", "CEO"]]
    again = import_file(csv_bytes([header, *moved]), source="crm")
    assert (again.created, again.updated) == (0, 1)
    assert customers()["Phone Person"]["phone"] == "+8613911112222"
    # Another source's ids are other ids.
    elsewhere = import_file(csv_bytes([header, *moved]), source="shop")
    assert (elsewhere.created, elsewhere.updated, elsewhere.unchanged) == (0, 1, 0)  # a new id
    assert ("shop", "X1", by_phone) in external_ids()


def test_valid_rows_mode_imports_the_rest_and_reports_the_failed(runtime: None) -> None:
    rows = [*ROWS, ["C004", "坏号码", "12345", "", "", "", "", ""]]
    imp = import_file(csv_bytes([HEADER, *rows]), mode="valid-rows")
    assert (imp.status, imp.created, imp.failed) == ("succeeded", 3, 1)
    assert "坏号码" not in customers()
    assert errors_by_row(imp.id) == {5: "invalid_phone"}


def test_all_or_nothing_mode_changes_nothing_when_a_row_fails(runtime: None) -> None:
    rows = [*ROWS, ["C004", "坏邮箱", "", "not-an-email", "", "", "", ""]]
    imp = import_file(csv_bytes([HEADER, *rows]), mode="all-or-nothing")
    assert (imp.status, imp.created, imp.updated, imp.failed) == ("rejected", 0, 0, 1)
    assert customers() == {}
    assert errors_by_row(imp.id) == {5: "invalid_email"}
    clean = import_file(csv_bytes([HEADER, *ROWS]), mode="all-or-nothing")
    assert (clean.status, clean.created) == ("succeeded", 3)


def test_all_or_nothing_rejects_on_a_database_error_too(runtime: None) -> None:
    header = ["Order", "Customer ID", "Date", "Amount"]
    rows = [["A1", "NOBODY", "2024-01-05", "10"]]
    imp = import_file(
        csv_bytes([header, *rows]), kind="orders", file_name="o.csv", mode="all-or-nothing"
    )
    assert (imp.status, imp.created, imp.failed) == ("rejected", 0, 1)
    assert errors_by_row(imp.id) == {2: "unknown_customer"}


def test_duplicate_keys_in_the_file_fail_the_later_rows(runtime: None) -> None:
    header = ["客户编号", "姓名", "手机", "邮箱"]
    rows = [
        ["C1", "甲", "13800000001", ""],
        ["C1", "乙", "13800000002", ""],  # same id as row 2
        ["", "丙", "13800000003", ""],
        ["", "丁", "138 0000 0003", ""],  # same phone as row 4, once normalised
        ["", "戊", "", "a@example.com"],
        ["", "己", "", "A@EXAMPLE.COM"],  # same e-mail as row 6
    ]
    imp = import_file(csv_bytes([header, *rows]))
    assert set(customers()) == {"甲", "丙", "戊"}
    lines = {row[0]: row for row in report(imp.id)[1:]}
    assert {n: lines[n][1] for n in lines} == {
        3: "duplicate_key",
        5: "duplicate_key",
        7: "duplicate_key",
    }
    assert "row 2" in lines[3][3] and "row 4" in lines[5][3] and "row 6" in lines[7][3]


def test_a_row_needs_a_key_and_a_name(runtime: None) -> None:
    header = ["姓名", "职位", "手机"]
    rows = [["无钥匙", "经理", ""], ["", "经理", "13800000001"]]
    imp = import_file(csv_bytes([header, *rows]))
    assert errors_by_row(imp.id) == {2: "no_key", 3: "required"}
    assert customers() == {}


def test_dry_run_counts_and_reports_but_writes_nothing(runtime: None) -> None:
    rows = [*ROWS, ["C004", "坏号码", "12345", "", "", "", "", ""]]
    import_id = upload(csv_bytes([HEADER, *rows]))
    imp = run(import_id, dry_run=True)
    assert (imp.status, imp.created, imp.failed, imp.accounts_created) == ("validated", 3, 1, 2)
    assert service.file_path(imp).exists()  # kept for the import that may follow
    assert customers() == {}
    assert audit_batches() == []
    assert errors_by_row(import_id) == {5: "invalid_phone"}
    # Committing afterwards reuses the staged batches and writes them.
    committed = run(import_id)
    assert (committed.status, committed.created, committed.failed) == ("succeeded", 3, 1)
    assert len(customers()) == 5


def test_one_audit_event_per_batch_with_the_ids(runtime: None) -> None:
    rows = [[f"C{i:04d}", f"客户{i}", f"139{i:08d}"] for i in range(250)]
    with config.override(import_batch_size=100):
        imp = import_file(csv_bytes([["客户编号", "姓名", "手机"], *rows]))
    assert imp.created == 250
    events = audit_batches()
    assert [len(e["created"]) for e in events] == [100, 100, 50]
    with transaction() as db:
        all_ids = set(db.scalars(select(Customer.id)))
        changes = db.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "customers"))  # fmt: skip
    assert {i for e in events for i in e["created"]} == all_ids
    assert changes == 0  # bulk rows are not audited one by one


def test_resolution_is_requested_after_a_customer_import(runtime: None) -> None:
    imp = import_file(csv_bytes([HEADER, *ROWS]))
    with transaction() as db:
        jobs = list(db.scalars(select(Job).where(Job.kind == flows.RESOLVE_KIND)))
    if flows.RESOLVE_KIND not in jobs_flows.kinds():
        assert jobs == []
        return
    assert len(jobs) == 1
    assert jobs[0].params["mode"] == "incremental"
    assert jobs[0].params["since"] == imp.started_at.isoformat()


# --- files in every encoding and shape -------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_encodings(runtime: None, codec: str) -> None:
    data = csv_bytes([HEADER, *ROWS] * 1, encoding=codec)
    imp = import_file(data)
    assert imp.created == 3, report(imp.id)
    assert {"张伟", "李娜", "深圳华信科技有限公司"} <= set(customers())


def test_unsure_encoding_is_flagged_and_can_be_chosen(runtime: None) -> None:
    data = "Name,City,Mobile\nJosé,Bogotá,13800138000\n".encode("cp1252")
    import_id = upload(data)
    with transaction() as db:
        imp = service.get(db=db, principal=SYSTEM, import_id=import_id)
        assert imp.encoding_confident is False
        imp = service.choose_encoding(
            db=db, principal=SYSTEM, import_id=import_id, encoding="cp1252"
        )
        assert (imp.encoding, imp.encoding_confident) == ("cp1252", True)
        assert service.preview(imp=imp)[0][1][:2] == ["José", "Bogotá"]
    assert run(import_id).created == 1
    assert "José" in customers()


def test_xlsx_with_numbers_and_dates(runtime: None, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["客户编号", "姓名", "手机", "生日"])
    sheet.append(["00123", "表格客户", 13800138000, date(1990, 1, 5)])
    path = tmp_path / "c.xlsx"
    book.save(path)
    imp = import_file(path.read_bytes(), file_name="c.xlsx")
    assert imp.created == 1, report(imp.id)
    row = customers()["表格客户"]
    assert (row["phone"], row["birth_date"]) == ("+8613800138000", date(1990, 1, 5))
    assert {e for _, e, _ in external_ids()} == {"00123"}


def test_quoted_newlines_and_semicolons(runtime: None) -> None:
    data = b'Name;Mobile;Address\n"Wang\nFang";13800138000;"Line 1\nLine 2"\n'
    imp = import_file(data)
    assert imp.created == 1
    assert customers()["Wang Fang"]["address"] == "Line 1 Line 2"
