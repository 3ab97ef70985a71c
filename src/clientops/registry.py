"""Every model imported in one place, so relationships and Alembic see all tables."""

from clientops.analytics import models as analytics_models
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
from clientops.events import models as events_models
from clientops.identity import models as identity_models
from clientops.imports import models as imports_models
from clientops.jobs.models import Job, JobLog
from clientops.projects import models as projects_models
from clientops.quality import models as quality_models

# The data-platform domains register their tables by being imported (their classes are many).
DOMAIN_MODELS = (
    events_models,
    identity_models,
    imports_models,
    quality_models,
    projects_models,
    analytics_models,
)

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
