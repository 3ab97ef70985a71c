"""Users, teams, sessions, API tokens and sign-in throttling."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from clientops.auth.models import ApiToken, LoginAttempt, Team, User, WebSession
from clientops.config import current
from clientops.core import security
from clientops.core.access import ROLES, TOKEN_SCOPES, Principal
from clientops.db import utcnow
from clientops.exceptions import Conflict, InvalidInput, NotFound


def principal_of(user: User, *, scopes: frozenset[str] | None = None) -> Principal:
    """The principal a user acts as (narrowed by a token's scopes when given)."""
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        team_ids=frozenset(team.id for team in user.teams),
        all_records=user.all_customers,
        scopes=scopes,
        locale=user.locale,
    )


def create_user(
    *,
    db: Session,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    email: str | None = None,
    team_names: list[str] | None = None,
    all_customers: bool = False,
) -> User:
    """A new user with an argon2 password hash; teams are created as needed."""
    if role not in ROLES:
        raise InvalidInput({"role": "invalid_role"})
    if len(password) < 8 and not current().demo_mode:
        raise InvalidInput({"password": "password_too_short"})
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict({"username": "already_exists"})
    user = User(
        username=username,
        password_hash=security.hash_password(password),
        role=role,
        display_name=display_name or username,
        email=email,
        all_customers=all_customers,
    )
    user.teams = [ensure_team(db=db, name=name) for name in team_names or []]
    db.add(user)
    db.flush()
    return user


def ensure_team(*, db: Session, name: str) -> Team:
    """The team called ``name``, created if missing."""
    team = db.scalar(select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name)
        db.add(team)
        db.flush()
    return team


def get_user(*, db: Session, user_id: int) -> User:
    """A user by id."""
    user = db.get(User, user_id, options=[selectinload(User.teams)])
    if user is None:
        raise NotFound("user")
    return user


def find_user(*, db: Session, username: str) -> User:
    """A user by username."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("user")
    return user


def list_users(*, db: Session) -> list[User]:
    """Every user, by name."""
    return list(db.scalars(select(User).order_by(User.username)))


def list_teams(*, db: Session) -> list[Team]:
    """Every team, by name."""
    return list(db.scalars(select(Team).order_by(Team.name)))


def exists(*, db: Session, user_id: int | None = None, team_id: int | None = None) -> bool:
    """True when the given user (or team) exists."""
    if user_id is not None:
        return db.get(User, user_id) is not None
    return team_id is not None and db.get(Team, team_id) is not None


def set_active(*, db: Session, user_id: int, active: bool) -> User:
    """Enable or disable a user; disabling revokes every session and token at once."""
    user = get_user(db=db, user_id=user_id)
    user.is_active = active
    if not active:
        revoke_all(db=db, user_id=user_id)
    db.flush()
    return user


def set_locale(*, db: Session, user_id: int, locale: str) -> None:
    """Remember a user's interface language."""
    get_user(db=db, user_id=user_id).locale = locale
    db.flush()


# --- sign-in -------------------------------------------------------------------------------


def throttled(*, db: Session, keys: list[str]) -> bool:
    """True when any key (username, address) has too many recent failures."""
    settings = current()
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    counts = db.execute(
        select(LoginAttempt.key, func.count())
        .where(LoginAttempt.key.in_(keys), LoginAttempt.at >= since)
        .group_by(LoginAttempt.key)
    ).all()
    return any(count >= settings.login_attempts_per_window for _key, count in counts)


def authenticate(*, db: Session, username: str, password: str, address: str) -> User | None:
    """The active user with these credentials, or None (and the failure is counted)."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        security.dummy_verify()
    elif user.is_active and security.verify_password(password, user.password_hash):
        db.execute(delete(LoginAttempt).where(LoginAttempt.key == f"user:{username}"))
        return user
    db.add_all([LoginAttempt(key=f"user:{username}"), LoginAttempt(key=f"ip:{address}")])
    db.flush()
    return None


def start_session(*, db: Session, user: User, old_session_id: str | None = None) -> str:
    """A new server-side session (any previous one is revoked: rotation at sign-in)."""
    if old_session_id:
        end_session(db=db, session_key=old_session_id)
    key = security.new_token()
    db.add(
        WebSession(id=security.token_digest(key), user_id=user.id, csrf_token=security.new_token())
    )
    db.flush()
    return key


def load_session(*, db: Session, session_key: str) -> WebSession | None:
    """The live session for a cookie value, touched; None when revoked, idle or expired."""
    row = db.get(WebSession, security.token_digest(session_key))
    if row is None or row.revoked or not row.user.is_active:
        return None
    settings, now = current(), utcnow()
    if now - row.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        return None
    if now - row.created_at > timedelta(hours=settings.session_absolute_hours):
        return None
    if now - row.last_seen_at > timedelta(seconds=60):
        row.last_seen_at = now
    return row


def end_session(*, db: Session, session_key: str) -> None:
    """Revoke one session (sign-out)."""
    row = db.get(WebSession, security.token_digest(session_key))
    if row is not None:
        row.revoked = True
        db.flush()


def revoke_all(*, db: Session, user_id: int) -> None:
    """Revoke every session and API token of a user."""
    for row in db.scalars(select(WebSession).where(WebSession.user_id == user_id)):
        row.revoked = True
    for token in db.scalars(select(ApiToken).where(ApiToken.user_id == user_id)):
        token.revoked = True
    db.flush()


# --- API tokens ----------------------------------------------------------------------------


def create_token(
    *, db: Session, user: User, scopes: list[str], name: str = "", days: int | None = None
) -> str:
    """A new API token for ``user``; the token is returned once and stored only hashed."""
    unknown = sorted(set(scopes) - set(TOKEN_SCOPES))
    if not scopes or unknown:
        raise InvalidInput({"scope": "invalid_scope:" + ",".join(unknown)})
    token = "co_" + security.new_token()
    expires = utcnow() + timedelta(days=days) if days else None
    db.add(
        ApiToken(
            user_id=user.id,
            name=name,
            token_hash=security.token_digest(token),
            scopes=" ".join(sorted(set(scopes))),
            expires_at=expires,
        )
    )
    db.flush()
    return token


def principal_for_token(*, db: Session, token: str) -> Principal | None:
    """The principal an API token acts as, or None when unknown, revoked or expired."""
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == security.token_digest(token)))
    if row is None or row.revoked or not row.user.is_active:
        return None
    if row.expires_at is not None and row.expires_at < utcnow():
        return None
    return principal_of(row.user, scopes=frozenset(row.scopes.split()))
