"""Resources (people with capacity, skills and a cost rate), assignments, allocation across
all projects, levelling proposals, and weekly timesheets with the PM's approval."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from clientops.auth import service as auth_service
from clientops.core.access import Principal
from clientops.db import utcnow
from clientops.exceptions import Forbidden, InvalidInput, NotFound
from clientops.projects import plans
from clientops.projects import service as projects_service
from clientops.projects.models import (
    Assignment,
    CalendarDay,
    LevellingProposal,
    Project,
    Resource,
    Task,
    TimesheetEntry,
)
from clientops.projects.scheduling import levelling
from clientops.projects.schemas import (
    AssignmentIn,
    ResourceCreate,
    ResourceUpdate,
    TimesheetEntryIn,
)

MAX_WINDOW_DAYS = 400
UNIT_STEPS = 100  # levelling counts units in hundredths of a person


# --- resources and assignments -------------------------------------------------------------


def list_resources(*, db: Session, principal: Principal) -> list[Resource]:
    """Every active resource, by name."""
    projects_service.require(principal, "projects:read")
    stmt = select(Resource).where(Resource.active.is_(True)).order_by(Resource.name)
    return list(db.scalars(stmt))


def get_resource(*, db: Session, resource_id: int) -> Resource:
    """A resource, or ``NotFound``."""
    resource = db.get(Resource, resource_id)
    if resource is None:
        raise NotFound("resource")
    return resource


def create_resource(*, db: Session, data: ResourceCreate, principal: Principal) -> Resource:
    """A new resource (a user, or a named outside person)."""
    projects_service.require(principal, "projects:write")
    if data.user_id is not None:
        if not auth_service.exists(db=db, user_id=data.user_id):
            raise InvalidInput({"user_id": "unknown_user"})
        if db.scalar(select(Resource.id).where(Resource.user_id == data.user_id)):
            raise InvalidInput({"user_id": "already_a_resource"})
    resource = Resource(**data.model_dump(), active=True)
    db.add(resource)
    db.flush()
    return resource


def update_resource(
    *, db: Session, resource_id: int, data: ResourceUpdate, principal: Principal
) -> Resource:
    """Change the fields sent on a resource."""
    projects_service.require(principal, "projects:write")
    resource = get_resource(db=db, resource_id=resource_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(resource, key, value)
    db.flush()
    return resource


def assignments(*, db: Session, project: Project) -> list[Assignment]:
    """The assignments on a project's tasks."""
    stmt = (
        select(Assignment)
        .join(Task, Task.id == Assignment.task_id)
        .where(Task.project_id == project.id)
        .order_by(Assignment.id)
    )
    return list(db.scalars(stmt))


def assign(
    *, db: Session, project_id: int, task_id: int, data: AssignmentIn, principal: Principal
) -> Assignment:
    """Put a resource on a task at some units (again: change the units)."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    task = db.get(Task, task_id)
    if task is None or task.project_id != project.id:
        raise NotFound("task")
    if db.get(Resource, data.resource_id) is None:
        raise InvalidInput({"resource_id": "unknown_resource"})
    row = db.scalar(
        select(Assignment).where(
            Assignment.task_id == task.id, Assignment.resource_id == data.resource_id
        )
    )
    if row is None:
        row = Assignment(task_id=task.id, resource_id=data.resource_id)
        db.add(row)
    row.units = data.units
    db.flush()
    return row


def unassign(
    *, db: Session, project_id: int, task_id: int, resource_id: int, principal: Principal
) -> None:
    """Take a resource off a task."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    row = db.scalar(
        select(Assignment)
        .join(Task, Task.id == Assignment.task_id)
        .where(
            Task.project_id == project.id,
            Assignment.task_id == task_id,
            Assignment.resource_id == resource_id,
        )
    )
    if row is None:
        raise NotFound("assignment")
    db.delete(row)
    db.flush()


# --- allocation ----------------------------------------------------------------------------


def _window(start: date | None, end: date | None) -> tuple[date, date]:
    first = start or date.today() - timedelta(days=date.today().weekday())
    last = end or first + timedelta(days=12 * 7 - 1)
    if last < first or (last - first).days > MAX_WINDOW_DAYS:
        raise InvalidInput({"end": "window_too_long"})
    return first, last


def allocation(
    *,
    db: Session,
    principal: Principal,
    start: date | None = None,
    end: date | None = None,
    resource_ids: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Planned hours per resource per day and week across all projects, against capacity.

    A task's assignment books ``units × capacity`` hours on each of the resource's working
    days between the task's start and finish; a day or week above capacity is over-allocated.
    """
    projects_service.require(principal, "projects:read")
    first, last = _window(start, end)
    stmt = (
        select(Assignment.resource_id, Assignment.units, Task.start_date, Task.finish_date)
        .join(Task, Task.id == Assignment.task_id)
        .where(Task.start_date <= last, Task.finish_date >= first, Task.kind != "summary")
    )
    if resource_ids:
        stmt = stmt.where(Assignment.resource_id.in_(resource_ids))
    loads: dict[int, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    resources = {r.id: r for r in list_resources(db=db, principal=principal)}
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    away = _days_off(db, list(resources), first, last)
    for resource_id, units, task_start, task_finish in db.execute(stmt):
        resource = resources.get(resource_id)
        if resource is None:
            continue
        for day in days:
            if (
                task_start
                and task_finish
                and task_start <= day <= task_finish
                and day.weekday() < 5
            ):  # a day the person is away still books the work: it shows as a conflict
                loads[resource_id][day] += units * resource.capacity_hours
    wanted = resource_ids or list(resources)
    return [
        _resource_load(resources[r], loads[r], days, {d for rid, d in away if rid == r})
        for r in wanted
        if r in resources
    ]


def _resource_load(
    resource: Resource, load: dict[date, float], days: list[date], away: set[date]
) -> dict[str, Any]:
    cap = resource.capacity_hours

    def capacity(d: date) -> float:
        return cap if d.weekday() < 5 and d not in away else 0.0

    daily = [
        {
            "start": d,
            "hours": round(load.get(d, 0.0), 2),
            "capacity": capacity(d),
            "over": load.get(d, 0.0) > capacity(d) + 1e-6,
        }
        for d in days
    ]
    weeks: dict[date, list[float]] = {}
    for d in days:
        week = weeks.setdefault(d - timedelta(days=d.weekday()), [0.0, 0.0])
        week[0] += load.get(d, 0.0)
        week[1] += capacity(d)
    weekly = [
        {"start": w, "hours": round(h, 2), "capacity": c, "over": h > c + 1e-6}
        for w, (h, c) in sorted(weeks.items())
    ]
    return {
        "resource_id": resource.id,
        "name": resource.name,
        "capacity_hours": cap,
        "days": daily,
        "weeks": weekly,
        "over_allocated": any(item["over"] for item in daily),
    }


# --- levelling -----------------------------------------------------------------------------


def propose_levelling(
    *, db: Session, project_id: int, principal: Principal, time_limit: float = 10.0
) -> LevellingProposal:
    """Level the project's plan against its resources with CP-SAT; a proposal to accept."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    plans.reschedule(db=db, project=project)
    network = plans.cached_network(project.id)
    used = sorted({a.resource_id for a in assignments(db=db, project=project)})
    demands = np.zeros((network.size, len(used)), dtype=np.int64)
    column = {rid: i for i, rid in enumerate(used)}
    for a in assignments(db=db, project=project):
        demands[network.index(a.task_id), column[a.resource_id]] = round(a.units * UNIT_STEPS)
    leave = _leave(db, project, column)
    try:
        result = levelling.level(
            network, demands, [UNIT_STEPS] * len(used), time_limit=time_limit, workers=2,
            unavailable=leave,
        )  # fmt: skip
    except levelling.LevellingError as exc:
        raise InvalidInput({"levelling": str(exc)}) from exc
    starts = {
        str(tid): int(s) for tid, s in zip(network.task_ids, result.starts.tolist(), strict=True)
    }
    proposal = LevellingProposal(
        project_id=project.id,
        status="proposed",
        makespan_days=float(result.makespan),
        bound_days=float(result.bound),
        gap=float(result.gap),
        starts=starts,
    )
    db.add(proposal)
    db.flush()
    return proposal


def _leave(db: Session, project: Project, column: dict[int, int]) -> list[levelling.Unavailable]:
    """The resources' own days off that fall on the project's working days, as the solver's
    offsets: levelling then never books a person on a day they are away."""
    cal = plans.calendar_for(db=db, project=project)
    stmt = select(CalendarDay.resource_id, CalendarDay.day).where(
        CalendarDay.resource_id.in_(list(column)),
        CalendarDay.working.is_(False),
        CalendarDay.day >= project.start_date,
    )
    return [
        levelling.Unavailable(column[rid], cal.offset_of(day), cal.offset_of(day) + 1, UNIT_STEPS)
        for rid, day in db.execute(stmt)
        if rid is not None and cal.is_working(day)
    ]


def _days_off(
    db: Session, resource_ids: list[int], first: date, last: date
) -> set[tuple[int, date]]:
    """(resource, day) pairs a person is away between ``first`` and ``last``."""
    stmt = select(CalendarDay.resource_id, CalendarDay.day).where(
        CalendarDay.resource_id.in_(resource_ids),
        CalendarDay.working.is_(False),
        CalendarDay.day.between(first, last),
    )
    return {(rid, day) for rid, day in db.execute(stmt) if rid is not None}


def decide_levelling(
    *, db: Session, project_id: int, proposal_id: int, accept: bool, principal: Principal
) -> LevellingProposal:
    """Accept (levelled starts become start-no-earlier constraints) or discard a proposal."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    proposal = db.get(LevellingProposal, proposal_id)
    if proposal is None or proposal.project_id != project.id:
        raise NotFound("proposal")
    if proposal.status != "proposed":
        raise InvalidInput({"status": f"already_{proposal.status}"})
    proposal.status, proposal.decided_by = (
        ("accepted" if accept else "discarded"),
        principal.user_id or None,
    )
    if accept:
        cal = plans.calendar_for(db=db, project=project)
        for task in plans.tasks(db=db, project=project):
            start = proposal.starts.get(str(task.id))
            if start is not None and start != task.early_start:
                task.constraint_type, task.constraint_date = "SNET", cal.date_of(start)
        db.flush()
        plans.reschedule(db=db, project=project)
    db.flush()
    return proposal


# --- timesheets ----------------------------------------------------------------------------


def week_of(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def own_resource(*, db: Session, principal: Principal, resource_id: int | None) -> Resource:
    """The resource whose hours the principal logs: its own, or any when it approves hours."""
    if resource_id is None:
        resource = db.scalar(select(Resource).where(Resource.user_id == principal.user_id))
        if resource is None:
            raise InvalidInput({"resource_id": "not_a_resource"})
        return resource
    resource = get_resource(db=db, resource_id=resource_id)
    if resource.user_id != principal.user_id and not principal.can("projects:approve"):
        raise Forbidden("projects:approve")
    return resource


def save_week(
    *,
    db: Session,
    principal: Principal,
    entries: list[TimesheetEntryIn],
    resource_id: int | None = None,
) -> list[TimesheetEntry]:
    """Enter or change hours (0 removes); submitted and approved entries are locked."""
    projects_service.require(principal, "timesheets:write")
    resource = own_resource(db=db, principal=principal, resource_id=resource_id)
    saved: list[TimesheetEntry] = []
    for item in entries:
        task = db.get(Task, item.task_id)
        if task is None:
            raise NotFound("task")
        projects_service.get(db=db, project_id=task.project_id, principal=principal)
        saved.extend(_save_entry(db, resource, task, item))
    db.flush()
    return saved


def _save_entry(
    db: Session, resource: Resource, task: Task, item: TimesheetEntryIn
) -> list[TimesheetEntry]:
    row = db.scalar(
        select(TimesheetEntry).where(
            TimesheetEntry.resource_id == resource.id,
            TimesheetEntry.task_id == task.id,
            TimesheetEntry.day == item.day,
        )
    )
    if row is not None and row.status in ("submitted", "approved"):
        raise InvalidInput({"day": f"locked:{item.day.isoformat()}"})
    if item.hours == 0:
        if row is not None:
            db.delete(row)
        return []
    if row is None:
        row = TimesheetEntry(
            project_id=task.project_id, task_id=task.id, resource_id=resource.id, day=item.day
        )
        db.add(row)
    row.week_start, row.hours, row.note = week_of(item.day), item.hours, item.note
    row.percent_complete, row.cost_rate, row.status = (
        item.percent_complete,
        resource.cost_rate,
        "draft",
    )
    return [row]


def week(
    *, db: Session, principal: Principal, week_start: date, resource_id: int | None = None
) -> list[TimesheetEntry]:
    """A resource's entries of one week (none for a user who is not a resource)."""
    if resource_id is None and not db.scalar(
        select(Resource.id).where(Resource.user_id == principal.user_id)
    ):
        return []
    resource = own_resource(db=db, principal=principal, resource_id=resource_id)
    stmt = select(TimesheetEntry).where(
        TimesheetEntry.resource_id == resource.id,
        TimesheetEntry.week_start == week_of(week_start),
    )
    return list(db.scalars(stmt.order_by(TimesheetEntry.day, TimesheetEntry.id)))


def submit_week(
    *, db: Session, principal: Principal, week_start: date, resource_id: int | None = None
) -> int:
    """Send a week's draft (or rejected) entries for approval; how many were sent."""
    projects_service.require(principal, "timesheets:write")
    rows = [
        r
        for r in week(db=db, principal=principal, week_start=week_start, resource_id=resource_id)
        if r.status in ("draft", "rejected")
    ]
    if not rows:
        raise InvalidInput({"week_start": "nothing_to_submit"})
    for row in rows:
        row.status, row.reason = "submitted", None
    db.flush()
    return len(rows)


def project_entries(
    *, db: Session, project_id: int, principal: Principal, status: str | None = None
) -> list[TimesheetEntry]:
    """A project's timesheet entries (e.g. those awaiting approval)."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    stmt = select(TimesheetEntry).where(TimesheetEntry.project_id == project.id)
    if status:
        stmt = stmt.where(TimesheetEntry.status == status)
    return list(db.scalars(stmt.order_by(TimesheetEntry.day, TimesheetEntry.id).limit(5000)))


def decide_entries(
    *,
    db: Session,
    project_id: int,
    entry_ids: list[int],
    approve: bool,
    reason: str | None,
    principal: Principal,
) -> int:
    """Approve or reject submitted entries; approval carries progress to the tasks."""
    project = projects_service.get(
        db=db, project_id=project_id, principal=principal, permission="projects:approve"
    )
    rows = list(
        db.scalars(
            select(TimesheetEntry).where(
                TimesheetEntry.project_id == project.id, TimesheetEntry.id.in_(entry_ids)
            )
        )
    )
    if len(rows) != len(set(entry_ids)) or any(r.status != "submitted" for r in rows):
        raise InvalidInput({"entry_ids": "not_submitted"})
    if not approve and not (reason and reason.strip()):
        raise InvalidInput({"reason": "required"})
    for row in rows:
        row.status = "approved" if approve else "rejected"
        row.decided_by, row.decided_at, row.reason = principal.user_id or None, utcnow(), reason
    if approve:
        _progress(db, sorted(rows, key=lambda r: (r.day, r.id)))
    db.flush()
    return len(rows)


def _progress(db: Session, rows: list[TimesheetEntry]) -> None:
    """Actual start (first approved day), % complete (latest reported), finish at 100%."""
    for row in rows:
        task = db.get(Task, row.task_id)
        if task is None:
            continue
        if task.actual_start is None or row.day < task.actual_start:
            task.actual_start = row.day
        if row.percent_complete is not None:
            task.percent_complete = row.percent_complete
            if row.percent_complete >= 100 and task.actual_finish is None:
                task.actual_finish = row.day
