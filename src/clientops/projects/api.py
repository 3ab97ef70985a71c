"""JSON API for customer projects: /api/v1/projects, /api/v1/resources, /api/v1/timesheets,
and the token-only CSAT survey answer /api/v1/surveys/{token}."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.i18n import get_locale
from clientops.core.types import ERROR_RESPONSES, Cursor, Limit, OptionalId, RecordId
from clientops.projects import (
    costs,
    flows,
    governance,
    plans,
    reports,
    resources,
    service,
)
from clientops.projects.schemas import (
    AllocationRead,
    AssignmentIn,
    AssignmentRead,
    BaselineCreate,
    BaselineRead,
    BudgetLineIn,
    BudgetLineRead,
    CalendarDayIn,
    CalendarDayRead,
    ChangeDecision,
    ChangeRequestIn,
    ChangeRequestRead,
    ChecklistTick,
    ClosureIn,
    ClosureRead,
    CompareRead,
    ExpenseIn,
    ExpenseRead,
    HandoverIn,
    HandoverRead,
    IssueIn,
    IssueRead,
    LevelProposalRead,
    LinkCreate,
    LinkRead,
    ProjectCreate,
    ProjectDetail,
    ProjectPage,
    ProjectUpdate,
    RaciIn,
    RaciRead,
    RagOverride,
    ResourceCreate,
    ResourceRead,
    ResourceUpdate,
    RiskIn,
    RiskRead,
    ScheduleRead,
    StatusReportRead,
    StatusReportUpdate,
    SurveyAnswer,
    SurveyCreate,
    SurveyPublic,
    SurveyRead,
    TaskBulkUpdate,
    TaskCreate,
    TaskFields,
    TaskMove,
    TaskRead,
    TimesheetDecision,
    TimesheetEntryRead,
    TimesheetSubmit,
    TimesheetWeekIn,
)

router = APIRouter(prefix="/api/v1/projects", tags=["projects"], responses=ERROR_RESPONSES)
resources_router = APIRouter(prefix="/api/v1", tags=["resources"], responses=ERROR_RESPONSES)
survey_router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, Depends(access("projects:read"))]
Writer = Annotated[Principal, Depends(access("projects:write"))]
Approver = Annotated[Principal, Depends(access("projects:approve"))]
Logger = Annotated[Principal, Depends(access("timesheets:write"))]
PhaseKey = Annotated[
    Literal["initiation", "planning", "execution", "monitoring", "closure"], Path()
]
SurveyToken = Annotated[str, Path(min_length=20, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


async def token_link() -> None:
    """The survey link's token is its only credential: no sign-in, and no CSRF (no cookie
    carries any authority to these routes)."""


token_link.access_rule = "public"  # type: ignore[attr-defined]
TokenLink = Depends(token_link)


class WeekStart(BaseModel):
    """The week to generate a report for (any day of it)."""

    week_start: date


class DecideIn(BaseModel):
    """Accept or discard."""

    accept: bool


def _detail(db: SessionDep, project_id: int, principal: Principal) -> dict[str, Any]:
    return service.detail(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


# --- projects ------------------------------------------------------------------------------


@router.get("", response_model=ProjectPage)
def list_projects(
    db: SessionDep,
    principal: Reader,
    customer_id: OptionalId = None,
    status: Annotated[Literal["active", "on_hold", "closed", "cancelled"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 25,
) -> Any:
    """The projects the caller may see, newest first."""
    rows, next_cursor = service.list_page(
        db=db, principal=principal, customer_id=customer_id, status=status, cursor=cursor,
        limit=limit,
    )  # fmt: skip
    return {"items": rows, "next_cursor": next_cursor}


@router.post("", response_model=ProjectDetail, status_code=201)
def create_project(db: SessionDep, principal: Writer, body: ProjectCreate) -> Any:
    """A new project for a customer, optionally from a template (phases, tasks, RACI, risks)."""
    project = flows.create_project(db=db, data=body, principal=principal)
    return service.detail(db=db, project=project)


@router.get("/{project_id}", response_model=ProjectDetail)
def read_project(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """A project with its team and phases (gate checklists evaluated now)."""
    return _detail(db, project_id, principal)


@router.patch("/{project_id}", response_model=ProjectDetail)
def update_project(
    db: SessionDep, principal: Writer, project_id: RecordId, body: ProjectUpdate
) -> Any:
    """Change a project; a new start date or calendar choice reschedules it."""
    project = service.update(db=db, project_id=project_id, data=body, principal=principal)
    if body.model_fields_set & {"start_date", "cn_holidays"}:
        plans.reschedule(db=db, project=project)
    return service.detail(db=db, project=project)


@router.delete("/{project_id}", status_code=204)
def delete_project(db: SessionDep, principal: Writer, project_id: RecordId) -> Response:
    """Delete a project and everything in it."""
    service.delete(db=db, project_id=project_id, principal=principal)
    return Response(status_code=204)


@router.post("/{project_id}/phases/{phase}/close", response_model=ProjectDetail)
def close_phase(db: SessionDep, principal: Writer, project_id: RecordId, phase: PhaseKey) -> Any:
    """Close the current phase's gate; 422 lists the unmet checklist items."""
    project = service.close_phase(db=db, project_id=project_id, phase=phase, principal=principal)
    return service.detail(db=db, project=project)


@router.post("/{project_id}/phases/{phase}/checklist", response_model=ProjectDetail)
def tick_item(
    db: SessionDep, principal: Writer, project_id: RecordId, phase: PhaseKey, body: ChecklistTick
) -> Any:
    """Tick or untick a manual gate item."""
    service.tick(
        db=db, project_id=project_id, phase=phase, key=body.key, done=body.done,
        principal=principal,
    )  # fmt: skip
    return _detail(db, project_id, principal)


@router.put("/{project_id}/rag", response_model=ProjectDetail)
def override_rag(db: SessionDep, principal: Writer, project_id: RecordId, body: RagOverride) -> Any:
    """Override the RAG health with a reason (``rag: null`` clears the override)."""
    project = service.set_rag_override(
        db=db, project_id=project_id, rag=body.rag, reason=body.reason, principal=principal
    )
    return service.detail(db=db, project=project)


@router.get("/{project_id}/health")
def read_health(db: SessionDep, principal: Reader, project_id: RecordId) -> dict[str, Any]:
    """RAG health: computed colour, components with reasons, and the override if any."""
    return reports.health_read(db=db, project_id=project_id, principal=principal)


# --- WBS, links, calendar, schedule --------------------------------------------------------


@router.get("/{project_id}/tasks", response_model=list[TaskRead])
def list_tasks(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The WBS in outline order with each task's schedule."""
    return plans.tasks(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/tasks", response_model=TaskRead, status_code=201)
def create_task(db: SessionDep, principal: Writer, project_id: RecordId, body: TaskCreate) -> Any:
    """A new task; the plan is rescheduled."""
    return plans.create_task(db=db, project_id=project_id, data=body, principal=principal)


@router.post("/{project_id}/tasks/bulk", response_model=list[TaskRead])
def bulk_edit(db: SessionDep, principal: Writer, project_id: RecordId, body: TaskBulkUpdate) -> Any:
    """The same changes to many tasks, rescheduled once; answers the whole WBS."""
    plans.bulk_update(
        db=db, project_id=project_id, task_ids=body.task_ids, data=body.changes,
        principal=principal,
    )  # fmt: skip
    return plans.tasks(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.patch("/{project_id}/tasks/{task_id}", response_model=ScheduleRead)
def update_task(
    db: SessionDep, principal: Writer, project_id: RecordId, task_id: RecordId, body: TaskFields
) -> Any:
    """Change a task (a Gantt drag sends an SNET date, a resize a duration); answers what the
    reschedule changed, so the page re-reads only then."""
    return plans.update_task(
        db=db, project_id=project_id, task_id=task_id, data=body, principal=principal
    )


@router.delete("/{project_id}/tasks/{task_id}", status_code=204)
def delete_task(
    db: SessionDep, principal: Writer, project_id: RecordId, task_id: RecordId
) -> Response:
    """Delete a task with its sub-tasks and links."""
    plans.delete_task(db=db, project_id=project_id, task_id=task_id, principal=principal)
    return Response(status_code=204)


@router.post("/{project_id}/tasks/{task_id}/move", response_model=list[TaskRead])
def move_task(
    db: SessionDep, principal: Writer, project_id: RecordId, task_id: RecordId, body: TaskMove
) -> Any:
    """Reorder or re-parent a task; WBS codes are recomputed. Answers the whole WBS."""
    plans.move_task(
        db=db, project_id=project_id, task_id=task_id, parent_id=body.parent_id,
        position=body.position, principal=principal,
    )  # fmt: skip
    return plans.tasks(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/tasks/{task_id}/indent", response_model=list[TaskRead])
def indent_task(db: SessionDep, principal: Writer, project_id: RecordId, task_id: RecordId) -> Any:
    """Make a task a child of the task above it."""
    plans.indent(db=db, project_id=project_id, task_id=task_id, principal=principal)
    return plans.tasks(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/tasks/{task_id}/outdent", response_model=list[TaskRead])
def outdent_task(db: SessionDep, principal: Writer, project_id: RecordId, task_id: RecordId) -> Any:
    """Move a task up one outline level."""
    plans.outdent(db=db, project_id=project_id, task_id=task_id, principal=principal)
    return plans.tasks(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.get("/{project_id}/links", response_model=list[LinkRead])
def list_links(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The dependencies."""
    return plans.links(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/links", response_model=LinkRead, status_code=201)
def create_link(db: SessionDep, principal: Writer, project_id: RecordId, body: LinkCreate) -> Any:
    """A dependency; a loop is refused (422) with its tasks named."""
    return plans.create_link(db=db, project_id=project_id, data=body, principal=principal)


@router.delete("/{project_id}/links/{link_id}", status_code=204)
def delete_link(
    db: SessionDep, principal: Writer, project_id: RecordId, link_id: RecordId
) -> Response:
    """Remove a dependency."""
    plans.delete_link(db=db, project_id=project_id, link_id=link_id, principal=principal)
    return Response(status_code=204)


@router.get("/{project_id}/calendar", response_model=list[CalendarDayRead])
def list_calendar(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The project's calendar exceptions."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    return plans.calendar_days(db=db, project=project)


@router.post("/{project_id}/calendar", response_model=CalendarDayRead, status_code=201)
def add_calendar_day(
    db: SessionDep, principal: Writer, project_id: RecordId, body: CalendarDayIn
) -> Any:
    """A day off or extra working day (for the project, or one resource)."""
    return plans.add_calendar_day(db=db, project_id=project_id, data=body, principal=principal)


@router.post("/{project_id}/schedule", response_model=ScheduleRead)
def schedule(db: SessionDep, principal: Writer, project_id: RecordId) -> Any:
    """Recompute the critical path now."""
    return plans.schedule(db=db, project_id=project_id, principal=principal)


# --- baselines -----------------------------------------------------------------------------


@router.get("/{project_id}/baselines", response_model=list[BaselineRead])
def list_baselines(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The saved baselines, newest first."""
    return plans.baselines(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/baselines", response_model=BaselineRead, status_code=201)
def save_baseline(
    db: SessionDep, principal: Writer, project_id: RecordId, body: BaselineCreate
) -> Any:
    """Save the current plan as a named baseline."""
    return plans.create_baseline(db=db, project_id=project_id, name=body.name, principal=principal)


@router.get("/{project_id}/compare", response_model=CompareRead)
def compare(
    db: SessionDep, principal: Reader, project_id: RecordId, baseline_id: OptionalId = None
) -> Any:
    """Plan vs baseline (default: the latest) vs actual, per task and for the project."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    return plans.compare(db=db, project=project, baseline_id=baseline_id)


# --- resources, levelling, timesheets ------------------------------------------------------


@router.get("/{project_id}/assignments", response_model=list[AssignmentRead])
def list_assignments(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """Who works on which task."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    return resources.assignments(db=db, project=project)


@router.put("/{project_id}/tasks/{task_id}/assignments", response_model=AssignmentRead)
def assign(
    db: SessionDep, principal: Writer, project_id: RecordId, task_id: RecordId, body: AssignmentIn
) -> Any:
    """Put a resource on a task (or change its units)."""
    return resources.assign(
        db=db, project_id=project_id, task_id=task_id, data=body, principal=principal
    )


@router.delete("/{project_id}/tasks/{task_id}/assignments/{resource_id}", status_code=204)
def unassign(
    db: SessionDep,
    principal: Writer,
    project_id: RecordId,
    task_id: RecordId,
    resource_id: RecordId,
) -> Response:
    """Take a resource off a task."""
    resources.unassign(
        db=db, project_id=project_id, task_id=task_id, resource_id=resource_id,
        principal=principal,
    )  # fmt: skip
    return Response(status_code=204)


@router.post("/{project_id}/levelling", response_model=LevelProposalRead, status_code=201)
def propose_levelling(
    db: SessionDep,
    principal: Writer,
    project_id: RecordId,
    time_limit: Annotated[float, Query(gt=0, le=60)] = 10.0,
) -> Any:
    """Level the plan against its resources (CP-SAT); a proposal with the solver's bound."""
    return resources.propose_levelling(
        db=db, project_id=project_id, principal=principal, time_limit=time_limit
    )


@router.post("/{project_id}/levelling/{proposal_id}", response_model=LevelProposalRead)
def decide_levelling(
    db: SessionDep, principal: Writer, project_id: RecordId, proposal_id: RecordId, body: DecideIn
) -> Any:
    """Accept (levelled starts become constraints) or discard a levelling proposal."""
    return resources.decide_levelling(
        db=db, project_id=project_id, proposal_id=proposal_id, accept=body.accept,
        principal=principal,
    )  # fmt: skip


@router.get("/{project_id}/timesheets", response_model=list[TimesheetEntryRead])
def project_timesheets(
    db: SessionDep,
    principal: Reader,
    project_id: RecordId,
    status: Annotated[Literal["draft", "submitted", "approved", "rejected"] | None, Query()] = None,
) -> Any:
    """The project's timesheet entries (``status=submitted``: those awaiting approval)."""
    return resources.project_entries(
        db=db, project_id=project_id, principal=principal, status=status
    )


@router.post("/{project_id}/timesheets/decide")
def decide_timesheets(
    db: SessionDep, principal: Approver, project_id: RecordId, body: TimesheetDecision
) -> dict[str, int]:
    """Approve or reject submitted entries (approval feeds actual cost and progress)."""
    count = resources.decide_entries(
        db=db, project_id=project_id, entry_ids=body.entry_ids, approve=body.approve,
        reason=body.reason, principal=principal,
    )  # fmt: skip
    return {"decided": count}


# --- budget, cost, earned value ------------------------------------------------------------


@router.get("/{project_id}/budget")
def read_budget(db: SessionDep, principal: Reader, project_id: RecordId) -> dict[str, Any]:
    """Budget lines, budget by phase and category, actual cost by category."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    lines = [BudgetLineRead.model_validate(b) for b in costs.budget_lines(db=db, project=project)]
    return {"lines": lines, **costs.budget_by(db=db, project=project)}


@router.post("/{project_id}/budget", response_model=BudgetLineRead, status_code=201)
def add_budget_line(
    db: SessionDep, principal: Writer, project_id: RecordId, body: BudgetLineIn
) -> Any:
    """A budget line; the project budget is the sum of the lines."""
    return costs.add_budget_line(db=db, project_id=project_id, data=body, principal=principal)


@router.delete("/{project_id}/budget/{line_id}", status_code=204)
def delete_budget_line(
    db: SessionDep, principal: Writer, project_id: RecordId, line_id: RecordId
) -> Response:
    """Remove a budget line."""
    costs.delete_budget_line(db=db, project_id=project_id, line_id=line_id, principal=principal)
    return Response(status_code=204)


@router.get("/{project_id}/expenses", response_model=list[ExpenseRead])
def list_expenses(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The project's expenses."""
    return costs.expenses(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/expenses", response_model=ExpenseRead, status_code=201)
def add_expense(db: SessionDep, principal: Writer, project_id: RecordId, body: ExpenseIn) -> Any:
    """Record an expense."""
    return costs.add_expense(db=db, project_id=project_id, data=body, principal=principal)


@router.get("/{project_id}/evm")
def read_evm(
    db: SessionDep, principal: Reader, project_id: RecordId, status_date: date | None = None
) -> dict[str, Any]:
    """PV, EV, AC, CV, SV, CPI, SPI, EAC variants, ETC, VAC, TCPI, SPI(t), the budget rule."""
    return costs.evm_read(
        db=db, project_id=project_id, principal=principal, status_date=status_date
    )


@router.get("/{project_id}/s-curve")
def read_s_curve(
    db: SessionDep,
    principal: Reader,
    project_id: RecordId,
    period: Annotated[Literal["day", "week", "month"], Query()] = "week",
) -> list[dict[str, Any]]:
    """Planned, earned and actual cost per period and cumulative."""
    return costs.s_curve(db=db, project_id=project_id, principal=principal, period=period)


# --- risks, issues, changes, RACI ----------------------------------------------------------


@router.get("/{project_id}/risks", response_model=list[RiskRead])
def list_risks(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The risk register, highest score first."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    return [governance.risk_read(r) for r in governance.risks(db=db, project=project)]


@router.get("/{project_id}/risks/heat-map")
def risk_heat_map(db: SessionDep, principal: Reader, project_id: RecordId) -> list[list[int]]:
    """Open risks by impact (rows 5→1) and probability (columns 1→5)."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    return governance.heat_map(db=db, project=project)


@router.post("/{project_id}/risks", response_model=RiskRead, status_code=201)
def create_risk(db: SessionDep, principal: Writer, project_id: RecordId, body: RiskIn) -> Any:
    """Add a risk."""
    risk = governance.save_risk(db=db, project_id=project_id, data=body, principal=principal)
    return governance.risk_read(risk)


@router.patch("/{project_id}/risks/{risk_id}", response_model=RiskRead)
def update_risk(
    db: SessionDep, principal: Writer, project_id: RecordId, risk_id: RecordId, body: RiskIn
) -> Any:
    """Change a risk."""
    risk = governance.save_risk(
        db=db, project_id=project_id, data=body, principal=principal, risk_id=risk_id
    )
    return governance.risk_read(risk)


@router.get("/{project_id}/issues", response_model=list[IssueRead])
def list_issues(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The issues log."""
    return governance.issues(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/issues", response_model=IssueRead, status_code=201)
def create_issue(db: SessionDep, principal: Writer, project_id: RecordId, body: IssueIn) -> Any:
    """Log an issue."""
    return governance.save_issue(db=db, project_id=project_id, data=body, principal=principal)


@router.patch("/{project_id}/issues/{issue_id}", response_model=IssueRead)
def update_issue(
    db: SessionDep, principal: Writer, project_id: RecordId, issue_id: RecordId, body: IssueIn
) -> Any:
    """Change an issue."""
    return governance.save_issue(
        db=db, project_id=project_id, data=body, principal=principal, issue_id=issue_id
    )


@router.get("/{project_id}/changes", response_model=list[ChangeRequestRead])
def list_changes(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The change requests."""
    return governance.changes(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/changes", response_model=ChangeRequestRead, status_code=201)
def create_change(
    db: SessionDep, principal: Writer, project_id: RecordId, body: ChangeRequestIn
) -> Any:
    """A draft change request with its impact and plan edits."""
    return governance.create_change(db=db, project_id=project_id, data=body, principal=principal)


@router.post("/{project_id}/changes/{change_id}/submit", response_model=ChangeRequestRead)
def submit_change(
    db: SessionDep, principal: Writer, project_id: RecordId, change_id: RecordId
) -> Any:
    """Send a draft for a decision."""
    return governance.submit_change(
        db=db, project_id=project_id, change_id=change_id, principal=principal
    )


@router.post("/{project_id}/changes/{change_id}/decide", response_model=ChangeRequestRead)
def decide_change(
    db: SessionDep,
    principal: Approver,
    project_id: RecordId,
    change_id: RecordId,
    body: ChangeDecision,
) -> Any:
    """Approve or reject a submitted change request."""
    return governance.decide_change(
        db=db, project_id=project_id, change_id=change_id, approve=body.approve,
        note=body.note, principal=principal,
    )  # fmt: skip


@router.post("/{project_id}/changes/{change_id}/apply", response_model=ChangeRequestRead)
def apply_change(
    db: SessionDep, principal: Approver, project_id: RecordId, change_id: RecordId
) -> Any:
    """Apply an approved change: plan edits, reschedule, and a new baseline."""
    return flows.apply_change(
        db=db, project_id=project_id, change_id=change_id, principal=principal
    )


@router.get("/{project_id}/raci", response_model=list[RaciRead])
def read_raci(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The RACI matrix cells."""
    return governance.raci(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.put("/{project_id}/raci", response_model=list[RaciRead])
def set_raci(db: SessionDep, principal: Writer, project_id: RecordId, body: RaciIn) -> Any:
    """Set or clear one RACI cell."""
    governance.set_raci(db=db, project_id=project_id, data=body, principal=principal)
    return governance.raci(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


# --- status reports, schedule quality ------------------------------------------------------


@router.get("/{project_id}/reports", response_model=list[StatusReportRead])
def list_reports(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The weekly status reports."""
    return reports.reports(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/reports", response_model=StatusReportRead, status_code=201)
def generate_report(
    db: SessionDep, principal: Writer, project_id: RecordId, body: WeekStart
) -> Any:
    """Generate (or regenerate a draft of) the week's report from the data."""
    return reports.generate(
        db=db, project_id=project_id, week_start=body.week_start, principal=principal
    )


@router.get("/{project_id}/reports/{report_id}", response_model=StatusReportRead)
def read_report(
    db: SessionDep, principal: Reader, project_id: RecordId, report_id: RecordId
) -> Any:
    """One status report."""
    return reports.get_report(
        db=db, project_id=project_id, report_id=report_id, principal=principal
    )


@router.patch("/{project_id}/reports/{report_id}", response_model=StatusReportRead)
def edit_report(
    db: SessionDep,
    principal: Writer,
    project_id: RecordId,
    report_id: RecordId,
    body: StatusReportUpdate,
) -> Any:
    """Edit a draft (409 once published)."""
    return reports.edit(
        db=db, project_id=project_id, report_id=report_id, data=body, principal=principal
    )


@router.post("/{project_id}/reports/{report_id}/publish", response_model=StatusReportRead)
def publish_report(
    db: SessionDep, principal: Approver, project_id: RecordId, report_id: RecordId
) -> Any:
    """Publish a report: it is frozen from then on."""
    return reports.publish(db=db, project_id=project_id, report_id=report_id, principal=principal)


@router.get("/{project_id}/reports/{report_id}/pdf", response_class=Response)
def report_pdf(
    db: SessionDep, principal: Reader, project_id: RecordId, report_id: RecordId
) -> Response:
    """The report as a PDF, in the caller's language."""
    data = reports.pdf(
        db=db, project_id=project_id, report_id=report_id, principal=principal,
        locale=get_locale(),
    )  # fmt: skip
    headers = {"Content-Disposition": f'attachment; filename="status-{report_id}.pdf"'}
    return Response(data, media_type="application/pdf", headers=headers)


@router.get("/{project_id}/dcma")
def read_dcma(
    db: SessionDep, principal: Reader, project_id: RecordId, status_date: date | None = None
) -> list[dict[str, Any]]:
    """The DCMA 14-point assessment: each check's figure, threshold, verdict, offenders."""
    return reports.assess_schedule(
        db=db, project_id=project_id, principal=principal, status_date=status_date
    )


# --- closure and hand-over -----------------------------------------------------------------


@router.get("/{project_id}/closure", response_model=ClosureRead | None)
def read_closure(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The closing evaluation (null before it is recorded)."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    return reports.closure_of(db=db, project=project)


@router.put("/{project_id}/closure", response_model=ClosureRead)
def close_out(db: SessionDep, principal: Writer, project_id: RecordId, body: ClosureIn) -> Any:
    """Record the evaluation against goal, budget and dates, and the lessons learned."""
    return reports.close_out(db=db, project_id=project_id, data=body, principal=principal)


@router.get("/{project_id}/surveys", response_model=list[SurveyRead])
def list_surveys(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The CSAT survey requests and answers."""
    return reports.surveys(
        db=db, project=service.get(db=db, project_id=project_id, principal=principal)
    )


@router.post("/{project_id}/surveys", response_model=list[SurveyRead], status_code=201)
def send_surveys(
    db: SessionDep, principal: Writer, project_id: RecordId, body: SurveyCreate
) -> Any:
    """A survey link (token) per chosen customer contact; nothing is emailed."""
    return reports.send_surveys(
        db=db, project_id=project_id, contact_ids=body.contact_ids, principal=principal
    )


@router.get("/{project_id}/handover", response_model=HandoverRead | None)
def read_handover(db: SessionDep, principal: Reader, project_id: RecordId) -> Any:
    """The hand-over record (null before the hand-over)."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    return reports.handover_of(db=db, project=project)


@router.post("/{project_id}/handover", response_model=HandoverRead, status_code=201)
def hand_over(db: SessionDep, principal: Writer, project_id: RecordId, body: HandoverIn) -> Any:
    """Hand over to the customer's operations owner; logged on the customer's timeline."""
    return reports.hand_over(db=db, project_id=project_id, data=body, principal=principal)


# --- resources and timesheets (across projects) --------------------------------------------


@resources_router.get("/resources", response_model=list[ResourceRead])
def list_resources(db: SessionDep, principal: Reader) -> Any:
    """Every active resource."""
    return resources.list_resources(db=db, principal=principal)


@resources_router.post("/resources", response_model=ResourceRead, status_code=201)
def create_resource(db: SessionDep, principal: Writer, body: ResourceCreate) -> Any:
    """A new resource."""
    return resources.create_resource(db=db, data=body, principal=principal)


@resources_router.patch("/resources/{resource_id}", response_model=ResourceRead)
def update_resource(
    db: SessionDep, principal: Writer, resource_id: RecordId, body: ResourceUpdate
) -> Any:
    """Change a resource."""
    return resources.update_resource(db=db, resource_id=resource_id, data=body, principal=principal)


@resources_router.get("/allocation", response_model=list[AllocationRead])
def allocation(
    db: SessionDep,
    principal: Reader,
    start: date | None = None,
    end: date | None = None,
    resource_id: Annotated[list[int] | None, Query(max_length=200)] = None,
) -> Any:
    """Planned hours per resource per day and week across all projects; over-allocation."""
    return resources.allocation(
        db=db, principal=principal, start=start, end=end, resource_ids=resource_id
    )


@resources_router.get("/timesheets", response_model=list[TimesheetEntryRead])
def my_week(
    db: SessionDep,
    principal: Logger,
    week_start: date | None = None,
    resource_id: OptionalId = None,
) -> Any:
    """A week of timesheet entries (default: the caller's own, this week)."""
    return resources.week(
        db=db, principal=principal, week_start=week_start or date.today(),
        resource_id=resource_id,
    )  # fmt: skip


@resources_router.put("/timesheets", response_model=list[TimesheetEntryRead])
def save_week(db: SessionDep, principal: Logger, body: TimesheetWeekIn) -> Any:
    """Enter or change hours (0 removes an entry); locked once submitted."""
    return resources.save_week(
        db=db, principal=principal, entries=body.entries, resource_id=body.resource_id
    )


@resources_router.post("/timesheets/submit")
def submit_week(db: SessionDep, principal: Logger, body: TimesheetSubmit) -> dict[str, int]:
    """Send a week's entries to the project managers for approval."""
    count = resources.submit_week(
        db=db, principal=principal, week_start=body.week_start, resource_id=body.resource_id
    )
    return {"submitted": count}


# --- the survey link -----------------------------------------------------------------------


@survey_router.get("/{token}", response_model=SurveyPublic, dependencies=[TokenLink])
def read_survey(db: SessionDep, token: SurveyToken) -> Any:
    """What the customer's survey page shows."""
    survey, project = reports.survey_by_token(db=db, token=token)
    return {"project": project.name, "answered": survey.answered_at is not None}


@survey_router.post("/{token}", response_model=SurveyPublic, dependencies=[TokenLink])
def answer_survey(db: SessionDep, token: SurveyToken, body: SurveyAnswer) -> Any:
    """Store the customer's answer (once)."""
    survey = reports.answer_survey(db=db, token=token, data=body)
    project = reports.survey_by_token(db=db, token=token)[1]
    return {"project": project.name, "answered": survey.answered_at is not None}
