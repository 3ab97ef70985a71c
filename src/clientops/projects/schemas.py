"""Input and output shapes of customer projects; inputs list every writable field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from clientops.core.types import MAX_ID, NO_CONTROL

Text = Annotated[str, StringConstraints(pattern=NO_CONTROL)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[Text, Field(min_length=1, max_length=200)]
LongText = Annotated[Text, Field(max_length=20000)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("999999999999"), decimal_places=2)]
Days = Annotated[int, Field(ge=0, le=100000)]
Lag = Annotated[int, Field(ge=-10000, le=10000)]
Percent = Annotated[float, Field(ge=0, le=100)]
Score = Annotated[int, Field(ge=1, le=5)]

Phase = Literal["initiation", "planning", "execution", "monitoring", "closure"]
ProjectStatus = Literal["active", "on_hold", "closed", "cancelled"]
TaskKind = Literal["task", "milestone", "summary"]
LinkType = Literal["FS", "SS", "FF", "SF"]
ConstraintType = Literal["ASAP", "SNET", "SNLT", "FNET", "FNLT", "MSO", "MFO"]
Rag = Literal["green", "amber", "red"]
RiskStatus = Literal["open", "mitigating", "occurred", "closed"]
IssueStatus = Literal["open", "in_progress", "resolved", "closed"]
Severity = Literal["low", "medium", "high", "critical"]
RaciLetter = Literal["R", "A", "C", "I"]


class Model(BaseModel):
    """Inputs refuse unknown fields."""

    model_config = ConfigDict(extra="forbid")


# --- projects ------------------------------------------------------------------------------


class MemberIn(Model):
    """A user on the project team with a role."""

    user_id: Id
    role: Text = Field(min_length=1, max_length=60)


class MemberRead(BaseModel):
    """A team member."""

    user_id: int
    role: str
    name: str


class ProjectCreate(Model):
    """A new project for a customer, optionally from a template."""

    customer_id: Id
    name: Name
    template: str | None = Field(
        default=None, max_length=40, description="implementation, consulting or onboarding"
    )
    goal: LongText | None = None
    scope: LongText | None = None
    pm_id: Id | None = Field(default=None, description="Default: the caller.")
    start_date: date
    target_date: date | None = None
    budget: Money = Decimal(0)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    cn_holidays: bool = Field(default=True, description="China's public holidays are days off.")
    members: list[MemberIn] = Field(default_factory=list, max_length=100)


class ProjectUpdate(Model):
    """Fields to change on a project."""

    name: Name | None = None
    goal: LongText | None = None
    scope: LongText | None = None
    pm_id: Id | None = None
    status: ProjectStatus | None = None
    start_date: date | None = None
    target_date: date | None = None
    budget: Money | None = None
    cn_holidays: bool | None = None
    members: list[MemberIn] | None = Field(default=None, max_length=100)


class ChecklistItem(BaseModel):
    """One gate item: ``auto`` items are checked from the data, the others ticked by hand."""

    key: str
    label: str
    done: bool
    auto: bool


class PhaseRead(BaseModel):
    """A lifecycle phase and its gate."""

    key: str
    position: int
    status: str
    checklist: list[ChecklistItem]
    closed_at: datetime | None


class ChecklistTick(Model):
    """Tick or untick a manual gate item."""

    key: str = Field(max_length=40)
    done: bool


class ProjectRead(BaseModel):
    """A project as shown to a reader."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    name: str
    project_type: str | None
    goal: str | None
    scope: str | None
    pm_id: int | None
    status: str
    phase: str
    start_date: date
    target_date: date | None
    finish_date: date | None
    makespan_days: int
    budget: Decimal
    currency: str
    cn_holidays: bool
    rag_override: str | None
    rag_reason: str | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProjectDetail(ProjectRead):
    """A project with its team and phases."""

    members: list[MemberRead]
    phases: list[PhaseRead]


class ProjectPage(BaseModel):
    """A page of projects."""

    items: list[ProjectRead]
    next_cursor: str | None


class RagOverride(Model):
    """Set the RAG health by hand (with a reason), or clear the override with ``rag: null``."""

    rag: Rag | None
    reason: Text | None = Field(default=None, max_length=500)


# --- WBS, links, calendar ------------------------------------------------------------------


class TaskFields(Model):
    """Writable task fields."""

    name: Name | None = None
    kind: TaskKind | None = None
    phase: Phase | None = None
    deliverable: Text | None = Field(default=None, max_length=200)
    duration_days: Days | None = None
    effort_hours: Annotated[float, Field(ge=0, le=1e7)] | None = None
    percent_complete: Percent | None = None
    constraint_type: ConstraintType | None = None
    constraint_date: date | None = None
    actual_start: date | None = None
    actual_finish: date | None = None
    notes: LongText | None = None


class TaskCreate(TaskFields):
    """A new task, appended under ``parent_id`` (or at the top level)."""

    name: Name
    parent_id: Id | None = None


class TaskMove(Model):
    """Put a task under ``parent_id`` (null: top level) at ``position`` among its siblings."""

    parent_id: Id | None = None
    position: int = Field(ge=0, le=100000)


class TaskBulkUpdate(Model):
    """The same changes to many tasks, with one reschedule."""

    task_ids: list[Id] = Field(min_length=1, max_length=10000)
    changes: TaskFields


class TaskRead(BaseModel):
    """A task with its computed schedule (offsets in working days from the project start)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    project_id: int
    parent_id: int | None
    position: int
    wbs: str
    name: str
    kind: str
    phase: str | None
    deliverable: str | None
    duration_days: int
    effort_hours: float
    percent_complete: float
    constraint_type: str
    constraint_date: date | None
    actual_start: date | None
    actual_finish: date | None
    early_start: int
    early_finish: int
    late_start: int
    late_finish: int
    total_float: int
    free_float: int
    critical: bool
    start_date: date | None
    finish_date: date | None
    notes: str | None


class LinkCreate(Model):
    """A dependency: ``succ_id`` follows ``pred_id`` by type and lag (negative: a lead)."""

    pred_id: Id
    succ_id: Id
    type: LinkType = "FS"
    lag_days: Lag = 0


class LinkRead(BaseModel):
    """A dependency."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    pred_id: int
    succ_id: int
    type: str
    lag_days: int


class ScheduleRead(BaseModel):
    """What a reschedule found."""

    makespan_days: int
    finish_date: date | None
    tasks: int
    changed: int
    critical: list[int]


class CalendarDayIn(Model):
    """A calendar exception for the project, or for one resource when ``resource_id`` is set."""

    day: date
    working: bool = False
    hours: float = Field(default=0.0, ge=0, le=24)
    resource_id: Id | None = None
    note: Text | None = Field(default=None, max_length=200)


class CalendarDayRead(BaseModel):
    """A calendar exception."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    day: date
    working: bool
    hours: float
    resource_id: int | None
    note: str | None


# --- baselines -----------------------------------------------------------------------------


class BaselineCreate(Model):
    """Save the current plan under a name."""

    name: Text = Field(min_length=1, max_length=120)


class BaselineRead(BaseModel):
    """A saved baseline."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    created_at: datetime
    finish_date: date | None
    budget: Decimal


class TaskCompare(BaseModel):
    """One task: plan vs baseline vs actual (dates, effort hours, cost)."""

    task_id: int
    wbs: str
    name: str
    plan_start: date | None
    plan_finish: date | None
    baseline_start: date | None
    baseline_finish: date | None
    actual_start: date | None
    actual_finish: date | None
    start_variance_days: int | None
    finish_variance_days: int | None
    plan_effort: float
    baseline_effort: float | None
    actual_effort: float
    plan_cost: float
    baseline_cost: float | None
    actual_cost: float


class CompareRead(BaseModel):
    """A project's plan against one baseline and the actuals."""

    baseline: BaselineRead
    project: dict[str, Any]
    tasks: list[TaskCompare]


# --- resources -----------------------------------------------------------------------------


class ResourceCreate(Model):
    """A person who does project work."""

    name: Text = Field(min_length=1, max_length=120)
    user_id: Id | None = None
    capacity_hours: float = Field(default=8.0, gt=0, le=24)
    skills: list[Annotated[Text, Field(max_length=60)]] = Field(default_factory=list, max_length=50)
    cost_rate: Money = Decimal(0)


class ResourceUpdate(Model):
    """Fields to change on a resource."""

    name: Text | None = Field(default=None, min_length=1, max_length=120)
    capacity_hours: float | None = Field(default=None, gt=0, le=24)
    skills: list[Annotated[Text, Field(max_length=60)]] | None = Field(default=None, max_length=50)
    cost_rate: Money | None = None
    active: bool | None = None


class ResourceRead(BaseModel):
    """A resource."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    user_id: int | None
    capacity_hours: float
    skills: list[str]
    cost_rate: Decimal
    active: bool


class AssignmentIn(Model):
    """Assign a resource to a task at some units (1.0 = full-time)."""

    resource_id: Id
    units: float = Field(default=1.0, gt=0, le=10)


class AssignmentRead(BaseModel):
    """An assignment."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    task_id: int
    resource_id: int
    units: float


class AllocationPeriod(BaseModel):
    """Planned hours of a resource in a day or week, against its capacity."""

    start: date
    hours: float
    capacity: float
    over: bool


class AllocationRead(BaseModel):
    """A resource's load across all projects."""

    resource_id: int
    name: str
    capacity_hours: float
    days: list[AllocationPeriod]
    weeks: list[AllocationPeriod]
    over_allocated: bool


class LevelProposalRead(BaseModel):
    """A levelled schedule proposed by the solver."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    status: str
    makespan_days: float
    bound_days: float | None
    gap: float | None
    starts: dict[str, Any]
    created_at: datetime


# --- timesheets and costs ------------------------------------------------------------------


class TimesheetEntryIn(Model):
    """Hours on a task on a day (0 removes the entry), with optional progress."""

    task_id: Id
    day: date
    hours: float = Field(ge=0, le=24)
    percent_complete: Percent | None = None
    note: Text | None = Field(default=None, max_length=500)


class TimesheetWeekIn(Model):
    """A week of entries for one resource (default: the caller's own)."""

    resource_id: Id | None = None
    entries: list[TimesheetEntryIn] = Field(max_length=500)


class TimesheetSubmit(Model):
    """Submit a week for approval."""

    resource_id: Id | None = None
    week_start: date


class TimesheetDecision(Model):
    """Approve or reject submitted entries of a project."""

    entry_ids: list[Id] = Field(min_length=1, max_length=5000)
    approve: bool
    reason: Text | None = Field(default=None, max_length=500)


class TimesheetEntryRead(BaseModel):
    """A timesheet entry."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    project_id: int
    task_id: int
    resource_id: int
    day: date
    week_start: date
    hours: float
    percent_complete: float | None
    note: str | None
    status: str
    reason: str | None


class BudgetLineIn(Model):
    """A budget line by phase and/or category."""

    phase: Phase | None = None
    category: Text = Field(default="labour", min_length=1, max_length=40)
    amount: Money


class BudgetLineRead(BaseModel):
    """A budget line."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    phase: str | None
    category: str
    amount: Decimal


class ExpenseIn(Model):
    """A cost incurred outside timesheets."""

    day: date
    amount: Money
    category: Text = Field(default="expenses", min_length=1, max_length=40)
    task_id: Id | None = None
    description: Text | None = Field(default=None, max_length=500)


class ExpenseRead(BaseModel):
    """An expense."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    day: date
    amount: Decimal
    category: str
    task_id: int | None
    description: str | None


# --- risks, issues, changes, RACI ----------------------------------------------------------


class RiskIn(Model):
    """A risk (create, or the fields to change)."""

    title: Name | None = None
    description: LongText | None = None
    probability: Score | None = None
    impact: Score | None = None
    owner_id: Id | None = None
    response: LongText | None = None
    trigger: Text | None = Field(default=None, max_length=500)
    status: RiskStatus | None = None
    review_on: date | None = None


class RiskRead(BaseModel):
    """A risk with its score (probability × impact)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    description: str | None
    probability: int
    impact: int
    score: int
    owner_id: int | None
    response: str | None
    trigger: str | None
    status: str
    review_on: date | None


class IssueIn(Model):
    """An issue (create, or the fields to change)."""

    title: Name | None = None
    description: LongText | None = None
    severity: Severity | None = None
    owner_id: Id | None = None
    status: IssueStatus | None = None
    due_on: date | None = None
    needs_decision: bool | None = None


class IssueRead(BaseModel):
    """An issue."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    description: str | None
    severity: str
    owner_id: int | None
    status: str
    due_on: date | None
    needs_decision: bool


class TaskEdit(Model):
    """One plan edit a change request carries: change a task, or add one (no ``task_id``)."""

    task_id: Id | None = None
    parent_id: Id | None = None
    fields: TaskFields


class ChangeRequestIn(Model):
    """A change request."""

    title: Name
    description: LongText | None = None
    scope_impact: LongText | None = None
    schedule_impact_days: float = Field(default=0.0, ge=-10000, le=10000)
    cost_impact: Annotated[Decimal, Field(ge=-999999999999, le=999999999999)] = Decimal(0)
    edits: list[TaskEdit] = Field(default_factory=list, max_length=1000)


class ChangeDecision(Model):
    """Approve or reject a submitted change request."""

    approve: bool
    note: Text | None = Field(default=None, max_length=500)


class ChangeRequestRead(BaseModel):
    """A change request and where it stands."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    description: str | None
    scope_impact: str | None
    schedule_impact_days: float
    cost_impact: Decimal
    edits: list[dict[str, Any]]
    status: str
    requested_by: int | None
    decided_by: int | None
    decided_at: datetime | None
    decision_note: str | None
    baseline_id: int | None


class RaciIn(Model):
    """Set one RACI cell (``letter: null`` clears it)."""

    deliverable: Name
    party: Text = Field(min_length=1, max_length=120)
    user_id: Id | None = None
    letter: RaciLetter | None


class RaciRead(BaseModel):
    """One RACI cell."""

    model_config = ConfigDict(from_attributes=True)
    deliverable: str
    party: str
    user_id: int | None
    letter: str


# --- status reports, closure, hand-over ----------------------------------------------------


class StatusReportUpdate(Model):
    """Edit a draft report."""

    summary: LongText | None = None
    decisions: LongText | None = None


class StatusReportRead(BaseModel):
    """A weekly status report."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    project_id: int
    week_start: date
    status: str
    rag: str
    summary: str | None
    decisions: str | None
    content: dict[str, Any]
    published_at: datetime | None


class LessonIn(Model):
    """A lesson learned."""

    category: Text = Field(default="general", max_length=60)
    text: Text = Field(min_length=1, max_length=2000)
    recommendation: Text | None = Field(default=None, max_length=2000)


class ClosureIn(Model):
    """The closing evaluation."""

    goal_met: bool
    summary: LongText | None = None
    lessons: list[LessonIn] = Field(default_factory=list, max_length=200)


class ClosureRead(BaseModel):
    """The closing evaluation with the computed budget and date figures."""

    model_config = ConfigDict(from_attributes=True)
    goal_met: bool
    evaluation: dict[str, Any]
    summary: str | None
    lessons: list[dict[str, Any]]
    created_at: datetime


class SurveyCreate(Model):
    """Send a CSAT survey to some contacts of the customer (default: all visible)."""

    contact_ids: list[Id] | None = Field(default=None, max_length=200)


class SurveyRead(BaseModel):
    """A survey request and its answer."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    contact_id: int | None
    token: str
    sent_at: datetime
    answered_at: datetime | None
    score: int | None
    comment: str | None


class SurveyAnswer(Model):
    """A customer's answer: satisfaction 1–5 and a comment."""

    score: Score
    comment: Text | None = Field(default=None, max_length=5000)
    answers: dict[str, Annotated[Text, Field(max_length=2000)]] = Field(
        default_factory=dict, max_length=20
    )


class SurveyPublic(BaseModel):
    """What the survey page shows the customer."""

    project: str
    answered: bool


class HandoverIn(Model):
    """The hand-over: delivered scope, open items and onboarding plan (defaults from data)."""

    delivered_scope: LongText | None = None
    open_items: list[Annotated[Text, Field(max_length=500)]] | None = Field(
        default=None, max_length=200
    )
    onboarding_plan: list[Annotated[Text, Field(max_length=500)]] | None = Field(
        default=None, max_length=200
    )


class HandoverRead(BaseModel):
    """The hand-over record."""

    model_config = ConfigDict(from_attributes=True)
    owner_id: int | None
    delivered_scope: str | None
    open_items: list[dict[str, Any]]
    onboarding_plan: list[dict[str, Any]]
    activity_id: int | None
    created_at: datetime
