"""Streamed imports: a large file is staged in a second process while its batches are written.

The size from which a file is streamed is lowered to nothing here, and batches are small, so
that a few hundred rows make several batches. A streamed import must end exactly as one that
stages every row first: same customers, orders and report; and a file the reader could refuse
half-way is never streamed (nothing may be written before it is refused).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clientops import config
from clientops.customers.models import Customer, Order
from clientops.db import transaction
from clientops.imports.models import ImportBatch
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from tests.test_imports_orders import lines
from tests.test_imports_service import (
    csv_bytes,
    customers,
    errors_by_row,
    external_ids,
    import_file,
    tags_of,
)

ROWS = 450
HEADER = ["客户编号", "姓名", "手机", "邮箱", "标签"]


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[None]:
    """DBOS in this process, taking no queued work."""
    jobs_flows.start(listen=False)
    yield
    jobs_flows.stop()


@pytest.fixture
def streamed(runtime: None) -> Iterator[None]:
    """Every committed valid-rows import of a readable file is streamed, in batches of 100."""
    with config.override(import_stream_min_rows=0, import_batch_size=100):
        yield


def _rows() -> list[list[str]]:
    rows = [
        [f"S{i:04d}", f"客户{i}", f"139{i:08d}", f"s{i}@example.com", "vip"] for i in range(ROWS)
    ]
    rows[10][2] = "12345"  # an invalid phone
    rows[150][0] = "S0149"  # the previous row's id again: a duplicate key
    rows[420][1] = "=HYPERLINK(1)"  # a formula
    return rows


def _log(job_id: int | None) -> list[str]:
    assert job_id is not None
    with transaction() as db:
        return [line.message for line in jobs_service.logs(db=db, job_id=job_id)]


def test_a_streamed_import_writes_and_reports_what_staging_first_would(streamed: None) -> None:
    imp = import_file(csv_bytes([HEADER, *_rows()]))
    assert (imp.status, imp.rows_total, imp.created, imp.failed) == ("succeeded", ROWS, 447, 3)
    assert any("streamed" in line for line in _log(imp.job_id))
    # Rows are numbered as in the file (the header is row 1).
    assert errors_by_row(imp.id) == {12: "invalid_phone", 152: "duplicate_key", 422: "formula"}
    found = customers()
    assert len(found) == 447 and found["客户449"]["phone"] == "+8613900000449"
    assert tags_of(found["客户0"]["id"]) == {"vip"}
    assert len(external_ids()) == 447
    with transaction() as db:
        batches = db.scalars(select(ImportBatch.number).where(ImportBatch.import_id == imp.id))
        assert sorted(batches) == [1, 2, 3, 4, 5]

    again = import_file(csv_bytes([HEADER, *_rows()]))
    assert (again.status, again.created, again.updated, again.unchanged) == ("succeeded", 0, 0, 447)


def test_streamed_orders_keep_each_orders_lines_together(streamed: None) -> None:
    import_file(csv_bytes([HEADER, ["M1", "买家", "13900000001", "", ""]]))
    header = ["订单号", "客户编号", "下单时间", "商品编码", "数量", "单价"]
    rows = [
        [f"SO{n:03d}", "M1", "2024-05-01 10:00", f"SKU-{k}", "1", "10.00"]
        for n in range(120)
        for k in range(3)
    ]  # 360 lines: orders straddle the batches of 100 rows
    imp = import_file(csv_bytes([header, *rows]), kind="orders", source="import")
    assert (imp.status, imp.created, imp.failed) == ("succeeded", 120, 0)
    assert [line[0] for line in lines("SO033")] == ["SKU-0", "SKU-1", "SKU-2"]
    with transaction() as db:
        amounts = set(db.scalars(select(Order.amount)))
    assert amounts == {Decimal("30.00")}


def test_a_file_that_could_be_refused_half_way_is_not_streamed(streamed: None) -> None:
    data = csv_bytes([HEADER, *_rows()]) + b'"S9999,unclosed\r\n'
    imp = import_file(data)
    assert imp.status == "failed" and imp.error is not None and f"Row {ROWS + 2}" in imp.error
    assert not any("streamed" in line for line in _log(imp.job_id))
    with transaction() as db:
        assert db.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_dry_run_and_all_or_nothing_are_not_streamed(streamed: None) -> None:
    data = csv_bytes([HEADER, *_rows()])
    dry = import_file(data, dry_run=True)
    assert (dry.status, dry.failed) == ("validated", 3)
    strict = import_file(data, mode="all-or-nothing")
    assert strict.status == "rejected"
    for imp in (dry, strict):
        assert not any("streamed" in line for line in _log(imp.job_id))
    assert customers() == {}
