"""Data quality of customers: per field completeness, validity, uniqueness and freshness, the
share of duplicates, an overall score, daily snapshots for trends, and the offending customers.

Everything is counted over the customers the reader may see (``customers_service.restrict``),
so a team-scoped reader's figures never include another team's customers. The figures are
aggregated in the database: one grouped scan gives, per day of last update, how many values
each field has and how many are valid, from which completeness, validity, freshness and the
median age follow; uniqueness and duplicates are one grouped query each.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clientops.auth import service as auth_service
from clientops.core.access import Principal
from clientops.core.cnaddress import split_address
from clientops.core.i18n import N_, gettext
from clientops.core.normalise import EARLIEST_BIRTH_DATE, ID_CHECK_CODES, ID_WEIGHTS
from clientops.core.pagination import decode_cursor, encode_cursor
from clientops.customers import service as customers_service
from clientops.customers.models import (
    LIFECYCLE_STAGES,
    Customer,
    CustomFieldDef,
    CustomFieldValue,
)
from clientops.db import utcnow
from clientops.exceptions import Forbidden, InvalidInput, NotFound
from clientops.identity import service as identity_service
from clientops.quality.models import QualitySnapshot

DEFAULT_FRESH_DAYS = 365
"""A value counts as fresh when its customer was updated within this many days."""
LIVE_LIMIT = 20_000
"""Scopes of at most this many customers are computed on every view; larger ones are read
from the day's snapshot, refreshed by the nightly job or the recompute button."""
KEEP_SCOPES_DAYS = 30
"""The nightly job refreshes every scope whose figures were looked at within this many days."""
RECORD = "customer"
"""The pseudo-field of the record as a whole: its duplicates and its freshness."""
METRICS = ("empty", "invalid", "duplicate", "stale")

FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"),
    "phone": N_("Phone"),
    "email": N_("Email"),
    "address": N_("Address"),
    "province": N_("Province"),
    "city": N_("City"),
    "district": N_("District"),
    "birth_date": N_("Birth date"),
    "id_number": N_("Identity number"),
    "owner": N_("Owner"),
    "team": N_("Team"),
    "lifecycle_stage": N_("Lifecycle stage"),
}
PLACE_FIELDS = ("province", "city", "district")
_HAN = re.compile("[\u3400-\u9fff]")
AnySelect = TypeVar("AnySelect", bound=Select[Any])


# --- scopes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The customers some readers may see: all of them, or some teams' and one user's own."""

    all: bool
    team_ids: tuple[int, ...] = ()
    user_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        """The scope of what ``principal`` may see."""
        if principal.sees_all:
            return cls(all=True)
        return cls(all=False, team_ids=tuple(sorted(principal.team_ids)), user_id=principal.user_id)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Scope:
        """The scope a job was given (see :meth:`params`)."""
        if params.get("all"):
            return cls(all=True)
        user_id = params.get("user_id")
        return cls(
            all=False,
            team_ids=tuple(sorted(int(t) for t in params.get("team_ids") or [])),
            user_id=int(user_id) if user_id is not None else None,
        )

    def params(self) -> dict[str, Any]:
        """The scope as JSON-able job parameters."""
        return {"all": self.all, "team_ids": list(self.team_ids), "user_id": self.user_id}

    @property
    def key(self) -> str:
        """The name snapshots of this scope are stored under."""
        if self.all:
            return "all"
        text = f"teams:{','.join(map(str, self.team_ids))};user:{self.user_id}"
        return text if len(text) <= 200 else "sha1:" + hashlib.sha1(text.encode()).hexdigest()

    def restrict(self, stmt: AnySelect) -> AnySelect:
        """``stmt`` limited to the customers of this scope (the customers service's rule)."""
        principal = Principal(
            user_id=self.user_id or 0,
            username="quality",
            role="viewer",
            team_ids=frozenset(self.team_ids),
            all_records=self.all,
        )
        return customers_service.restrict(stmt, principal)


def require(principal: Principal) -> None:
    """Raise ``Forbidden`` unless the principal may read data quality figures."""
    if not principal.can("quality:read"):
        raise Forbidden("quality:read")


# --- validity rules in SQL -------------------------------------------------------------------


def _text_filled(column: Any) -> ColumnElement[bool]:
    return and_(column.is_not(None), column != "")


def _glob(column: Any, pattern: str) -> ColumnElement[bool]:
    return column.op("GLOB")(pattern).self_group()  # type: ignore[no-any-return]


def _digits_only(column: Any, dialect: str) -> ColumnElement[bool]:
    """Every character of ``column`` is a digit 0-9 (and there is at least one)."""
    if dialect == "postgresql":
        return column.op("~")("^[0-9]+$")  # type: ignore[no-any-return]
    return and_(func.length(column) > 0, not_(_glob(column, "*[^0-9]*")))


def phone_valid(column: Any, dialect: str) -> ColumnElement[bool]:
    """E.164 shaped: ``+``, a non-zero digit, then 6 to 14 more digits."""
    return and_(
        func.substr(column, 1, 1) == "+",
        func.length(column).between(8, 16),
        func.substr(column, 2, 1) != "0",
        _digits_only(func.substr(column, 2), dialect),
    )


def email_valid(column: Any) -> ColumnElement[bool]:
    """In normalised form: lower case, trimmed, one ``@`` followed by a dotted domain."""
    return and_(
        column == func.lower(func.trim(column)),
        column.like("_%@_%._%"),
        not_(column.like("%@%@%")),
        not_(column.like("% %")),
    )


def clean_valid(column: Any) -> ColumnElement[bool]:
    """Cleaned text: no leading or trailing space and no run of spaces inside."""
    return and_(column == func.trim(column), not_(column.like("%  %")))


def _int_at(column: Any, start: int, length: int) -> ColumnElement[int]:
    return cast(func.substr(column, start, length), Integer)


def id_number_valid(column: Any, dialect: str, today: date) -> ColumnElement[bool]:
    """The stored form of a valid identity number (what ``parse_id_number`` returns): 18
    characters, digits and a final digit or X, a real birth date not in the future, and the
    GB 11643-1999 check code. Digits are only cast once the shape is known to be right."""
    shape = and_(
        func.length(column) == 18,
        func.substr(column, 1, 1) != "0",
        _digits_only(func.substr(column, 1, 17), dialect),
        func.substr(column, 18, 1).in_(list("0123456789X")),
    )
    total = sum(
        (_int_at(column, index + 1, 1) * weight for index, weight in enumerate(ID_WEIGHTS)),
        start=literal(0),
    )
    check = case(
        {remainder: code for remainder, code in enumerate(ID_CHECK_CODES)},
        value=total % 11,
    )
    year, month, day = _int_at(column, 7, 4), _int_at(column, 11, 2), _int_at(column, 13, 2)
    leap = or_(and_(year % 4 == 0, year % 100 != 0), year % 400 == 0)
    month_days = case(
        (month == 2, case((leap, 29), else_=28)),
        (month.in_([4, 6, 9, 11]), 30),
        else_=31,
    )
    sound = and_(
        year >= EARLIEST_BIRTH_DATE.year,
        month.between(1, 12),
        day >= 1,
        day <= month_days,
        func.substr(column, 7, 8) <= today.strftime("%Y%m%d"),
        func.substr(column, 18, 1) == check,
    )
    return case((shape, sound), else_=false())


def birth_date_valid(dialect: str, today: date) -> ColumnElement[bool]:
    """A plausible birth date, and the one inside the identity number when that is valid."""
    inside = func.substr(Customer.id_number, 7, 8)
    written = func.replace(cast(Customer.birth_date, String), "-", "")
    agrees = or_(
        not_(_text_filled(Customer.id_number)),
        not_(id_number_valid(Customer.id_number, dialect, today)),
        written == inside,
    )
    return and_(Customer.birth_date.between(EARLIEST_BIRTH_DATE, today), agrees)


def place_is_valid(level: str, value: str) -> bool:
    """A Chinese place name is the full name of a known division at that level ("深圳市", not
    "深圳" nor "火星市"); a place written without hanzi (abroad) is not checked."""
    if not _HAN.search(value):
        return True
    found = split_address(value)
    return getattr(found, level) == value and not found.rest


# --- field definitions -----------------------------------------------------------------------


@dataclass
class FieldRule:
    """How one field is measured: when it has a value, when that value is valid, and the
    column whose values should be unique (None when uniqueness means nothing for it)."""

    key: str
    filled: ColumnElement[bool]
    valid: ColumnElement[bool]
    unique: Any = None
    order: Any = None


@dataclass
class Rules:
    """The measuring rules of one computation: the fields and what they need to know."""

    dialect: str
    today: date
    fields: dict[str, FieldRule] = field(default_factory=dict)
    custom: list[CustomFieldDef] = field(default_factory=list)


def _invalid_places(db: Session, scope: Scope, level: str) -> list[str]:
    """The distinct values of a place field in the scope that are not valid place names."""
    column = getattr(Customer, level)
    stmt = scope.restrict(select(column).where(_text_filled(column)).group_by(column))
    return [value for value in db.scalars(stmt) if not place_is_valid(level, value)]


def _in_list(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    values = list(values)
    return column.in_(values) if values else false()


def rules(db: Session, scope: Scope, only: str | None = None) -> Rules:
    """The measuring rules over ``scope`` (``only``: the one field a drill-down needs)."""
    dialect = db.get_bind().dialect.name
    today = utcnow().date()
    result = Rules(dialect=dialect, today=today)

    def wanted(key: str) -> bool:
        return only is None or only == key

    simple: dict[str, Callable[[], FieldRule]] = {
        "name": lambda: FieldRule(
            "name", _text_filled(Customer.name), clean_valid(Customer.name), Customer.name_key
        ),
        "phone": lambda: FieldRule(
            "phone",
            _text_filled(Customer.phone),
            phone_valid(Customer.phone, dialect),
            Customer.phone_key,
        ),
        "email": lambda: FieldRule(
            "email", _text_filled(Customer.email), email_valid(Customer.email), Customer.email_key
        ),
        "address": lambda: FieldRule(
            "address",
            _text_filled(Customer.address),
            clean_valid(Customer.address),
            Customer.address,
        ),
        "birth_date": lambda: FieldRule(
            "birth_date", Customer.birth_date.is_not(None), birth_date_valid(dialect, today)
        ),
        "id_number": lambda: FieldRule(
            "id_number",
            _text_filled(Customer.id_number),
            id_number_valid(Customer.id_number, dialect, today),
            Customer.id_number,
        ),
        "lifecycle_stage": lambda: FieldRule(
            "lifecycle_stage",
            Customer.lifecycle_stage.is_not(None),
            Customer.lifecycle_stage.in_(LIFECYCLE_STAGES),
        ),
    }
    for key in FIELD_LABELS:
        if not wanted(key):
            continue
        if key in simple:
            result.fields[key] = simple[key]()
        elif key in PLACE_FIELDS:
            column = getattr(Customer, key)
            invalid = _invalid_places(db, scope, key)
            result.fields[key] = FieldRule(
                key, _text_filled(column), not_(_in_list(column, invalid))
            )
        elif key in ("owner", "team"):
            result.fields[key] = _people_rule(db, key)
    result.custom = [d for d in customers_service.list_fields(db=db) if wanted(f"cf.{d.key}")]
    return result


def _people_rule(db: Session, key: str) -> FieldRule:
    """Owner: an active user. Team: the owner, when there is one, is a member of it."""
    if key == "owner":
        active = [u.id for u in auth_service.list_users(db=db) if u.is_active]
        return FieldRule(key, Customer.owner_id.is_not(None), _in_list(Customer.owner_id, active))
    pairs = [(t.id, u.id) for t in auth_service.list_teams(db=db) for u in t.members]
    in_team = _in_list(tuple_(Customer.team_id, Customer.owner_id), pairs)
    return FieldRule(key, Customer.team_id.is_not(None), or_(Customer.owner_id.is_(None), in_team))


def _custom_rule(definition: CustomFieldDef) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """When a custom field value is there, and when it is valid (a listed choice)."""
    value = CustomFieldValue
    if definition.field_type == "number":
        return value.number_value.is_not(None), true()
    if definition.field_type == "date":
        return value.date_value.is_not(None), true()
    filled = _text_filled(value.text_value)
    if definition.field_type == "choice":
        return filled, _in_list(value.text_value, definition.choices)
    return filled, true()


# --- computing the figures ---------------------------------------------------------------------


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _utc_day(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp column."""
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _by_day(db: Session, scope: Scope, spec: Rules) -> dict[str, list[tuple[Any, ...]]]:
    """One scan: per day of last update, the customers, and each field's values and valid ones:
    ``{"record": [(day, customers)], field: [(day, values, valid values)]}``."""
    day = _utc_day(Customer.updated_at, spec.dialect).label("day")
    columns: list[Any] = [day, func.count()]
    for rule in spec.fields.values():
        columns.append(func.sum(case((rule.filled, 1), else_=0)))
        columns.append(func.sum(case((and_(rule.filled, rule.valid), 1), else_=0)))
    stmt = scope.restrict(select(*columns).select_from(Customer)).group_by(day)
    rows = [(_as_date(row[0]), *(int(n or 0) for n in row[1:])) for row in db.execute(stmt)]
    counts: dict[str, list[tuple[Any, ...]]] = {"record": [(row[0], row[1]) for row in rows]}
    for index, key in enumerate(spec.fields):
        counts[key] = [(row[0], row[2 + 2 * index], row[3 + 2 * index]) for row in rows]
    return counts


def _custom_by_day(db: Session, scope: Scope, spec: Rules, definition: CustomFieldDef) -> Any:
    filled, valid = _custom_rule(definition)
    day = _utc_day(Customer.updated_at, spec.dialect).label("day")
    stmt = (
        select(day, func.count(), func.sum(case((valid, 1), else_=0)))
        .select_from(CustomFieldValue)
        .join(Customer, Customer.id == CustomFieldValue.customer_id)
        .where(CustomFieldValue.field_id == definition.id, filled)
        .group_by(day)
    )
    return [(_as_date(d), int(n), int(v)) for d, n, v in db.execute(scope.restrict(stmt))]


def _unique_count(db: Session, scope: Scope, column: Any) -> int:
    """How many customers hold a value of ``column`` that no other customer in scope holds."""
    once = scope.restrict(
        select(column).where(_text_filled(column)).group_by(column).having(func.count() == 1)
    )
    return int(db.scalar(select(func.count()).select_from(once.subquery())) or 0)


SHARED_KEYS = ("phone_key", "email_key", "id_number")
"""A customer is a duplicate when another customer in scope has the same normalised phone,
email or identity number."""


def _shared(scope: Scope, column: Any) -> Select[Any]:
    """The ids of customers in scope whose ``column`` value another customer also has."""
    repeated = scope.restrict(
        select(column).where(_text_filled(column)).group_by(column).having(func.count() > 1)
    )
    return scope.restrict(select(Customer.id).where(column.in_(repeated)))


def duplicate_ids(scope: Scope) -> Any:
    """A subquery of the customers that share a phone, email or identity number."""
    parts = [_shared(scope, getattr(Customer, key)) for key in SHARED_KEYS]
    return union(*parts).subquery("duplicates")


def _awaiting_review(db: Session, scope: Scope) -> int | None:
    """Customers in pairs awaiting review (identity resolution). That count covers every
    customer, so it is shown only to readers who see them all: a count must not leak."""
    if not scope.all:
        return None
    return identity_service.count_customers_in_open_pairs(db=db)


def _age_summary(today: date, days: list[tuple[date, int]], fresh_days: int) -> dict[str, Any]:
    """How many values are fresh, and the median age in days, from counts per day."""
    cutoff = today - timedelta(days=fresh_days)
    fresh = sum(n for d, n in days if d >= cutoff)
    return {"fresh": fresh, "median_age_days": _median_age(today, days)}


def _median_age(today: date, days: list[tuple[date, int]]) -> float | None:
    """The median of the ages in days of ``n`` values given as (day, how many) counts."""
    total = sum(n for _d, n in days)
    if total == 0:
        return None
    ordered = sorted(((today - d).days, n) for d, n in days if n)
    wanted = {(total - 1) // 2, total // 2}
    found: list[int] = []
    seen = 0
    for age, n in ordered:
        found += [age for position in wanted if seen <= position < seen + n]
        seen += n
    return float(median(found))


def compute(*, db: Session, scope: Scope, fresh_days: int = DEFAULT_FRESH_DAYS) -> dict[str, Any]:
    """The quality figures (raw counts) of the customers in ``scope``."""
    spec = rules(db, scope)
    counts = _by_day(db, scope, spec)
    record_days = counts["record"]
    total = sum(n for _d, n in record_days)
    fields: list[dict[str, Any]] = []
    for key, rule in spec.fields.items():
        per_day = counts[key]
        filled_days = [(d, f) for d, f, _v in per_day]
        unique = _unique_count(db, scope, rule.unique) if rule.unique is not None else None
        fields.append(
            {
                "key": key,
                "filled": sum(f for _d, f, _v in per_day),
                "valid": sum(v for _d, _f, v in per_day),
                "unique": unique,
                **_age_summary(spec.today, filled_days, fresh_days),
            }
        )
    for definition in spec.custom:
        per_day = _custom_by_day(db, scope, spec, definition)
        fields.append(
            {
                "key": f"cf.{definition.key}",
                "filled": sum(n for _d, n, _v in per_day),
                "valid": sum(v for _d, _n, v in per_day),
                "unique": None,
                **_age_summary(spec.today, [(d, n) for d, n, _v in per_day], fresh_days),
            }
        )
    duplicates = int(db.scalar(select(func.count()).select_from(duplicate_ids(scope))) or 0)
    figures: dict[str, Any] = {
        "scope": scope.params(),
        "customers": total,
        "fresh_days": fresh_days,
        "today": spec.today.isoformat(),
        "record": {"duplicates": duplicates, **_age_summary(spec.today, record_days, fresh_days)},
        "awaiting_review": _awaiting_review(db, scope),
        "fields": fields,
    }
    figures["score"] = score(figures)
    return figures


# --- shares and the score ------------------------------------------------------------------


def _share(part: int | None, whole: int) -> float | None:
    if part is None or whole == 0:
        return None
    return part / whole


def shares(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each field's completeness (values / customers), validity (valid / values), uniqueness
    (values held by one customer / values) and freshness (fresh / values), with the counts."""
    total = int(figures["customers"])
    rows = []
    for item in figures["fields"]:
        filled = int(item["filled"])
        rows.append(
            {
                **item,
                "completeness": _share(filled, total),
                "validity": _share(item["valid"], filled),
                "uniqueness": _share(item["unique"], filled),
                "freshness": _share(item["fresh"], filled),
            }
        )
    return rows


DIMENSIONS = ("completeness", "validity", "uniqueness", "freshness")


def dimension_averages(figures: dict[str, Any]) -> dict[str, float | None]:
    """The average over fields of each dimension (fields where it is defined)."""
    rows = shares(figures)
    result: dict[str, float | None] = {}
    for name in DIMENSIONS:
        values = [row[name] for row in rows if row[name] is not None]
        result[name] = sum(values) / len(values) if values else None
    return result


def duplicate_share(figures: dict[str, Any]) -> float | None:
    """The share of customers that share a phone, email or identity number with another."""
    return _share(figures["record"]["duplicates"], int(figures["customers"]))


def score(figures: dict[str, Any]) -> float:
    """0-100: the mean of the four dimension averages, times the share of non-duplicates."""
    averages = [v for v in dimension_averages(figures).values() if v is not None]
    if not averages:
        return 0.0
    clean = 1 - (duplicate_share(figures) or 0.0)
    return round(100 * sum(averages) / len(averages) * clean, 1)


# --- snapshots -----------------------------------------------------------------------------


def refresh(*, db: Session, scope: Scope, fresh_days: int = DEFAULT_FRESH_DAYS) -> QualitySnapshot:
    """Compute the figures of ``scope`` and store them as its snapshot of today."""
    started = utcnow()
    figures = compute(db=db, scope=scope, fresh_days=fresh_days)
    taken_on = date.fromisoformat(figures["today"])
    row = _snapshot_row(db, scope.key, taken_on)
    row.computed_at = utcnow()
    row.customers = int(figures["customers"])
    row.score = float(figures["score"])
    row.fresh_days = fresh_days
    row.seconds = round((row.computed_at - started).total_seconds(), 3)
    row.figures = figures
    db.flush()
    return row


def _snapshot_row(db: Session, scope_key: str, taken_on: date) -> QualitySnapshot:
    """Today's row of a scope, created when missing (two computations at once: one row)."""
    stmt = select(QualitySnapshot).where(
        QualitySnapshot.scope == scope_key, QualitySnapshot.taken_on == taken_on
    )
    row = db.scalar(stmt)
    if row is not None:
        return row
    try:
        with db.begin_nested():
            row = QualitySnapshot(scope=scope_key, taken_on=taken_on, fresh_days=0, figures={})
            db.add(row)
    except IntegrityError:
        row = db.scalar(stmt)
        assert row is not None  # the other computation's row
    return row


def latest(*, db: Session, scope: Scope) -> QualitySnapshot | None:
    """The most recent snapshot of ``scope``."""
    stmt = select(QualitySnapshot).where(QualitySnapshot.scope == scope.key)
    return db.scalar(stmt.order_by(QualitySnapshot.taken_on.desc()).limit(1))


def is_small(*, db: Session, scope: Scope, limit: int = LIVE_LIMIT) -> bool:
    """Whether the scope holds at most ``limit`` customers (counted no further than that)."""
    capped = scope.restrict(select(Customer.id)).limit(limit + 1).subquery()
    return int(db.scalar(select(func.count()).select_from(capped)) or 0) <= limit


def current_figures(
    *,
    db: Session,
    principal: Principal,
    fresh_days: int | None = None,
    live_limit: int = LIVE_LIMIT,
) -> tuple[QualitySnapshot | None, bool]:
    """The figures the principal sees, and whether they were computed just now: live for a
    scope of at most ``live_limit`` customers, else the latest snapshot (None before one)."""
    require(principal)
    scope = Scope.of(principal)
    if not is_small(db=db, scope=scope, limit=live_limit):
        return latest(db=db, scope=scope), False
    if fresh_days is None:  # keep the window last chosen for this scope
        last = latest(db=db, scope=scope)
        fresh_days = last.fresh_days if last is not None else DEFAULT_FRESH_DAYS
    return refresh(db=db, scope=scope, fresh_days=fresh_days), True


def history(*, db: Session, principal: Principal, days: int = 90) -> list[QualitySnapshot]:
    """The principal's scope's snapshots of the last ``days`` days, oldest first."""
    require(principal)
    since = utcnow().date() - timedelta(days=days)
    stmt = select(QualitySnapshot).where(
        QualitySnapshot.scope == Scope.of(principal).key, QualitySnapshot.taken_on >= since
    )
    return list(db.scalars(stmt.order_by(QualitySnapshot.taken_on)))


def trend_point(snapshot: QualitySnapshot, field_key: str | None = None) -> dict[str, Any]:
    """One day of a trend: the score, the four dimensions (of one field, or averaged) and the
    share of duplicates."""
    figures = snapshot.figures
    point: dict[str, Any] = {"day": snapshot.taken_on, "score": snapshot.score}
    if field_key is None:
        point.update(dimension_averages(figures))
    else:
        row = next((r for r in shares(figures) if r["key"] == field_key), None)
        point.update({name: row[name] if row else None for name in DIMENSIONS})
    point["duplicates"] = duplicate_share(figures)
    return point


def scopes_in_use(*, db: Session, days: int = KEEP_SCOPES_DAYS) -> list[Scope]:
    """The whole database, and every scope whose figures were looked at within ``days``."""
    since = utcnow().date() - timedelta(days=days)
    stmt = select(QualitySnapshot.figures).where(QualitySnapshot.taken_on >= since)
    found = {Scope(all=True).key: Scope(all=True)}
    for figures in db.scalars(stmt):
        scope = Scope.from_params(figures.get("scope") or {})
        found.setdefault(scope.key, scope)
    return [found[key] for key in sorted(found)]


# --- drill-down ----------------------------------------------------------------------------


def known_field(db: Session, key: str) -> bool:
    """Whether ``key`` names a measured field (or the record as a whole)."""
    if key == RECORD or key in FIELD_LABELS:
        return True
    return key.startswith("cf.") and any(
        d.key == key[3:] for d in customers_service.list_fields(db=db)
    )


def _custom_condition(
    definition: CustomFieldDef, metric: str, cutoff: datetime
) -> ColumnElement[bool]:
    filled, valid = _custom_rule(definition)
    having = select(CustomFieldValue.customer_id).where(
        CustomFieldValue.field_id == definition.id, filled
    )
    if metric == "empty":
        return Customer.id.not_in(having)
    if metric == "invalid":
        return Customer.id.in_(having.where(not_(valid)))
    return and_(Customer.id.in_(having), Customer.updated_at < cutoff)


def _condition(
    db: Session, scope: Scope, field_key: str, metric: str, fresh_days: int
) -> tuple[ColumnElement[bool], Any]:
    """Which customers offend ``metric`` of ``field_key``, and the column they are ordered by
    before their id (None: by id alone)."""
    cutoff = datetime.combine(utcnow().date() - timedelta(days=fresh_days), time(), tzinfo=UTC)
    if field_key == RECORD:
        if metric == "duplicate":
            return Customer.id.in_(select(duplicate_ids(scope).c.id)), None
        if metric == "stale":
            return Customer.updated_at < cutoff, None
        raise NotFound("quality metric")
    if field_key.startswith("cf."):
        definition = next(d for d in rules(db, scope, only=field_key).custom)
        if metric == "duplicate":
            raise NotFound("quality metric")
        return _custom_condition(definition, metric, cutoff), None
    rule = rules(db, scope, only=field_key).fields[field_key]
    if metric == "empty":
        return not_(rule.filled), None
    if metric == "invalid":
        return and_(rule.filled, not_(rule.valid)), None
    if metric == "stale":
        return and_(rule.filled, Customer.updated_at < cutoff), None
    if rule.unique is None:
        raise NotFound("quality metric")
    repeated = scope.restrict(
        select(rule.unique).where(rule.filled).group_by(rule.unique).having(func.count() > 1)
    )
    return rule.unique.in_(repeated), rule.unique


def offenders(
    *,
    db: Session,
    principal: Principal,
    field_key: str,
    metric: str,
    cursor: str | None = None,
    limit: int = 25,
    fresh_days: int = DEFAULT_FRESH_DAYS,
) -> tuple[list[Customer], str | None]:
    """One page of the visible customers that offend ``metric`` of ``field_key`` (ordered by
    id; duplicates by their shared value, so that the holders of one value come together)."""
    require(principal)
    if metric not in METRICS or not known_field(db, field_key):
        raise NotFound("quality metric")
    scope = Scope.of(principal)
    condition, order = _condition(db, scope, field_key, metric, fresh_days)
    stmt = scope.restrict(select(Customer).where(condition))
    after = decode_cursor(cursor) if cursor else None
    if after is not None and type(after[1]) is not int:
        raise InvalidInput({"cursor": "invalid"})
    if order is None:
        if after is not None:
            stmt = stmt.where(Customer.id > after[1])
        stmt = stmt.order_by(Customer.id)
    else:
        if after is not None:
            stmt = stmt.where(tuple_(order, Customer.id) > (str(after[0]), after[1]))
        stmt = stmt.order_by(order, Customer.id)
    rows = list(db.scalars(stmt.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    key = getattr(last, order.key) if order is not None else ""
    return rows[:limit], encode_cursor([key, last.id])


def metrics_of(field_key: str, unique: bool) -> tuple[str, ...]:
    """The drill-downs a field offers."""
    if field_key == RECORD:
        return ("duplicate", "stale")
    return ("empty", "invalid", "duplicate", "stale") if unique else ("empty", "invalid", "stale")


def field_label(db: Session, key: str, locale: str) -> str:
    """The (untranslated for built-in fields) label of a field key."""
    if key in FIELD_LABELS:
        return FIELD_LABELS[key]
    if key == RECORD:
        return N_("Customer")
    definition = next(
        (d for d in customers_service.list_fields(db=db) if f"cf.{d.key}" == key), None
    )
    if definition is None:
        return key
    return definition.label_zh if locale == "zh_CN" else definition.label_en


def to_read(
    db: Session, snapshot: QualitySnapshot | None, *, live: bool, locale: str
) -> dict[str, Any]:
    """The figures as the API and the page show them (labels in the reader's language)."""
    if snapshot is None:
        empty = {name: None for name in DIMENSIONS}
        return {
            "computed_at": None,
            "live": live,
            "customers": 0,
            "fresh_days": DEFAULT_FRESH_DAYS,
            "score": 0.0,
            **empty,
            "duplicates": 0,
            "duplicate_share": None,
            "awaiting_review": None,
            "record_median_age_days": None,
            "fields": [],
        }
    figures = snapshot.figures
    rows = [
        {**row, "field": row["key"], "label": gettext(field_label(db, row["key"], locale))}
        for row in shares(figures)
    ]
    return {
        "computed_at": snapshot.computed_at,
        "live": live,
        "customers": snapshot.customers,
        "fresh_days": snapshot.fresh_days,
        "score": snapshot.score,
        **dimension_averages(figures),
        "duplicates": figures["record"]["duplicates"],
        "duplicate_share": duplicate_share(figures),
        "awaiting_review": figures.get("awaiting_review"),
        "record_median_age_days": figures["record"]["median_age_days"],
        "fields": rows,
    }
