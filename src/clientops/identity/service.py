"""Identity resolution rules: candidate pairs, survivorship, merge and exact unmerge.

A merge keeps one customer (the survivor) and deletes the other after recording everything
needed to bring it back: its complete row and children, the survivor's values before the
merge, and every row re-pointed from it to the survivor. Rows are re-pointed by following the
foreign keys to ``customers.id`` found in the metadata, so a table added later (tickets,
projects) moves with no change here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    PrimaryKeyConstraint,
    Select,
    Table,
    UniqueConstraint,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    true,
    tuple_,
    union,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, lazyload
from sqlalchemy.types import TypeDecorator

from clientops import registry
from clientops.audit import service as audit_service
from clientops.config import current
from clientops.core import masking
from clientops.core.access import Principal
from clientops.core.context import Actor
from clientops.core.pagination import decode_cursor, encode_cursor
from clientops.customers import service as customers_service
from clientops.customers.models import Customer, CustomFieldValue, ExternalId, customer_tags
from clientops.db import utcnow
from clientops.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from clientops.identity.models import PAIR_STATUSES, CandidatePair, Merge, ResolveRun
from clientops.jobs.models import Job

CUSTOMERS: Table = cast(Table, Customer.__table__)
CHILD_TABLES: tuple[Table, ...] = (
    customer_tags,
    cast(Table, ExternalId.__table__),
    cast(Table, CustomFieldValue.__table__),
)
OWN_TABLES = frozenset({"identity_pairs", "identity_merges", "identity_runs"})
PERMISSION = "identity:review"
CHUNK = 500

# --- survivorship rules ---------------------------------------------------------------------

RULES = ("source_priority", "most_recent", "most_complete")
DEFAULT_ORDER = ("source_priority", "most_recent", "most_complete")
"""Default order of the rules that settle a field both customers have, with different values:
the more trusted source first, then the more recently updated record, then the more complete
one; when none decides, the survivor's value stays. A value always beats an empty field."""

FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "name": ("name", "name_key", "alt_key"),
    "phone": ("phone", "phone_key"),
    "email": ("email", "email_key"),
    "address": ("address", "province", "city", "district", "postcode"),
    "birth_date": ("birth_date",),
    "id_number": ("id_number",),
    "title": ("title",),
    "website": ("website",),
    "industry": ("industry",),
    "lifecycle_stage": ("lifecycle_stage",),
    "source": ("source",),
    "notes": ("notes",),
    "account_id": ("account_id",),
}
"""Fields decided together: a search key follows its field, an address moves as a whole."""
KEPT_FIELDS = ("id", "kind", "owner_id", "team_id", "created_at")
"""The survivor keeps these whatever the rules say: its identity, and who may see it."""


@dataclass(frozen=True)
class Survivorship:
    """How the value of a field is picked when both customers have one."""

    order: tuple[str, ...] = DEFAULT_ORDER
    source_priority: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [rule for rule in self.order if rule not in RULES]
        if unknown:
            raise InvalidInput({"survivorship": f"unknown_rule:{unknown[0]}"})

    def source_rank(self, source: str | None) -> int:
        """Position of ``source`` in the priority list (unlisted sources come last)."""
        sources = [s.casefold() for s in self.source_priority]
        key = (source or "").casefold()
        return sources.index(key) if key in sources else len(sources)


def configured_rules() -> Survivorship:
    """The survivorship rules of the settings (``identity_survivorship``, ``identity_source_
    priority``), else the defaults."""
    settings = current()
    order = getattr(settings, "identity_survivorship", None) or DEFAULT_ORDER
    priority = getattr(settings, "identity_source_priority", None) or ()
    return Survivorship(order=tuple(order), source_priority=tuple(priority))


def _filled(value: Any) -> bool:
    return value is not None and value != ""


def _completeness(row: dict[str, Any]) -> int:
    return sum(1 for group in FIELD_GROUPS if _group_filled(row, group))


def _group_filled(row: dict[str, Any], group: str) -> bool:
    return any(_filled(row.get(name)) for name in FIELD_GROUPS[group])


def _winner(rule: str, rules: Survivorship, a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Which side ``rule`` prefers ("survivor" or "merged"), or None when it cannot tell."""
    left: float
    right: float
    if rule == "source_priority":
        left, right = rules.source_rank(a.get("source")), rules.source_rank(b.get("source"))
    elif rule == "most_recent":
        left, right = -_stamp(a.get("updated_at")), -_stamp(b.get("updated_at"))
    else:
        left, right = -_completeness(a), -_completeness(b)
    if left == right:
        return None
    return "survivor" if left < right else "merged"


def _stamp(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0


def decide(
    rules: Survivorship,
    survivor: dict[str, Any],
    merged: dict[str, Any],
    survivor_value: Any,
    merged_value: Any,
) -> tuple[str, str]:
    """Which record's value a field takes, and the rule that decided: (side, rule)."""
    if survivor_value == merged_value or not _filled(merged_value):
        return "survivor", "same" if survivor_value == merged_value else "filled"
    if not _filled(survivor_value):
        return "merged", "filled"
    for rule in rules.order:
        side = _winner(rule, rules, survivor, merged)
        if side is not None:
            return side, rule
    return "survivor", "survivor"


def choose_survivor(rows: Sequence[dict[str, Any]], rules: Survivorship | None = None) -> int:
    """The id that lives on among duplicates: the most trusted source, then the oldest record
    (the id other systems have known longest)."""
    rules = rules or configured_rules()

    def key(row: dict[str, Any]) -> tuple[int, float, int]:
        return rules.source_rank(row.get("source")), _stamp(row.get("created_at")), row["id"]

    return int(min(rows, key=key)["id"])


def _group_values(row: dict[str, Any], group: str, own_ids: set[int]) -> tuple[Any, ...]:
    values = tuple(row.get(name) for name in FIELD_GROUPS[group])
    if group == "account_id" and values[0] in own_ids:
        return (None,)  # an account link between the two would point at itself after the merge
    return values


def _lead(values: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """A group's value for the rules: empty only when all its fields are."""
    return values if any(map(_filled, values)) else None


def field_choices(
    rules: Survivorship, survivor: dict[str, Any], merged: dict[str, Any]
) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
    """Per field group, the side and rule chosen; and the survivor's new column values."""
    own = {survivor["id"], merged["id"]}
    choices: dict[str, dict[str, str]] = {}
    changes: dict[str, Any] = {}
    for group, names in FIELD_GROUPS.items():
        mine, theirs = _group_values(survivor, group, own), _group_values(merged, group, own)
        side, rule = decide(rules, survivor, merged, _lead(mine), _lead(theirs))
        choices[group] = {"from": side, "rule": rule}
        chosen = theirs if side == "merged" else mine
        for name, value in zip(names, chosen, strict=True):
            if value != survivor.get(name):
                changes[name] = value
    return choices, changes


# --- rows as JSON: complete, typed, restorable -----------------------------------------------


def to_json(value: Any) -> Any:
    """A column value as JSON (timestamps in UTC, decimals as text)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _from_json(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    type_ = column.type
    if isinstance(type_, TypeDecorator):  # e.g. UTC timestamps: the stored type decides
        type_ = type_.impl_instance
    try:
        kind = type_.python_type
    except NotImplementedError:
        return value
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is Decimal:
        return Decimal(value)
    return value


def dump_row(table: Table, row: Any) -> dict[str, Any]:
    """Every column of a row, as JSON."""
    return {column.name: to_json(row[column.name]) for column in table.columns}


def _load_row(table: Table, data: dict[str, Any]) -> dict[str, Any]:
    return {c.name: _from_json(c, data[c.name]) for c in table.columns if c.name in data}


def _customer_row(db: Session, customer_id: int) -> dict[str, Any] | None:
    row = db.execute(select(CUSTOMERS).where(CUSTOMERS.c.id == customer_id)).mappings().first()
    return dict(row) if row is not None else None


def _locked_rows(db: Session, *ids: int) -> list[dict[str, Any]]:
    """The customers' rows, locked until the transaction ends (PostgreSQL): a second merge of
    the same customers waits, then finds one gone. ``NotFound`` when one is."""
    stmt = select(CUSTOMERS).where(CUSTOMERS.c.id.in_(ids)).order_by(CUSTOMERS.c.id)
    rows = {row["id"]: dict(row) for row in db.execute(stmt.with_for_update()).mappings()}
    if len(rows) != len(ids):
        raise NotFound("customer")
    return [rows[i] for i in ids]


def _children(db: Session, customer_id: int) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for table in CHILD_TABLES:
        stmt = select(table).where(table.c.customer_id == customer_id)
        rows = db.execute(stmt.order_by(*table.primary_key.columns)).mappings()
        found[table.name] = [dump_row(table, row) for row in rows]
    return found


# --- who may do it ---------------------------------------------------------------------------


def _user_id(actor: Principal | Actor) -> int | None:
    return actor.user_id if isinstance(actor, Principal) else actor.id


def _name(actor: Principal | Actor) -> str:
    return actor.username if isinstance(actor, Principal) else actor.name


def _check_customers(db: Session, actor: Principal | Actor, ids: Iterable[int]) -> None:
    """A person needs ``identity:review`` and must see every customer; the system may act on
    any existing customer."""
    if isinstance(actor, Principal):
        if not actor.can(PERMISSION):
            raise Forbidden(PERMISSION)
        for customer_id in ids:
            customers_service.get(db=db, customer_id=customer_id, principal=actor)
        return
    # The system needs no check here: the rows are read (and locked) next, or NotFound.


def _visible(principal: Principal) -> Select[Any]:
    return customers_service.restrict(select(Customer.id), principal)


def _seen(column: InstrumentedAttribute[int], principal: Principal) -> ColumnElement[bool]:
    """``column`` names a customer the principal sees, or one that no longer exists."""
    if principal.sees_all:
        return true()
    return or_(column.in_(_visible(principal)), column.not_in(select(Customer.id)))


# --- candidate pairs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A pair found by the matching engine, ids in either order."""

    left_id: int
    right_id: int
    probability: float
    match_weight: float
    rule: str
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int]:
        """The pair's ids, smaller first."""
        return min(self.left_id, self.right_id), max(self.left_id, self.right_id)


def _pair_of(db: Session, a: int, b: int) -> CandidatePair | None:
    left, right = min(a, b), max(a, b)
    stmt = select(CandidatePair).where(
        CandidatePair.left_id == left, CandidatePair.right_id == right
    )
    return db.scalar(stmt)


def existing_pairs(
    *, db: Session, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], CandidatePair]:
    """The stored pairs among ``keys`` (smaller id first), by key."""
    found: dict[tuple[int, int], CandidatePair] = {}
    for chunk in _chunks(sorted(set(keys))):
        stmt = select(CandidatePair).where(
            tuple_(CandidatePair.left_id, CandidatePair.right_id).in_(chunk)
        )
        found.update({(p.left_id, p.right_id): p for p in db.scalars(stmt)})
    return found


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def proposable(pair: CandidatePair, changed_at: datetime | None) -> bool:
    """Whether a stored pair may be (re)proposed: a pending one, or a rejected one whose
    records changed after the decision."""
    if pair.status != "rejected":
        return pair.status == "pending"
    return pair.decided_at is None or (changed_at is not None and changed_at > pair.decided_at)


def save_candidate(
    *, db: Session, candidate: Candidate, job_id: int | None = None
) -> CandidatePair | None:
    """Queue a pair for review (or refresh its evidence); None when it stays decided."""
    left, right = candidate.key
    values = {
        "probability": candidate.probability,
        "match_weight": candidate.match_weight,
        "rule": candidate.rule,
        "evidence": candidate.evidence,
        "job_id": job_id,
    }
    pair = _pair_of(db, left, right)
    if pair is None:
        pair = CandidatePair(left_id=left, right_id=right, status="pending", **values)
        db.add(pair)
    elif pair.status == "merged" or not proposable(pair, _changed_at(db, left, right)):
        return None
    else:
        for name, value in values.items():
            setattr(pair, name, value)
        pair.status, pair.decided_by, pair.decided_at = "pending", None, None
    db.flush()
    return pair


def queue_for_review(
    *, db: Session, candidates: Sequence[Candidate], job_id: int | None = None
) -> int:
    """Queue pairs whose two records still exist; how many were queued (or refreshed)."""
    live = set(_facts(db, (i for c in candidates for i in c.key)))
    queued = 0
    for candidate in candidates:
        if set(candidate.key) <= live:
            queued += save_candidate(db=db, candidate=candidate, job_id=job_id) is not None
    return queued


def _changed_at(db: Session, *ids: int) -> datetime | None:
    return db.scalar(select(func.max(Customer.updated_at)).where(Customer.id.in_(ids)))


def _pair_filter(stmt: Select[Any], principal: Principal, status: str) -> Select[Any]:
    left, right = CandidatePair.left_id, CandidatePair.right_id
    if status != "merged":  # both records exist and are visible
        if principal.sees_all:
            live = select(Customer.id)
            return stmt.where(left.in_(live), right.in_(live))
        return stmt.where(left.in_(_visible(principal)), right.in_(_visible(principal)))
    return stmt.where(_seen(left, principal), _seen(right, principal))


def list_pairs(
    *,
    db: Session,
    principal: Principal,
    status: str = "pending",
    cursor: str | None = None,
    limit: int = 25,
) -> tuple[list[CandidatePair], str | None]:
    """A page of pairs in ``status``, the most probable first, and the next page's cursor."""
    _require(principal)
    if status not in PAIR_STATUSES:
        raise InvalidInput({"status": "invalid_choice"})
    stmt = _pair_filter(
        select(CandidatePair).where(CandidatePair.status == status), principal, status
    )
    if cursor:
        probability, last_id = decode_cursor(cursor)
        if not isinstance(probability, int | float) or type(last_id) is not int:
            raise InvalidInput({"cursor": "invalid"})
        stmt = stmt.where(
            or_(
                CandidatePair.probability < probability,
                and_(CandidatePair.probability == probability, CandidatePair.id > last_id),
            )
        )
    stmt = stmt.order_by(CandidatePair.probability.desc(), CandidatePair.id).limit(limit + 1)
    rows = list(db.scalars(stmt))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([last.probability, last.id])


def _require(principal: Principal) -> None:
    if not principal.can(PERMISSION):
        raise Forbidden(PERMISSION)


def get_pair(*, db: Session, pair_id: int, principal: Principal) -> CandidatePair:
    """A pair whose customers the principal may see; ``NotFound`` otherwise."""
    _require(principal)
    pair = db.get(CandidatePair, pair_id)
    if pair is None:
        raise NotFound("pair")
    stmt = _pair_filter(
        select(CandidatePair.id).where(CandidatePair.id == pair_id), principal, pair.status
    )
    if db.scalar(stmt) is None:
        raise NotFound("pair")
    return pair


def reject(*, db: Session, pair_id: int, principal: Principal) -> CandidatePair:
    """Mark a pending pair "not the same person": it is not proposed again unless a record
    changes."""
    pair = get_pair(db=db, pair_id=pair_id, principal=principal)
    if pair.status != "pending":
        raise Conflict({"status": f"already_{pair.status}"})
    pair.status, pair.decided_by, pair.decided_at = "rejected", principal.user_id, utcnow()
    db.flush()
    return pair


def merge_pair(
    *, db: Session, pair_id: int, principal: Principal, survivor_id: int | None = None
) -> Merge:
    """Merge the two customers of a pending pair into ``survivor_id`` (default: by the rules)."""
    pair = get_pair(db=db, pair_id=pair_id, principal=principal)
    if pair.status != "pending":
        raise Conflict({"status": f"already_{pair.status}"})
    ids = (pair.left_id, pair.right_id)
    if survivor_id is None:
        survivor_id = default_survivor(db=db, ids=ids)
    if survivor_id not in ids:
        raise InvalidInput({"survivor_id": "not_in_pair"})
    merged_id = ids[1] if survivor_id == ids[0] else ids[0]
    reason = {"rule": pair.rule, "probability": pair.probability, "via": "review"}
    return merge(
        db=db,
        survivor_id=survivor_id,
        merged_id=merged_id,
        actor=principal,
        reason=reason,
        pair_id=pair.id,
    )


def default_survivor(*, db: Session, ids: Sequence[int]) -> int:
    """The survivor the rules choose among existing customers ``ids``."""
    rows = [row for row in (_customer_row(db, i) for i in ids) if row is not None]
    if not rows:
        raise NotFound("customer")
    return choose_survivor(rows)


def count_customers_in_open_pairs(*, db: Session) -> int:
    """How many distinct existing customers are in pending pairs (the duplicates share)."""
    pending = CandidatePair.status == "pending"
    ids = union(
        select(CandidatePair.left_id.label("cid")).where(pending),
        select(CandidatePair.right_id.label("cid")).where(pending),
    ).subquery()
    stmt = select(func.count()).select_from(ids).where(ids.c.cid.in_(select(Customer.id)))
    return int(db.scalar(stmt) or 0)


# --- merge ------------------------------------------------------------------------------------


def references() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) whose foreign key points at ``customers.id``, ours excepted."""
    found = []
    for table in registry.metadata.sorted_tables:
        if table.name in OWN_TABLES:
            continue
        for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
            if fk.column is CUSTOMERS.c.id:
                found.append((table, fk.parent))
    return found


def _unique_sets(table: Table, column: Column[Any]) -> list[list[Column[Any]]]:
    """For each unique key containing ``column``, its other columns."""
    sets = [
        list(constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
    ]
    sets += [list(index.columns) for index in table.indexes if index.unique]
    return [[c for c in cols if c is not column] for cols in sets if column in cols]


def _kept_onupdate(table: Table) -> dict[str, Any]:
    # A moved row is not an edited row: its "updated" time stays as it was.
    return {c.name: c for c in table.columns if c.onupdate is not None}


def _clashes(table: Table, column: Column[Any], survivor_id: int) -> ColumnElement[bool]:
    """Rows that the survivor already has an equivalent of under a unique key."""
    other = table.alias("other")
    tests = [
        exists().where(other.c[column.name] == survivor_id, *(other.c[c.name] == c for c in cols))
        for cols in _unique_sets(table, column)
    ]
    return or_(*tests) if tests else false()


def _move_table(
    db: Session, table: Table, column: Column[Any], survivor_id: int, merged_id: int
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Re-point the merged customer's rows of one table; rows the survivor already has an
    equivalent of are deleted (kept whole, to restore). (moved, dropped)."""
    where = column == merged_id
    if table is CUSTOMERS:
        where = and_(where, CUSTOMERS.c.id != survivor_id)
    pk = list(table.primary_key.columns)
    dropped: list[dict[str, Any]] = []
    if _unique_sets(table, column):
        clashing = db.execute(select(table).where(where, _clashes(table, column, survivor_id)))
        for row in clashing.mappings().all():
            dropped.append({"table": table.name, "row": dump_row(table, row)})
            db.execute(delete(table).where(*(c == row[c.name] for c in pk)))
    moving = update(table).where(where).values({column.name: survivor_id, **_kept_onupdate(table)})
    if db.get_bind().dialect.update_returning:  # one statement: move and learn which rows
        keys = [list(r) for r in db.execute(moving.returning(*pk))]
    else:
        keys = [list(r) for r in db.execute(select(*pk).where(where))]
        db.execute(moving)
    if not keys:
        return None, dropped
    position = [c.name for c in pk].index(column.name) if column in pk else None
    # The primary key after the move (RETURNING already gives it; a SELECT before does not).
    after = [
        [to_json(survivor_id if i == position else v) for i, v in enumerate(key)] for key in keys
    ]
    moved = {"table": table.name, "column": column.name, "pk": [c.name for c in pk], "keys": after}
    return moved, dropped


def _recompute(db: Session, ids: Iterable[int]) -> None:
    """Let the events domain refresh its per-customer summaries, when it offers to."""
    try:
        events_service = importlib.import_module("clientops.events.service")
    except ImportError:
        return
    many = getattr(events_service, "recompute_summaries", None)
    if many is not None:
        many(db=db, customer_ids=list(ids))
        return
    one = getattr(events_service, "recompute_summary", None)
    if one is not None:
        for customer_id in ids:
            one(db=db, customer_id=customer_id)


def _custom_field_choices(
    db: Session,
    rules: Survivorship,
    survivor: dict[str, Any],
    merged: dict[str, Any],
) -> tuple[dict[str, dict[str, str]], dict[int, dict[str, Any]]]:
    """Per custom field both have: the side and rule chosen; the survivor's rows to change."""
    mine = {v.field_id: v for v in _field_values(db, survivor["id"])}
    choices: dict[str, dict[str, str]] = {}
    changes: dict[int, dict[str, Any]] = {}
    for theirs in _field_values(db, merged["id"]):
        own = mine.get(theirs.field_id)
        key = f"cf.{theirs.field.key}"
        if own is None:
            choices[key] = {"from": "merged", "rule": "filled"}
            continue
        values = {n: getattr(theirs, n) for n in ("text_value", "number_value", "date_value")}
        current_values = {n: getattr(own, n) for n in values}
        side, rule = decide(rules, survivor, merged, _one(current_values), _one(values))
        choices[key] = {"from": side, "rule": rule}
        if side == "merged":
            changes[own.id] = values
    return choices, changes


def _one(values: dict[str, Any]) -> Any:
    return next((v for v in values.values() if v is not None), None)


def _field_values(db: Session, customer_id: int) -> list[CustomFieldValue]:
    stmt = select(CustomFieldValue).where(CustomFieldValue.customer_id == customer_id)
    return list(db.scalars(stmt.order_by(CustomFieldValue.id)))


def _apply_survivor(
    db: Session, survivor_id: int, changes: dict[str, Any], cf_changes: dict[int, dict[str, Any]]
) -> None:
    """Write the chosen values to the survivor through the ORM, so the audit trail has them."""
    customer = db.get(Customer, survivor_id, options=[lazyload("*")])
    assert customer is not None
    for name, value in changes.items():
        setattr(customer, name, value)
    customer.updated_at = utcnow()  # a merged record is a changed record (incremental runs)
    for value_id, values in cf_changes.items():
        row = db.get(CustomFieldValue, value_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
    db.flush()


def _set_aside_pairs(db: Session, merged_id: int, keep_pair: int | None) -> list[dict[str, Any]]:
    """The merged customer's other undecided or rejected pairs, removed (and kept to restore)."""
    table = cast(Table, CandidatePair.__table__)
    where = and_(
        or_(table.c.left_id == merged_id, table.c.right_id == merged_id),
        table.c.status != "merged",
        table.c.id != (keep_pair or 0),
    )
    rows = [dump_row(table, r) for r in db.execute(select(table).where(where)).mappings()]
    if rows:
        db.execute(delete(table).where(where))
    return rows


def merge(
    *,
    db: Session,
    survivor_id: int,
    merged_id: int,
    actor: Principal | Actor,
    reason: dict[str, Any],
    pair_id: int | None = None,
    rules: Survivorship | None = None,
) -> Merge:
    """Merge customer ``merged_id`` into ``survivor_id``, recording how to undo it exactly."""
    if survivor_id == merged_id:
        raise InvalidInput({"survivor_id": "same_customer"})
    _check_customers(db, actor, (survivor_id, merged_id))
    survivor, merged = _locked_rows(db, survivor_id, merged_id)
    if survivor["kind"] != merged["kind"]:
        raise InvalidInput({"kind": "kinds_differ"})
    rules = rules or configured_rules()
    pair = db.get(CandidatePair, pair_id) if pair_id else _pair_of(db, survivor_id, merged_id)
    record = Merge(
        survivor_id=survivor_id,
        merged_id=merged_id,
        pair_id=pair.id if pair else None,
        merged_name=merged["name"],
        merged_row=dump_row(CUSTOMERS, merged),
        merged_children=_children(db, merged_id),
        survivor_row=dump_row(CUSTOMERS, survivor),
        survivor_children=_children(db, survivor_id),
        reason={**reason, "actor": _name(actor), "actor_id": _user_id(actor)},
        created_by=_user_id(actor),
    )
    choices, changes = field_choices(rules, survivor, merged)
    cf_choices, cf_changes = _custom_field_choices(db, rules, survivor, merged)
    _apply_survivor(db, survivor_id, changes, cf_changes)
    record.choices = {**choices, **cf_choices}
    record.survivor_after = _after(db, survivor_id, cf_changes)
    record.moved, record.dropped = _move_all(db, survivor_id, merged_id)
    record.pairs = _set_aside_pairs(db, merged_id, record.pair_id)
    _recompute(db, (survivor_id, merged_id))
    db.execute(delete(CUSTOMERS).where(CUSTOMERS.c.id == merged_id))
    db.expire_all()  # the ORM must not act on rows changed or removed behind its back
    _close_pair(pair, "merged", _user_id(actor))
    db.add(record)
    db.flush()
    _audit(db, "merge", record)
    return record


def _after(db: Session, survivor_id: int, cf_changes: dict[int, Any]) -> dict[str, Any]:
    row = _customer_row(db, survivor_id)
    table = cast(Table, CustomFieldValue.__table__)
    values = db.execute(select(table).where(table.c.id.in_(list(cf_changes)))).mappings()
    return {
        "row": dump_row(CUSTOMERS, row),
        "custom_field_values": {str(v["id"]): dump_row(table, v) for v in values},
    }


def _move_all(db: Session, survivor_id: int, merged_id: int) -> tuple[list[Any], list[Any]]:
    moved: list[Any] = []
    dropped: list[Any] = []
    for table, column in references():
        entry, gone = _move_table(db, table, column, survivor_id, merged_id)
        if entry is not None:
            moved.append(entry)
        dropped.extend(gone)
    return moved, dropped


def _close_pair(pair: CandidatePair | None, status: str, user_id: int | None) -> None:
    if pair is not None:
        pair.status, pair.decided_by, pair.decided_at = status, user_id, utcnow()


def _audit(db: Session, action: str, record: Merge) -> None:
    details = {
        "merge_id": record.id,
        "survivor_id": record.survivor_id,
        "merged_id": record.merged_id,
        "reason": record.reason,
    }
    for role, customer_id in (("survivor", record.survivor_id), ("merged", record.merged_id)):
        audit_service.record(
            db,
            action=action,
            entity="customers",
            entity_id=str(customer_id),
            details={**details, "role": role},
        )


# --- unmerge ----------------------------------------------------------------------------------


def _table(name: str) -> Table:
    return registry.metadata.tables[name]


def get_merge(*, db: Session, merge_id: int, principal: Principal) -> Merge:
    """A merge whose customers the principal may see; ``NotFound`` otherwise."""
    _require(principal)
    stmt = _merge_filter(select(Merge).where(Merge.id == merge_id), principal)
    record: Merge | None = db.scalar(stmt)
    if record is None:
        raise NotFound("merge")
    return record


def _merge_filter(stmt: Select[Any], principal: Principal) -> Select[Any]:
    if principal.sees_all:
        return stmt
    return stmt.where(
        _seen(Merge.survivor_id, principal),
        _seen(Merge.merged_id, principal),
        or_(Merge.survivor_id.in_(_visible(principal)), Merge.merged_id.in_(_visible(principal))),
    )


def list_merges(
    *,
    db: Session,
    principal: Principal,
    cursor: str | None = None,
    limit: int = 25,
    customer_id: int | None = None,
) -> tuple[list[Merge], str | None]:
    """A page of merges the principal may see, newest first, and the next page's cursor."""
    _require(principal)
    stmt = _merge_filter(select(Merge), principal)
    if customer_id is not None:
        stmt = stmt.where(or_(Merge.survivor_id == customer_id, Merge.merged_id == customer_id))
    if cursor:
        _tag, last_id = decode_cursor(cursor)
        if type(last_id) is not int:
            raise InvalidInput({"cursor": "invalid"})
        stmt = stmt.where(Merge.id < last_id)
    rows = list(db.scalars(stmt.order_by(Merge.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(["m", rows[limit - 1].id])


def merges_into(*, db: Session, customer_id: int, limit: int = 20) -> list[Merge]:
    """The merges that folded other customers into this one, newest first (the 360 panel)."""
    stmt = select(Merge).where(Merge.survivor_id == customer_id)
    return list(db.scalars(stmt.order_by(Merge.id.desc()).limit(limit)))


def _later_merge(db: Session, record: Merge) -> Merge | None:
    ids = (record.survivor_id, record.merged_id)
    stmt = select(Merge).where(
        Merge.id > record.id,
        Merge.undone_at.is_(None),
        or_(Merge.survivor_id.in_(ids), Merge.merged_id.in_(ids)),
    )
    return db.scalar(stmt.order_by(Merge.id.desc()).limit(1))


def unmerge(*, db: Session, merge_id: int, actor: Principal | Actor) -> Merge:
    """Undo a merge: both customers as they were, with the same ids, links and children.

    Refused while a later merge involving either customer stands (undo that one first).
    Survivor fields edited since the merge keep their new values.
    """
    if isinstance(actor, Principal):
        record = get_merge(db=db, merge_id=merge_id, principal=actor)
    else:
        record = db.get(Merge, merge_id) or _raise(NotFound("merge"))
    db.refresh(record, with_for_update=True)  # a second undo of the same merge waits, then stops
    _check_undoable(db, record)
    _insert_customer(db, record.merged_row)
    if isinstance(actor, Principal):  # the restored record must be one the principal may see
        customers_service.get(db=db, customer_id=record.merged_id, principal=actor)
    _move_back(db, record)
    for entry in record.dropped:
        _restore_row(db, _table(entry["table"]), entry["row"])
    for name, rows in record.merged_children.items():
        for row in rows:
            _restore_row(db, _table(name), row)
    db.flush()
    db.expire_all()  # the ORM must not act on rows changed behind its back
    _restore_survivor(db, record)
    _restore_pairs(db, record, _user_id(actor))
    _recompute(db, (record.survivor_id, record.merged_id))
    record.undone_at, record.undone_by = utcnow(), _user_id(actor)
    db.flush()
    _audit(db, "unmerge", record)
    return record


def _raise(exc: Exception) -> Any:
    raise exc


def _check_undoable(db: Session, record: Merge) -> None:
    if record.undone_at is not None:
        raise Conflict({"merge": "already_undone"})
    later = _later_merge(db, record)
    if later is not None:
        raise Conflict({"merge": "undo_later_merge_first", "later_merge_id": str(later.id)})
    if db.get(Customer, record.survivor_id) is None:
        raise Conflict({"merge": "survivor_gone"})
    if db.get(Customer, record.merged_id) is not None:
        raise Conflict({"merge": "merged_id_in_use"})


def _insert_customer(db: Session, data: dict[str, Any]) -> None:
    row = _load_row(CUSTOMERS, data)
    for fk in CUSTOMERS.foreign_keys:  # a link to a record deleted since is dropped
        value = row.get(fk.parent.name)
        if value is not None and not _exists(db, fk.column, value):
            row[fk.parent.name] = None
    db.execute(insert(CUSTOMERS).values(row))


def _exists(db: Session, column: Column[Any], value: Any) -> bool:
    return db.scalar(select(column).where(column == value).limit(1)) is not None


def _move_back(db: Session, record: Merge) -> None:
    for entry in record.moved:
        table = _table(entry["table"])
        pk = [table.c[name] for name in entry["pk"]]
        column = table.c[entry["column"]]
        keys = [
            tuple(_from_json(c, v) for c, v in zip(pk, key, strict=True)) for key in entry["keys"]
        ]
        values = {column.name: record.merged_id, **_kept_onupdate(table)}
        for chunk in _chunks(keys):
            where = and_(tuple_(*pk).in_(chunk), column == record.survivor_id)
            db.execute(update(table).where(where).values(values))


def _restore_row(db: Session, table: Table, data: dict[str, Any]) -> bool:
    """Insert a row kept by a merge unless it is back already or can no longer fit (its key
    taken, or a record it points to deleted since)."""
    row = _load_row(table, data)
    pk = list(table.primary_key.columns)
    if db.scalar(select(func.count()).select_from(table).where(*(c == row[c.name] for c in pk))):
        return False
    for cols in _all_unique_sets(table):
        if all(row.get(c.name) is not None for c in cols) and db.scalar(
            select(func.count()).select_from(table).where(*(c == row[c.name] for c in cols))
        ):
            return False
    for fk in table.foreign_keys:
        value = row.get(fk.parent.name)
        if value is not None and not _exists(db, fk.column, value):
            if not fk.parent.nullable:
                return False
            row[fk.parent.name] = None
    db.execute(insert(table).values(row))
    return True


def _all_unique_sets(table: Table) -> list[list[Column[Any]]]:
    sets = [
        list(c.columns)
        for c in table.constraints
        if isinstance(c, UniqueConstraint) and not isinstance(c, PrimaryKeyConstraint)
    ]
    return sets + [list(index.columns) for index in table.indexes if index.unique]


def _restore_survivor(db: Session, record: Merge) -> None:
    """Put back the survivor's values the merge changed, where nobody has changed them since."""
    current_row = _customer_row(db, record.survivor_id)
    assert current_row is not None
    now = dump_row(CUSTOMERS, current_row)
    after, before = record.survivor_after["row"], record.survivor_row
    untouched = now == after
    names = [
        name
        for name in before
        if before[name] != after.get(name) and now.get(name) == after.get(name)
    ]
    if not untouched:
        names = [name for name in names if name != "updated_at"]
    customer = db.get(Customer, record.survivor_id)
    assert customer is not None
    restored = _load_row(CUSTOMERS, {name: before[name] for name in names})
    for name, value in restored.items():
        setattr(customer, name, value)
    _restore_survivor_fields(db, record)
    db.flush()


def _restore_survivor_fields(db: Session, record: Merge) -> None:
    table = cast(Table, CustomFieldValue.__table__)
    before = {str(r["id"]): r for r in record.survivor_children.get(table.name, [])}
    for value_id, after in record.survivor_after.get("custom_field_values", {}).items():
        row = db.get(CustomFieldValue, int(value_id))
        if row is None or value_id not in before:
            continue
        if {c.name: to_json(getattr(row, c.key)) for c in table.columns} != after:
            continue  # edited since the merge: the newer value stays
        for name, value in _load_row(table, before[value_id]).items():
            setattr(row, name, value)


def _restore_pairs(db: Session, record: Merge, user_id: int | None) -> None:
    table = cast(Table, CandidatePair.__table__)
    for row in record.pairs:
        _restore_row(db, table, row)
    if record.pair_id is not None:
        # Undoing a merge says the two are not one person: not proposed again unless changed.
        _close_pair(db.get(CandidatePair, record.pair_id), "rejected", user_id)


# --- runs -------------------------------------------------------------------------------------


@dataclass
class RunPlan:
    """What a resolve run will do with the pairs the engine found."""

    clusters: list[dict[str, Any]] = field(default_factory=list)
    review: list[Candidate] = field(default_factory=list)
    skipped: int = 0


def _facts(db: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    columns = (Customer.id, Customer.kind, Customer.source, Customer.created_at)
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(ids))):
        stmt = select(*columns, Customer.updated_at).where(Customer.id.in_(chunk))
        found.update({row.id: dict(row._mapping) for row in db.execute(stmt)})
    return found


def plan_run(*, db: Session, candidates: Sequence[Candidate], auto_from: float) -> RunPlan:
    """Sort the engine's pairs: clusters to merge automatically (at or above ``auto_from``),
    pairs for review, and pairs skipped (decided already, a record gone, person vs company).

    A rejected pair stays apart even when other sure pairs would chain its two records into
    one cluster: that cluster is not joined, and the pair that would join it goes to review.
    """
    facts = _facts(db, (i for c in candidates for i in c.key))
    stored = existing_pairs(db=db, keys=[c.key for c in candidates])
    plan, usable, apart = RunPlan(), [], set()
    for cand in candidates:
        left, right = (facts.get(i) for i in cand.key)
        pair = stored.get(cand.key)
        if left is None or right is None or left["kind"] != right["kind"]:
            plan.skipped += 1
            continue
        changed = max(left["updated_at"], right["updated_at"])
        if pair is not None and (pair.status == "merged" or not proposable(pair, changed)):
            apart.add(cand.key)
            plan.skipped += 1
            continue
        usable.append(cand)
    sure = sorted((c for c in usable if c.probability >= auto_from), key=_strongest)
    apart |= _kept_apart(db, {i for c in sure for i in c.key}, facts)
    joined, blocked = _join(sure, apart)
    plan.review = [c for c in usable if c.probability < auto_from] + blocked
    plan.clusters = [_cluster(component, facts) for component in joined]
    return plan


def _kept_apart(
    db: Session, ids: set[int], facts: dict[int, dict[str, Any]]
) -> set[tuple[int, int]]:
    """Rejected pairs among ``ids`` that still stand (neither record changed since), found by
    this run or not: sure pairs must not chain them into one cluster."""
    found: set[tuple[int, int]] = set()
    for chunk in _chunks(sorted(ids)):
        stmt = select(CandidatePair).where(
            CandidatePair.status == "rejected", CandidatePair.left_id.in_(chunk)
        )
        for pair in db.scalars(stmt):
            if pair.right_id not in ids:
                continue
            changed = max(facts[i]["updated_at"] for i in (pair.left_id, pair.right_id))
            if not proposable(pair, changed):
                found.add((pair.left_id, pair.right_id))
    return found


def _strongest(candidate: Candidate) -> tuple[float, tuple[int, int]]:
    return -candidate.probability, candidate.key


def _join(
    sure: Sequence[Candidate], apart: set[tuple[int, int]]
) -> tuple[list[list[Candidate]], list[Candidate]]:
    """Connected components of the sure pairs, never joining two records kept apart."""
    member_of: dict[int, int] = {}
    components: dict[int, tuple[set[int], list[Candidate]]] = {}
    blocked: list[Candidate] = []
    for cand in sure:
        a, b = cand.key
        for i in (a, b):
            if i not in member_of:
                member_of[i] = i
                components[i] = ({i}, [])
        ca, cb = member_of[a], member_of[b]
        if ca == cb:
            continue
        (ma, ea), (mb, eb) = components[ca], components[cb]
        if any((min(x, y), max(x, y)) in apart for x in ma for y in mb):
            blocked.append(cand)
            continue
        ma |= mb
        ea.extend([*eb, cand])
        for i in mb:
            member_of[i] = ca
        del components[cb]
    return [edges for _members, edges in components.values() if edges], blocked


def _cluster(edges: list[Candidate], facts: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The survivor of a component and, in merge order, each other member with the pair that
    links it to a record merged before it."""
    links: dict[int, list[tuple[int, Candidate]]] = {}
    for cand in edges:
        a, b = cand.key
        links.setdefault(a, []).append((b, cand))
        links.setdefault(b, []).append((a, cand))
    survivor = choose_survivor([facts[i] for i in sorted(links)])
    reached, members, frontier = {survivor}, [], [survivor]
    while frontier:  # breadth first: each member joins through a record already merged
        node = frontier.pop(0)
        for other, cand in links[node]:
            if other not in reached:
                reached.add(other)
                frontier.append(other)
                members.append({"id": other, "pair": candidate_json(cand)})
    return {"survivor": survivor, "members": members}


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    """A candidate as JSON (a workflow step's checkpointed output)."""
    return {
        "left_id": candidate.left_id,
        "right_id": candidate.right_id,
        "probability": candidate.probability,
        "match_weight": candidate.match_weight,
        "rule": candidate.rule,
        "evidence": candidate.evidence,
    }


def auto_merge(
    *, db: Session, survivor_id: int, member: dict[str, Any], job_id: int | None, actor: Actor
) -> Merge | None:
    """Merge a sure duplicate found by a run; None when either record is gone or they are no
    longer both people (or both companies)."""
    facts = _facts(db, (survivor_id, member["id"]))
    if len(facts) != 2 or len({f["kind"] for f in facts.values()}) != 1:
        return None
    cand = Candidate(**member["pair"])
    pair = _pair_of(db, *cand.key)
    if pair is None:
        pair = CandidatePair(left_id=cand.key[0], right_id=cand.key[1], status="pending")
        db.add(pair)
    pair.probability, pair.match_weight, pair.rule = cand.probability, cand.match_weight, cand.rule
    pair.evidence, pair.job_id = cand.evidence, job_id
    db.flush()
    reason = {
        "rule": cand.rule,
        "probability": cand.probability,
        "match_weight": cand.match_weight,
        "via": "auto",
        "job_id": job_id,
    }
    return merge(
        db=db,
        survivor_id=survivor_id,
        merged_id=member["id"],
        actor=actor,
        reason=reason,
        pair_id=pair.id,
    )


def last_run_start(*, db: Session, kind: str = "resolve-customers") -> datetime | None:
    """When the latest successful resolve job started (an incremental run looks from there)."""
    stmt = select(func.max(Job.started_at)).where(Job.kind == kind, Job.status == "succeeded")
    return db.scalar(stmt)


def changed_since(*, db: Session, since: datetime) -> list[int]:
    """Ids of customers created or updated at or after ``since``."""
    stmt = select(Customer.id).where(Customer.updated_at >= since).order_by(Customer.id)
    return list(db.scalars(stmt))


def run_of(*, db: Session, job_id: int) -> ResolveRun | None:
    """The summary a resolve job wrote, if it got that far."""
    return db.scalar(select(ResolveRun).where(ResolveRun.job_id == job_id))


# --- shown to people --------------------------------------------------------------------------

PERSONAL = {
    "phone": masking.mask_phone,
    "email": masking.mask_email,
    "address": masking.mask_text,
    "id_number": masking.mask_id_number,
    "birth_date": masking.mask_birth_date,
    "postcode": masking.mask_text,
}


def masked_evidence(evidence: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The engine's evidence, with personal values masked for roles that do not see them."""
    if principal.sees_clear:
        return evidence
    shown: dict[str, Any] = {}
    for comparison, item in evidence.items():
        mask = next((fn for role, fn in PERSONAL.items() if role in comparison), None)
        item = dict(item)
        if mask is not None:
            for side in ("left", "right"):
                value = item.get(side)
                item[side] = mask(str(value)) if value not in (None, "") else value
        shown[comparison] = item
    return shown


def _briefs(db: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    stmt = select(Customer.id, Customer.name, Customer.kind).where(Customer.id.in_(set(ids)))
    return {row.id: {"id": row.id, "name": row.name, "kind": row.kind} for row in db.execute(stmt)}


def pair_reads(
    *, db: Session, pairs: Sequence[CandidatePair], principal: Principal
) -> list[dict[str, Any]]:
    """Pairs as the API shows them: both customers named, evidence masked for the role."""
    names = _briefs(db, (i for p in pairs for i in (p.left_id, p.right_id)))
    return [
        {
            "id": p.id,
            "left": names.get(p.left_id, {"id": p.left_id}),
            "right": names.get(p.right_id, {"id": p.right_id}),
            "probability": p.probability,
            "match_weight": p.match_weight,
            "rule": p.rule,
            "evidence": masked_evidence(p.evidence, principal),
            "status": p.status,
            "decided_by": p.decided_by,
            "decided_at": p.decided_at,
            "created_at": p.created_at,
        }
        for p in pairs
    ]


def merge_reads(*, db: Session, merges: Sequence[Merge]) -> list[dict[str, Any]]:
    """Merges as the API shows them: the customers named (the merged one as it was)."""
    names = _briefs(db, (i for m in merges for i in (m.survivor_id, m.merged_id)))
    return [
        {
            "id": m.id,
            "survivor": names.get(
                m.survivor_id, {"id": m.survivor_id, "name": m.survivor_row.get("name")}
            ),
            "merged": names.get(
                m.merged_id,
                {"id": m.merged_id, "name": m.merged_name, "kind": m.merged_row.get("kind")},
            ),
            "pair_id": m.pair_id,
            "choices": m.choices,
            "moved": {entry["table"]: len(entry["keys"]) for entry in m.moved},
            "reason": m.reason,
            "created_by": m.created_by,
            "created_at": m.created_at,
            "undone_at": m.undone_at,
            "undone_by": m.undone_by,
        }
        for m in merges
    ]
