"""Every model imported in one place, so relationships and Alembic see all tables."""

from clientops.audit.models import AuditEvent
from clientops.auth.models import ApiToken, LoginAttempt, Team, User, WebSession
from clientops.customers.models import (
    Activity,
    Customer,
    CustomFieldDef,
    CustomFieldValue,
    ExternalId,
    Order,
    Tag,
)
from clientops.db import Base
from clientops.jobs.models import Job, JobLog

metadata = Base.metadata

__all__ = [
    "Activity",
    "ApiToken",
    "AuditEvent",
    "CustomFieldDef",
    "CustomFieldValue",
    "Customer",
    "ExternalId",
    "Job",
    "JobLog",
    "LoginAttempt",
    "Order",
    "Tag",
    "Team",
    "User",
    "WebSession",
    "metadata",
]
