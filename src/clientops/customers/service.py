"""Customer rules: validation, per-record access, masking, search, the 360 view."""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Subquery, func, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from clientops.audit import service as audit_service
from clientops.auth import service as auth_service
from clientops.config import current as current_settings
from clientops.core import masking
from clientops.core.access import Principal
from clientops.core.cnaddress import split_address
from clientops.core.normalise import (
    EARLIEST_BIRTH_DATE,
    PREFIX_END,
    alt_name_key,
    clean_name,
    clean_text,
    display_phone,
    id_number_birth_date,
    name_key,
    parse_date,
    parse_email,
    parse_id_number,
    parse_phone,
    phone_key,
    query_kind,
)
from clientops.core.pagination import decode_cursor, encode_cursor
from clientops.customers.models import (
    Activity,
    Customer,
    CustomFieldDef,
    CustomFieldValue,
    ExternalId,
    Order,
    Tag,
    customer_tags,
)
from clientops.customers.schemas import (
    ActivityCreate,
    CustomerBase,
    CustomerCreate,
    CustomerUpdate,
    CustomFieldCreate,
)
from clientops.exceptions import Conflict, Forbidden, InvalidInput, NotFound

PERSONAL_FIELDS = ("phone", "email", "address", "id_number", "birth_date")
PLACE_LEVELS = ("province", "city", "district")
_POSTCODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{1,10}[A-Za-z0-9]")
AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])

MATCH = "match"
"""Sort by the key a search matched (name, phone or email), the default when searching."""
SORTS = {
    MATCH: ("", False),
    "-created": ("created_at", True),
    "created": ("created_at", False),
    "name": ("name_key", False),
    "-name": ("name_key", True),
    "-updated": ("updated_at", True),
}


@dataclass
class CustomerFilter:
    """What a list or export asks for."""

    q: str | None = None
    owner_id: int | None = None
    team_id: int | None = None
    tag: str | None = None
    stage: str | None = None
    kind: str | None = None
    account_id: int | None = None
    custom: dict[str, str] = field(default_factory=dict)
    sort: str | None = None
    within: Select[Any] | None = None
    """Only customers whose id this query returns (e.g. the analytics score filters)."""

    @property
    def searching(self) -> bool:
        """Whether the filter has a search text."""
        return bool(self.q and self.q.strip())

    @property
    def only_search(self) -> bool:
        """Whether the filter is a search text and nothing else."""
        return self.searching and self == CustomerFilter(q=self.q, sort=self.sort)

    @property
    def order(self) -> str:
        """The sort in force: the one asked for, else best match when searching, else newest."""
        if self.sort == MATCH and not self.searching:
            return "-created"
        return self.sort or (MATCH if self.searching else "-created")


# --- access --------------------------------------------------------------------------------


def restrict(stmt: AnySelect, principal: Principal) -> AnySelect:
    """Limit a customer query to the records the principal may see (no-op when all)."""
    if principal.sees_all:
        return stmt
    return stmt.where(
        or_(Customer.team_id.in_(principal.team_ids), Customer.owner_id == principal.user_id)
    )


def require(principal: Principal, permission: str) -> None:
    """Raise ``Forbidden`` unless the principal holds ``permission``."""
    if not principal.can(permission):
        raise Forbidden(permission)


def get(*, db: Session, customer_id: int, principal: Principal) -> Customer:
    """A customer the principal may see; ``NotFound`` otherwise."""
    require(principal, "customers:read")
    stmt = restrict(select(Customer).where(Customer.id == customer_id), principal)
    customer: Customer | None = db.scalar(stmt)
    if customer is None:
        raise NotFound("customer")
    return customer


# --- reading -------------------------------------------------------------------------------


def _match_parts(q: str, principal: Principal, sort: str | None = None) -> list[Select[Any, Any]]:
    """Visible customers whose search key starts with the query, one query per key: (id, key),
    where ``key`` is the matched key, or the ``sort`` column when one is given.

    Each key is read from its covering index (key, id, team, owner, name, created, updated), so
    neither the access check nor the sort needs a row, and the matches of one key come out
    ordered by (key, id). A name query also looks at the alternative name key (family name
    first); a customer found by both is found once.
    """
    kind, key = query_kind(q)
    keys = {"email": (Customer.email_key,), "phone": (Customer.phone_key,)}
    columns = keys.get(kind, (Customer.name_key, Customer.alt_key))
    parts: list[Select[Any, Any]] = []
    for index, column in enumerate(columns):
        shown = getattr(Customer, SORTS[sort][0]) if sort and sort != MATCH else column
        part = select(Customer.id.label("id"), shown.label("key")).where(
            column.between(key, key + PREFIX_END)
        )
        for earlier in columns[:index]:
            part = part.where(~earlier.between(key, key + PREFIX_END))
        parts.append(restrict(part, principal))
    return parts


def _filtered(
    db: Session, flt: CustomerFilter, principal: Principal, match: Subquery | None = None
) -> Select[Any]:
    """The visible customers matching ``flt``; ``match`` is the search matches to join to
    (by default all of them)."""
    stmt = restrict(select(Customer), principal)
    if match is None and flt.searching:
        parts = _match_parts(str(flt.q), principal)
        match = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("match")
    if match is not None:
        stmt = stmt.join(match, match.c.id == Customer.id)
    for column, value in (
        (Customer.owner_id, flt.owner_id),
        (Customer.team_id, flt.team_id),
        (Customer.lifecycle_stage, flt.stage),
        (Customer.kind, flt.kind),
        (Customer.account_id, flt.account_id),
    ):
        if value is not None and value != "":
            stmt = stmt.where(column == value)
    if flt.tag:
        tagged = select(customer_tags.c.customer_id).join(Tag).where(Tag.name == flt.tag)
        stmt = stmt.where(Customer.id.in_(tagged))
    for key, value in flt.custom.items():
        stmt = stmt.where(Customer.id.in_(_custom_match(db, key, value)))
    if flt.within is not None:
        stmt = stmt.where(Customer.id.in_(flt.within))
    return stmt


def _custom_match(db: Session, key: str, value: str) -> Select[Any]:
    definition = db.scalar(select(CustomFieldDef).where(CustomFieldDef.key == key))
    if definition is None:
        raise InvalidInput({f"cf.{key}": "unknown_field"})
    typed = _typed_value(definition, value)
    column = {"number": CustomFieldValue.number_value, "date": CustomFieldValue.date_value}.get(
        definition.field_type, CustomFieldValue.text_value
    )
    return select(CustomFieldValue.customer_id).where(
        CustomFieldValue.field_id == definition.id, column == typed
    )


def list_page(
    *,
    db: Session,
    principal: Principal,
    flt: CustomerFilter,
    cursor: str | None = None,
    limit: int = 25,
) -> tuple[list[Customer], str | None]:
    """One page of visible customers matching ``flt`` and the cursor of the next page."""
    require(principal, "customers:read")
    if flt.order not in SORTS:
        raise InvalidInput({"sort": "invalid_sort"})
    after = decode_cursor(cursor) if cursor else None
    if after and not (isinstance(after[0], str) and type(after[1]) is int):
        raise InvalidInput({"cursor": "invalid"})
    if flt.order == MATCH or flt.only_search:
        return _search_page(db, flt, principal, after, limit)
    attr, desc = SORTS[flt.order]
    column = getattr(Customer, attr)
    stmt = _filtered(db, flt, principal)
    if after:
        value, last_id = _cursor_value(attr, after[0]), after[1]
        key = tuple_(column, Customer.id)
        stmt = stmt.where(key < (value, last_id) if desc else key > (value, last_id))
    order = (column.desc(), Customer.id.desc()) if desc else (column.asc(), Customer.id.asc())
    rows = list(db.scalars(stmt.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor([getattr(rows[limit - 1], attr), rows[limit - 1].id])


def _search_page(
    db: Session,
    flt: CustomerFilter,
    principal: Principal,
    after: list[Any] | None,
    limit: int,
) -> tuple[list[Customer], str | None]:
    """A page of search results, from the search indexes: one query per key, merged here.

    In best-match order each query walks its key's index in order and stops after ``limit + 1``
    matches (PostgreSQL does not merge the ordered scans of a UNION ALL itself). A search with
    no other filter, in any order, sorts the index entries alone and reads no row. Then the
    page's customers are loaded in one query.
    """
    attr, desc = SORTS[flt.order]
    found: list[list[tuple[Any, int]]] = []
    for part in _match_parts(str(flt.q), principal, flt.order):
        match = part.subquery("match")
        stmt = select(match.c.key, match.c.id)
        if not flt.only_search:
            stmt = _filtered(db, flt, principal, match).with_only_columns(match.c.key, match.c.id)
        if after:
            value = _cursor_value(attr, after[0])
            key = tuple_(match.c.key, match.c.id)
            stmt = stmt.where(key < (value, after[1]) if desc else key > (value, after[1]))
        order = (match.c.key, match.c.id)
        stmt = stmt.order_by(*(c.desc() if desc else c for c in order)).limit(limit + 1)
        found.append([(key, customer_id) for key, customer_id in db.execute(stmt)])
    keys = list(islice(heapq.merge(*found, reverse=desc), limit + 1))
    page = keys[:limit]
    ids = [customer_id for _key, customer_id in page]
    loaded = {c.id: c for c in db.scalars(select(Customer).where(Customer.id.in_(ids)))}
    # A customer deleted between the two statements (read committed) is left out, not a 500.
    customers = [loaded[customer_id] for customer_id in ids if customer_id in loaded]
    if len(keys) <= limit:
        return customers, None
    return customers, encode_cursor(list(page[-1]))


def _cursor_value(attr: str, value: str) -> Any:
    """The sort value inside a cursor, typed for its column."""
    if not attr.endswith("_at"):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput({"cursor": "invalid"}) from exc


COUNT_CAP = 1000


def count(*, db: Session, principal: Principal, flt: CustomerFilter, cap: int = COUNT_CAP) -> int:
    """How many visible customers match, counted up to ``cap`` (+1 means "more than cap")."""
    if flt.only_search:
        # Only a search: count the matches in the covering indexes, without reading rows.
        matches = union_all(*_match_parts(str(flt.q), principal)).limit(cap + 1)
        return int(db.scalar(select(func.count()).select_from(matches.subquery())) or 0)
    inner = _filtered(db, flt, principal).with_only_columns(Customer.id).limit(cap + 1)
    return int(db.scalar(select(func.count()).select_from(inner.subquery())) or 0)


def to_read(
    customer: Customer, principal: Principal, revealed: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The customer as shown to the principal: personal data masked unless cleared."""
    data = {
        "id": customer.id,
        "kind": customer.kind,
        "name": customer.name,
        "phone": display_phone(customer.phone),
        "email": customer.email,
        "address": customer.address,
        "province": customer.province,
        "city": customer.city,
        "district": customer.district,
        "postcode": customer.postcode,
        "birth_date": customer.birth_date.isoformat() if customer.birth_date else None,
        "id_number": customer.id_number,
        "title": customer.title,
        "website": customer.website,
        "industry": customer.industry,
        "lifecycle_stage": customer.lifecycle_stage,
        "source": customer.source,
        "notes": customer.notes,
        "account_id": customer.account_id,
        "owner_id": customer.owner_id,
        "team_id": customer.team_id,
        "tags": sorted(tag.name for tag in customer.tags),
        "custom_fields": {v.field.key: _plain_value(v) for v in customer.field_values},
        "external_ids": [
            {"source": e.source, "external_id": e.external_id} for e in customer.external_ids
        ],
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }
    if not principal.sees_clear:
        mask: dict[str, Callable[[str | None], str | None]] = {
            "phone": masking.mask_phone,
            "email": masking.mask_email,
            "address": masking.mask_text,
            "id_number": masking.mask_id_number,
            "birth_date": masking.mask_birth_date,
        }
        for name, fn in mask.items():
            if name not in revealed:
                data[name] = fn(cast(str | None, data[name]))
    return data


def reveal(*, db: Session, customer_id: int, field_name: str, principal: Principal) -> str | None:
    """The clear value of one personal field, recorded in the audit trail."""
    if field_name not in PERSONAL_FIELDS:
        raise InvalidInput({"field": "not_personal"})
    customer = get(db=db, customer_id=customer_id, principal=principal)
    if not principal.sees_clear:
        require(principal, "customers:reveal")
    audit_service.record(
        db,
        action="reveal",
        entity="customers",
        entity_id=str(customer.id),
        details={"field": field_name},
    )
    value = getattr(customer, field_name)
    if isinstance(value, date):
        return value.isoformat()
    return display_phone(value) if field_name == "phone" else value


# --- writing -------------------------------------------------------------------------------


def _contact_fields(data: CustomerBase, errors: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    sent = data.model_fields_set
    if "phone" in sent:
        values["phone"] = values["phone_key"] = None
        if data.phone and data.phone.strip():
            try:
                values["phone"] = parse_phone(data.phone, current_settings().phone_region)
                values["phone_key"] = phone_key(values["phone"])
            except ValueError as exc:
                errors["phone"] = str(exc)
    if "email" in sent:
        values["email"] = values["email_key"] = None
        if data.email and data.email.strip():
            try:
                values["email"] = values["email_key"] = parse_email(data.email)
            except ValueError as exc:
                errors["email"] = str(exc)
    return values


def _validated(
    db: Session, data: CustomerBase, principal: Principal, current: Customer | None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values = _contact_fields(data, errors)
    plain = {
        "address",
        "province",
        "city",
        "district",
        "postcode",
        "title",
        "website",
        "industry",
        "lifecycle_stage",
        "source",
        "notes",
        "kind",
    }
    for name in plain & data.model_fields_set:
        raw = getattr(data, name)
        if raw is None and name in ("kind", "lifecycle_stage"):
            continue  # required columns: "not sent" and "null" both keep the current value
        values[name] = clean_text(raw) or None if isinstance(raw, str) else raw
    new_name: str | None = getattr(data, "name", None)
    if new_name is not None:
        cleaned = clean_name(new_name)
        if not cleaned:
            errors["name"] = "required"
        values.update(name=cleaned, name_key=name_key(cleaned), alt_key=alt_name_key(cleaned))
    if values.get("postcode") and not _POSTCODE.fullmatch(values["postcode"]):
        errors["postcode"] = "invalid_postcode"
    _fill_places(data, current, values)
    _identity_fields(data, current, values, errors)
    _check_links(db, data, principal, current, values, errors)
    if errors:
        raise InvalidInput(errors)
    return values


def _fill_places(data: CustomerBase, current: Customer | None, values: dict[str, Any]) -> None:
    """Province, city and district from a Chinese address written in this change.

    A level is filled when it is empty, or when it only repeated what the previous address
    said (so it follows a move); a level the user typed differently is never overwritten, nor
    is a level cleared because the new address does not name it.
    """
    if not values.get("address"):
        return
    new = split_address(values["address"])
    old = split_address(current.address) if current is not None and current.address else None
    sent = data.model_fields_set
    for level in PLACE_LEVELS:
        found = getattr(new, level)
        stored = getattr(current, level) if current is not None else None
        value = values.get(level) if level in sent else stored
        if found is None or value == found:
            continue
        if level in sent and value and value != stored:
            continue  # typed (or changed) in this very change: the user's value wins
        if not value or (old is not None and value == getattr(old, level)):
            values[level] = found


def _identity_fields(
    data: CustomerBase, current: Customer | None, values: dict[str, Any], errors: dict[str, str]
) -> None:
    """Identity number and birth date, parsed and checked against each other."""
    sent = data.model_fields_set
    if "id_number" in sent:
        values["id_number"] = None
        if data.id_number and data.id_number.strip():
            try:
                values["id_number"] = parse_id_number(data.id_number)
            except ValueError as exc:
                errors["id_number"] = str(exc)
    if "birth_date" in sent:
        values["birth_date"] = None
        if data.birth_date and data.birth_date.strip():
            try:
                values["birth_date"] = _birth_date(data.birth_date)
            except ValueError as exc:
                errors["birth_date"] = str(exc)
    if sent & {"id_number", "birth_date"} and not errors.keys() & {"id_number", "birth_date"}:
        _match_birth_date(sent, current, values, errors)


def _birth_date(text: str) -> date:
    """A birth date: a readable date, not in the future and not before 1850."""
    try:
        born = parse_date(text)
    except ValueError as exc:
        raise ValueError("invalid_birth_date") from exc
    if not EARLIEST_BIRTH_DATE <= born <= date.today():
        raise ValueError("implausible_birth_date")
    return born


def _match_birth_date(
    sent: set[str], current: Customer | None, values: dict[str, Any], errors: dict[str, str]
) -> None:
    """The birth date must be the one inside the identity number; an empty one is filled."""
    id_number = values["id_number"] if "id_number" in sent else getattr(current, "id_number", None)
    born = values["birth_date"] if "birth_date" in sent else getattr(current, "birth_date", None)
    if not id_number:
        return
    try:
        encoded = id_number_birth_date(id_number)
    except ValueError:
        return  # a stored number from before validation: nothing to compare with
    if born is None:
        values["birth_date"] = encoded
    elif born != encoded:
        errors["birth_date" if "birth_date" in sent else "id_number"] = "birth_date_mismatch"


def _check_links(
    db: Session,
    data: CustomerBase,
    principal: Principal,
    current: Customer | None,
    values: dict[str, Any],
    errors: dict[str, str],
) -> None:
    sent = data.model_fields_set
    if "owner_id" in sent:
        if data.owner_id is not None and not auth_service.exists(db=db, user_id=data.owner_id):
            errors["owner_id"] = "unknown_user"
        values["owner_id"] = data.owner_id
    if "team_id" in sent:
        if data.team_id is not None and not auth_service.exists(db=db, team_id=data.team_id):
            errors["team_id"] = "unknown_team"
        elif not principal.sees_all and data.team_id not in principal.team_ids:
            errors["team_id"] = "not_your_team"
        values["team_id"] = data.team_id
    if "account_id" in sent:
        values["account_id"] = data.account_id
        if data.account_id is not None:
            account = db.scalar(
                restrict(
                    select(Customer).where(
                        Customer.id == data.account_id, Customer.kind == "company"
                    ),
                    principal,
                )
            )
            if account is None or (current is not None and account.id == current.id):
                errors["account_id"] = "unknown_account"


def create(*, db: Session, data: CustomerCreate, principal: Principal) -> Customer:
    """A new customer, validated; team-scoped users file it under their first team."""
    require(principal, "customers:write")
    if data.team_id is None and not principal.sees_all and principal.team_ids:
        data = data.model_copy(update={"team_id": min(principal.team_ids)})
    values = _validated(db, data, principal, None)
    if "owner_id" not in data.model_fields_set:
        values["owner_id"] = principal.user_id
    customer = Customer(**values)
    db.add(customer)
    _apply_collections(db, customer, data)
    db.flush()
    return customer


def update(
    *, db: Session, customer_id: int, data: CustomerUpdate, principal: Principal
) -> Customer:
    """Apply the fields sent to a customer the principal may see and edit."""
    require(principal, "customers:write")
    customer = get(db=db, customer_id=customer_id, principal=principal)
    for key, value in _validated(db, data, principal, customer).items():
        setattr(customer, key, value)
    _apply_collections(db, customer, data)
    db.flush()
    return customer


def delete(*, db: Session, customer_id: int, principal: Principal) -> None:
    """Delete a customer with its activities and orders."""
    require(principal, "customers:delete")
    db.delete(get(db=db, customer_id=customer_id, principal=principal))
    db.flush()


def _apply_collections(db: Session, customer: Customer, data: CustomerBase) -> None:
    if data.tags is not None:
        customer.tags = [
            _tag(db, name) for name in dict.fromkeys(map(clean_text, data.tags)) if name
        ]
    if data.external_ids is not None:
        _set_external_ids(db, customer, data)
    if data.custom_fields is not None:
        _set_custom_values(db, customer, data.custom_fields)


def _tag(db: Session, name: str) -> Tag:
    tag = db.scalar(select(Tag).where(Tag.name == name[:60]))
    if tag is None:
        tag = Tag(name=name[:60])
        db.add(tag)
    return tag


def _set_external_ids(db: Session, customer: Customer, data: CustomerBase) -> None:
    wanted = {(e.source.strip(), e.external_id.strip()) for e in data.external_ids or []}
    for source, ext in wanted:
        owner = db.scalar(
            select(ExternalId.customer_id).where(
                ExternalId.source == source, ExternalId.external_id == ext
            )
        )
        if owner is not None and owner != customer.id:
            raise Conflict({"external_ids": "taken"})
    keep = [e for e in customer.external_ids if (e.source, e.external_id) in wanted]
    have = {(e.source, e.external_id) for e in keep}
    customer.external_ids = keep + [
        ExternalId(source=s, external_id=x) for s, x in sorted(wanted - have)
    ]


# --- custom fields -------------------------------------------------------------------------


def list_fields(*, db: Session) -> list[CustomFieldDef]:
    """The custom field definitions, by key."""
    return list(db.scalars(select(CustomFieldDef).order_by(CustomFieldDef.key)))


def create_field(*, db: Session, data: CustomFieldCreate, principal: Principal) -> CustomFieldDef:
    """Define a new custom field (admins)."""
    require(principal, "fields:manage")
    if db.scalar(select(CustomFieldDef.id).where(CustomFieldDef.key == data.key)):
        raise Conflict({"key": "already_exists"})
    if data.field_type == "choice" and not data.choices:
        raise InvalidInput({"choices": "required"})
    definition = CustomFieldDef(**data.model_dump())
    db.add(definition)
    db.flush()
    return definition


def _typed_value(definition: CustomFieldDef, raw: Any) -> Any:
    text = str(raw).strip()
    try:
        if definition.field_type == "number":
            return Decimal(text)
        if definition.field_type == "date":
            return date.fromisoformat(text)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput({f"cf.{definition.key}": f"invalid_{definition.field_type}"}) from exc
    if definition.field_type == "choice" and text not in definition.choices:
        raise InvalidInput({f"cf.{definition.key}": "invalid_choice"})
    return text[:500]


def _set_custom_values(db: Session, customer: Customer, values: dict[str, Any]) -> None:
    definitions = {d.key: d for d in list_fields(db=db)}
    errors: dict[str, str] = {}
    existing = {v.field.key: v for v in customer.field_values}
    for key, raw in values.items():
        definition = definitions.get(key)
        if definition is None:
            errors[f"cf.{key}"] = "unknown_field"
            continue
        if raw is None or str(raw).strip() == "":
            if definition.required:
                errors[f"cf.{key}"] = "required"
            elif key in existing:
                customer.field_values.remove(existing[key])
            continue
        try:
            typed = _typed_value(definition, raw)
        except InvalidInput as exc:
            errors.update(exc.errors)
            continue
        row = existing.get(key) or CustomFieldValue(field=definition)
        row.text_value = typed if definition.field_type in ("text", "choice") else None
        row.number_value = typed if definition.field_type == "number" else None
        row.date_value = typed if definition.field_type == "date" else None
        if key not in existing:
            customer.field_values.append(row)
    if errors:
        raise InvalidInput(errors)


def _plain_value(value: CustomFieldValue) -> str | float | None:
    if value.number_value is not None:
        return float(value.number_value)
    if value.date_value is not None:
        return value.date_value.isoformat()
    return value.text_value


# --- 360: contacts, timeline, orders -------------------------------------------------------


def contacts(*, db: Session, account_id: int, principal: Principal) -> list[Customer]:
    """The visible contacts (people) of an account."""
    stmt = restrict(select(Customer).where(Customer.account_id == account_id), principal)
    return list(db.scalars(stmt.order_by(Customer.name_key).limit(200)))


def contact_ids(
    *, db: Session, account_ids: list[int], principal: Principal
) -> dict[int, list[int]]:
    """The visible contact ids of several accounts, in one query."""
    stmt = (
        restrict(select(Customer.account_id, Customer.id), principal)
        .where(Customer.account_id.in_(account_ids))
        .order_by(Customer.id)
    )
    result: dict[int, list[int]] = {account_id: [] for account_id in account_ids}
    for account_id, contact_id in db.execute(stmt):
        result[cast(int, account_id)].append(contact_id)
    return result


def add_activity(
    *, db: Session, customer_id: int, data: ActivityCreate, principal: Principal
) -> Activity:
    """Log a note, call, meeting or email against a customer."""
    require(principal, "activities:write")
    customer = get(db=db, customer_id=customer_id, principal=principal)
    activity = Activity(
        customer_id=customer.id,
        kind=data.kind,
        subject=clean_text(data.subject),
        body=data.body,
        actor_id=principal.user_id,
    )
    if data.occurred_at is not None:
        activity.occurred_at = data.occurred_at
    db.add(activity)
    db.flush()
    return activity


def timeline(*, db: Session, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Activities and orders of a customer, newest first."""
    activities = db.scalars(
        select(Activity)
        .where(Activity.customer_id == customer_id)
        .order_by(Activity.occurred_at.desc())
        .limit(limit)
    )
    orders = db.scalars(
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.ordered_at.desc())
        .limit(limit)
    )
    items: list[dict[str, Any]] = [
        {
            "type": "activity",
            "at": a.occurred_at,
            "kind": a.kind,
            "subject": a.subject,
            "body": a.body,
        }
        for a in activities
    ]
    items += [
        {
            "type": "order",
            "at": o.ordered_at,
            "kind": "order",
            "subject": o.number,
            "amount": o.amount,
            "currency": o.currency,
            "channel": o.channel,
        }
        for o in orders
    ]
    return sorted(items, key=lambda item: cast(datetime, item["at"]), reverse=True)[:limit]


def order_summary(*, db: Session, customer_id: int) -> dict[str, Any]:
    """Count, total, first and last order date of a customer."""
    row = db.execute(
        select(
            func.count(Order.id),
            func.coalesce(func.sum(Order.amount), 0),
            func.min(Order.ordered_at),
            func.max(Order.ordered_at),
        ).where(Order.customer_id == customer_id)
    ).one()
    return {"count": row[0], "total": Decimal(row[1]), "first": row[2], "last": row[3]}


def recent_orders(*, db: Session, customer_id: int, limit: int = 20) -> list[Order]:
    """The latest orders of a customer."""
    return list(
        db.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Order.ordered_at.desc())
            .limit(limit)
        )
    )


def list_tags(*, db: Session) -> list[str]:
    """Every tag name."""
    return list(db.scalars(select(Tag.name).order_by(Tag.name)))


def export_rows(
    *, db: Session, principal: Principal, flt: CustomerFilter, limit: int = 100000
) -> list[dict[str, Any]]:
    """Visible customers for export (masked per role); the export is audited."""
    require(principal, "customers:export")
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(rows) < limit:
        page, cursor = list_page(db=db, principal=principal, flt=flt, cursor=cursor, limit=1000)
        rows.extend(to_read(c, principal) for c in page)
        if cursor is None:
            break
    audit_service.record(
        db,
        action="export",
        entity="customers",
        entity_id=None,
        details={"rows": len(rows), "masked": not principal.sees_clear},
    )
    return rows


def activities(*, db: Session, customer_id: int, limit: int = 100) -> list[Activity]:
    """The latest activities of a customer."""
    return list(
        db.scalars(
            select(Activity)
            .where(Activity.customer_id == customer_id)
            .order_by(Activity.occurred_at.desc())
            .limit(limit)
        )
    )
