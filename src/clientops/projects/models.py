"""Customer projects: plans (phases, WBS tasks, links, calendars), baselines, resources,
timesheets, costs, risks, issues, changes, RACI, status reports, closure and hand-over.

Schedule figures on a task (``early_start`` … ``free_float``) are working-day offsets from the
project start, written by the scheduler after every change; ``start_date``/``finish_date`` are
the same figures converted through the project calendar. They are derived data, so a
reschedule writes them in bulk without an audit row per task (the change that caused it is
audited).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from clientops.audit.models import Audited
from clientops.db import Base, TimestampMixin, utcnow

PHASES = ("initiation", "planning", "execution", "monitoring", "closure")
PROJECT_STATUSES = ("active", "on_hold", "closed", "cancelled")
TASK_KINDS = ("task", "milestone", "summary")
LINK_TYPES = ("FS", "SS", "FF", "SF")
CONSTRAINT_TYPES = ("ASAP", "SNET", "SNLT", "FNET", "FNLT", "MSO", "MFO")
RAG = ("green", "amber", "red")


class Project(Audited, TimestampMixin, Base):
    """A customer engagement run as a project: a customer, a manager, dates, budget, phase."""

    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_customer_status", "customer_id", "status"),)
    audit_exclude = frozenset({"plan_token", "makespan_days", "finish_date"})
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    project_type: Mapped[str | None] = mapped_column(String(40))
    goal: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)
    pm_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    phase: Mapped[str] = mapped_column(String(16), default="initiation")
    start_date: Mapped[date] = mapped_column(Date)
    target_date: Mapped[date | None] = mapped_column(Date)
    finish_date: Mapped[date | None] = mapped_column(Date)
    makespan_days: Mapped[int] = mapped_column(Integer, default=0)
    budget: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    cn_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    rag_override: Mapped[str | None] = mapped_column(String(8))
    rag_reason: Mapped[str | None] = mapped_column(String(500))
    rag_override_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column()
    # A new random token with every stored schedule: a process that cached the network of
    # this token may reschedule from its cache (see ``plans``), any other change invalidates it.
    plan_token: Mapped[str | None] = mapped_column(String(32))


class ProjectMember(Audited, Base):
    """Someone on the project team, with their role on it (e.g. architect, consultant)."""

    __tablename__ = "project_members"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id"),
        Index("ix_project_members_user_id", "user_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(60))


class ProjectPhase(Audited, Base):
    """One lifecycle phase of a project with its gate checklist (items: key, done, auto)."""

    __tablename__ = "project_phases"
    __table_args__ = (UniqueConstraint("project_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Task(Audited, Base):
    """A WBS element: a task, milestone or summary, with its computed schedule."""

    __tablename__ = "project_tasks"
    __table_args__ = (
        Index("ix_project_tasks_project_seq", "project_id", "seq"),
        # Every reschedule rewrites the schedule columns of many rows: free space in each page
        # lets PostgreSQL update them in place (HOT, no index writes), twice as fast.
        {"postgresql_with": {"fillfactor": 50}},
    )
    audit_exclude = frozenset(
        {
            "early_start",
            "early_finish",
            "late_start",
            "late_finish",
            "total_float",
            "free_float",
            "critical",
            "start_date",
            "finish_date",
            "seq",
            "wbs",
        }
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("project_tasks.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    wbs: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="task")
    phase: Mapped[str | None] = mapped_column(String(16))
    deliverable: Mapped[str | None] = mapped_column(String(200))
    duration_days: Mapped[int] = mapped_column(Integer, default=1)
    effort_hours: Mapped[float] = mapped_column(Float, default=0.0)
    percent_complete: Mapped[float] = mapped_column(Float, default=0.0)
    constraint_type: Mapped[str] = mapped_column(String(8), default="ASAP")
    constraint_date: Mapped[date | None] = mapped_column(Date)
    actual_start: Mapped[date | None] = mapped_column(Date)
    actual_finish: Mapped[date | None] = mapped_column(Date)
    early_start: Mapped[int] = mapped_column(Integer, default=0)
    early_finish: Mapped[int] = mapped_column(Integer, default=0)
    late_start: Mapped[int] = mapped_column(Integer, default=0)
    late_finish: Mapped[int] = mapped_column(Integer, default=0)
    total_float: Mapped[int] = mapped_column(Integer, default=0)
    free_float: Mapped[int] = mapped_column(Integer, default=0)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    start_date: Mapped[date | None] = mapped_column(Date)
    finish_date: Mapped[date | None] = mapped_column(Date)
    external_uid: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)


class Link(Audited, Base):
    """A dependency between two tasks of one project: FS, SS, FF or SF with a lag in days."""

    __tablename__ = "project_links"
    __table_args__ = (
        UniqueConstraint("pred_id", "succ_id"),
        Index("ix_project_links_project_id", "project_id"),
        Index("ix_project_links_succ_id", "succ_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pred_id: Mapped[int] = mapped_column(ForeignKey("project_tasks.id", ondelete="CASCADE"))
    succ_id: Mapped[int] = mapped_column(ForeignKey("project_tasks.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(2), default="FS")
    lag_days: Mapped[int] = mapped_column(Integer, default=0)


class CalendarDay(Audited, Base):
    """A calendar exception: a day off (or extra working day) for a project or a resource."""

    __tablename__ = "project_calendar_days"
    __table_args__ = (
        Index("ix_project_calendar_days_project_day", "project_id", "day"),
        Index("ix_project_calendar_days_resource_day", "resource_id", "day"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    resource_id: Mapped[int | None] = mapped_column(
        ForeignKey("project_resources.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    working: Mapped[bool] = mapped_column(Boolean, default=False)
    hours: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str | None] = mapped_column(String(200))


class Baseline(Audited, Base):
    """A named snapshot of the plan: per task dates, duration, effort and planned cost."""

    __tablename__ = "project_baselines"
    __table_args__ = (Index("ix_project_baselines_project_id", "project_id"),)
    audit_exclude = frozenset({"tasks"})
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    finish_date: Mapped[date | None] = mapped_column(Date)
    budget: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    tasks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Resource(Audited, TimestampMixin, Base):
    """A person who does project work (a user or a named outside resource)."""

    __tablename__ = "project_resources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    capacity_hours: Mapped[float] = mapped_column(Float, default=8.0)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    cost_rate: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Assignment(Audited, Base):
    """A resource working on a task at some units (1.0 = full capacity)."""

    __tablename__ = "project_assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "resource_id"),
        Index("ix_project_assignments_resource_id", "resource_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("project_tasks.id", ondelete="CASCADE"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("project_resources.id", ondelete="CASCADE"))
    units: Mapped[float] = mapped_column(Float, default=1.0)


class LevellingProposal(Audited, Base):
    """A levelled schedule proposed by the solver: new start offsets the PM accepts or not."""

    __tablename__ = "project_level_proposals"
    __table_args__ = (Index("ix_project_level_proposals_project_id", "project_id"),)
    audit_exclude = frozenset({"starts"})
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    makespan_days: Mapped[float] = mapped_column(Float, default=0.0)
    bound_days: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    starts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class TimesheetEntry(Audited, Base):
    """Hours a resource worked on a task on a day; a week is submitted and then approved."""

    __tablename__ = "project_timesheet_entries"
    __table_args__ = (
        UniqueConstraint("resource_id", "task_id", "day"),
        Index("ix_project_timesheet_entries_project_status", "project_id", "status"),
        Index("ix_project_timesheet_entries_resource_week", "resource_id", "week_start"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("project_tasks.id", ondelete="CASCADE"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("project_resources.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    week_start: Mapped[date] = mapped_column(Date)
    hours: Mapped[float] = mapped_column(Float)
    percent_complete: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    cost_rate: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(String(500))


class BudgetLine(Audited, Base):
    """Part of the budget, by phase and/or cost category."""

    __tablename__ = "project_budget_lines"
    __table_args__ = (Index("ix_project_budget_lines_project_id", "project_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    phase: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(40), default="labour")
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class Expense(Audited, Base):
    """A non-labour cost actually incurred (travel, licences, hardware)."""

    __tablename__ = "project_expenses"
    __table_args__ = (Index("ix_project_expenses_project_id", "project_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("project_tasks.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(40), default="expenses")
    day: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    description: Mapped[str | None] = mapped_column(String(500))


class Risk(Audited, TimestampMixin, Base):
    """A risk: probability and impact 1–5, owner, response, trigger, status, next review."""

    __tablename__ = "project_risks"
    __table_args__ = (Index("ix_project_risks_project_id", "project_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    probability: Mapped[int] = mapped_column(Integer, default=3)
    impact: Mapped[int] = mapped_column(Integer, default=3)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    response: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="open")
    review_on: Mapped[date | None] = mapped_column(Date)


class Issue(Audited, TimestampMixin, Base):
    """Something that has gone wrong and needs a decision or an action."""

    __tablename__ = "project_issues"
    __table_args__ = (Index("ix_project_issues_project_id", "project_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8), default="medium")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_on: Mapped[date | None] = mapped_column(Date)
    needs_decision: Mapped[bool] = mapped_column(Boolean, default=False)


class ChangeRequest(Audited, TimestampMixin, Base):
    """A proposed change of scope, schedule or cost with its task edits; approved, applied."""

    __tablename__ = "project_change_requests"
    __table_args__ = (Index("ix_project_change_requests_project_id", "project_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    scope_impact: Mapped[str | None] = mapped_column(Text)
    schedule_impact_days: Mapped[float] = mapped_column(Float, default=0.0)
    cost_impact: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    edits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str | None] = mapped_column(String(500))
    baseline_id: Mapped[int | None] = mapped_column(
        ForeignKey("project_baselines.id", ondelete="SET NULL")
    )


class RaciEntry(Audited, Base):
    """One cell of the RACI matrix: a party's letter (R, A, C, I) for a deliverable."""

    __tablename__ = "project_raci"
    __table_args__ = (UniqueConstraint("project_id", "deliverable", "party"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    deliverable: Mapped[str] = mapped_column(String(200))
    party: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    letter: Mapped[str] = mapped_column(String(1))


class StatusReport(Audited, TimestampMixin, Base):
    """The weekly status report of a project: generated, edited, then published (frozen)."""

    __tablename__ = "project_status_reports"
    __table_args__ = (UniqueConstraint("project_id", "week_start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    rag: Mapped[str] = mapped_column(String(8), default="green")
    summary: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published_at: Mapped[datetime | None] = mapped_column()
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Closure(Audited, Base):
    """The closing evaluation of a project: goal, budget and dates, and lessons learned."""

    __tablename__ = "project_closures"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), unique=True
    )
    goal_met: Mapped[bool] = mapped_column(Boolean, default=False)
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str | None] = mapped_column(Text)
    lessons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(Audited, Base):
    """A CSAT survey request to one customer contact, answered through its token link."""

    __tablename__ = "project_surveys"
    __table_args__ = (Index("ix_project_surveys_project_id", "project_id"),)
    audit_exclude = frozenset({"token"})
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Handover(Audited, Base):
    """The hand-over to customer operations: scope delivered, open items, onboarding plan."""

    __tablename__ = "project_handovers"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), unique=True
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    delivered_scope: Mapped[str | None] = mapped_column(Text)
    open_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    onboarding_plan: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column()
