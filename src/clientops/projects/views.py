"""Project pages: list, portfolio timeline, and a project's tabs (overview, plan with the Gantt,
baselines, resources, timesheets, cost and EVM, risks, issues, changes, RACI, status reports,
schedule quality, closure, import/export)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile

from clientops.auth import service as auth_service
from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.i18n import N_, get_locale, gettext
from clientops.core.web import hx_redirect, render
from clientops.customers import service as customers_service
from clientops.exceptions import Conflict, InvalidInput, NotFound
from clientops.projects import (
    costs,
    exchange,
    flows,
    governance,
    plans,
    reports,
    resources,
    service,
    templates_catalog,
    views_charts,
)
from clientops.projects.models import (
    PHASES,
    PROJECT_STATUSES,
    RAG,
    Assignment,
    LevellingProposal,
    Project,
    Resource,
    Task,
)
from clientops.projects.scheduling import formats
from clientops.projects.schemas import (
    AssignmentIn,
    BudgetLineIn,
    ChangeRequestIn,
    ClosureIn,
    ExpenseIn,
    HandoverIn,
    IssueIn,
    LessonIn,
    LinkCreate,
    ProjectCreate,
    RaciIn,
    RiskIn,
    StatusReportUpdate,
    TaskCreate,
    TaskFields,
    TimesheetEntryIn,
)

router = APIRouter(prefix="/projects")

Reader = Annotated[Principal, Depends(access("projects:read"))]
Writer = Annotated[Principal, Depends(access("projects:write"))]
Approver = Annotated[Principal, Depends(access("projects:approve"))]
Logger = Annotated[Principal, Depends(access("timesheets:write"))]
ProjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PhaseKey = Annotated[str, Path(pattern=r"^(initiation|planning|execution|monitoring|closure)$")]

TABS = (
    ("overview", N_("Overview")),
    ("plan", N_("Plan")),
    ("baselines", N_("Baselines")),
    ("resources", N_("Resources")),
    ("timesheets", N_("Timesheets")),
    ("cost", N_("Cost & EVM")),
    ("risks", N_("Risks")),
    ("issues", N_("Issues")),
    ("changes", N_("Change requests")),
    ("raci", N_("RACI")),
    ("reports", N_("Status reports")),
    ("quality", N_("Schedule quality")),
    ("closure", N_("Closure")),
    ("transfer", N_("Import/export")),
)
GANTT_LABELS = {
    "code": N_("WBS"),
    "name": N_("Task"),
    "duration": N_("Duration"),
    "start": N_("Start"),
    "finish": N_("Finish"),
    "float": N_("Float"),
    "day": N_("Day"),
    "week": N_("Week"),
    "month": N_("Month"),
    "today": N_("Today"),
    "png": N_("Export PNG"),
    "pdf": N_("Export PDF"),
    "days": N_("d"),
    "moved": N_("Saved: %(n)s tasks re-scheduled."),
    "failed": N_("Not saved: %(m)s"),
    "critical": N_("critical"),
    "milestone": N_("milestone"),
    "keys": N_("Keys: ↑↓ select, Shift+←→ move, Alt+←→ resize, Space fold, +/- zoom"),
}
LIGHT_TABS = frozenset({"plan"})
GATE_REFUSED = N_("The gate cannot close yet. Still open:")


# --- shared pieces -------------------------------------------------------------------------


def _labels() -> dict[str, str]:
    return {key: gettext(text) for key, text in GANTT_LABELS.items()}


def _user_names(db: SessionDep) -> dict[int, str]:
    return {u.id: u.display_name or u.username for u in auth_service.list_users(db=db)}


def _customer(db: SessionDep, principal: Principal, customer_id: int) -> Any:
    try:
        return customers_service.get(db=db, customer_id=customer_id, principal=principal)
    except NotFound:
        return None  # the project is visible through its team, the customer is not


def _rag(project: Project) -> str | None:
    """The health shown in lists: the override when set (computing it is a page's work)."""
    return project.rag_override


def _page(
    request: Request,
    db: SessionDep,
    principal: Principal,
    project: Project,
    tab: str,
    template: str,
    extra: dict[str, Any],
    status_code: int = 200,
) -> Response:
    """Render one tab of a project with the header and the tab bar."""
    context = {
        "p": project,
        "customer": _customer(db, principal, project.customer_id),
        # The computed health costs an EVM run; the plan pages (big plans, the Gantt) show
        # only a health set by hand.
        "rag": reports.health(db=db, project=project).colour
        if tab not in LIGHT_TABS
        else project.rag_override,
        "tab": tab,
        "tabs": [(key, gettext(label)) for key, label in TABS],
        "can_write": principal.can("projects:write") and project.status not in ("closed",),
        "can_approve": principal.can("projects:approve"),
        "errors": {},
        **extra,
    }
    return render(request, template, context, status_code=status_code)


def _errors(exc: InvalidInput | Conflict) -> dict[str, str]:
    """Refusal messages to show: the service's words, or a readable form of its key."""
    return {key: gettext(str(value)).replace("_", " ") for key, value in exc.errors.items()}


def _invalid_fields(exc: ValidationError) -> dict[str, str]:
    """Pydantic's refusals as field: message (the field named as the form names it)."""
    return {
        ".".join(str(p) for p in e["loc"]): f"{gettext('Please correct the input.')} "
        f"({'.'.join(str(p) for p in e['loc'])}: {e['msg']})"
        for e in exc.errors()
    }


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


# --- list and portfolio --------------------------------------------------------------------


def _list_filter(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {
        "customer_id": _int(q.get("customer_id")),
        "pm_id": _int(q.get("pm_id")),
        "status": q.get("status") if q.get("status") in PROJECT_STATUSES else None,
        "rag": q.get("rag") if q.get("rag") in RAG else None,
    }


def _row(
    project: Project, names: dict[int, str], customers: dict[int, str], rag: str
) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "customer_name": customers.get(project.customer_id, ""),
        "pm_name": names.get(project.pm_id) if project.pm_id else None,
        "phase": project.phase,
        "status": project.status,
        "rag": rag,
        "start_date": project.start_date,
        "finish_date": project.finish_date,
        "target_date": project.target_date,
    }


def _visible_customers(db: SessionDep, principal: Principal) -> dict[int, str]:
    rows, _next = service.list_page(db=db, principal=principal, limit=500)
    found: dict[int, str] = {}
    for project in rows:
        if project.customer_id not in found:
            customer = _customer(db, principal, project.customer_id)
            found[project.customer_id] = customer.name if customer is not None else "—"
    return found


@router.get("")
def project_list(request: Request, db: SessionDep, principal: Reader) -> Response:
    """The projects the user may see, filtered by customer, project manager, status and health."""
    flt = _list_filter(request)
    cursor = request.query_params.get("cursor") or None
    try:
        rows, next_cursor = service.list_page(
            db=db, principal=principal, customer_id=flt["customer_id"], status=flt["status"],
            cursor=cursor, limit=50,
        )  # fmt: skip
    except InvalidInput:
        rows, next_cursor = [], None
    rows = [p for p in rows if (flt["pm_id"] is None or p.pm_id == flt["pm_id"])]
    names, customers = _user_names(db), _visible_customers(db, principal)
    items = [_row(p, names, customers, reports.health(db=db, project=p).colour) for p in rows]
    context = {
        "rows": [r for r in items if flt["rag"] is None or r["rag"] == flt["rag"]],
        "flt": flt,
        "customers": [
            {"id": k, "name": v} for k, v in sorted(customers.items(), key=lambda i: i[1])
        ],
        "users": auth_service.list_users(db=db),
        "statuses": PROJECT_STATUSES,
        "rags": RAG,
        "next_cursor": next_cursor,
        "has_cursor": bool(cursor),
        "base_qs": urlencode([(k, v) for k, v in flt.items() if v is not None]),
    }
    return render(request, "projects/list.html", context, fragment="projects/_table.html")


@router.get("/portfolio")
def portfolio(request: Request, principal: Reader) -> Response:
    """Every visible project on one timeline (the Gantt component, read-only)."""
    context = {"labels": _labels()}
    return render(request, "projects/portfolio.html", context)


def _portfolio_task(project: Project, level: int, code: str) -> dict[str, Any]:
    finish = project.finish_date or project.target_date or project.start_date
    return {
        "id": project.id,
        "code": code,
        "name": project.name,
        "parent_id": None,
        "level": level,
        "start": project.start_date.isoformat(),
        "finish": max(finish, project.start_date).isoformat(),
        "duration": None,
        "milestone": False,
        "summary": False,
        "critical": _rag(project) == "red",
        "progress": 100 if project.status == "closed" else 0,
        "baseline_start": None,
        "baseline_finish": project.target_date.isoformat() if project.target_date else None,
        "total_float": None,
    }


@router.get("/portfolio.json")
def portfolio_json(db: SessionDep, principal: Reader) -> Response:
    """The portfolio timeline's data: one bar per project (red when its health is red)."""
    rows, _next = service.list_page(db=db, principal=principal, limit=1000)
    rows.sort(key=lambda p: (p.start_date, p.id))
    tasks = [_portfolio_task(p, 0, str(i + 1)) for i, p in enumerate(rows)]
    return JSONResponse(
        {"tasks": tasks, "links": [], "today": date.today().isoformat(), "calendar": {}}
    )


# --- a new project (declared before /{project_id}: "new" is not a project id) ------------


def _template_labels() -> list[tuple[str, str]]:
    labels = {key: str(spec["label"]) for key, spec in templates_catalog.TEMPLATES.items()}
    return [(key, gettext(label)) for key, label in labels.items()]


def _new_form(
    request: Request,
    db: SessionDep,
    principal: Principal,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
) -> Response:
    flt = customers_service.CustomerFilter(kind="company", sort="name")
    accounts, _next = customers_service.list_page(db=db, principal=principal, flt=flt, limit=200)
    chosen = _int(values.get("customer_id"))
    if chosen and all(a.id != chosen for a in accounts):
        customer = _customer(db, principal, chosen)
        accounts = [customer, *accounts] if customer is not None else accounts
    context = {
        "accounts": accounts,
        "templates": _template_labels(),
        "values": values,
        "errors": errors or {},
    }
    return render(request, "projects/new.html", context, status_code=422 if errors else 200)


@router.get("/new")
def new_project_form(request: Request, db: SessionDep, principal: Writer) -> Response:
    """The form for a new project of a customer, optionally from a template."""
    values = {"customer_id": request.query_params.get("customer_id", "")}
    return _new_form(request, db, principal, values)


@router.post("/new")
async def create_project(request: Request, db: SessionDep, principal: Writer) -> Response:
    """Create the project (its phases, and with a template its plan, RACI and risks)."""
    form = await _form(request)
    try:
        data = ProjectCreate(
            customer_id=_int(form.get("customer_id")) or 0,
            name=form.get("name", ""),
            template=form.get("template") or None,
            goal=form.get("goal") or None,
            scope=form.get("scope") or None,
            start_date=form.get("start_date") or date.today(),
            target_date=form.get("target_date") or None,
            budget=Decimal(str(_float(form.get("budget")) or 0)),
        )
        project = flows.create_project(db=db, data=data, principal=principal)
    except (InvalidInput, NotFound) as exc:
        db.rollback()
        errors = _errors(exc) if isinstance(exc, InvalidInput) else {"customer_id": "not found"}
        return _new_form(request, db, principal, form, errors)
    except ValidationError as exc:
        db.rollback()
        return _new_form(request, db, principal, form, _invalid_fields(exc))
    return hx_redirect(request, f"/projects/{project.id}")


MAX_PLAN_BYTES = 20 * 1024 * 1024


def _parse_plan(name: str, content: bytes) -> formats.ProjectData:
    """An uploaded MS Project XML or CSV plan; a bad file names where and why."""
    try:
        if name.lower().endswith((".xml", ".mspdi")):
            return formats.parse_mspdi(content, name)
        if name.lower().endswith(".csv"):
            return formats.parse_csv(content.decode("utf-8-sig"), name)
    except formats.FormatError as exc:
        raise InvalidInput({"file": str(exc)}) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput({"file": gettext("Save the CSV file as UTF-8.")}) from exc
    raise InvalidInput({"file": gettext("Upload an MS Project XML (.xml) or a CSV (.csv) file.")})


@router.post("/import")
async def import_plan(request: Request, db: SessionDep, principal: Writer) -> Response:
    """A new project for a customer from an MS Project XML or CSV file (tasks and links)."""
    form = await request.form()
    upload = form.get("file")
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput({"file": gettext("Choose a file.")})
        content = await upload.read(MAX_PLAN_BYTES + 1)
        if len(content) > MAX_PLAN_BYTES:
            raise InvalidInput({"file": gettext("The file is larger than 20 MB.")})
        data = _parse_plan(upload.filename, content)
        project = exchange.import_plan(
            db=db, data=data, customer_id=_int(values.get("customer_id")) or 0,
            principal=principal, name=values.get("name") or None,
        )  # fmt: skip
    except (InvalidInput, NotFound) as exc:
        db.rollback()
        errors = _errors(exc) if isinstance(exc, InvalidInput) else {"customer_id": "not found"}
        return _new_form(request, db, principal, values, errors)
    return hx_redirect(request, f"/projects/{project.id}/plan")


# --- my timesheet (declared before /{project_id}: "timesheet" is not a project id) -------


def _my_tasks(db: SessionDep, principal: Principal, first: date) -> list[Task]:
    """Tasks assigned to the person's resource overlapping the week, in visible projects."""
    last = first + timedelta(days=6)
    stmt = (
        select(Task)
        .join(Assignment, Assignment.task_id == Task.id)
        .join(Resource, Resource.id == Assignment.resource_id)
        .join(Project, Project.id == Task.project_id)
        .where(Resource.user_id == principal.user_id, Task.kind == "task")
        .where(Task.start_date <= last, Task.finish_date >= first, Project.status == "active")
    )
    return list(db.scalars(service.restrict(stmt, principal).order_by(Task.project_id, Task.seq)))


def _sheet(
    request: Request, db: SessionDep, principal: Principal, errors: dict[str, str] | None = None
) -> Response:
    first = _week_start(request)
    days = [first + timedelta(days=i) for i in range(7)]
    try:
        entries = resources.week(db=db, principal=principal, week_start=first)
    except InvalidInput:
        entries, errors = [], {"resource": gettext(NOT_A_RESOURCE)}
    tasks = {t.id: t for t in _my_tasks(db, principal, first)}
    for task_id in {e.task_id for e in entries} - set(tasks):
        tasks[task_id] = db.get(Task, task_id)  # type: ignore[assignment]
    cells = {(e.task_id, e.day): e for e in entries}
    context = {
        "week": first, "days": days, "tasks": list(tasks.values()), "cells": cells,
        "prev": first - timedelta(days=7), "next": first + timedelta(days=7),
        "errors": errors or {}, "drafts": any(e.status in ("draft", "rejected") for e in entries),
        "total": sum(e.hours for e in entries),
    }  # fmt: skip
    return render(request, "projects/timesheet.html", context, status_code=422 if errors else 200)


NOT_A_RESOURCE = N_("You are not set up as a project resource yet: ask your project manager.")


@router.get("/timesheet")
def my_timesheet(request: Request, db: SessionDep, principal: Logger) -> Response:
    """The signed-in person's weekly grid: hours per task per day, then submit for approval."""
    return _sheet(request, db, principal)


def _sheet_entries(form: dict[str, str]) -> list[TimesheetEntryIn]:
    found = []
    for key, value in form.items():
        parts = key.split("|")
        if len(parts) == 3 and parts[0] == "h" and parts[1].isdigit():
            hours = _float(value) or 0.0
            found.append(TimesheetEntryIn(task_id=int(parts[1]), day=parts[2], hours=hours))
    return found


@router.post("/timesheet")
async def save_timesheet(request: Request, db: SessionDep, principal: Logger) -> Response:
    """Save the week's hours (0 or empty removes an entry); submit them when asked."""
    form = await _form(request)
    week = _week_start(request)
    try:
        entries = _sheet_entries(form)
        if entries:
            resources.save_week(db=db, principal=principal, entries=entries)
        if form.get("submit") == "1":
            resources.submit_week(db=db, principal=principal, week_start=week)
    except InvalidInput as exc:
        db.rollback()
        return _sheet(request, db, principal, _errors(exc))
    except ValidationError as exc:
        db.rollback()
        return _sheet(request, db, principal, _invalid_fields(exc))
    return hx_redirect(request, f"/projects/timesheet?week={week.isoformat()}")


# --- one project: overview and gates -------------------------------------------------------


def _overview(
    request: Request,
    db: SessionDep,
    principal: Principal,
    project_id: int,
    errors: dict[str, str] | None = None,
) -> Response:
    project = service.get(db=db, project_id=project_id, principal=principal)
    names = _user_names(db)
    extra = {
        "members": service.members(db=db, project=project),
        "phases": service.phases(db=db, project=project),
        "pm_name": names.get(project.pm_id) if project.pm_id else None,
        "rag_reason": project.rag_reason,
        "errors": errors or {},
    }
    status = 422 if errors else 200
    return _page(
        request, db, principal, project, "overview", "projects/overview.html", extra, status
    )


@router.get("/{project_id}")
def overview(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """Goal, scope, dates, budget, team, and the phases with their gate checklists."""
    return _overview(request, db, principal, project_id)


@router.post("/{project_id}/gates/{phase}/tick")
async def tick_gate_item(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, phase: PhaseKey
) -> Response:
    """Tick or untick a gate item checked by hand (e.g. the kick-off held)."""
    form = await _form(request)
    service.tick(
        db=db, project_id=project_id, phase=phase, key=form.get("key", "")[:40],
        done=form.get("done") == "1", principal=principal,
    )  # fmt: skip
    return hx_redirect(request, f"/projects/{project_id}")


@router.post("/{project_id}/gates/{phase}/close")
def close_gate(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, phase: PhaseKey
) -> Response:
    """Close the phase's gate and move to the next phase; a refusal lists what is still open."""
    try:
        service.close_phase(db=db, project_id=project_id, phase=phase, principal=principal)
    except InvalidInput as exc:
        errors = {"gate": gettext(GATE_REFUSED), **_errors(exc)}
        return _overview(request, db, principal, project_id, errors)
    return hx_redirect(request, f"/projects/{project_id}")


# --- plan: the Gantt and the WBS editor ----------------------------------------------------


def _calendar_json(cal: plans.WorkCalendar, first: date, last: date) -> dict[str, Any]:
    """Weekend days (0 = Sunday, as in JavaScript), holidays and worked weekend days between
    two days, as the Gantt snaps to working days."""
    holidays, workdays = cal.calendar.exceptions(first, last)
    return {
        "weekend": sorted((day + 1) % 7 for day in cal.calendar.weekend),
        "holidays": [d.isoformat() for d in holidays],
        "workdays": [d.isoformat() for d in workdays],
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def gantt_task(task: Task, summary: bool, base: dict[str, Any] | None) -> dict[str, Any]:
    """One task in the Gantt's JSON shape (see /work/drafts/gantt-contract.md)."""
    milestone = task.kind == "milestone"
    return {
        "id": task.id,
        "code": task.wbs,
        "name": task.name,
        "parent_id": task.parent_id,
        "level": task.wbs.count(".") if task.wbs else 0,
        "start": _iso(task.start_date),
        "finish": _iso(task.finish_date),
        "duration": None if summary else round(task.duration_days, 2),
        "milestone": milestone,
        "summary": summary,
        "critical": bool(task.critical),
        "progress": round(task.percent_complete, 1),
        "baseline_start": base.get("start") if base else None,
        "baseline_finish": base.get("finish") if base else None,
        "total_float": round(task.total_float, 2),
    }


def _gantt_tasks(db: SessionDep, project: Project) -> list[dict[str, Any]]:
    tasks = plans.tasks(db=db, project=project)
    parents = {t.parent_id for t in tasks if t.parent_id is not None}
    baseline = plans.latest_baseline(db=db, project=project)
    snap = baseline.tasks if baseline is not None else {}
    return [
        gantt_task(t, t.id in parents or t.kind == "summary", snap.get(str(t.id))) for t in tasks
    ]


@router.get("/{project_id}/gantt.json")
def gantt_json(db: SessionDep, principal: Reader, project_id: ProjectId) -> Response:
    """The plan as the Gantt reads it: tasks, links, today and the working calendar."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    tasks = _gantt_tasks(db, project)
    links = [
        {"from": link.pred_id, "to": link.succ_id, "type": link.type, "lag": link.lag_days}
        for link in plans.links(db=db, project=project)
    ]
    last = max([date.fromisoformat(t["finish"]) for t in tasks if t["finish"]] or [date.today()])
    first = min(project.start_date, date.today()) - timedelta(days=31)
    last = max(last, date.today()) + timedelta(days=120)
    calendar = _calendar_json(plans.calendar_for(db=db, project=project), first, last)
    today = date.today().isoformat()
    return JSONResponse({"tasks": tasks, "links": links, "today": today, "calendar": calendar})


class GanttMove(BaseModel):
    """A drag on the Gantt: a new start (move) or a new finish (resize) of one task."""

    model_config = {"extra": "forbid"}
    task_id: int = Field(ge=1, le=2**31 - 1)
    start: date | None = None
    finish: date | None = None


def _resize_fields(db: SessionDep, project: Project, task: Task, finish: date) -> TaskFields:
    """The duration in working days from the task's start to ``finish`` (inclusive)."""
    cal = plans.calendar_for(db=db, project=project)
    start = task.start_date or project.start_date
    if finish < start:
        raise InvalidInput({"finish": gettext("The finish cannot be before the start.")})
    days = cal.offset_of(finish + timedelta(days=1)) - cal.offset_of(start)
    return TaskFields(duration_days=float(max(days, 1)))


def _move_fields(db: SessionDep, project: Project, task: Task, body: GanttMove) -> TaskFields:
    """A move is a start-no-earlier-than constraint; a resize a new duration."""
    if body.start is not None:
        return TaskFields(constraint_type="SNET", constraint_date=body.start)
    if body.finish is not None and task.kind != "milestone":
        return _resize_fields(db, project, task, body.finish)
    raise InvalidInput({"start": gettext("Send a new start or a new finish.")})


def _snapshot(db: SessionDep, project: Project) -> dict[int, tuple[Any, ...]]:
    return {
        t.id: (t.start_date, t.finish_date, t.total_float, t.critical, t.duration_days)
        for t in plans.tasks(db=db, project=project)
    }


@router.post("/{project_id}/gantt/move")
async def gantt_move(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Move (start no earlier than the day) or resize a task; answers the re-scheduled tasks."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    try:
        body = GanttMove.model_validate(await request.json())
    except (ValueError, ValidationError):
        detail = {"body": gettext("Send a new start or a new finish.")}
        return JSONResponse({"error": "invalid_input", "detail": detail}, status_code=422)
    task = next((t for t in plans.tasks(db=db, project=project) if t.id == body.task_id), None)
    if task is None or task.kind == "summary":
        raise NotFound("task")
    before = _snapshot(db, project)
    try:
        fields = _move_fields(db, project, task, body)
        plans.update_task(
            db=db, project_id=project.id, task_id=task.id, data=fields, principal=principal
        )
    except InvalidInput as exc:  # the component shows the reason, the transaction rolls back
        db.rollback()
        return JSONResponse({"error": "invalid_input", "detail": _errors(exc)}, status_code=422)
    after = _snapshot(db, project)
    changed = {tid for tid, row in after.items() if before.get(tid) != row} | {task.id}
    return JSONResponse({"tasks": [t for t in _gantt_tasks(db, project) if t["id"] in changed]})


@router.get("/{project_id}/plan")
def plan_page(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """The Gantt of the plan (drag to move or resize) with a link to the WBS editor."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    extra = {"labels": _labels(), "schedule": project.makespan_days}
    return _page(request, db, principal, project, "plan", "projects/plan.html", extra)


def _wbs(
    request: Request,
    db: SessionDep,
    principal: Principal,
    project_id: int,
    errors: dict[str, str] | None = None,
) -> Response:
    project = service.get(db=db, project_id=project_id, principal=principal)
    tasks = plans.tasks(db=db, project=project)
    parents = {t.parent_id for t in tasks if t.parent_id is not None}
    names = {t.id: f"{t.wbs} {t.name}" for t in tasks}
    extra = {
        "tasks": [{"t": t, "level": t.wbs.count("."), "summary": t.id in parents} for t in tasks],
        "links": [
            {"l": link, "pred": names.get(link.pred_id, ""), "succ": names.get(link.succ_id, "")}
            for link in plans.links(db=db, project=project)
        ],
        "phases": PHASES,
        "errors": errors or {},
    }
    status = 422 if errors else 200
    return _page(request, db, principal, project, "plan", "projects/wbs.html", extra, status)


@router.get("/{project_id}/plan/wbs")
def wbs_page(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """The WBS as an editable tree: add, reorder, indent, outdent, bulk edit, and the links."""
    return _wbs(request, db, principal, project_id)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


async def _wbs_write(
    request: Request, db: SessionDep, principal: Principal, project_id: int, action: Any
) -> Response:
    """Run one WBS edit from a form; a refusal re-shows the editor with the reason."""
    form = await _form(request)
    try:
        action(form)
    except InvalidInput as exc:
        db.rollback()
        return _wbs(request, db, principal, project_id, _errors(exc))
    except ValidationError as exc:  # a field the schema refused
        db.rollback()
        return _wbs(request, db, principal, project_id, _invalid_fields(exc))
    return hx_redirect(request, f"/projects/{project_id}/plan/wbs")


@router.post("/{project_id}/tasks")
async def add_task(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Append a task (or milestone, or summary) under a parent or at the top level."""

    def act(form: dict[str, str]) -> None:
        data = TaskCreate(
            name=form.get("name", ""),
            parent_id=_int(form.get("parent_id")),
            kind=form.get("kind") or "task",
            duration_days=_float(form.get("duration_days")) or 1.0,
        )
        plans.create_task(db=db, project_id=project_id, data=data, principal=principal)

    return await _wbs_write(request, db, principal, project_id, act)


@router.post("/{project_id}/tasks/{task_id}/shift")
async def shift_task(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, task_id: RowId
) -> Response:
    """Move a task up or down among its siblings, indent it or outdent it."""

    def act(form: dict[str, str]) -> None:
        how = form.get("how")
        kwargs = {"db": db, "project_id": project_id, "task_id": task_id, "principal": principal}
        if how == "indent":
            plans.indent(**kwargs)  # type: ignore[arg-type]
        elif how == "outdent":
            plans.outdent(**kwargs)  # type: ignore[arg-type]
        elif how in ("up", "down"):
            task = next(t for t in _project_tasks(db, principal, project_id) if t.id == task_id)
            position = max(task.position + (-1 if how == "up" else 1), 0)
            plans.move_task(**kwargs, parent_id=task.parent_id, position=position)  # type: ignore[arg-type]
        else:
            raise InvalidInput({"how": "unknown"})

    return await _wbs_write(request, db, principal, project_id, act)


def _project_tasks(db: SessionDep, principal: Principal, project_id: int) -> list[Task]:
    project = service.get(db=db, project_id=project_id, principal=principal)
    return plans.tasks(db=db, project=project)


@router.post("/{project_id}/tasks/{task_id}/reorder")
async def reorder_task(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, task_id: RowId
) -> Response:
    """Drop a task before another one (drag and drop in the WBS): same parent, its position."""

    def act(form: dict[str, str]) -> None:
        tasks = _project_tasks(db, principal, project_id)
        target = next((t for t in tasks if t.id == _int(form.get("before_id"))), None)
        if target is None:
            raise InvalidInput({"before_id": "unknown_task"})
        plans.move_task(
            db=db, project_id=project_id, task_id=task_id, parent_id=target.parent_id,
            position=target.position, principal=principal,
        )  # fmt: skip

    return await _wbs_write(request, db, principal, project_id, act)


BULK_FIELDS = ("duration_days", "effort_hours", "percent_complete")


@router.post("/{project_id}/tasks/bulk")
async def bulk_edit(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """The same change (duration, effort, % complete, phase) to the ticked tasks."""
    ticked = [int(str(v)) for v in (await request.form()).getlist("task_ids") if str(v).isdigit()]

    def act(form: dict[str, str]) -> None:
        changes: dict[str, Any] = {k: _float(form.get(k)) for k in BULK_FIELDS}
        changes = {k: v for k, v in changes.items() if v is not None}
        if form.get("phase") in PHASES:
            changes["phase"] = form["phase"]
        if not ticked or not changes:
            raise InvalidInput({"bulk": gettext("Tick some tasks and give a value to set.")})
        plans.bulk_update(
            db=db, project_id=project_id, task_ids=ticked, data=TaskFields(**changes),
            principal=principal,
        )  # fmt: skip

    return await _wbs_write(request, db, principal, project_id, act)


@router.post("/{project_id}/tasks/{task_id}/delete")
async def delete_task(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, task_id: RowId
) -> Response:
    """Delete a task with its sub-tasks and links."""

    def act(_form: dict[str, str]) -> None:
        plans.delete_task(db=db, project_id=project_id, task_id=task_id, principal=principal)

    return await _wbs_write(request, db, principal, project_id, act)


@router.post("/{project_id}/links")
async def add_link(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """A dependency FS, SS, FF or SF with a lag (negative: a lead); a loop is refused."""

    def act(form: dict[str, str]) -> None:
        data = LinkCreate(
            pred_id=_int(form.get("pred_id")) or 0,
            succ_id=_int(form.get("succ_id")) or 0,
            type=form.get("type") or "FS",
            lag_days=_float(form.get("lag_days")) or 0.0,
        )
        plans.create_link(db=db, project_id=project_id, data=data, principal=principal)

    return await _wbs_write(request, db, principal, project_id, act)


@router.post("/{project_id}/links/{link_id}/delete")
async def delete_link(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, link_id: RowId
) -> Response:
    """Remove a dependency."""

    def act(_form: dict[str, str]) -> None:
        plans.delete_link(db=db, project_id=project_id, link_id=link_id, principal=principal)

    return await _wbs_write(request, db, principal, project_id, act)


# --- tabs: baselines, risks, issues, changes, RACI -----------------------------------------


def _tab(
    request: Request,
    db: SessionDep,
    principal: Principal,
    project_id: int,
    tab: str,
    build: Any,
    errors: dict[str, str] | None = None,
) -> Response:
    """A project tab: ``build(project)`` gives the tab's context; refusals shown on top."""
    project = service.get(db=db, project_id=project_id, principal=principal)
    extra = {**build(project), "errors": errors or {}}
    status = 422 if errors else 200
    return _page(request, db, principal, project, tab, f"projects/{tab}.html", extra, status)


async def _tab_write(
    request: Request, db: SessionDep, principal: Principal, project_id: int, tab: str, action: Any
) -> Response:
    """Run one write of a tab from its form; a refusal re-shows the tab with the reason."""
    form = await _form(request)
    try:
        action(form)
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        return _tab(
            request, db, principal, project_id, tab, _BUILDERS[tab](db, principal), _errors(exc)
        )
    except ValidationError as exc:
        db.rollback()
        errors = _invalid_fields(exc)
        return _tab(request, db, principal, project_id, tab, _BUILDERS[tab](db, principal), errors)
    return hx_redirect(request, f"/projects/{project_id}/{tab}")


def _baselines_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        chosen = _int(request.query_params.get("baseline")) if request is not None else None
        rows = plans.baselines(db=db, project=project)
        try:
            comparison = plans.compare(db=db, project=project, baseline_id=chosen) if rows else None
        except NotFound:
            comparison = None
        return {"baselines": rows, "cmp": comparison}

    return build


@router.get("/{project_id}/baselines")
def baselines_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """Saved baselines, and the plan against one of them and the actuals, per task and total."""
    return _tab(
        request, db, principal, project_id, "baselines", _baselines_context(db, principal, request)
    )


@router.post("/{project_id}/baselines")
async def save_baseline(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Save the current plan as a named baseline."""

    def act(form: dict[str, str]) -> None:
        name = form.get("name") or date.today().isoformat()
        plans.create_baseline(db=db, project_id=project_id, name=name[:120], principal=principal)

    return await _tab_write(request, db, principal, project_id, "baselines", act)


def _risks_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        names = _user_names(db)
        rows = [
            {**governance.risk_read(r), "owner": names.get(r.owner_id) if r.owner_id else None}
            for r in governance.risks(db=db, project=project)
        ]
        return {"risks": rows, "heat": governance.heat_map(db=db, project=project)}

    return build


@router.get("/{project_id}/risks")
def risks_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """The risk register and the probability × impact heat map of the open risks."""
    return _tab(request, db, principal, project_id, "risks", _risks_context(db, principal))


@router.post("/{project_id}/risks")
async def save_risk(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Add a risk, or change one (``risk_id`` in the form)."""

    def act(form: dict[str, str]) -> None:
        fields = ("title", "response", "trigger", "status", "probability", "impact", "review_on")
        data = RiskIn(**{k: form[k] for k in fields if form.get(k)})
        risk_id = _int(form.get("risk_id"))
        governance.save_risk(
            db=db, project_id=project_id, data=data, principal=principal, risk_id=risk_id
        )

    return await _tab_write(request, db, principal, project_id, "risks", act)


def _issues_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        names = _user_names(db)
        rows = governance.issues(db=db, project=project)
        return {"issues": rows, "names": names}

    return build


@router.get("/{project_id}/issues")
def issues_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """The issues log."""
    return _tab(request, db, principal, project_id, "issues", _issues_context(db, principal))


@router.post("/{project_id}/issues")
async def save_issue(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Log an issue, or change one (``issue_id`` in the form)."""

    def act(form: dict[str, str]) -> None:
        fields = ("title", "description", "severity", "status", "due_on")
        values: dict[str, Any] = {k: form[k] for k in fields if form.get(k)}
        if "needs_decision" in form or form.get("issue_id") is None:
            values["needs_decision"] = form.get("needs_decision") == "1"
        issue_id = _int(form.get("issue_id"))
        governance.save_issue(
            db=db, project_id=project_id, data=IssueIn(**values), principal=principal,
            issue_id=issue_id,
        )  # fmt: skip

    return await _tab_write(request, db, principal, project_id, "issues", act)


def _changes_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        return {"changes": governance.changes(db=db, project=project), "names": _user_names(db)}

    return build


@router.get("/{project_id}/changes")
def changes_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """Change requests with their impact on scope, schedule and cost, and where each stands."""
    return _tab(request, db, principal, project_id, "changes", _changes_context(db, principal))


@router.post("/{project_id}/changes")
async def create_change(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Draft a change request (submitted at once when asked)."""

    def act(form: dict[str, str]) -> None:
        data = ChangeRequestIn(
            title=form.get("title", ""),
            description=form.get("description") or None,
            scope_impact=form.get("scope_impact") or None,
            schedule_impact_days=_float(form.get("schedule_impact_days")) or 0.0,
            cost_impact=Decimal(str(_float(form.get("cost_impact")) or 0)),
        )
        change = governance.create_change(
            db=db, project_id=project_id, data=data, principal=principal
        )
        if form.get("submit") == "1":
            governance.submit_change(
                db=db, project_id=project_id, change_id=change.id, principal=principal
            )

    return await _tab_write(request, db, principal, project_id, "changes", act)


@router.post("/{project_id}/changes/{change_id}/submit")
async def submit_change(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, change_id: RowId
) -> Response:
    """Send a draft change request for a decision."""

    def act(_form: dict[str, str]) -> None:
        governance.submit_change(
            db=db, project_id=project_id, change_id=change_id, principal=principal
        )

    return await _tab_write(request, db, principal, project_id, "changes", act)


@router.post("/{project_id}/changes/{change_id}/decide")
async def decide_change(
    request: Request, db: SessionDep, principal: Approver, project_id: ProjectId, change_id: RowId
) -> Response:
    """Approve (and apply: the plan changes and a new baseline is saved) or reject a change."""

    def act(form: dict[str, str]) -> None:
        approve = form.get("approve") == "1"
        governance.decide_change(
            db=db, project_id=project_id, change_id=change_id, approve=approve,
            note=(form.get("note") or None), principal=principal,
        )  # fmt: skip
        if approve:
            flows.apply_change(
                db=db, project_id=project_id, change_id=change_id, principal=principal
            )

    return await _tab_write(request, db, principal, project_id, "changes", act)


def _raci_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        cells = governance.raci(db=db, project=project)
        deliverables = sorted({c.deliverable for c in cells})
        parties = sorted({c.party for c in cells})
        grid = {(c.deliverable, c.party): c.letter for c in cells}
        return {"deliverables": deliverables, "parties": parties, "grid": grid}

    return build


@router.get("/{project_id}/raci")
def raci_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """The RACI matrix: deliverables by parties (Responsible, Accountable, Consulted, Informed)."""
    return _tab(request, db, principal, project_id, "raci", _raci_context(db, principal))


@router.post("/{project_id}/raci")
async def set_raci(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Set (or clear) one cell of the RACI matrix."""

    def act(form: dict[str, str]) -> None:
        letter = form.get("letter") or None
        data = RaciIn(
            deliverable=form.get("deliverable", ""), party=form.get("party", ""),
            letter=letter,
        )  # fmt: skip
        governance.set_raci(db=db, project_id=project_id, data=data, principal=principal)

    return await _tab_write(request, db, principal, project_id, "raci", act)


_BUILDERS: dict[str, Any] = {
    "baselines": _baselines_context,
    "risks": _risks_context,
    "issues": _issues_context,
    "changes": _changes_context,
    "raci": _raci_context,
}


# --- tabs: cost and EVM, resources and levelling, timesheets -------------------------------

EVM_ROWS = (
    ("bac", N_("Budget at completion (BAC)"), "money"),
    ("pv", N_("Planned value (PV)"), "money"),
    ("ev", N_("Earned value (EV)"), "money"),
    ("ac", N_("Actual cost (AC)"), "money"),
    ("cv", N_("Cost variance (CV = EV − AC)"), "money"),
    ("sv", N_("Schedule variance (SV = EV − PV)"), "money"),
    ("cpi", N_("Cost performance index (CPI = EV / AC)"), "ratio"),
    ("spi", N_("Schedule performance index (SPI = EV / PV)"), "ratio"),
    ("eac_cpi", N_("EAC, future at today's CPI (BAC / CPI)"), "money"),
    ("eac_atypical", N_("EAC, variance was atypical (AC + BAC − EV)"), "money"),
    ("eac_cpi_spi", N_("EAC, future at CPI × SPI"), "money"),
    ("eac_bottom_up", N_("EAC, bottom-up (AC + remaining estimate)"), "money"),
    ("etc", N_("Estimate to complete (ETC)"), "money"),
    ("vac", N_("Variance at completion (VAC = BAC − EAC)"), "money"),
    ("tcpi_bac", N_("To-complete performance index on BAC (TCPI)"), "ratio"),
    ("tcpi_eac", N_("To-complete performance index on EAC"), "ratio"),
    ("spi_t", N_("Earned schedule SPI(t) = ES / AT"), "ratio"),
    ("sv_t", N_("Earned schedule SV(t), working days"), "days"),
    ("ieac_t", N_("Forecast duration IEAC(t), working days"), "days"),
)


def _cost_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        figures = costs.figures(db=db, project=project)
        points = costs.s_curve(db=db, project_id=project.id, principal=principal)
        return {
            "f": figures,
            "evm_rows": [(key, gettext(label), kind) for key, label, kind in EVM_ROWS],
            "curve": views_charts.s_curve(points),
            "budget": costs.budget_by(db=db, project=project),
            "lines": costs.budget_lines(db=db, project=project),
            "expenses": costs.expenses(db=db, project=project)[:50],
            "phases": PHASES,
        }

    return build


@router.get("/{project_id}/cost")
def cost_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """EVM and earned-schedule figures, the S-curve, the budget alert, budget lines, expenses."""
    return _tab(request, db, principal, project_id, "cost", _cost_context(db, principal))


@router.post("/{project_id}/budget")
async def add_budget_line(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """A budget line by phase and cost category (the budget is their sum)."""

    def act(form: dict[str, str]) -> None:
        data = BudgetLineIn(
            phase=form.get("phase") or None,
            category=form.get("category") or "labour",
            amount=Decimal(str(_float(form.get("amount")) or 0)),
        )
        costs.add_budget_line(db=db, project_id=project_id, data=data, principal=principal)

    return await _tab_write(request, db, principal, project_id, "cost", act)


@router.post("/{project_id}/expenses")
async def add_expense(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """A cost incurred outside timesheets (travel, licences)."""

    def act(form: dict[str, str]) -> None:
        data = ExpenseIn(
            day=form.get("day") or date.today(),
            amount=Decimal(str(_float(form.get("amount")) or 0)),
            category=form.get("category") or "expenses",
            description=form.get("description") or None,
        )
        costs.add_expense(db=db, project_id=project_id, data=data, principal=principal)

    return await _tab_write(request, db, principal, project_id, "cost", act)


def _week_start(request: Request | None) -> date:
    raw = request.query_params.get("week", "") if request is not None else ""
    try:
        day = date.fromisoformat(raw) if raw else date.today()
    except ValueError:
        day = date.today()
    return resources.week_of(day)


def _asked_week(request: Request | None) -> bool:
    return request is not None and bool(request.query_params.get("week"))


def _plan_week(project: Project) -> date:
    """This week while the project runs, else the week it starts (or ended)."""
    today = date.today()
    last = project.finish_date or project.target_date or today
    day = today if project.start_date <= today <= last else min(project.start_date, last)
    return resources.week_of(day)


def _proposals(db: SessionDep, project: Project) -> list[LevellingProposal]:
    """The latest levelling proposals (no service lists them yet)."""
    stmt = select(LevellingProposal).where(LevellingProposal.project_id == project.id)
    return list(db.scalars(stmt.order_by(LevellingProposal.id.desc()).limit(5)))


def _resources_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        rows = resources.assignments(db=db, project=project)
        used = sorted({a.resource_id for a in rows})
        first = _week_start(request) if _asked_week(request) else _plan_week(project)
        loads = resources.allocation(
            db=db, principal=principal, start=first, end=first + timedelta(days=8 * 7 - 1),
            resource_ids=used,
        ) if used else []  # fmt: skip
        for load in loads:
            load["day_chart"] = views_charts.histogram(load["days"])
            load["week_chart"] = views_charts.histogram(load["weeks"])
        names = {t.id: f"{t.wbs} {t.name}" for t in plans.tasks(db=db, project=project)}
        return {
            "loads": loads,
            "week": first,
            "prev_week": first - timedelta(days=28),
            "next_week": first + timedelta(days=28),
            "assignments": [(a, names.get(a.task_id, "")) for a in rows],
            "all_resources": resources.list_resources(db=db, principal=principal),
            "task_names": names,
            "proposals": _proposals(db, project),
        }

    return build


@router.get("/{project_id}/resources")
def resources_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """Allocation per day and week of the project's people across all projects (over-allocation
    in red), assignments, and the levelling proposal to accept or discard."""
    return _tab(
        request, db, principal, project_id, "resources",
        _resources_context(db, principal, request),
    )  # fmt: skip


@router.post("/{project_id}/assignments")
async def assign_resource(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Put a resource on a task at some units (1 = full-time)."""

    def act(form: dict[str, str]) -> None:
        data = AssignmentIn(
            resource_id=_int(form.get("resource_id")) or 0, units=_float(form.get("units")) or 1.0
        )
        task_id = _int(form.get("task_id")) or 0
        resources.assign(
            db=db, project_id=project_id, task_id=task_id, data=data, principal=principal
        )

    return await _tab_write(request, db, principal, project_id, "resources", act)


@router.post("/{project_id}/level")
async def level(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Ask the solver for a levelled schedule (a proposal; the plan is not changed yet)."""

    def act(_form: dict[str, str]) -> None:
        resources.propose_levelling(db=db, project_id=project_id, principal=principal)

    return await _tab_write(request, db, principal, project_id, "resources", act)


@router.post("/{project_id}/level/{proposal_id}")
async def decide_level(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, proposal_id: RowId
) -> Response:
    """Accept the levelled schedule (it becomes the plan) or discard it."""

    def act(form: dict[str, str]) -> None:
        resources.decide_levelling(
            db=db, project_id=project_id, proposal_id=proposal_id,
            accept=form.get("accept") == "1", principal=principal,
        )  # fmt: skip

    return await _tab_write(request, db, principal, project_id, "resources", act)


def _timesheets_context(
    db: SessionDep, principal: Principal, request: Request | None = None
) -> Any:
    def build(project: Project) -> dict[str, Any]:
        pending = resources.project_entries(
            db=db, project_id=project.id, principal=principal, status="submitted"
        )
        names = {t.id: f"{t.wbs} {t.name}" for t in plans.tasks(db=db, project=project)}
        people = {r.id: r.name for r in resources.list_resources(db=db, principal=principal)}
        return {"pending": pending, "task_names": names, "people": people}

    return build


@router.get("/{project_id}/timesheets")
def timesheets_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """Hours awaiting the project manager's approval."""
    return _tab(
        request, db, principal, project_id, "timesheets", _timesheets_context(db, principal)
    )


@router.post("/{project_id}/timesheets/decide")
async def decide_timesheets(
    request: Request, db: SessionDep, principal: Approver, project_id: ProjectId
) -> Response:
    """Approve or reject the ticked entries (approval books the actual cost)."""
    ticked = [int(str(v)) for v in (await request.form()).getlist("entry_ids") if str(v).isdigit()]

    def act(form: dict[str, str]) -> None:
        if not ticked:
            raise InvalidInput({"entry_ids": gettext("Tick the entries to decide on.")})
        resources.decide_entries(
            db=db, project_id=project_id, entry_ids=ticked, approve=form.get("approve") == "1",
            reason=form.get("reason") or None, principal=principal,
        )  # fmt: skip

    return await _tab_write(request, db, principal, project_id, "timesheets", act)


_BUILDERS.update(cost=_cost_context, resources=_resources_context, timesheets=_timesheets_context)


# --- tabs: status reports and health, schedule quality, closure ----------------------------


def _reports_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        rows = reports.reports(db=db, project=project)
        chosen = _int(request.query_params.get("report")) if request is not None else None
        current = next((r for r in rows if r.id == chosen), rows[0] if rows else None)
        return {
            "reports": rows,
            "report": current,
            "health": reports.health(db=db, project=project),
            "monday": resources.week_of(date.today()),
        }

    return build


@router.get("/{project_id}/reports")
def reports_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """Weekly status reports (generate, edit, publish, PDF) and the RAG health with its reasons."""
    return _tab(
        request, db, principal, project_id, "reports", _reports_context(db, principal, request)
    )


@router.post("/{project_id}/reports")
async def generate_report(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Generate (or regenerate, keeping the text) the week's report from the data."""
    form = await _form(request)
    try:
        week = date.fromisoformat(form.get("week_start") or date.today().isoformat())
        report = reports.generate(
            db=db, project_id=project_id, week_start=week, principal=principal
        )
    except (InvalidInput, Conflict, ValueError) as exc:
        db.rollback()
        errors = _errors(exc) if isinstance(exc, InvalidInput | Conflict) else {"week": str(exc)}
        build = _reports_context(db, principal, request)
        return _tab(request, db, principal, project_id, "reports", build, errors)
    return hx_redirect(request, f"/projects/{project_id}/reports?report={report.id}")


@router.post("/{project_id}/reports/{report_id}")
async def edit_report(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId, report_id: RowId
) -> Response:
    """Save a draft's summary and decisions; publish it when asked (``projects:approve``)."""
    form = await _form(request)
    try:
        data = StatusReportUpdate(summary=form.get("summary"), decisions=form.get("decisions"))
        reports.edit(
            db=db, project_id=project_id, report_id=report_id, data=data, principal=principal
        )
        if form.get("publish") == "1":
            reports.publish(db=db, project_id=project_id, report_id=report_id, principal=principal)
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        build = _reports_context(db, principal, request)
        return _tab(request, db, principal, project_id, "reports", build, _errors(exc))
    return hx_redirect(request, f"/projects/{project_id}/reports?report={report_id}")


@router.get("/{project_id}/reports/{report_id}.pdf")
def report_pdf(
    db: SessionDep, principal: Reader, project_id: ProjectId, report_id: RowId
) -> Response:
    """The status report as a PDF, in the reader's language."""
    content = reports.pdf(
        db=db, project_id=project_id, report_id=report_id, principal=principal, locale=get_locale()
    )
    name = f"status-report-{project_id}-{report_id}.pdf"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, media_type="application/pdf", headers=headers)


@router.post("/{project_id}/health")
async def override_health(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Set the health by hand with a reason, or go back to the computed one."""

    def act(form: dict[str, str]) -> None:
        colour = form.get("rag") if form.get("rag") in RAG else None
        service.set_rag_override(
            db=db, project_id=project_id, rag=colour, reason=form.get("reason") or None,
            principal=principal,
        )  # fmt: skip

    return await _tab_write(request, db, principal, project_id, "reports", act)


def _quality_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        checks = reports.assess_schedule(db=db, project_id=project.id, principal=principal)
        names = {str(t.id): f"{t.wbs} {t.name}" for t in plans.tasks(db=db, project=project)}
        return {"checks": checks, "names": names}

    return build


@router.get("/{project_id}/quality")
def quality_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """The DCMA 14-point assessment: each check's figure, threshold, verdict and offending tasks."""
    return _tab(request, db, principal, project_id, "quality", _quality_context(db, principal))


def _closure_context(db: SessionDep, principal: Principal, request: Request | None = None) -> Any:
    def build(project: Project) -> dict[str, Any]:
        return {
            "evaluation": reports.evaluation(db=db, project=project),
            "closure": reports.closure_of(db=db, project=project),
            "surveys": reports.surveys(db=db, project=project),
            "handover": reports.handover_of(db=db, project=project),
        }

    return build


@router.get("/{project_id}/closure")
def closure_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """Evaluation against goal, budget and dates; lessons; CSAT survey; hand-over."""
    return _tab(request, db, principal, project_id, "closure", _closure_context(db, principal))


@router.post("/{project_id}/closure")
async def close_out(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Record the evaluation and a lesson learned."""

    def act(form: dict[str, str]) -> None:
        lessons = [LessonIn(text=form["lesson"])] if form.get("lesson") else []
        data = ClosureIn(
            goal_met=form.get("goal_met") == "1", summary=form.get("summary") or None,
            lessons=lessons,
        )  # fmt: skip
        reports.close_out(db=db, project_id=project_id, data=data, principal=principal)

    return await _tab_write(request, db, principal, project_id, "closure", act)


@router.post("/{project_id}/surveys")
async def send_surveys(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Send the CSAT survey to the customer's contacts."""

    def act(_form: dict[str, str]) -> None:
        reports.send_surveys(db=db, project_id=project_id, contact_ids=None, principal=principal)

    return await _tab_write(request, db, principal, project_id, "closure", act)


@router.post("/{project_id}/handover")
async def hand_over(
    request: Request, db: SessionDep, principal: Writer, project_id: ProjectId
) -> Response:
    """Hand the project over to the customer's operations owner (shown on the customer)."""

    def act(form: dict[str, str]) -> None:
        data = HandoverIn(delivered_scope=form.get("delivered_scope") or None)
        reports.hand_over(db=db, project_id=project_id, data=data, principal=principal)

    return await _tab_write(request, db, principal, project_id, "closure", act)


_BUILDERS.update(reports=_reports_context, quality=_quality_context, closure=_closure_context)


# --- import/export -------------------------------------------------------------------------


@router.get("/{project_id}/transfer")
def transfer_tab(
    request: Request, db: SessionDep, principal: Reader, project_id: ProjectId
) -> Response:
    """Download the plan as MS Project XML or CSV; import a file as a new project."""
    return _tab(request, db, principal, project_id, "transfer", lambda _project: {})


@router.get("/{project_id}/plan.{fmt}")
def export_plan(
    db: SessionDep,
    principal: Reader,
    project_id: ProjectId,
    fmt: Annotated[str, Path(pattern=r"^(xml|csv)$")],
) -> Response:
    """The plan's tasks and links as MS Project XML (MSPDI) or CSV."""
    kind: exchange.Format = "mspdi" if fmt == "xml" else "csv"
    content = exchange.export_plan(db=db, project_id=project_id, fmt=kind, principal=principal)
    media = "application/xml" if fmt == "xml" else "text/csv; charset=utf-8"
    headers = {"Content-Disposition": f'attachment; filename="project-{project_id}.{fmt}"'}
    return Response(content, media_type=media, headers=headers)
