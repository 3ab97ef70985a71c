"""Writing one staged batch: match each row to a record, then insert and update in bulk.

Matching (customers): by (source, external id); a row with no such id on file is matched by
normalised phone, then e-mail, but only to a customer that existed before the import started and
(for a row that has an external id) has no id from this source yet, so the result never depends
on how rows fall into batches. A company row with none of these keys is matched by name. Only
customers the importing user may see are matched; an external id held by a customer they may not
see is an error on the row. Orders and activities are keyed by (source, number / record id) and
find their customer by external id, phone or e-mail.

A matched row updates only the fields whose new value differs; an empty cell never erases a
stored value; tags are added, not replaced. A batch that changes nothing writes nothing: no
``updated_at`` moves and no audit event is recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from clientops.audit import service as audit_service
from clientops.core import normalise
from clientops.core.access import Principal
from clientops.customers import service as customers_service
from clientops.customers.models import (
    Activity,
    Customer,
    CustomFieldValue,
    ExternalId,
    Order,
    Tag,
    customer_tags,
)
from clientops.imports.bulk import (
    allocate_ids,
    among,
    chunks,
    delete_ids,
    insert_rows,
    moment,
    stamp,
    update_rows,
)
from clientops.imports.models import OrderLine

Entry = list[Any]
"""A staged row: [row numbers, index of its cells in the batch, values]."""

SCALARS = (
    "kind", "name", "name_key", "alt_key", "phone", "phone_key", "email", "email_key",
    "address", "province", "city", "district", "postcode", "birth_date", "id_number", "title",
    "website", "industry", "lifecycle_stage", "source", "notes", "owner_id", "team_id",
)  # fmt: skip
"""Customer columns an import row may set."""
_SCALAR_SET = frozenset(SCALARS)
CUSTOMER_COLUMNS = ("id", *SCALARS, "account_id", "created_at", "updated_at")
ORDER_COLUMNS = (
    "id", "customer_id", "number", "ordered_at", "amount", "currency", "channel", "status",
    "source",
)  # fmt: skip
LINE_COLUMNS = ("order_id", "line_no", "sku", "name", "quantity", "unit_price", "amount")
ACTIVITY_COLUMNS = (
    "customer_id", "kind", "subject", "body", "occurred_at", "actor_id", "source", "external_id",
)  # fmt: skip


@dataclass
class Context:
    """What every batch of one import shares."""

    import_id: int
    kind: str
    source: str
    principal: Principal
    team_id: int | None
    owner_id: int | None
    started_at: datetime
    now: datetime
    custom: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Custom field key → (field id, type)."""


@dataclass
class Outcome:
    """What a batch did, and the rows that failed while it was written (for the report)."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    failed: list[Entry] = field(default_factory=list)
    accounts: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Rows created, updated, unchanged and failed (an order's lines count as its rows)."""
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "failed": sum(len(entry[0]) for entry in self.failed),
            "accounts_created": len(self.accounts),
        }

    def fail(self, entry: Entry, column: str, code: str) -> None:
        """Move ``entry`` to the report with one error (its cells are added by the caller,
        from the index the entry carries)."""
        self.failed.append([entry[0], entry[1], [[column, code, ""]]])


def apply(db: Session, ctx: Context, entries: list[Entry]) -> Outcome:
    """Write one batch of staged entries; returns what it did (the caller commits)."""
    if ctx.kind == "customers":
        outcome = _Customers(db, ctx).run(entries)
    elif ctx.kind == "orders":
        outcome = _Orders(db, ctx).run(entries)
    else:
        outcome = _Activities(db, ctx).run(entries)
    if outcome.created or outcome.updated:
        audit_service.record(
            db,
            action="import.batch",
            entity="imports",
            entity_id=str(ctx.import_id),
            details={
                "kind": ctx.kind,
                "source": ctx.source,
                "created": outcome.created,
                "updated": outcome.updated,
                "accounts_created": outcome.accounts,
                "counts": outcome.counts(),
            },
        )
        db.flush()
    return outcome


# --- lookups ---------------------------------------------------------------------------------


def _existing_by_key(
    db: Session, model: Any, names: Sequence[str], source: str, keys: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Rows of ``model`` from ``source`` whose key (``names[1]``) is among ``keys``, by key."""
    columns = [getattr(model, name) for name in names]
    key_column = columns[1]
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(set(keys))):
        stmt = select(*columns).where(model.source == source, _in(db, key_column, part))
        # Plain tuples zipped with the names: a row's ``_mapping`` costs more per row.
        for row in db.connection().execute(stmt).tuples().all():
            found[row[1]] = dict(zip(names, row, strict=True))
    return found


def _in(db: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values`` with the values bound as one array (see ``bulk.among``)."""
    return among(db.get_bind().dialect.name, column, values)


def _visible(db: Session, principal: Principal, ids: Iterable[int]) -> set[int]:
    """Those of ``ids`` that are customers the principal may see."""
    wanted = sorted(set(ids))
    if principal.sees_all:
        return set(wanted)
    found: set[int] = set()
    for part in chunks(wanted):
        stmt = customers_service.restrict(
            select(Customer.id).where(_in(db, Customer.id, part)), principal
        )
        found.update(db.connection().execute(stmt).scalars().all())
    return found


def _by_external_id(db: Session, source: str, values: Iterable[str]) -> dict[str, int]:
    """External id (of ``source``) → customer id."""
    found: dict[str, int] = {}
    for part in chunks(sorted(set(values))):
        stmt = select(ExternalId.external_id, ExternalId.customer_id).where(
            ExternalId.source == source, _in(db, ExternalId.external_id, part)
        )
        # ``all()`` fetches the rows in one call; iterating fetches them one by one.
        found.update({ext: customer_id for ext, customer_id in db.connection().execute(stmt).all()})
    return found


def _by_key(
    db: Session,
    principal: Principal,
    column: Any,
    keys: Iterable[str],
    *,
    before: datetime | None = None,
    company: bool = False,
) -> dict[str, list[int]]:
    """Key → ids (ascending) of the visible customers holding it."""
    found: dict[str, list[int]] = defaultdict(list)
    for part in chunks(sorted(set(keys))):
        stmt: Select[Any] = select(column, Customer.id).where(_in(db, column, part))
        if before is not None:
            stmt = stmt.where(Customer.created_at < before)
        if company:
            stmt = stmt.where(Customer.kind == "company")
        for key, customer_id in (
            db.connection().execute(customers_service.restrict(stmt, principal)).all()
        ):
            found[key].append(customer_id)
    for ids in found.values():
        ids.sort()
    return found


def _with_source_id(db: Session, source: str, ids: Iterable[int]) -> set[int]:
    """Those of ``ids`` that already have an external id from ``source``."""
    found: set[int] = set()
    for part in chunks(sorted(set(ids))):
        stmt = select(ExternalId.customer_id).where(
            ExternalId.source == source, _in(db, ExternalId.customer_id, part)
        )
        found.update(db.connection().execute(stmt).scalars().all())
    return found


def _customer_refs(db: Session, ctx: Context, entries: list[Entry]) -> list[int | None]:
    """The customer each order or activity belongs to (None when none visible matches)."""
    values = [entry[2] for entry in entries]
    by_ext = _by_external_id(
        db, ctx.source, (v["customer_external_id"] for v in values if v.get("customer_external_id"))
    )
    visible = _visible(db, ctx.principal, by_ext.values())
    phones = _by_key(
        db,
        ctx.principal,
        Customer.phone_key,
        (v["phone_key"] for v in values if v.get("phone_key")),
    )
    emails = _by_key(
        db,
        ctx.principal,
        Customer.email_key,
        (v["email_key"] for v in values if v.get("email_key")),
    )
    refs: list[int | None] = []
    for row in values:
        found = by_ext.get(row.get("customer_external_id") or "")
        if found is not None and found not in visible:
            found = None
        if found is None and row.get("phone_key") in phones:
            found = phones[row["phone_key"]][0]
        if found is None and row.get("email_key") in emails:
            found = emails[row["email_key"]][0]
        refs.append(found)
    return refs


def _stored(value: Any, name: str) -> Any:
    """A staged value as the database column holds it."""
    if value is None:
        return None
    if name in ("birth_date", "date_value"):
        return date.fromisoformat(value)
    if name in ("ordered_at", "occurred_at"):
        return datetime.fromisoformat(value)
    if name in ("amount", "number_value", "quantity", "unit_price"):
        return Decimal(value)
    return value


# --- customers -------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What the batch will write, filled while rows are compared."""

    new: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    accounts_wanted: dict[int, str] = field(default_factory=dict)  # customer id → name
    tags: list[tuple[int, str]] = field(default_factory=list)
    external_ids: list[tuple[int, str]] = field(default_factory=list)
    custom: list[tuple[int, str, str]] = field(default_factory=list)  # id, key, value
    touched: set[int] = field(default_factory=set)


class _Customers:
    """Customers: match, compare, then write each kind of change in one statement."""

    def __init__(self, db: Session, ctx: Context) -> None:
        self.db = db
        self.ctx = ctx
        self.conn = db.connection()
        self.outcome = Outcome()
        self.plan = _Plan()

    def run(self, entries: list[Entry]) -> Outcome:
        matches = self._match(entries)
        kept = [
            (entry, match) for entry, match in zip(entries, matches, strict=True) if match != -1
        ]
        matched_ids = [match for _, match in kept if match is not None]
        current = self._current(matched_ids, entries)
        current_tags = self._current_tags(matched_ids)
        current_custom = self._current_custom(matched_ids)
        with_source = _with_source_id(self.db, self.ctx.source, matched_ids)
        known, missing = self._accounts_needed(kept)
        new_count = sum(1 for _, match in kept if match is None)
        ids = allocate_ids(self.conn, "customers", new_count + len(missing))
        new_ids = iter(ids[:new_count])
        self._new_accounts(missing, ids[new_count:], known)
        for entry, match in kept:
            values = entry[2]
            customer_id = match if match is not None else next(new_ids)
            if match is None:
                self.plan.new.append((customer_id, values))
            else:
                self._compare(customer_id, values, current[customer_id], current_custom)
                self._new_tags(customer_id, values, current_tags.get(customer_id, set()))
            if values.get("external_id") and (match is None or match not in with_source):
                self.plan.external_ids.append((customer_id, values["external_id"]))
                if match is not None:
                    self.plan.touched.add(customer_id)
            if match is None:
                self._new_collections(customer_id, values)
            if values.get("account") and values.get("kind", "person") != "company":
                self.plan.accounts_wanted[customer_id] = values["account"]
        self._link_accounts(current, known)
        self._write()
        for _, match in kept:
            if match is not None and match not in self.plan.touched:
                self.outcome.unchanged += 1
        self.outcome.updated = sorted(self.plan.touched - set(self.outcome.created))
        return self.outcome

    # -- matching --

    def _match(self, entries: list[Entry]) -> list[int | None]:
        """Per entry: the customer id it matches, None for a new one, -1 when it failed."""
        ctx, values = self.ctx, [entry[2] for entry in entries]
        by_ext = _by_external_id(
            self.db, ctx.source, (v["external_id"] for v in values if v.get("external_id"))
        )
        visible = _visible(self.db, ctx.principal, by_ext.values())
        fallback = [v for v in values if not by_ext.get(v.get("external_id") or "")]
        keys = {
            "phone_key": _by_key(
                self.db,
                ctx.principal,
                Customer.phone_key,
                (v["phone_key"] for v in fallback if v.get("phone_key")),
                before=ctx.started_at,
            ),
            "email_key": _by_key(
                self.db,
                ctx.principal,
                Customer.email_key,
                (v["email_key"] for v in fallback if v.get("email_key")),
                before=ctx.started_at,
            ),
            "company": _by_key(
                self.db,
                ctx.principal,
                Customer.name_key,
                (
                    v["name_key"]
                    for v in fallback
                    if v.get("kind") == "company"
                    and not (v.get("external_id") or v.get("phone_key") or v.get("email_key"))
                ),
                before=ctx.started_at,
                company=True,
            ),
        }
        candidates = {i for found in keys.values() for ids in found.values() for i in ids}
        has_source = _with_source_id(self.db, ctx.source, candidates)
        claimed: dict[int, int] = {}
        result: list[int | None] = []
        for index, (entry, row) in enumerate(zip(entries, values, strict=True)):
            match = self._one(row, by_ext, visible, keys, has_source)
            if match == -1:
                self.outcome.fail(entry, "", "external_id_taken")
            elif match is not None and match in claimed:
                self.outcome.fail(entry, "", "same_customer_twice")
                match = -1
            elif match is not None:
                claimed[match] = index
            result.append(match)
        return result

    @staticmethod
    def _one(
        row: dict[str, Any],
        by_ext: dict[str, int],
        visible: set[int],
        keys: dict[str, dict[str, list[int]]],
        has_source: set[int],
    ) -> int | None:
        ext = row.get("external_id")
        if ext and ext in by_ext:
            return by_ext[ext] if by_ext[ext] in visible else -1
        for name in ("phone_key", "email_key"):
            for candidate in keys[name].get(row.get(name) or "", ()):
                if not (ext and candidate in has_source):
                    return candidate
        has_key = ext or row.get("phone_key") or row.get("email_key")
        if row.get("kind") == "company" and not has_key:
            found = keys["company"].get(row["name_key"])
            return found[0] if found else None
        return None

    # -- comparing --

    def _current(self, ids: list[int], entries: list[Entry]) -> dict[int, dict[str, Any]]:
        """The stored values of the matched customers, for the columns the rows fill."""
        filled = {name for entry in entries for name in entry[2]}
        names = [name for name in SCALARS if name in filled] + ["account_id"]
        columns = [getattr(Customer, name) for name in names]
        found: dict[int, dict[str, Any]] = {}
        for part in chunks(ids):
            for row in self.conn.execute(
                select(Customer.id, *columns).where(_in(self.db, Customer.id, part))
            ).all():
                found[row[0]] = dict(zip(names, row[1:], strict=True))
        return found

    def _current_tags(self, ids: list[int]) -> dict[int, set[str]]:
        found: dict[int, set[str]] = defaultdict(set)
        for part in chunks(ids):
            stmt = (
                select(customer_tags.c.customer_id, Tag.name)
                .join(Tag, Tag.id == customer_tags.c.tag_id)
                .where(_in(self.db, customer_tags.c.customer_id, part))
            )
            for customer_id, name in self.conn.execute(stmt).all():
                found[customer_id].add(name)
        return found

    def _current_custom(self, ids: list[int]) -> dict[tuple[int, int], tuple[int, Any]]:
        """(customer id, field id) → (value row id, typed value)."""
        if not self.ctx.custom or not ids:
            return {}
        field_ids = [field_id for field_id, _ in self.ctx.custom.values()]
        found: dict[tuple[int, int], tuple[int, Any]] = {}
        v = CustomFieldValue
        for part in chunks(ids):
            stmt = select(
                v.id, v.customer_id, v.field_id, v.text_value, v.number_value, v.date_value
            ).where(_in(self.db, v.customer_id, part), v.field_id.in_(field_ids))
            for row_id, customer_id, field_id, text_value, number, day in self.conn.execute(stmt):
                typed = number if number is not None else day if day is not None else text_value
                found[(customer_id, field_id)] = (row_id, typed)
        return found

    def _compare(
        self,
        customer_id: int,
        values: dict[str, Any],
        current: dict[str, Any],
        custom: dict[tuple[int, int], tuple[int, Any]],
    ) -> None:
        changes = {}
        for name, raw in values.items():
            if name in _SCALAR_SET:
                value = _stored(raw, name)
                if value != current[name]:
                    changes[name] = value
        if changes:
            self.plan.changes[customer_id] = changes
            self.plan.touched.add(customer_id)
        for key, raw in values.get("cf", {}).items():
            field_id, field_type = self.ctx.custom[key]
            stored = custom.get((customer_id, field_id))
            if stored is None or stored[1] != _typed(field_type, raw):
                self.plan.custom.append((customer_id, key, raw))
                self.plan.touched.add(customer_id)

    def _new_tags(self, customer_id: int, values: dict[str, Any], current: set[str]) -> None:
        for name in values.get("tags", ()):
            if name not in current:
                self.plan.tags.append((customer_id, name))
                self.plan.touched.add(customer_id)

    def _new_collections(self, customer_id: int, values: dict[str, Any]) -> None:
        self.plan.tags.extend((customer_id, name) for name in values.get("tags", ()))
        self.plan.custom.extend(
            (customer_id, key, raw) for key, raw in values.get("cf", {}).items()
        )

    def _accounts_needed(
        self, kept: list[tuple[Entry, int | None]]
    ) -> tuple[dict[str, int], list[tuple[str, str]]]:
        """Companies people name: those that exist (visible, by name key → id) and those to
        create (name key, name) because neither the database nor this batch has them."""
        names: dict[str, str] = {}
        coming: set[str] = set()
        for entry, match in kept:
            values = entry[2]
            if values.get("kind") == "company":
                if match is None:
                    coming.add(values["name_key"])
            elif values.get("account"):
                names.setdefault(normalise.name_key(values["account"]), values["account"])
        if not names:
            return {}, []
        found = _by_key(self.db, self.ctx.principal, Customer.name_key, names, company=True)
        known = {key: ids[0] for key, ids in found.items()}
        missing = sorted((k, n) for k, n in names.items() if k not in known and k not in coming)
        return known, missing

    def _new_accounts(
        self, missing: list[tuple[str, str]], ids: list[int], known: dict[str, int]
    ) -> None:
        for (key, name), account_id in zip(missing, ids, strict=True):
            values = {
                "kind": "company",
                "name": name[:200],
                "name_key": key,
                "alt_key": normalise.alt_name_key(name),
            }
            self.plan.new.append((account_id, values))
            self.outcome.accounts.append(account_id)
            known[key] = account_id

    def _link_accounts(self, current: dict[int, dict[str, Any]], known: dict[str, int]) -> None:
        """Point people at their company by name: an existing visible company, one created in
        this batch from its own row, or one created for them."""
        new_values = dict(self.plan.new)
        for customer_id, values in self.plan.new:
            if values.get("kind") == "company":
                known.setdefault(values["name_key"], customer_id)
        for customer_id, name in self.plan.accounts_wanted.items():
            account_id = known[normalise.name_key(name)]
            if customer_id in new_values:
                new_values[customer_id]["account_id"] = account_id
            elif current[customer_id]["account_id"] != account_id:
                self.plan.changes.setdefault(customer_id, {})["account_id"] = account_id
                self.plan.touched.add(customer_id)

    # -- writing --

    def _write(self) -> None:
        self._insert_customers()
        self._update_customers()
        insert_rows(
            self.conn,
            "customer_external_ids",
            ("customer_id", "source", "external_id"),
            [(customer_id, self.ctx.source, ext) for customer_id, ext in self.plan.external_ids],
        )
        self._write_tags()
        self._write_custom()

    def _insert_customers(self) -> None:
        ctx = self.ctx
        now = stamp(self.conn, ctx.now)
        kind, stage = SCALARS.index("kind"), SCALARS.index("lifecycle_stage")
        team, owner = SCALARS.index("team_id"), SCALARS.index("owner_id")
        # Companies first: on SQLite each row's foreign key is checked as it goes in.
        ordered = sorted(self.plan.new, key=lambda item: item[1].get("kind") != "company")
        rows = []
        for customer_id, values in ordered:
            row = [values.get(name) for name in SCALARS]  # staged text is what the column holds
            row[kind] = row[kind] or "person"
            row[stage] = row[stage] or "potential"
            row[team] = row[team] or ctx.team_id
            row[owner] = row[owner] or ctx.owner_id
            rows.append((customer_id, *row, values.get("account_id"), now, now))
        insert_rows(self.conn, "customers", CUSTOMER_COLUMNS, rows)
        accounts = set(self.outcome.accounts)
        self.outcome.created = sorted(c for c, _ in self.plan.new if c not in accounts)

    def _update_customers(self) -> None:
        for customer_id in self.plan.touched:
            self.plan.changes.setdefault(customer_id, {})["updated_at"] = self.ctx.now
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for customer_id, changes in self.plan.changes.items():
            names = tuple(sorted(changes))
            groups[names].append((*(changes[name] for name in names), customer_id))
        for names, rows in groups.items():
            update_rows(self.conn, "customers", names, rows)

    def _write_tags(self) -> None:
        if not self.plan.tags:
            return
        names = sorted({name for _, name in self.plan.tags})
        ids = self._tag_ids(names)
        missing = [name for name in names if name not in ids]
        if missing:
            insert_rows(self.conn, "tags", ("name",), [(name,) for name in missing])
            ids.update(self._tag_ids(missing))
        links = sorted({(customer_id, ids[name]) for customer_id, name in self.plan.tags})
        insert_rows(self.conn, "customer_tags", ("customer_id", "tag_id"), links)

    def _tag_ids(self, names: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for part in chunks(list(names)):
            found.update(
                {
                    n: i
                    for i, n in self.conn.execute(
                        select(Tag.id, Tag.name).where(_in(self.db, Tag.name, part))
                    )
                }
            )
        return found

    def _write_custom(self) -> None:
        if not self.plan.custom:
            return
        ids = [customer_id for customer_id, _, _ in self.plan.custom]
        existing = self._current_custom(ids)
        inserts, updates = [], []
        for customer_id, key, raw in self.plan.custom:
            field_id, field_type = self.ctx.custom[key]
            typed = _typed(field_type, raw)
            columns = (
                typed if field_type in ("text", "choice") else None,
                typed if field_type == "number" else None,
                typed if field_type == "date" else None,
            )
            stored = existing.get((customer_id, field_id))
            if stored is None:
                inserts.append((customer_id, field_id, *columns))
            else:
                updates.append((*columns, stored[0]))
        insert_rows(
            self.conn,
            "custom_field_values",
            ("customer_id", "field_id", "text_value", "number_value", "date_value"),
            inserts,
        )
        update_rows(
            self.conn, "custom_field_values", ("text_value", "number_value", "date_value"), updates
        )


def _typed(field_type: str, raw: str) -> Any:
    if field_type == "number":
        return Decimal(raw)
    if field_type == "date":
        return date.fromisoformat(raw)
    return raw


# --- orders ----------------------------------------------------------------------------------


class _Orders:
    """Orders keyed by (source, number), with their lines when the file has them."""

    FIELDS = ("customer_id", "ordered_at", "amount", "currency", "channel", "status")

    def __init__(self, db: Session, ctx: Context) -> None:
        self.db = db
        self.ctx = ctx
        self.conn = db.connection()
        self.outcome = Outcome()

    def run(self, entries: list[Entry]) -> Outcome:
        refs = _customer_refs(self.db, self.ctx, entries)
        existing = self._existing([entry[2]["number"] for entry in entries])
        visible = _visible(
            self.db, self.ctx.principal, (row["customer_id"] for row in existing.values())
        )
        old_lines = self._lines([row["id"] for row in existing.values()])
        new: list[tuple[dict[str, Any], int]] = []
        updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
        replace_lines: list[tuple[int, list[list[Any]]]] = []
        for entry, customer_id in zip(entries, refs, strict=True):
            values = entry[2]
            if customer_id is None:
                self.outcome.fail(entry, "", "unknown_customer")
                continue
            current = existing.get(values["number"])
            if current is not None and current["customer_id"] not in visible:
                self.outcome.fail(entry, "", "order_taken")
                continue
            if current is None:
                new.append((values, customer_id))
                continue
            wanted = {
                "customer_id": customer_id,
                **{n: _stored(values[n], n) for n in self.FIELDS[1:] if n in values},
            }
            changes = {n: v for n, v in wanted.items() if v != current[n]}
            lines = values.get("lines")
            lines_changed = lines is not None and _line_tuples(lines) != old_lines.get(
                current["id"], []
            )
            if lines_changed:
                replace_lines.append((current["id"], lines))
            if changes:
                names = tuple(sorted(changes))
                updates[names].append((*(changes[n] for n in names), current["id"]))
            if changes or lines_changed:
                self.outcome.updated.append(current["id"])
            else:
                self.outcome.unchanged += 1
        self._insert(new)
        for names, rows in updates.items():
            update_rows(self.conn, "orders", names, rows)
        delete_ids(
            self.conn, "order_lines", "order_id", [order_id for order_id, _ in replace_lines]
        )
        self._insert_lines(replace_lines)
        self.outcome.updated.sort()
        return self.outcome

    def _existing(self, numbers: list[str]) -> dict[str, dict[str, Any]]:
        return _existing_by_key(
            self.db, Order, ("id", "number", *self.FIELDS), self.ctx.source, numbers
        )

    def _lines(self, order_ids: list[int]) -> dict[int, list[tuple[Any, ...]]]:
        found: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        line = OrderLine
        for part in chunks(order_ids):
            stmt = (
                select(
                    line.order_id, line.sku, line.name, line.quantity, line.unit_price, line.amount
                )
                .where(_in(self.db, line.order_id, part))
                .order_by(line.order_id, line.line_no)
            )
            for order_id, *rest in self.conn.execute(stmt).all():
                found[order_id].append(tuple(rest))
        return found

    def _insert(self, new: list[tuple[dict[str, Any], int]]) -> None:
        ids = allocate_ids(self.conn, "orders", len(new))
        rows, lines = [], []
        for order_id, (values, customer_id) in zip(ids, new, strict=True):
            ordered_at = moment(self.conn, values["ordered_at"])
            rows.append((
                order_id, customer_id, values["number"], ordered_at,
                values["amount"], values.get("currency") or "CNY",
                values.get("channel"), values.get("status") or "paid", self.ctx.source,
            ))  # fmt: skip
            if values.get("lines"):
                lines.append((order_id, values["lines"]))
        insert_rows(self.conn, "orders", ORDER_COLUMNS, rows)
        self._insert_lines(lines)
        self.outcome.created = ids

    def _insert_lines(self, orders: list[tuple[int, list[list[Any]]]]) -> None:
        rows = [
            (order_id, number, *line)
            for order_id, lines in orders
            for number, line in enumerate(lines, start=1)
        ]
        insert_rows(self.conn, "order_lines", LINE_COLUMNS, rows)


def _line_tuples(lines: list[list[Any]]) -> list[tuple[Any, ...]]:
    """Staged lines as the database returns them (decimals typed)."""
    return [
        (
            sku,
            name,
            Decimal(quantity),
            Decimal(price) if price is not None else None,
            Decimal(amount),
        )
        for sku, name, quantity, price, amount in lines
    ]


# --- activities ------------------------------------------------------------------------------


class _Activities:
    """Activities keyed by (source, record id, or a digest of the row)."""

    FIELDS = ("customer_id", "kind", "subject", "body", "occurred_at")

    def __init__(self, db: Session, ctx: Context) -> None:
        self.db = db
        self.ctx = ctx
        self.conn = db.connection()
        self.outcome = Outcome()

    def run(self, entries: list[Entry]) -> Outcome:
        refs = _customer_refs(self.db, self.ctx, entries)
        existing = self._existing([entry[2]["external_id"] for entry in entries])
        visible = _visible(
            self.db, self.ctx.principal, (row["customer_id"] for row in existing.values())
        )
        new_rows: list[tuple[Any, ...]] = []
        updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
        actor = self.ctx.principal.user_id or None
        for entry, customer_id in zip(entries, refs, strict=True):
            values = entry[2]
            if customer_id is None:
                self.outcome.fail(entry, "", "unknown_customer")
                continue
            current = existing.get(values["external_id"])
            if current is not None and current["customer_id"] not in visible:
                self.outcome.fail(entry, "", "activity_taken")
                continue
            wanted = {
                "customer_id": customer_id,
                **{n: _stored(values.get(n), n) for n in self.FIELDS[1:] if n in values},
            }
            if current is None:
                new_rows.append((
                    customer_id, values["kind"], values["subject"], values.get("body"),
                    moment(self.conn, values["occurred_at"]), actor, self.ctx.source,
                    values["external_id"],
                ))  # fmt: skip
                continue
            changes = {n: v for n, v in wanted.items() if v != current[n]}
            if changes:
                names = tuple(sorted(changes))
                updates[names].append((*(changes[n] for n in names), current["id"]))
                self.outcome.updated.append(current["id"])
            else:
                self.outcome.unchanged += 1
        ids = allocate_ids(self.conn, "activities", len(new_rows))
        insert_rows(
            self.conn,
            "activities",
            ("id", *ACTIVITY_COLUMNS),
            [(i, *row) for i, row in zip(ids, new_rows, strict=True)],
        )
        self.outcome.created = ids
        for names, rows in updates.items():
            update_rows(self.conn, "activities", names, rows)
        self.outcome.updated.sort()
        return self.outcome

    def _existing(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        return _existing_by_key(
            self.db, Activity, ("id", "external_id", *self.FIELDS), self.ctx.source, keys
        )
