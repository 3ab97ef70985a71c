"""Roles, the permissions each grants, and the principal a request or token acts as."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "ops_manager", "project_manager", "agent", "analyst", "viewer")

PERMISSIONS = (
    "customers:read",
    "customers:write",
    "customers:delete",
    "customers:reveal",
    "customers:export",
    "accounts:read",
    "accounts:write",
    "activities:write",
    "audit:read",
    "users:manage",
    "fields:manage",
    "jobs:read",
    "imports:run",
    "events:read",
    "events:write",
    "identity:review",
    "quality:read",
    "analytics:read",
    "analytics:manage",
    "projects:read",
    "projects:write",
    "projects:approve",
    "timesheets:write",
)

_READ = {"customers:read", "accounts:read"}
_WRITE = {"customers:write", "accounts:write", "activities:write"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "ops_manager": frozenset(
        _READ
        | _WRITE
        | {"customers:delete", "customers:reveal", "customers:export", "jobs:read"}
        | {"imports:run", "events:read", "events:write", "identity:review", "quality:read"}
        | {"analytics:read", "analytics:manage", "projects:read"}
    ),
    "project_manager": frozenset(
        _READ
        | {"activities:write", "customers:reveal", "jobs:read", "analytics:read"}
        | {"projects:read", "projects:write", "projects:approve", "timesheets:write"}
    ),
    "agent": frozenset(_READ | _WRITE | {"projects:read", "timesheets:write"}),
    "analyst": frozenset(
        _READ
        | {"customers:export", "jobs:read", "events:read", "quality:read"}
        | {"analytics:read", "analytics:manage", "projects:read"}
    ),
    "viewer": frozenset(_READ | {"analytics:read", "projects:read"}),
}

# Roles that see every customer; the others see their teams' (and their own) unless granted more.
ALL_RECORDS_ROLES = frozenset({"admin", "analyst"})
# Roles that see personal data in clear; the others see it masked (and may reveal if permitted).
CLEAR_DATA_ROLES = frozenset({"admin", "ops_manager", "agent"})

# What an API token's scopes may grant; a token never exceeds its user's role.
TOKEN_SCOPES = (
    "customers:read",
    "customers:write",
    "customers:delete",
    "accounts:read",
    "accounts:write",
    "events:write",
    "events:read",
    "analytics:read",
    "projects:read",
    "projects:write",
    "timesheets:write",
)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the user's role and teams, narrowed by a token's scopes."""

    user_id: int
    username: str
    role: str
    team_ids: frozenset[int] = frozenset()
    all_records: bool = False
    scopes: frozenset[str] | None = None
    locale: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def can(self, permission: str) -> bool:
        """True when the role grants ``permission`` and a token, if any, has the scope."""
        if permission not in ROLE_PERMISSIONS.get(self.role, frozenset()):
            return False
        return self.scopes is None or permission in self.scopes

    @property
    def sees_all(self) -> bool:
        """True when no per-record restriction applies."""
        return self.all_records or self.role in ALL_RECORDS_ROLES

    @property
    def sees_clear(self) -> bool:
        """True when personal data is shown unmasked."""
        return self.role in CLEAR_DATA_ROLES
