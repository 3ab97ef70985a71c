"""Behaviour events: checking a batch, storing each event once, linking events to customers,
keeping the per-customer summaries, and reading events back with per-record access.

A batch is parsed once (the standard ``json`` module) and checked by hand, event by event,
so that each bad event gets its own error and the good ones go on; the good ones are written
with one set-based statement per table, never one ORM object per event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from json.scanner import make_scanner
from typing import Any, cast

from sqlalchemy import (
    String,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clientops.audit import service as audit_service
from clientops.config import Settings, current
from clientops.core import masking
from clientops.core.access import Principal
from clientops.core.i18n import N_, gettext
from clientops.core.normalise import parse_email, parse_phone, phone_key
from clientops.core.pagination import decode_cursor, encode_cursor
from clientops.customers import service as customers_service
from clientops.customers.models import Customer, ExternalId
from clientops.db import utcnow
from clientops.events.models import Event, EventIdentity, EventSummary
from clientops.exceptions import ClientOpsError, Forbidden, InvalidInput

SUMMARIES = cast(Table, EventSummary.__table__)
EVENTS = cast(Table, Event.__table__)

DEFAULT_SOURCE = "app"
CART_EVENTS = ("Product Added", "add_to_cart", "加入购物车")
"""Track events counted as cart adds (compared case-insensitively, spaces and hyphens as
underscores); the setting ``events_cart_events`` replaces the list when present."""
FUTURE_LEEWAY = timedelta(days=1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 200
MAX_DEPTH = 64
"""Nesting of objects and arrays an event may have (the event itself is level 1): deeper
documents could not be read back (JSON encoders stop at a few hundred levels)."""

_SOURCE = re.compile(r"[A-Za-z0-9_.\-]{1,60}")
_BAD_TEXT = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_COMMON = frozenset({"type", "message_id", "timestamp", "user_id", "anonymous_id", "context"})
ALLOWED_FIELDS = {
    "identify": _COMMON | {"traits"},
    "track": _COMMON | {"event", "properties"},
    "page": _COMMON | {"name", "properties"},
}
_CAMEL = {"messageId": "message_id", "userId": "user_id", "anonymousId": "anonymous_id"}
PERSONAL_TRAITS = frozenset(
    {"name", "first_name", "last_name", "firstName", "lastName", "address", "birthday"}
    | {"id_number", "username"}
)


class BatchRefused(ClientOpsError):
    """The whole batch is refused and nothing of it stored: 400 (malformed) or 413 (too big)."""

    def __init__(self, status: int, code: str, detail: Any = None) -> None:
        super().__init__(code)
        self.status, self.code, self.detail = status, code, detail


@dataclass(slots=True)
class Incoming:
    """A checked event, ready to store: its columns, and its JSON text as sent."""

    index: int
    message_id: str
    type: str
    name: str | None
    user_id: str | None
    anonymous_id: str | None
    occurred_at: datetime
    payload: str
    traits: dict[str, Any] | None
    size: int
    customer_id: int | None = None


class Rejected(Exception):
    """One event of a batch is invalid: its stable code and what is wrong."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code, self.detail = code, detail


def require(principal: Principal, permission: str) -> None:
    """Raise ``Forbidden`` unless the principal holds ``permission``."""
    if not principal.can(permission):
        raise Forbidden(permission)


# --- parsing and checking a batch -----------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):
        raise ValueError(f"{text} is out of range")
    return value


_INF = float("inf")
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)
# The C scanner of the decoder: (text, position) -> (value, end of the value).
_SCAN: Callable[[str, int], tuple[Any, int]] = cast(Any, make_scanner)(_DECODER)
_SPACE = re.compile(r"[ \t\n\r]*")
RawEvent = tuple[Any, str]  # the parsed event and its JSON text as sent


def _after_space(text: str, pos: int) -> int:
    """The position of the first character at or after ``pos`` that is not white space."""
    if text[pos : pos + 1] in _WHITE:
        return _SPACE.match(text, pos).end()  # type: ignore[union-attr]
    return pos


_WHITE = frozenset(" \t\n\r")


class _Reader:
    """Walks the top level of a batch by hand, so that each event's JSON text is known as
    sent: it is stored as is (no encoding again) and its size is measured on it."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip(self, expected: str = "") -> str:
        """Skip white space; the next character (consumed when it is ``expected``)."""
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
        found = self.text[self.pos : self.pos + 1]
        if expected and found not in expected:
            raise ValueError(f"expected {expected!r} at character {self.pos}")
        if expected:
            self.pos += 1
        return found

    def value(self) -> RawEvent:
        """The JSON value at the current position, and its text."""
        self.skip()
        start = self.pos
        try:
            value, self.pos = _DECODER.raw_decode(self.text, start)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{exc.msg} at character {exc.pos}") from None
        return value, self.text[start : self.pos]

    def events(self) -> list[RawEvent]:
        """The elements of the array at the current position. The hot loop of ingestion: one
        C scan per event, white space skipped only where there is some."""
        self.skip("[")
        found: list[RawEvent] = []
        if self.skip() == "]":
            self.pos += 1
            return found
        text, scan, pos = self.text, _SCAN, self.pos
        while True:
            try:
                value, end = scan(text, pos)
            except StopIteration:
                raise ValueError(f"expected a value at character {pos}") from None
            except json.JSONDecodeError as exc:
                raise ValueError(f"{exc.msg} at character {exc.pos}") from None
            found.append((value, text[pos:end]))
            pos = _after_space(text, end)
            separator = text[pos : pos + 1]
            if separator == "]":
                self.pos = pos + 1
                return found
            if separator != ",":
                raise ValueError(f"expected ',' or ']' at character {pos}")
            pos = _after_space(text, pos + 1)

    def batch(self) -> tuple[dict[str, Any], list[RawEvent] | None]:
        """The top-level fields other than ``batch``, and the events of ``batch``."""
        self.skip("{")
        fields: dict[str, Any] = {}
        events: list[RawEvent] | None = None
        if self.skip() == "}":
            self.pos += 1
        else:
            while True:
                key, _text = self.value()
                self.skip(":")
                if key == "batch" and self.skip() == "[":
                    events = self.events()
                else:
                    fields[str(key)], _text = self.value()
                if self.skip(",}") == "}":
                    break
        if self.skip():
            raise ValueError(f"extra data at character {self.pos}")
        return fields, events


def _decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise BatchRefused(
            400, "invalid_json", {"body": f"not UTF-8 at byte {exc.start}"}
        ) from None


def _not_a_batch(text: str, exc: Exception) -> BatchRefused:
    """Why a body could not be read as a batch: it is not JSON, or JSON of another shape."""
    try:
        json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        return BatchRefused(400, "invalid_json", {"body": str(exc)[:200]})
    return BatchRefused(400, "invalid_batch", {"body": 'expected {"batch": [event, ...]}'})


def _parse_body(body: bytes, *, settings: Settings) -> tuple[str, list[RawEvent]]:
    """The source and the events (each with its JSON text) of a request body;
    ``BatchRefused`` when the body is not a batch or is over the limits."""
    if len(body) > settings.events_max_batch_bytes:
        raise BatchRefused(413, "batch_too_large", _limit("bytes", settings.events_max_batch_bytes))
    text = _decoded(body)
    try:
        fields, events = _Reader(text).batch()
    except (ValueError, RecursionError) as exc:
        raise _not_a_batch(text, exc) from None
    if events is None:
        raise BatchRefused(400, "invalid_batch", {"body": 'expected {"batch": [event, ...]}'})
    unknown = sorted(set(fields) - {"source"})
    if unknown:
        raise BatchRefused(400, "unknown_field", {"fields": ", ".join(unknown)[:200]})
    source = fields.get("source", DEFAULT_SOURCE)
    if not isinstance(source, str) or not _SOURCE.fullmatch(source):
        raise BatchRefused(400, "invalid_source", {"source": "1-60 of A-Z a-z 0-9 _ . -"})
    if not events:
        raise BatchRefused(400, "empty_batch", {"batch": "no events"})
    if len(events) > settings.events_max_batch:
        raise BatchRefused(413, "too_many_events", _limit("events", settings.events_max_batch))
    return source, events


def _limit(unit: str, limit: int) -> dict[str, str]:
    return {"limit": f"at most {limit} {unit}"}


def _text(raw: dict[str, Any], key: str, max_length: int, *, required: bool) -> str | None:
    """A string field: present when required, a string (or a whole number for ids), not too
    long, without control characters or unpaired surrogates."""
    value = raw.get(key)
    # The usual case, decided without a regular expression:
    if (
        type(value) is str
        and 0 < len(value) <= max_length
        and value.isascii()
        and value.isprintable()
    ):
        return value
    if value is None:
        if required:
            raise Rejected("missing_field", f"{key} is required")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and key.endswith("_id"):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise Rejected(f"invalid_{key}", f"{key} must be a text of 1 to {max_length} characters")
    if _BAD_TEXT.search(value):
        raise Rejected(f"invalid_{key}", f"{key} contains control characters")
    return value


def _timestamp(raw: dict[str, Any], now: datetime) -> datetime:
    value = raw.get("timestamp")
    if value is None:
        raise Rejected("missing_field", "timestamp is required")
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # overflow: year 1 or 9999 moved past the calendar
        raise Rejected("invalid_timestamp", "timestamp must be an ISO 8601 date-time") from None
    if moment > now + FUTURE_LEEWAY:
        raise Rejected("timestamp_in_future", "timestamp is more than a day ahead")
    if moment < EARLIEST:
        raise Rejected("invalid_timestamp", "timestamp is before 1970")
    return moment


def _objects(raw: dict[str, Any]) -> None:
    for key in ("properties", "traits", "context"):
        value = raw.get(key)
        if value is not None and not isinstance(value, dict):
            raise Rejected(f"invalid_{key}", f"{key} must be a JSON object")


def _depth(value: Any) -> int:
    """How deep objects and arrays nest in ``value`` (an object of scalars is 1)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node)
    return deepest


def _bad_text(value: Any) -> bool:
    """True when a string anywhere in ``value`` holds NUL or an unpaired surrogate (which
    PostgreSQL's JSON functions and a UTF-8 answer cannot carry)."""
    if isinstance(value, str):
        return bool(_NUL_OR_SURROGATE.search(value))
    if isinstance(value, dict):
        return any(_bad_text(k) or _bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad_text(item) for item in value)
    return False


_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")
_ESCAPE_RISK = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _fields(raw: Any) -> str:
    """The event's type, after checking it is an object with only the fields of its type."""
    if not isinstance(raw, dict):
        raise Rejected("not_an_object", "an event must be a JSON object")
    kind = raw.get("type")
    if kind is None:
        raise Rejected("missing_field", "type is required")
    if kind not in ALLOWED_FIELDS:
        raise Rejected("invalid_type", "type must be identify, track or page")
    unknown = raw.keys() - ALLOWED_FIELDS[kind]
    if unknown:
        hints = [f"{key} (use {_CAMEL[key]})" if key in _CAMEL else key for key in sorted(unknown)]
        raise Rejected("unknown_field", f"not a field of {kind}: {', '.join(hints)}"[:300])
    return str(kind)


def _check_event(raw: Any, text: str, index: int, now: datetime) -> Incoming:
    """One event checked; ``Rejected`` with the first problem found. ``text`` is the event's
    JSON as sent, kept as its payload."""
    kind = _fields(raw)
    message_id = _text(raw, "message_id", 100, required=True)
    occurred_at = _timestamp(raw, now)
    user_id = _text(raw, "user_id", MAX_ID_LENGTH, required=False)
    anonymous_id = _text(raw, "anonymous_id", MAX_ID_LENGTH, required=False)
    if user_id is None and anonymous_id is None:
        raise Rejected("missing_identity", "user_id or anonymous_id is required")
    name = _text(
        raw, "event" if kind == "track" else "name", MAX_NAME_LENGTH, required=kind == "track"
    )
    _objects(raw)
    # Counting brackets (in C) rules out deep nesting for almost every event; only an event
    # with many objects or arrays is measured.
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(raw) > MAX_DEPTH:
        raise Rejected("too_deep", f"objects and arrays nest more than {MAX_DEPTH} levels")
    if _ESCAPE_RISK.search(text) and _bad_text(raw):
        raise Rejected("invalid_text", "a text holds \\u0000 or an unpaired surrogate")
    return Incoming(
        index=index,
        message_id=str(message_id),
        type=kind,
        name=name,
        user_id=user_id,
        anonymous_id=anonymous_id,
        occurred_at=occurred_at,
        payload=text,
        traits=raw.get("traits") or None,
        size=len(text) if text.isascii() else len(text.encode()),
    )


def _rejection(index: int, raw: Any, code: str, detail: str) -> dict[str, Any]:
    message_id = raw.get("message_id") if isinstance(raw, dict) else None
    shown = message_id[:100] if isinstance(message_id, str) else None
    return {"index": index, "message_id": shown, "error": code, "detail": detail}


def _check_all(
    events: list[RawEvent], *, now: datetime, max_event_bytes: int
) -> tuple[list[Incoming], list[dict[str, Any]]]:
    """The valid events and the rejections, in batch order; ``BatchRefused`` (413) when an
    event is over the size limit, (400) when no event is valid."""
    good: list[Incoming] = []
    rejected: list[dict[str, Any]] = []
    for index, (raw, text) in enumerate(events):
        try:
            good.append(_check_event(raw, text, index, now))
        except Rejected as exc:
            rejected.append(_rejection(index, raw, exc.code, exc.detail))
    too_large = [
        {"index": e.index, "message_id": e.message_id, "bytes": e.size}
        for e in good
        if e.size > max_event_bytes
    ]
    if too_large:
        raise BatchRefused(413, "event_too_large", too_large[:100])
    if not good:
        raise BatchRefused(400, "no_valid_event", rejected[:100])
    return good, rejected


# --- linking events to customers --------------------------------------------------------------


IdKey = tuple[str, str]  # ("user_id" | "anonymous_id", value)
Link = tuple[str, str, int]  # (kind, value, customer id)


_SEPARATOR = "\x1e"
"""Joins the values of a column sent to PostgreSQL as one text, split there again by
``string_to_array(%s, E'\\x1e', '')``. Sending a batch's columns this way costs the driver
one string each instead of encoding every array element in Python (the largest part of an
ingestion's time otherwise). No value sent can hold the separator: ids, names and the
source are checked free of control characters, and JSON text cannot hold one unescaped.
An empty string stands for NULL (no value sent is empty)."""


def _packed(values: Iterable[Any]) -> str:
    """A column of values as one text for ``string_to_array`` (``None`` as NULL)."""
    return _SEPARATOR.join(["" if value is None else str(value) for value in values])


def _packed_texts(values: Iterable[str | None]) -> str:
    """``_packed`` for a column of texts, none of them empty (the common, faster case)."""
    return _SEPARATOR.join([value or "" for value in values])


def _column(sql_type: str) -> str:
    """SQL for a column sent as one text (``_packed``), split back into an array."""
    return f"string_to_array(%s, E'\\x1e', '')::{sql_type}[]"


_PG_KNOWN = (
    "SELECT 'external', x.external_id, x.customer_id "
    f"FROM unnest({_column('varchar')}) AS v(id) "
    "CROSS JOIN LATERAL (SELECT external_id, customer_id FROM customer_external_ids "
    "WHERE source = %s AND external_id = v.id OFFSET 0) AS x "
    "UNION ALL SELECT i.kind, i.value, i.customer_id "
    f"FROM unnest({_column('varchar')}, {_column('varchar')}) AS v(kind, id) "
    "CROSS JOIN LATERAL (SELECT kind, value, customer_id FROM event_identities "
    "WHERE source = %s AND kind = v.kind AND value = v.id OFFSET 0) AS i"
)
"""``_known_ids_query`` for PostgreSQL. The ids go as one text each (see ``_SEPARATOR``), not
as hundreds of parameters (whose encoding in the driver costs more than the query). Each is
looked up on its own (``LATERAL ... OFFSET 0``): one index probe per id whatever the
planner's statistics say; a table growing by thousands of rows a second is often ahead of
them, and a plan chosen on stale ones can scan every row for every id."""


def _is_postgresql(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _known_ids_query(source: str, user_ids: set[str], anonymous_ids: set[str]) -> Any:
    linked = select(EventIdentity.kind, EventIdentity.value, EventIdentity.customer_id).where(
        EventIdentity.source == source,
        or_(
            and_(EventIdentity.kind == "user_id", EventIdentity.value.in_(user_ids)),
            and_(EventIdentity.kind == "anonymous_id", EventIdentity.value.in_(anonymous_ids)),
        ),
    )
    external = select(
        literal_column("'external'", String).label("kind"),
        ExternalId.external_id.label("value"),
        ExternalId.customer_id,
    ).where(ExternalId.source == source, ExternalId.external_id.in_(user_ids))
    return union_all(external, linked)


def _known_ids(
    db: Session, source: str, user_ids: set[str], anonymous_ids: set[str]
) -> dict[IdKey, int]:
    """The customers the batch's ids already point to, in one query: a user id through the
    customers' external ids of ``source`` (first) or an earlier identify; an anonymous id
    through an earlier identify."""
    if not user_ids and not anonymous_ids:
        return {}
    if _is_postgresql(db):
        kinds = ["user_id"] * len(user_ids) + ["anonymous_id"] * len(anonymous_ids)
        wanted = _SEPARATOR.join([*user_ids, *anonymous_ids])
        params = (_SEPARATOR.join(user_ids), source, _SEPARATOR.join(kinds), wanted, source)
        rows: Sequence[Any] = db.connection().exec_driver_sql(_PG_KNOWN, params).all()
    else:
        rows = db.execute(_known_ids_query(source, user_ids, anonymous_ids)).all()
    known: dict[IdKey, int] = {}
    for kind, value, customer_id in rows:
        if kind == "external":
            known[("user_id", value)] = customer_id
        else:
            known.setdefault((kind, value), customer_id)
    return known


def _contact_keys(events: list[Incoming], region: str) -> tuple[dict[int, str], dict[int, str]]:
    """The normalised email and phone key each identify's traits give, by batch index;
    an unusable address or number is left out (it links nothing, the event is still kept)."""
    emails: dict[int, str] = {}
    phones: dict[int, str] = {}
    for event in events:
        traits = event.traits or {}
        email, phone = traits.get("email"), traits.get("phone")
        try:
            if isinstance(email, str) and email.strip():
                emails[event.index] = parse_email(email[:254])
        except ValueError:
            pass
        try:
            if isinstance(phone, str | int) and str(phone).strip():
                phones[event.index] = phone_key(parse_phone(str(phone)[:40], region))
        except ValueError:
            pass
    return emails, phones


def _customers_by(db: Session, column: Any, keys: Iterable[str]) -> dict[str, int]:
    """The customer holding each key (the oldest when several do)."""
    wanted = set(keys)
    if not wanted:
        return {}
    found: dict[str, int] = {}
    rows = db.execute(select(column, Customer.id).where(column.in_(wanted)).order_by(Customer.id))
    for key, customer_id in rows:
        found.setdefault(key, customer_id)
    return found


def _identify(
    db: Session, identifies: list[Incoming], known: dict[IdKey, int], region: str
) -> list[Link]:
    """Resolve each identify (user id, then email, then phone, then anonymous id) and link the
    ids it carries that point nowhere yet; in batch order, the first identify of an id wins."""
    emails, phones = _contact_keys(identifies, region)
    by_email = _customers_by(db, Customer.email_key, emails.values())
    by_phone = _customers_by(db, Customer.phone_key, phones.values())
    links: list[Link] = []
    for event in identifies:
        customer_id = (
            known.get(("user_id", event.user_id or ""))
            or by_email.get(emails.get(event.index, ""))
            or by_phone.get(phones.get(event.index, ""))
            or known.get(("anonymous_id", event.anonymous_id or ""))
        )
        if customer_id is None:
            continue
        event.customer_id = customer_id
        for kind, value in (("user_id", event.user_id), ("anonymous_id", event.anonymous_id)):
            if value and (kind, value) not in known:
                known[(kind, value)] = customer_id
                links.append((kind, value, customer_id))
    return links


def _resolve(
    db: Session, source: str, events: list[Incoming], region: str
) -> tuple[dict[IdKey, int], list[Link]]:
    """Set each event's customer; every id of the batch that points to a customer, and the
    new identity links the batch's identifies make."""
    known = _known_ids(db, source, {e.user_id for e in events if e.user_id}, set())
    # An anonymous id matters only where the user id links nobody, and on an identify (to
    # know whether it is linked already): most events of known users skip this lookup.
    anonymous_ids = {
        e.anonymous_id
        for e in events
        if e.anonymous_id and (e.type == "identify" or ("user_id", e.user_id) not in known)
    }
    known.update(_known_ids(db, source, set(), anonymous_ids))
    links = _identify(db, [e for e in events if e.type == "identify"], known, region)
    for event in events:
        if event.customer_id is None:
            event.customer_id = known.get(("user_id", event.user_id or "")) or known.get(
                ("anonymous_id", event.anonymous_id or "")
            )
    return known, links


def _save_links(db: Session, source: str, links: list[Link]) -> None:
    """Store the identity links an identify made; one already stored (by a concurrent batch)
    is kept. In key order, so that concurrent batches wait for each other, never in a ring."""
    if not links:
        return
    now = utcnow()
    rows = [
        {"source": source, "kind": k, "value": v, "customer_id": c, "created_at": now}
        for k, v, c in sorted(links)
    ]
    stmt = _dialect_insert(db, EventIdentity.__table__).on_conflict_do_nothing(
        index_elements=["source", "kind", "value"]
    )
    db.execute(stmt, rows)


_PG_UNLINKED = (
    f"SELECT e.id, e.user_id, e.anonymous_id FROM unnest({_column('varchar')}) AS v(id) "
    "CROSS JOIN LATERAL (SELECT id, user_id, anonymous_id FROM events WHERE customer_id IS NULL "
    "AND source = %s AND user_id = v.id OFFSET 0) AS e "
    f"UNION SELECT e.id, e.user_id, e.anonymous_id FROM unnest({_column('varchar')}) AS v(id) "
    "CROSS JOIN LATERAL (SELECT id, user_id, anonymous_id FROM events WHERE customer_id IS NULL "
    "AND source = %s AND anonymous_id = v.id OFFSET 0) AS e"
)
"""Unlinked events by id on PostgreSQL: index probes on the partial indexes (see
``_PG_KNOWN``)."""


def _backfill(db: Session, source: str, ids: dict[IdKey, int]) -> set[int]:
    """Link the stored, still unlinked events of ``source`` whose user or anonymous id now
    points to a customer; the customers that gained events."""
    user_ids = [v for (k, v) in ids if k == "user_id"]
    anonymous_ids = [v for (k, v) in ids if k == "anonymous_id"]
    if not user_ids and not anonymous_ids:
        return set()
    # The partial indexes hold only unlinked events: usually this finds nothing, fast.
    if _is_postgresql(db):
        params = (_SEPARATOR.join(user_ids), source, _SEPARATOR.join(anonymous_ids), source)
        rows: Sequence[Any] = db.connection().exec_driver_sql(_PG_UNLINKED, params).all()
    else:
        unlinked = select(Event.id, Event.user_id, Event.anonymous_id).where(
            Event.customer_id.is_(None),
            Event.source == source,
            or_(Event.user_id.in_(user_ids), Event.anonymous_id.in_(anonymous_ids)),
        )
        rows = db.execute(unlinked).all()
    return _link_rows(db, rows, ids)


def _link_rows(db: Session, rows: Iterable[Any], ids: dict[IdKey, int]) -> set[int]:
    """Link each unlinked event of ``rows`` (id, user id, anonymous id) to the customer its
    user id, else its anonymous id, points to; the customers that gained events."""
    targets: dict[int, list[int]] = {}
    for event_id, user_id, anonymous_id in rows:
        customer_id = ids.get(("user_id", user_id or "")) or ids.get(
            ("anonymous_id", anonymous_id or "")
        )
        if customer_id is not None:
            targets.setdefault(customer_id, []).append(event_id)
    for customer_id, event_ids in sorted(targets.items()):
        db.execute(
            update(EVENTS)
            .where(Event.id.in_(event_ids), Event.customer_id.is_(None))
            .values(customer_id=customer_id)
        )
    return set(targets)


# --- storing ------------------------------------------------------------------------------------

_COLUMNS = (
    "message_id, type, name, source, user_id, anonymous_id, customer_id, occurred_at, "
    "received_at, payload"
)
_PG_INSERT = (
    f"INSERT INTO events ({_COLUMNS}) "
    "SELECT m, t, n, %s, u, a, c, o, %s, p FROM unnest("
    + ", ".join(_column(t) for t in ("varchar",) * 5 + ("int", "timestamptz", "text"))
    + ") AS x(m, t, n, u, a, c, o, p) "
    "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
)
"""One statement for the whole batch; each column goes as one text (see ``_SEPARATOR``)."""
_SQLITE_ROWS = 1000  # 10 parameters a row, under SQLite's 32,766


def _sqlite_time(moment: datetime) -> str:
    # The text form SQLAlchemy stores for a UTC timestamp on SQLite (sorts as it compares).
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _insert_events(db: Session, source: str, events: list[Incoming]) -> set[str]:
    """Insert the events not stored yet, in one statement (PostgreSQL) or a few (SQLite);
    the message ids actually inserted. A message id already stored inserts nothing."""
    events = sorted(events, key=lambda e: e.message_id)  # one lock order for concurrent batches
    now = utcnow()
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        columns = (
            _SEPARATOR.join([e.message_id for e in events]),
            _SEPARATOR.join([e.type for e in events]),
            _packed_texts([e.name for e in events]),
            _packed_texts([e.user_id for e in events]),
            _packed_texts([e.anonymous_id for e in events]),
            _packed([e.customer_id for e in events]),
            _SEPARATOR.join([e.occurred_at.isoformat() for e in events]),
            _SEPARATOR.join([e.payload for e in events]),
        )
        result = connection.exec_driver_sql(_PG_INSERT, (source, now, *columns))
        return set(result.scalars().all())
    inserted: set[str] = set()
    for start in range(0, len(events), _SQLITE_ROWS):
        chunk = events[start : start + _SQLITE_ROWS]
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        sql = (
            f"INSERT INTO events ({_COLUMNS}) VALUES {values} "
            "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
        )
        params: list[Any] = []
        stamp = _sqlite_time(now)
        for e in chunk:
            params += (e.message_id, e.type, e.name, source, e.user_id, e.anonymous_id)
            params += (e.customer_id, _sqlite_time(e.occurred_at), stamp, e.payload)
        inserted.update(row[0] for row in connection.exec_driver_sql(sql, tuple(params)))
    return inserted


def _dialect_insert(db: Session, table: Any) -> Any:
    """An INSERT with ON CONFLICT for the session's database (both speak the same clause)."""
    if _is_postgresql(db):
        return postgresql.insert(table)
    return sqlite.insert(table)


# --- summaries ----------------------------------------------------------------------------------


def cart_events() -> frozenset[str]:
    """The track event names counted as cart adds, compared by ``cart_key``."""
    names = getattr(current(), "events_cart_events", None) or CART_EVENTS
    return frozenset(cart_key(str(name)) for name in names)


@lru_cache(maxsize=4096)
def cart_key(name: str) -> str:
    """An event name as cart events are compared: lower case, spaces and hyphens as ``_``."""
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _cart_sql(column: Any) -> Any:
    return func.replace(func.replace(func.lower(func.trim(column)), " ", "_"), "-", "_")


_SUMMARY_COLUMNS = (
    "customer_id",
    "first_seen_at",
    "last_seen_at",
    "events",
    "identifies",
    "tracks",
    "page_views",
    "cart_adds",
)
_PG_SUMMARY = (
    f"INSERT INTO event_summaries AS s ({', '.join(_SUMMARY_COLUMNS)}, updated_at) "
    "SELECT *, %s FROM unnest("
    + ", ".join(_column(t) for t in ("int", "timestamptz", "timestamptz", *("int",) * 5))
    + ") "
    "ON CONFLICT (customer_id) DO UPDATE SET "
    "first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at), "
    "last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at), "
    "events = s.events + EXCLUDED.events, identifies = s.identifies + EXCLUDED.identifies, "
    "tracks = s.tracks + EXCLUDED.tracks, page_views = s.page_views + EXCLUDED.page_views, "
    "cart_adds = s.cart_adds + EXCLUDED.cart_adds, updated_at = EXCLUDED.updated_at"
)
"""``_summary_upsert`` for PostgreSQL, all customers of a batch in one statement."""
_TYPE_COLUMN = {"identify": 4, "track": 5, "page": 6}


def _summary_deltas(events: list[Incoming]) -> list[list[Any]]:
    """What the events add to each customer's summary, one row per customer in
    ``_SUMMARY_COLUMNS`` order, by customer id."""
    carts = cart_events()
    totals: dict[int, list[Any]] = {}
    for e in events:
        if e.customer_id is None:
            continue
        row = totals.get(e.customer_id)
        if row is None:
            row = totals[e.customer_id] = [
                e.customer_id,
                e.occurred_at,
                e.occurred_at,
                0,
                0,
                0,
                0,
                0,
            ]
        row[1], row[2] = min(row[1], e.occurred_at), max(row[2], e.occurred_at)
        row[3] += 1
        row[_TYPE_COLUMN[e.type]] += 1
        if e.type == "track" and e.name is not None and cart_key(e.name) in carts:
            row[7] += 1
    return [totals[customer_id] for customer_id in sorted(totals)]


def _add_to_summaries(db: Session, events: list[Incoming]) -> None:
    """Add stored events to their customers' summaries in one upsert, in customer order so
    that concurrent batches lock the rows in the same order."""
    rows = _summary_deltas(events)
    if not rows:
        return
    now = utcnow()
    if _is_postgresql(db):
        columns = [_SEPARATOR.join(map(str, column)) for column in zip(*rows, strict=True)]
        db.connection().exec_driver_sql(_PG_SUMMARY, (now, *columns))
        return
    values = [dict(zip(_SUMMARY_COLUMNS, row, strict=True), updated_at=now) for row in rows]
    db.execute(_summary_upsert(db), values)


def _summary_upsert(db: Session) -> Any:
    stmt = _dialect_insert(db, SUMMARIES)
    new, old = stmt.excluded, SUMMARIES.c
    least, greatest = (func.least, func.greatest) if _is_postgresql(db) else (func.min, func.max)
    counts = ("events", "identifies", "tracks", "page_views", "cart_adds")
    return stmt.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={
            "first_seen_at": least(old.first_seen_at, new.first_seen_at),
            "last_seen_at": greatest(old.last_seen_at, new.last_seen_at),
            **{name: getattr(old, name) + getattr(new, name) for name in counts},
            "updated_at": new.updated_at,
        },
    )


def recompute_summaries(*, db: Session, customer_ids: Iterable[int]) -> None:
    """Rebuild the summaries of some customers from their events alone (after a merge, a
    late link, a change of the cart event list)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    db.execute(delete(SUMMARIES).where(SUMMARIES.c.customer_id.in_(ids)))
    carts = sorted(cart_events())

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    totals = (
        select(
            Event.customer_id,
            func.min(Event.occurred_at),
            func.max(Event.occurred_at),
            func.count(),
            count(Event.type == "identify"),
            count(Event.type == "track"),
            count(Event.type == "page"),
            count(and_(Event.type == "track", _cart_sql(Event.name).in_(carts))),
            literal(utcnow(), EventSummary.updated_at.type),
        )
        .where(Event.customer_id.in_(ids))
        .group_by(Event.customer_id)
    )
    columns = [
        "customer_id",
        "first_seen_at",
        "last_seen_at",
        "events",
        "identifies",
        "tracks",
        "page_views",
        "cart_adds",
        "updated_at",
    ]
    db.execute(insert(SUMMARIES).from_select(columns, totals))


def recompute_summary(*, db: Session, customer_id: int) -> None:
    """Rebuild one customer's summary from their events (the merge code calls this)."""
    recompute_summaries(db=db, customer_ids=[customer_id])


def summary(*, db: Session, customer_id: int) -> EventSummary | None:
    """A customer's event summary, if they have events."""
    return db.get(EventSummary, customer_id)


# --- ingesting a batch -------------------------------------------------------------------------


def _first_of_each(events: list[Incoming]) -> tuple[list[Incoming], int]:
    """The events with a message id not seen earlier in the batch; how many repeated one."""
    seen: set[str] = set()
    unique: list[Incoming] = []
    for event in events:
        if event.message_id not in seen:
            seen.add(event.message_id)
            unique.append(event)
    return unique, len(events) - len(unique)


def ingest(*, db: Session, principal: Principal, body: bytes) -> dict[str, Any]:
    """Check, store and link one batch, in the caller's transaction; per-event results.

    Raises ``BatchRefused`` (nothing stored) for a malformed or oversized batch, or when no
    event in it is valid."""
    require(principal, "events:write")
    settings = current()
    source, raw_events = _parse_body(body, settings=settings)
    checked, rejected = _check_all(
        raw_events, now=utcnow(), max_event_bytes=settings.events_max_event_bytes
    )
    events, repeated = _first_of_each(checked)
    known, links = _resolve(db, source, events, settings.phone_region)
    inserted = _insert_events(db, source, events)
    stored = [e for e in events if e.message_id in inserted]
    _save_links(db, source, links)
    # Ids known now may have events stored before they were: an identify just made, or an
    # external id added to a customer since (an import). Usually none are waiting.
    late = _backfill(db, source, known)
    _add_to_summaries(db, [e for e in stored if e.customer_id not in late])
    recompute_summaries(db=db, customer_ids=late)
    result = {
        "accepted": len(stored),
        "duplicates": repeated + len(events) - len(stored),
        "rejected": rejected,
    }
    audit_service.record(
        db,
        action="ingest",
        entity="events",
        entity_id=None,
        details={
            "source": source,
            "accepted": result["accepted"],
            "duplicates": result["duplicates"],
            "rejected": len(rejected),
            "linked": sum(1 for e in stored if e.customer_id is not None),
        },
    )
    return result


def pending_ranges(*, db: Session, size: int) -> tuple[list[list[int]], int]:
    """Id ranges ``[first, last]`` holding ``size`` unlinked events each (the last fewer), and
    how many unlinked events there are."""
    numbered = select(Event.id, func.row_number().over(order_by=Event.id).label("n")).where(
        Event.customer_id.is_(None)
    )
    sub = numbered.subquery()
    starts = list(db.scalars(select(sub.c.id).where((sub.c.n - 1) % size == 0).order_by(sub.c.id)))
    total, last_id = db.execute(
        select(func.count(), func.max(Event.id)).where(Event.customer_id.is_(None))
    ).one()
    ranges = [[first, following - 1] for first, following in pairwise(starts)]
    if starts:
        ranges.append([starts[-1], int(last_id)])
    return ranges, int(total)


def link_pending(*, db: Session, first_id: int, last_id: int) -> tuple[int, int]:
    """Link the unlinked events with ids in ``[first_id, last_id]`` (and only those: a job's
    batches stay apart) whose user or anonymous id now points to a customer (an import added
    the external id, an identify came through); (events checked, events linked). Summaries
    of the customers that gained events are rebuilt."""
    rows = db.execute(
        select(Event.id, Event.source, Event.user_id, Event.anonymous_id).where(
            Event.customer_id.is_(None), Event.id.between(first_id, last_id)
        )
    ).all()
    gained: set[int] = set()
    linked = 0
    by_source: dict[str, list[Any]] = {}
    for row in rows:
        by_source.setdefault(row.source, []).append((row.id, row.user_id, row.anonymous_id))
    for source, group in sorted(by_source.items()):
        user_ids = {user_id for _id, user_id, _anonymous in group if user_id}
        anonymous_ids = {anonymous for _id, _user, anonymous in group if anonymous}
        known = _known_ids(db, source, user_ids, anonymous_ids)
        gained |= _link_rows(db, group, known)
        linked += sum(
            1 for _id, u, a in group if ("user_id", u) in known or ("anonymous_id", a) in known
        )
    recompute_summaries(db=db, customer_ids=gained)
    return len(rows), linked


# --- reading ------------------------------------------------------------------------------------


def list_page(
    *,
    db: Session,
    principal: Principal,
    customer_id: int | None = None,
    event_type: str | None = None,
    name: str | None = None,
    cursor: str | None = None,
    limit: int = 25,
) -> tuple[list[Event], str | None]:
    """Events the principal may see, newest first, and the cursor of the next page.

    A team-scoped reader sees only events of customers they may see (no unlinked events);
    asking for a customer they may not see is ``NotFound``."""
    require(principal, "events:read")
    stmt = select(Event)
    if customer_id is not None:
        customers_service.get(db=db, customer_id=customer_id, principal=principal)
        stmt = stmt.where(Event.customer_id == customer_id)
    elif not principal.sees_all:
        visible = customers_service.restrict(select(Customer.id), principal)
        stmt = stmt.where(Event.customer_id.in_(visible))
    if event_type:
        stmt = stmt.where(Event.type == event_type)
    if name:
        stmt = stmt.where(Event.name == name)
    if cursor:
        stmt = stmt.where(tuple_(Event.occurred_at, Event.id) < _after(cursor))
    stmt = stmt.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit + 1)
    rows = list(db.scalars(stmt))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([last.occurred_at.isoformat(), last.id])


def _after(cursor: str) -> tuple[datetime, int]:
    moment, event_id = decode_cursor(cursor)
    try:
        if type(event_id) is not int or not isinstance(moment, str):
            raise ValueError(cursor)
        return datetime.fromisoformat(moment), event_id
    except ValueError as exc:
        raise InvalidInput({"cursor": "invalid"}) from exc


def _mask_ip(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if "." in value:
        return ".".join([*value.split(".")[:2], "*", "*"])
    return ":".join([*value.split(":")[:2], "*"])


def _masked_traits(traits: dict[str, Any] | None) -> dict[str, Any] | None:
    if not traits:
        return traits
    shown = dict(traits)
    for key, value in traits.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            continue
        if key == "email":
            shown[key] = masking.mask_email(str(value))
        elif key == "phone":
            shown[key] = masking.mask_phone(str(value))
        elif key in PERSONAL_TRAITS:
            shown[key] = masking.mask_text(str(value))
    return shown


def _masked_context(context: dict[str, Any] | None) -> dict[str, Any] | None:
    if not context:
        return context
    shown = dict(context)
    if "ip" in shown:
        shown["ip"] = _mask_ip(shown["ip"])
    if isinstance(shown.get("traits"), dict):
        shown["traits"] = _masked_traits(shown["traits"])
    return shown


def to_read(event: Event, principal: Principal) -> dict[str, Any]:
    """An event as the principal sees it: traits and the client's address masked for roles
    that do not see personal data in clear."""
    traits, context = event.payload.get("traits"), event.payload.get("context")
    if not principal.sees_clear:
        traits, context = _masked_traits(traits), _masked_context(context)
    return {
        "id": event.id,
        "type": event.type,
        "message_id": event.message_id,
        "timestamp": event.occurred_at,
        "received_at": event.received_at,
        "source": event.source,
        "customer_id": event.customer_id,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "event": event.name if event.type == "track" else None,
        "name": event.name if event.type == "page" else None,
        "properties": event.payload.get("properties"),
        "traits": traits,
        "context": context,
    }


def customer_names(
    *, db: Session, principal: Principal, ids: Iterable[int | None]
) -> dict[int, str]:
    """Names of the given customers that the principal may see."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    stmt = customers_service.restrict(
        select(Customer.id, Customer.name).where(Customer.id.in_(wanted)), principal
    )
    return {customer_id: name for customer_id, name in db.execute(stmt)}


# --- the customer 360 timeline -------------------------------------------------------------

TYPE_LABELS = {"identify": N_("Identified"), "track": N_("Event"), "page": N_("Page view")}


def _subject(event: Event) -> str:
    if event.type == "track":
        return event.name or ""
    if event.type == "page":
        path = (event.payload.get("properties") or {}).get("path")
        return event.name or (str(path).split("?")[0][:200] if path else "")
    return event.source


def timeline_items(*, db: Session, customer_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """A customer's latest events as timeline entries (the caller has checked access)."""
    events = db.scalars(
        select(Event)
        .where(Event.customer_id == customer_id)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(limit)
    )
    return [
        {
            "type": "event",
            "at": e.occurred_at,
            "kind": gettext(TYPE_LABELS[e.type]),
            "subject": _subject(e),
            "body": None,
        }
        for e in events
    ]


def with_events(
    items: list[dict[str, Any]], *, db: Session, customer_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    """A timeline with the customer's latest events merged in, newest first."""
    merged = items + timeline_items(db=db, customer_id=customer_id)
    return sorted(merged, key=lambda item: item["at"], reverse=True)[:limit]
