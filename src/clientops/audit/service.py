"""Writing and reading the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, event, insert, inspect, select
from sqlalchemy.orm import Session

from clientops.audit.models import Audited, AuditEvent
from clientops.core.context import actor_of, request_id_of
from clientops.db import utcnow


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _entity_id(obj: Any) -> str | None:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return "-".join(str(part) for part in key) if all(p is not None for p in key) else None


def _changes(obj: Any, *, action: str) -> dict[str, Any]:
    state = inspect(obj)
    exclude = type(obj).audit_exclude
    changes: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in exclude:
            continue
        history = state.attrs[key].history
        if action == "create":
            value = getattr(obj, key)
            if value is not None:
                changes[key] = [None, _plain(value)]
        elif action == "delete":
            value = history.unchanged[0] if history.unchanged else None
            value = history.deleted[0] if history.deleted else value
            if value is not None:
                changes[key] = [_plain(value), None]
        elif history.has_changes():
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                changes[key] = [_plain(before), _plain(after)]
    return changes


def _values(
    session: Session, *, action: str, entity: str, entity_id: str | None, changes: dict[str, Any]
) -> dict[str, Any]:
    actor = actor_of(session)
    return {
        "at": utcnow(),
        "actor_id": actor.id,
        "actor_name": actor.name,
        "action": action,
        "entity_type": entity,
        "entity_id": entity_id,
        "changes": changes,
        "request_id": request_id_of(session),
    }


def _describe(session: Session, obj: Any, action: str) -> dict[str, Any]:
    return _values(
        session,
        action=action,
        entity=type(obj).__tablename__,
        entity_id=_entity_id(obj),
        changes=_changes(obj, action=action),
    )


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    # Updates and deletes are described before the flush, while the old values are known.
    rows = session.info.setdefault("audit_rows", [])
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            row = _describe(session, obj, "update")
            if row["changes"]:
                rows.append(row)
    rows.extend(_describe(session, o, "delete") for o in session.deleted if isinstance(o, Audited))


def _after_flush(session: Session, _ctx: Any) -> None:
    # New rows have their ids only now; every audit row goes in on the same connection,
    # inside the same transaction as the change it records.
    rows = session.info.pop("audit_rows", [])
    rows.extend(_describe(session, o, "create") for o in session.new if isinstance(o, Audited))
    if rows:
        session.connection().execute(insert(AuditEvent), rows)


def install() -> None:
    """Register the flush listeners that write an audit row for every audited change."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)


def record(
    session: Session,
    *,
    action: str,
    entity: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record a read of personal data (reveal, export) or another non-change event."""
    row = AuditEvent(
        **_values(session, action=action, entity=entity, entity_id=entity_id, changes=details or {})
    )
    session.add(row)
    return row


def browse(
    *,
    actor_id: int | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
) -> Select[Any]:
    """The audit trail, newest first, filtered."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    return stmt


ENTITY_TYPES = (
    "customers",
    "accounts",
    "activities",
    "orders",
    "tags",
    "users",
    "teams",
    "api_tokens",
    "custom_field_defs",
    "custom_field_values",
    "customer_external_ids",
    "demo",
    "imports",
    "import_mappings",
    "events",
    "identity_pairs",
    "identity_merges",
    "identity_runs",
    "quality",
)
ACTIONS = (
    "create",
    "update",
    "delete",
    "reveal",
    "export",
    "demo.load",
    "import.batch",
    "ingest",
    "merge",
    "unmerge",
    "resolve",
    "quality_recompute",
)
