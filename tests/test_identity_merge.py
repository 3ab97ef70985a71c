"""Merging duplicate customers and undoing it: what moves, which value survives, and an
unmerge that gives back both customers exactly as they were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import inspect, select, text, update

from clientops import db
from clientops.audit.models import AuditEvent
from clientops.core.access import Principal
from clientops.core.context import SYSTEM, Actor, bind
from clientops.customers import service as customers_service
from clientops.customers.models import Customer, Order
from clientops.customers.schemas import ActivityCreate, CustomFieldCreate
from clientops.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from clientops.identity import service
from clientops.identity.models import CandidatePair, Merge
from tests import factories

ERP_FIRST = service.Survivorship(
    order=("source_priority", "most_recent", "most_complete"), source_priority=("erp", "web")
)
RECENT_FIRST = service.Survivorship(order=("most_recent", "source_priority", "most_complete"))


# --- helpers: records built through the services, dumps read straight from the database -----


def _fields(admin: Principal) -> None:
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        for key in ("loyalty", "channel"):
            data = CustomFieldCreate(key=key, label_en=key, label_zh=key, field_type="text")
            customers_service.create_field(db=s, data=data, principal=admin)


def _order(customer_id: int, number: str, amount: str) -> int:
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        order = Order(
            customer_id=customer_id,
            number=number,
            ordered_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
            amount=Decimal(amount),
        )
        s.add(order)
        s.flush()
        return order.id


def _activity(admin: Principal, customer_id: int, subject: str) -> int:
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        data = ActivityCreate(kind="call", subject=subject)
        return customers_service.add_activity(
            db=s, customer_id=customer_id, data=data, principal=admin
        ).id


def _touch(customer_id: int, when: datetime) -> None:
    """Set a customer's last-update time (what "most recent" compares)."""
    with db.transaction() as s:
        s.execute(update(Customer).where(Customer.id == customer_id).values(updated_at=when))


def _merge(
    survivor: int,
    merged: int,
    actor: Principal | Actor = SYSTEM,
    rules: service.Survivorship | None = None,
) -> int:
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        return service.merge(
            db=s,
            survivor_id=survivor,
            merged_id=merged,
            actor=actor,
            reason={"rule": "manual"},
            rules=rules,
        ).id


def _unmerge(merge_id: int, actor: Principal | Actor = SYSTEM) -> None:
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        service.unmerge(db=s, merge_id=merge_id, actor=actor)


def _customer(customer_id: int) -> dict[str, Any] | None:
    with db.transaction() as s:
        row = s.execute(text("SELECT * FROM customers WHERE id = :id"), {"id": customer_id})
        found = row.mappings().one_or_none()
        return dict(found) if found is not None else None


def _links() -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to customers.id, read from the live schema."""
    inspector = inspect(db.get_engine())
    found = []
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] == "customers" and fk["referred_columns"] == ["id"]:
                found += [(table, column) for column in fk["constrained_columns"]]
    return sorted(found)


def _dump(customer_id: int) -> dict[str, Any]:
    """A customer's row and every row anywhere that points at it, sorted."""
    dump: dict[str, Any] = {"customer": _customer(customer_id)}
    with db.transaction() as s:
        for table, column in _links():
            if table.startswith("identity_"):
                continue
            rows = s.execute(
                text(f"SELECT * FROM {table} WHERE {column} = :id"), {"id": customer_id}
            )
            dump[f"{table}.{column}"] = sorted(
                (tuple(sorted(r.items(), key=lambda kv: kv[0])) for r in rows.mappings()), key=repr
            )
    return dump


def _values(customer_id: int) -> dict[str, Any]:
    with db.transaction() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        return {
            "tags": sorted(t.name for t in customer.tags),
            "external_ids": sorted((e.source, e.external_id) for e in customer.external_ids),
            "custom": {v.field.key: v.text_value for v in customer.field_values},
        }


def _twins(world: factories.World) -> tuple[int, int]:
    """Zhang Wei twice: an ERP record and a newer web sign-up with different details."""
    admin = world.principal("admin")
    _fields(admin)
    east = world.teams["East"]
    a = factories.make_customer(
        admin,
        name="张伟",
        phone="13811112222",
        address="上海市浦东新区世纪大道100号",
        source="erp",
        team_id=east,
        tags=["vip", "shanghai"],
        external_ids=[{"source": "erp", "external_id": "E-100"}],
        custom_fields={"loyalty": "gold"},
    )
    b = factories.make_customer(
        admin,
        name="张伟",
        phone="13811112222",
        email="zhang.wei@example.cn",
        address="北京市朝阳区建国路88号",
        title="采购经理",
        source="web",
        team_id=east,
        tags=["shanghai", "newsletter"],
        external_ids=[{"source": "shop", "external_id": "S-9"}],
        custom_fields={"loyalty": "silver", "channel": "wechat"},
    )
    _touch(a, datetime(2025, 1, 1, tzinfo=UTC))
    _touch(b, datetime(2026, 6, 1, tzinfo=UTC))
    return a, b


# --- merge ------------------------------------------------------------------------------------


def test_merge_moves_every_linked_row_to_the_survivor(world: factories.World) -> None:
    admin = world.principal("admin")
    a, b = _twins(world)
    orders = [_order(b, "B-1", "99.00"), _order(b, "B-2", "15.50")]
    kept_order = _order(a, "A-1", "10.00")
    calls = [_activity(admin, b, "Asked about delivery")]

    merge_id = _merge(a, b, actor=admin, rules=ERP_FIRST)

    assert _customer(b) is None
    with db.transaction() as s:
        owners = dict(s.execute(select(Order.id, Order.customer_id)).all())
        activity_owners = s.execute(
            text("SELECT customer_id FROM activities WHERE id = :id"), {"id": calls[0]}
        ).scalar()
    assert owners == {orders[0]: a, orders[1]: a, kept_order: a}
    assert activity_owners == a
    values = _values(a)
    assert values["tags"] == ["newsletter", "shanghai", "vip"]
    assert values["external_ids"] == [("erp", "E-100"), ("shop", "S-9")]
    # loyalty: both had one, the ERP record's wins; channel: only the web record had it.
    assert values["custom"] == {"loyalty": "gold", "channel": "wechat"}
    with db.transaction() as s:
        record = s.get(Merge, merge_id)
        assert record is not None
        assert (record.survivor_id, record.merged_id, record.merged_name) == (a, b, "张伟")
        assert record.reason["actor"] == "admin"
        actions = s.execute(
            select(AuditEvent.action, AuditEvent.entity_id).where(AuditEvent.action == "merge")
        ).all()
    assert sorted(actions) == sorted([("merge", str(a)), ("merge", str(b))])


def test_survivorship_source_priority_then_recency(world: factories.World) -> None:
    a, b = _twins(world)
    merge_id = _merge(a, b, rules=ERP_FIRST)
    survivor = _customer(a)
    assert survivor is not None
    # The ERP record's address stays (trusted source); the empty email and title are filled.
    assert survivor["address"] == "上海市浦东新区世纪大道100号"
    assert survivor["email"] == "zhang.wei@example.cn"
    assert survivor["title"] == "采购经理"
    assert survivor["source"] == "erp"
    with db.transaction() as s:
        record = s.get(Merge, merge_id)
        assert record is not None
        choices = record.choices
    assert choices["address"] == {"from": "survivor", "rule": "source_priority"}
    assert choices["email"] == {"from": "merged", "rule": "filled"}
    assert choices["phone"] == {"from": "survivor", "rule": "same"}
    assert choices["cf.loyalty"] == {"from": "survivor", "rule": "source_priority"}
    assert choices["cf.channel"] == {"from": "merged", "rule": "filled"}


def test_survivorship_most_recent_first(world: factories.World) -> None:
    a, b = _twins(world)
    merge_id = _merge(a, b, rules=RECENT_FIRST)
    survivor = _customer(a)
    assert survivor is not None
    # The web record was updated last: its address and loyalty level win.
    assert survivor["address"] == "北京市朝阳区建国路88号"
    assert survivor["source"] == "web"
    assert _values(a)["custom"] == {"loyalty": "silver", "channel": "wechat"}
    with db.transaction() as s:
        record = s.get(Merge, merge_id)
        assert record is not None
        assert record.choices["address"] == {"from": "merged", "rule": "most_recent"}


def test_survivorship_most_complete_when_recency_ties(world: factories.World) -> None:
    admin = world.principal("admin")
    sparse = factories.make_customer(admin, name="Li Na", industry="retail")
    rich = factories.make_customer(
        admin, name="Li Na", industry="logistics", title="CFO", website="https://ln.example"
    )
    same = datetime(2026, 1, 1, tzinfo=UTC)
    _touch(sparse, same)
    _touch(rich, same)
    rules = service.Survivorship(order=("most_recent", "most_complete"))
    merge_id = _merge(sparse, rich, rules=rules)
    survivor = _customer(sparse)
    assert survivor is not None and survivor["industry"] == "logistics"
    with db.transaction() as s:
        record = s.get(Merge, merge_id)
        assert record is not None
        assert record.choices["industry"] == {"from": "merged", "rule": "most_complete"}


def test_merging_an_account_moves_its_contacts(world: factories.World) -> None:
    admin = world.principal("admin")
    first = factories.make_customer(admin, name="华信科技", kind="company")
    second = factories.make_customer(admin, name="华信科技有限公司", kind="company")
    contacts = [
        factories.make_customer(admin, name="王芳", account_id=second),
        factories.make_customer(admin, name="刘洋", account_id=second),
    ]
    before = {c: _customer(c) for c in contacts}
    _merge(first, second)
    for contact in contacts:
        row = _customer(contact)
        assert row is not None and row["account_id"] == first
        # A contact re-pointed by a merge was not edited: its update time stays.
        assert row["updated_at"] == before[contact]["updated_at"]  # type: ignore[index]


def test_a_person_is_never_merged_into_a_company(world: factories.World) -> None:
    admin = world.principal("admin")
    person = factories.make_customer(admin, name="Acme")
    company = factories.make_customer(admin, name="Acme", kind="company")
    with pytest.raises(InvalidInput) as exc:
        _merge(company, person)
    assert exc.value.errors == {"kind": "kinds_differ"}
    assert _customer(person) is not None


# --- unmerge ----------------------------------------------------------------------------------


def test_unmerge_restores_both_customers_and_all_their_links_exactly(
    world: factories.World,
) -> None:
    admin = world.principal("admin")
    a, b = _twins(world)
    company = factories.make_customer(admin, name="华信科技", kind="company")
    other = factories.make_customer(admin, name="华信科技有限公司", kind="company")
    contact = factories.make_customer(admin, name="王芳", account_id=other)
    _order(b, "B-1", "99.00")
    _order(a, "A-1", "10.00")
    _activity(admin, b, "Asked about delivery")
    _activity(admin, a, "Welcome call")
    dumps = {c: _dump(c) for c in (a, b, company, other, contact)}

    people = _merge(a, b, actor=admin, rules=ERP_FIRST)
    accounts = _merge(company, other)
    assert _dump(a) != dumps[a] and _customer(b) is None
    _unmerge(accounts)
    _unmerge(people, actor=admin)

    for customer_id, before in dumps.items():
        assert _dump(customer_id) == before, f"customer {customer_id} not restored"
    with db.transaction() as s:
        record = s.get(Merge, people)
        assert record is not None and record.undone_at is not None
        assert record.undone_by == admin.user_id
        actions = s.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "unmerge"))
        assert sorted(actions) == sorted([str(a), str(b), str(company), str(other)])


def test_unmerge_keeps_survivor_fields_edited_after_the_merge(world: factories.World) -> None:
    admin = world.principal("admin")
    a, b = _twins(world)
    before = _customer(a)
    assert before is not None
    merge_id = _merge(a, b, rules=ERP_FIRST)
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        customers_service.update(
            db=s,
            customer_id=a,
            data=customers_service.CustomerUpdate(title="销售总监"),
            principal=admin,
        )
    _unmerge(merge_id)
    after = _customer(a)
    assert after is not None
    assert after["title"] == "销售总监"  # edited since the merge: kept
    assert after["email"] == before["email"] is None  # filled by the merge only: undone
    restored = _customer(b)
    assert restored is not None and restored["title"] == "采购经理"


def test_unmerge_waits_for_later_merges_of_the_same_customers(world: factories.World) -> None:
    admin = world.principal("admin")
    a = factories.make_customer(admin, name="陈静", phone="13900001111")
    b = factories.make_customer(admin, name="陈静", phone="13900001111")
    c = factories.make_customer(admin, name="陈 静", phone="13900001111")
    first = _merge(a, b)
    second = _merge(c, a)  # the survivor of the first merge is itself merged away

    with pytest.raises(Conflict) as exc:
        _unmerge(first)
    assert exc.value.errors == {"merge": "undo_later_merge_first", "later_merge_id": str(second)}
    assert _customer(b) is None  # nothing changed

    _unmerge(second)
    _unmerge(first)
    assert all(_customer(i) is not None for i in (a, b, c))
    with pytest.raises(Conflict) as exc:
        _unmerge(first)
    assert exc.value.errors == {"merge": "already_undone"}


def test_unmerge_marks_the_pair_not_the_same_and_restores_other_pairs(
    world: factories.World,
) -> None:
    admin = world.principal("admin")
    a = factories.make_customer(admin, name="周杰", phone="13700001111")
    b = factories.make_customer(admin, name="周杰", phone="13700001111")
    c = factories.make_customer(admin, name="周洁")
    with db.transaction() as s:
        for left, right in ((a, b), (b, c)):
            candidate = service.Candidate(left, right, 0.9, 5.0, "model", {})
            service.save_candidate(db=s, candidate=candidate)
    merge_id = _merge(a, b)
    with db.transaction() as s:
        statuses = dict(s.execute(select(CandidatePair.right_id, CandidatePair.status)).all())
    assert statuses == {b: "merged"}  # (b, c) set aside while b does not exist
    _unmerge(merge_id)
    with db.transaction() as s:
        statuses = dict(s.execute(select(CandidatePair.right_id, CandidatePair.status)).all())
    assert statuses == {b: "rejected", c: "pending"}


# --- access -----------------------------------------------------------------------------------


def test_merge_needs_identity_review_and_sight_of_both_customers(
    world: factories.World,
) -> None:
    east = world.customers["East"][0]
    twin = factories.make_customer(
        world.principal("admin"), name="张伟", phone="13812341234", team_id=world.teams["East"]
    )
    with pytest.raises(Forbidden):
        _merge(east, twin, actor=world.principal("agent"))
    factories.make_user("west_ops", "ops_manager", ["West"])
    with db.transaction() as s:
        from clientops.auth import service as auth_service

        west_ops = auth_service.principal_of(auth_service.find_user(db=s, username="west_ops"))
    with pytest.raises(NotFound):
        _merge(east, twin, actor=west_ops)
    assert _customer(twin) is not None
    merge_id = _merge(east, twin, actor=world.principal("ops_manager"))
    with pytest.raises(NotFound):
        _unmerge(merge_id, actor=west_ops)
    assert _customer(twin) is None


def test_changed_since_finds_recent_changes(world: factories.World) -> None:
    old = world.customers["East"][0]
    _touch(old, datetime.now(UTC) - timedelta(days=3))
    with db.transaction() as s:
        changed = service.changed_since(db=s, since=datetime.now(UTC) - timedelta(days=1))
    assert old not in changed and world.customers["West"][0] in changed


def _events(customer_id: int, count: int, prefix: str) -> None:
    from clientops.events import service as events_service
    from clientops.events.models import Event

    with db.transaction() as s:
        for i in range(count):
            s.add(
                Event(
                    message_id=f"{prefix}-{i}",
                    type="page",
                    name="pricing",
                    source="web",
                    anonymous_id=f"anon-{prefix}",
                    customer_id=customer_id,
                    occurred_at=datetime(2026, 5, 1 + i, tzinfo=UTC),
                    payload={"n": i},
                )
            )
        s.flush()
        events_service.recompute_summary(db=s, customer_id=customer_id)


def _page_views(customer_id: int) -> int | None:
    with db.transaction() as s:
        return s.execute(
            text("SELECT page_views FROM event_summaries WHERE customer_id = :id"),
            {"id": customer_id},
        ).scalar()


def test_behaviour_events_follow_the_merge_and_come_back(world: factories.World) -> None:
    a, b = _twins(world)
    _events(a, 2, "a")
    _events(b, 3, "b")
    events_before = {c: _dump(c)["events.customer_id"] for c in (a, b)}

    merge_id = _merge(a, b)
    assert _page_views(a) == 5  # the survivor's summary counts the events it received
    _unmerge(merge_id)

    assert {c: _dump(c)["events.customer_id"] for c in (a, b)} == events_before
    assert (_page_views(a), _page_views(b)) == (2, 3)


def test_unmerge_refuses_when_the_merged_id_was_taken_again(world: factories.World) -> None:
    # SQLite hands out the highest id again once its row is deleted; PostgreSQL never does.
    admin = world.principal("admin")
    a = factories.make_customer(admin, name="高峰", phone="13600001111")
    b = factories.make_customer(admin, name="高峰", phone="13600001111")
    merge_id = _merge(a, b)
    with db.transaction() as s:
        s.execute(
            text(
                "INSERT INTO customers (id, kind, name, name_key, lifecycle_stage, created_at, "
                "updated_at) VALUES (:id, 'person', 'Newcomer', 'newcomer', 'potential', "
                ":now, :now)"
            ),
            {"id": b, "now": datetime.now(UTC)},
        )
    survivor = _dump(a)
    with pytest.raises(Conflict) as exc:
        _unmerge(merge_id)
    assert exc.value.errors == {"merge": "merged_id_in_use"}
    assert _dump(a) == survivor
    newcomer = _customer(b)
    assert newcomer is not None and newcomer["name"] == "Newcomer"
