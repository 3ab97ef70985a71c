"""Order and activity imports: the customer found by id, phone or e-mail; keyed by (source,
number); line items; re-imports that change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from clientops.customers.models import Activity, Order
from clientops.db import transaction
from clientops.imports.models import OrderLine
from clientops.jobs import flows as jobs_flows
from tests import factories
from tests.test_imports_service import csv_bytes, errors_by_row, import_file

ORDER_HEADER = ["订单号", "客户编号", "手机", "邮箱", "下单时间", "实付金额", "币种", "渠道"]


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[None]:
    """DBOS in this process, taking no queued work."""
    jobs_flows.start(listen=False)
    yield
    jobs_flows.stop()


@pytest.fixture
def people(world: factories.World) -> dict[str, int]:
    """Three customers: one known to the shop by id, one by phone, one by e-mail."""
    admin = world.principal("admin")
    return {
        "by_id": factories.make_customer(
            admin, name="按编号", external_ids=[{"source": "shop", "external_id": "M001"}]
        ),
        "by_phone": factories.make_customer(admin, name="按手机", phone="13700137000"),
        "by_email": factories.make_customer(admin, name="按邮箱", email="buyer@example.com"),
    }


def orders() -> dict[str, dict[str, Any]]:
    with transaction() as db:
        rows = db.execute(select(Order)).scalars().all()
        return {
            o.number: {
                "customer_id": o.customer_id,
                "ordered_at": o.ordered_at,
                "amount": o.amount,
                "currency": o.currency,
                "channel": o.channel,
                "source": o.source,
                "status": o.status,
            }
            for o in rows
        }


def lines(number: str) -> list[tuple[Any, ...]]:
    with transaction() as db:
        order_id = db.scalar(select(Order.id).where(Order.number == number))
        stmt = (
            select(OrderLine.sku, OrderLine.name, OrderLine.quantity, OrderLine.amount)
            .where(OrderLine.order_id == order_id)
            .order_by(OrderLine.line_no)
        )
        return [tuple(row) for row in db.execute(stmt)]


ORDERS = [
    ["SO-1", "M001", "", "", "2024/1/5 13:45", "¥1,234.50", "人民币", "天猫"],
    ["SO-2", "", "137 0013 7000", "", "2024-02-01 09:00:00", "88", "", "京东"],
    ["SO-3", "", "", "Buyer@Example.com", "2024年3月1日", "10.5", "USD", ""],
    ["SO-4", "NOBODY", "", "", "2024-03-02", "1", "", ""],
]


def test_orders_find_their_customer_by_id_phone_or_email(
    runtime: None, people: dict[str, int]
) -> None:
    imp = import_file(csv_bytes([ORDER_HEADER, *ORDERS]), kind="orders", source="shop")
    assert (imp.created, imp.failed) == (3, 1)
    assert errors_by_row(imp.id) == {5: "unknown_customer"}
    found = orders()
    assert found["SO-1"]["customer_id"] == people["by_id"]
    assert found["SO-2"]["customer_id"] == people["by_phone"]
    assert found["SO-3"]["customer_id"] == people["by_email"]
    # 13:45 in Shanghai (UTC+8) is 05:45 UTC.
    assert found["SO-1"]["ordered_at"] == datetime(2024, 1, 5, 5, 45, tzinfo=UTC)
    assert found["SO-3"]["ordered_at"] == datetime(2024, 2, 29, 16, 0, tzinfo=UTC)
    assert (found["SO-1"]["amount"], found["SO-1"]["currency"]) == (Decimal("1234.50"), "CNY")
    assert (found["SO-3"]["amount"], found["SO-3"]["currency"]) == (Decimal("10.50"), "USD")
    assert found["SO-2"]["currency"] == "CNY"  # the default
    assert {o["source"] for o in found.values()} == {"shop"}
    assert found["SO-1"]["channel"] == "天猫" and found["SO-1"]["status"] == "paid"


def test_order_reimport_changes_nothing_and_a_changed_amount_updates(
    runtime: None, people: dict[str, int]
) -> None:
    data = csv_bytes([ORDER_HEADER, *ORDERS[:3]])
    import_file(data, kind="orders", source="shop")
    before = orders()
    again = import_file(data, kind="orders", source="shop")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert orders() == before
    changed = [list(row) for row in ORDERS[:3]]
    changed[1][5] = "99.90"
    third = import_file(csv_bytes([ORDER_HEADER, *changed]), kind="orders", source="shop")
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert orders()["SO-2"]["amount"] == Decimal("99.90")
    # The same numbers from another source are other orders.
    other = import_file(data, kind="orders", source="pos")
    assert other.created == 2  # M001 is the shop's id, unknown to the till
    assert errors_by_row(other.id) == {2: "unknown_customer"}


LINE_HEADER = ["订单号", "手机", "下单时间", "商品编码", "商品名称", "数量", "单价"]


def test_order_lines_rows_of_one_order_become_one_order(
    runtime: None, people: dict[str, int]
) -> None:
    rows = [
        ["L-1", "13700137000", "2024-05-01 10:00", "SKU-A", "茶叶", "2", "50"],
        ["L-1", "13700137000", "2024-05-01 10:00", "SKU-B", "茶杯", "1", "30.5"],
        ["L-2", "13700137000", "2024-05-02 10:00", "SKU-A", "茶叶", "1", "50"],
    ]
    imp = import_file(csv_bytes([LINE_HEADER, *rows]), kind="orders")
    assert (imp.created, imp.failed) == (2, 0)
    assert orders()["L-1"]["amount"] == Decimal("130.50")  # 2 x 50 + 30.50
    assert lines("L-1") == [
        ("SKU-A", "茶叶", Decimal("2"), Decimal("100.00")),
        ("SKU-B", "茶杯", Decimal("1"), Decimal("30.50")),
    ]
    again = import_file(csv_bytes([LINE_HEADER, *rows]), kind="orders")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    rows[1][5] = "3"
    third = import_file(csv_bytes([LINE_HEADER, *rows]), kind="orders")
    assert (third.updated, third.unchanged) == (1, 1)
    assert lines("L-1")[1] == ("SKU-B", "茶杯", Decimal("3"), Decimal("91.50"))
    assert orders()["L-1"]["amount"] == Decimal("191.50")


def test_order_lines_apart_or_disagreeing_are_errors(runtime: None, people: dict[str, int]) -> None:
    rows = [
        ["A-1", "13700137000", "2024-05-01 10:00", "SKU-A", "茶叶", "1", "50"],
        ["A-2", "13700137000", "2024-05-01 11:00", "SKU-A", "茶叶", "1", "50"],
        ["A-1", "13700137000", "2024-05-01 10:00", "SKU-B", "茶杯", "1", "30"],  # apart
        ["A-3", "13700137000", "2024-05-03 10:00", "SKU-A", "茶叶", "1", "50"],
        ["A-3", "13700137000", "2024-05-04 10:00", "SKU-B", "茶杯", "1", "30"],  # other date
    ]
    imp = import_file(csv_bytes([LINE_HEADER, *rows]), kind="orders")
    assert errors_by_row(imp.id) == {
        4: "order_lines_apart",
        5: "order_conflict",
        6: "order_conflict",  # the whole order fails with its bad line
    }
    assert set(orders()) == {"A-1", "A-2"}


ACTIVITY_HEADER = ["客户编号", "跟进方式", "主题", "内容", "跟进时间"]


def test_activities_are_idempotent_with_or_without_a_record_id(
    runtime: None, people: dict[str, int]
) -> None:
    rows = [
        ["M001", "电话", "回访", "满意", "2024-06-01 15:00"],
        ["M001", "拜访", "", "上门演示", "2024-06-02 10:00"],
    ]
    data = csv_bytes([ACTIVITY_HEADER, *rows])
    first = import_file(data, kind="activities", source="shop")
    assert (first.created, first.failed) == (2, 0)
    again = import_file(data, kind="activities", source="shop")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with transaction() as db:
        found = db.execute(select(Activity.kind, Activity.subject, Activity.customer_id)).all()
    assert sorted(found) == [
        ("call", "回访", people["by_id"]),
        ("meeting", "上门演示", people["by_id"]),  # no subject: the start of the details
    ]
    with_ids = [["R1", *rows[0]], ["R2", *rows[1]]]
    header = ["记录编号", *ACTIVITY_HEADER]
    import_file(csv_bytes([header, *with_ids]), kind="activities", source="shop")
    with_ids[0][3] = "回访（已改）"
    changed = import_file(csv_bytes([header, *with_ids]), kind="activities", source="shop")
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    with transaction() as db:
        subject = db.scalar(
            select(Activity.subject).where(Activity.source == "shop", Activity.external_id == "R1")
        )
    assert subject == "回访（已改）".replace("（", "(").replace("）", ")")  # width-normalised
