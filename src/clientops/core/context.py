"""Who is acting and in which request: carried on the database session for the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Actor:
    """The person (or system process) on whose behalf a change is made."""

    id: int | None
    name: str


SYSTEM = Actor(id=None, name="system")


def bind(session: Session, *, actor: Actor, request_id: str | None = None) -> Session:
    """Attach the actor and request id to a session; the audit listener reads them."""
    session.info["actor"] = actor
    session.info["request_id"] = request_id
    return session


def actor_of(session: Session) -> Actor:
    """The actor bound to a session, or the system."""
    actor = session.info.get("actor")
    return actor if isinstance(actor, Actor) else SYSTEM


def request_id_of(session: Session) -> str | None:
    """The request id bound to a session."""
    value = session.info.get("request_id")
    return value if isinstance(value, str) else None
