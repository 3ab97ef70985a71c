"""The plan: WBS tasks, links, calendars, the critical-path schedule and baselines.

Every change to the plan re-runs CPM over the whole project. That path is kept lean so a
drag on a 10,000-task plan answers fast: the tasks and links are read as plain rows (no ORM
objects), scheduled by ``scheduling``, converted to dates through the working calendar, and
only the rows whose figures changed are written back in one executemany. The schedule
figures are derived data: the edit that caused them is audited, they are not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from clientops.core.access import Principal
from clientops.core.i18n import gettext as _
from clientops.exceptions import InvalidInput, NotFound
from clientops.projects import service as projects_service
from clientops.projects.models import (
    Assignment,
    Baseline,
    CalendarDay,
    Expense,
    Link,
    Project,
    Resource,
    Task,
    TimesheetEntry,
)
from clientops.projects.scheduling import calendar as calendar_mod
from clientops.projects.scheduling import cpm
from clientops.projects.schemas import CalendarDayIn, LinkCreate, TaskCreate, TaskFields

SCHEDULE_FIELDS = (
    "early_start",
    "early_finish",
    "late_start",
    "late_finish",
    "total_float",
    "free_float",
    "critical",
    "start_date",
    "finish_date",
)


# --- the working calendar ------------------------------------------------------------------


@dataclass
class WorkCalendar:
    """A project's working days from its start: the scheduler's calendar (weekends, China's
    holidays and adjusted working days when chosen) with the project's own exceptions."""

    start: date
    calendar: calendar_mod.WorkCalendar
    table: calendar_mod.WorkingDays = field(init=False)

    def __post_init__(self) -> None:
        self.table = self.calendar.days(self.start)

    def is_working(self, day: date) -> bool:
        """True when work happens on ``day``."""
        return self.calendar.is_working(day)

    def date_of(self, offset: int) -> date:
        """The working day at ``offset`` (0 = the project's first working day)."""
        return self.table.date_of(max(int(offset), 0))

    def finish_of(self, start: int, finish: int) -> date:
        """The last working day of work that runs from ``start`` to ``finish`` (exclusive)."""
        return self.date_of(max(int(finish) - 1, int(start)))

    def offset_of(self, day: date) -> int:
        """Working days from the project start to ``day`` (a day off counts as the next)."""
        return max(self.table.offset_of(day), 0) if day > self.start else 0

    def to_dates(self, offsets: np.ndarray) -> np.ndarray:
        """Dates of many offsets at once."""
        return self.table.to_dates(np.maximum(offsets, 0))


def calendar_for(*, db: Session, project: Project, resource_id: int | None = None) -> WorkCalendar:
    """The project's calendar (or a resource's: the project's plus its own exceptions)."""
    base = (
        calendar_mod.WorkCalendar.chinese() if project.cn_holidays else calendar_mod.WorkCalendar()
    )
    owners = [CalendarDay.project_id == project.id]
    if resource_id is not None:
        owners.append(CalendarDay.resource_id == resource_id)
    for owner in owners:
        rows = db.execute(select(CalendarDay.day, CalendarDay.working).where(owner)).all()
        base = base.with_exceptions(
            off=[d for d, working in rows if not working], on=[d for d, working in rows if working]
        )
    return WorkCalendar(start=project.start_date, calendar=base)


def add_calendar_day(
    *, db: Session, project_id: int, data: CalendarDayIn, principal: Principal
) -> CalendarDay:
    """A day off (or extra working day) for the project or one resource; reschedules."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    if data.resource_id is not None and db.get(Resource, data.resource_id) is None:
        raise InvalidInput({"resource_id": "unknown_resource"})
    row = CalendarDay(
        project_id=None if data.resource_id else project.id, **data.model_dump(exclude_none=True)
    )
    db.add(row)
    db.flush()
    reschedule(db=db, project=project)
    return row


def calendar_days(*, db: Session, project: Project) -> list[CalendarDay]:
    """The project's calendar exceptions, by day."""
    stmt = select(CalendarDay).where(CalendarDay.project_id == project.id)
    return list(db.scalars(stmt.order_by(CalendarDay.day)))


# --- scheduling ----------------------------------------------------------------------------

_TABLE = cast(Table, Task.__table__)
_TASKS = _TABLE.c
_COLUMNS = (
    _TASKS.id,
    _TASKS.parent_id,
    _TASKS.kind,
    _TASKS.duration_days,
    _TASKS.constraint_type,
    _TASKS.constraint_date,
    *(_TASKS[name] for name in SCHEDULE_FIELDS),
)
_FIGURES = SCHEDULE_FIELDS[:6]
_UPDATE = (
    update(_TABLE)
    .where(_TASKS.id == bindparam("_id"))
    .values({name: bindparam(f"_{name}") for name in SCHEDULE_FIELDS})
)
_NO_DATE = np.datetime64("NaT")


@dataclass
class Scheduled:
    """The outcome of a reschedule."""

    makespan_days: int
    finish_date: date | None
    tasks: int
    changed: int
    critical: list[int]


@dataclass
class _Plan:
    """What one process keeps of a project's last stored schedule, under its ``plan_token``."""

    token: str
    network: cpm.Network
    ids: np.ndarray
    roll: list[tuple[np.ndarray, np.ndarray]]  # (child, parent) index pairs, deepest first
    figures: dict[str, np.ndarray]
    calendar: WorkCalendar


_PLANS: dict[int, _Plan] = {}
_PLANS_KEPT = 32  # projects whose network a process keeps (the most recently scheduled)


def _cycle_message(db: Session, loop: Sequence[Any]) -> str:
    names = dict(
        db.execute(select(Task.id, Task.wbs + " " + Task.name).where(Task.id.in_(loop))).all()
    )
    return _("Dependency loop: {loop}").format(loop=" → ".join(str(names.get(i, i)) for i in loop))


def _bounds(
    kind: str, day: date | None, dur: int, cal: WorkCalendar
) -> tuple[int | None, int | None]:
    """A date constraint as the scheduler's two bounds: (start no earlier, finish no later)."""
    if kind == "ASAP" or day is None:
        return None, None
    at = cal.offset_of(day)
    snet = {"SNET": at, "MSO": at, "FNET": at + 1 - dur, "MFO": at + 1 - dur}.get(kind)
    fnlt = {"FNLT": at + 1, "MFO": at + 1, "SNLT": at + dur, "MSO": at + dur}.get(kind)
    return snet, fnlt


def _constraints(rows: Sequence[Any], cal: WorkCalendar) -> list[tuple[int, str, int]]:
    found: list[tuple[int, str, int]] = []
    for row in rows:
        snet, fnlt = _bounds(row.constraint_type, row.constraint_date, row.duration_days, cal)
        if snet is not None:
            found.append((row.id, "start_no_earlier", snet))
        if fnlt is not None:
            found.append((row.id, "finish_no_later", fnlt))
    return found


def _network(db: Session, rows: Sequence[Any], project_id: int, cal: WorkCalendar) -> cpm.Network:
    parents = {r.parent_id for r in rows if r.parent_id is not None}
    durations = [
        0 if r.id in parents or r.kind == "milestone" else int(r.duration_days) for r in rows
    ]
    links = db.connection().execute(
        select(Link.pred_id, Link.succ_id, Link.type, Link.lag_days).where(
            Link.project_id == project_id
        )
    )
    try:
        return cpm.Network.build(
            [r.id for r in rows], durations, links=list(links), constraints=_constraints(rows, cal)
        )
    except cpm.ScheduleCycle as exc:
        raise InvalidInput({"links": _cycle_message(db, exc.loop)}) from exc
    except cpm.ScheduleError as exc:
        raise InvalidInput({"schedule": str(exc)}) from exc


def _roll_pairs(rows: Sequence[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(child, parent) index arrays by depth, deepest first, for rolling up summaries."""
    index = {r.id: i for i, r in enumerate(rows)}
    parent = {r.id: r.parent_id for r in rows}
    by_depth: dict[int, list[tuple[int, int]]] = {}
    for r in rows:
        if r.parent_id is None:
            continue
        depth, up = 0, r.parent_id
        while up is not None and depth < 1000:
            depth, up = depth + 1, parent.get(up)
        by_depth.setdefault(depth, []).append((index[r.id], index[r.parent_id]))
    return [
        (np.array([c for c, _p in pairs]), np.array([p for _c, p in pairs]))
        for _depth, pairs in sorted(by_depth.items(), reverse=True)
    ]


def _figures(
    result: cpm.Schedule, roll: list[tuple[np.ndarray, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The schedule's arrays; summary tasks span their children (earliest start, latest
    finish, least float, critical when a child is)."""
    figures = {name: np.array(getattr(result, name), dtype=np.int64) for name in _FIGURES}
    figures["critical"] = np.array(result.critical, dtype=bool)
    if not roll:
        return figures
    parents = np.unique(np.concatenate([p for _c, p in roll]))
    for name, fill in (("early_start", 2**52), ("late_start", 2**52), ("total_float", 2**52)):
        figures[name][parents] = fill
    for name in ("early_finish", "late_finish"):
        figures[name][parents] = -(2**52)
    figures["free_float"][parents] = 0
    figures["critical"][parents] = False
    for child, parent in roll:
        for name in ("early_start", "late_start", "total_float"):
            np.minimum.at(figures[name], parent, figures[name][child])
        for name in ("early_finish", "late_finish"):
            np.maximum.at(figures[name], parent, figures[name][child])
        np.logical_or.at(figures["critical"], parent, figures["critical"][child])
    return figures


def _dates(figures: dict[str, np.ndarray], cal: WorkCalendar, rows: np.ndarray) -> tuple[Any, Any]:
    """Start and finish dates of ``rows``: a task occupies days ES .. EF-1; a milestone sits
    on the last day of the work before it."""
    es, ef = figures["early_start"][rows], figures["early_finish"][rows]
    start = np.where((ef == es) & (es > 0), es - 1, es)
    return cal.to_dates(start), cal.to_dates(np.maximum(ef - 1, start))


def _changes(
    ids: np.ndarray, old: dict[str, np.ndarray], new: dict[str, np.ndarray], cal: WorkCalendar,
    old_dates: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, list[Any]]:  # fmt: skip
    """Column lists (``id`` and the schedule fields) of the rows whose figures (or, when
    known, dates) changed."""
    moved = np.zeros(len(ids), dtype=bool)
    for name, values in new.items():
        moved |= old[name] != values
    if old_dates is not None:
        starts, finishes = _dates(new, cal, np.arange(len(ids)))
        moved |= (old_dates[0] != starts) | (old_dates[1] != finishes)
    rows = np.flatnonzero(moved)
    starts, finishes = _dates(new, cal, rows)
    columns: dict[str, list[Any]] = {"id": ids[rows].tolist()}
    columns.update({name: new[name][rows].tolist() for name in new})
    columns["start_date"] = starts.astype(object).tolist()
    columns["finish_date"] = finishes.astype(object).tolist()
    return columns


# PostgreSQL: one statement for any number of rows, joining arrays (unnest); an executemany of
# 10,000 single-row updates takes ~1 s there.
_PG_TYPES = ("integer",) * 7 + ("boolean", "date", "date")
_PG_UPDATE = text(
    "UPDATE project_tasks AS t SET "
    + ", ".join(f"{name} = v.{name}" for name in SCHEDULE_FIELDS)
    + " FROM unnest("
    + ", ".join(
        f"CAST(:{name} AS {kind}[])"
        for name, kind in zip(("id", *SCHEDULE_FIELDS), _PG_TYPES, strict=True)
    )
    + ") AS v(id, "
    + ", ".join(SCHEDULE_FIELDS)
    + ") WHERE t.id = v.id"
)
_SQLITE_UPDATE = (
    "UPDATE project_tasks SET "
    + ", ".join(f"{name} = ?" for name in SCHEDULE_FIELDS)
    + " WHERE id = ?"
)


def _write(db: Session, columns: dict[str, list[Any]]) -> None:
    """Store the changed schedule figures in one statement."""
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_UPDATE, columns)
        return
    if conn.dialect.name == "sqlite":
        # The driver's own executemany: no per-row work in SQLAlchemy (~100 ms for 10,000).
        dates = ("start_date", "finish_date")
        values = [[str(v) for v in columns[name]] if name in dates else columns[name]
                  for name in (*SCHEDULE_FIELDS, "id")]  # fmt: skip
        conn.exec_driver_sql(_SQLITE_UPDATE, list(zip(*values, strict=True)))
        return
    keys = list(columns)
    params = [
        {f"_{k}": v for k, v in zip(keys, values, strict=True)}
        for values in zip(*columns.values(), strict=True)
    ]
    conn.execute(_UPDATE, params)


def _store(
    db: Session, project: Project, plan: _Plan, changed: dict[str, list[Any]], old_token: str | None
) -> Scheduled:
    """Write the changed rows and the project's figures; remember the plan under a new token."""
    if changed["id"]:
        _write(db, changed)
        _expire_tasks(db, project.id)
    figures, cal = plan.figures, plan.calendar
    makespan = int(figures["early_finish"].max(initial=0))
    finish = cal.finish_of(0, makespan) if makespan > 0 else project.start_date
    if project.makespan_days != makespan or project.finish_date != finish:
        project.makespan_days, project.finish_date = makespan, finish
    stmt = update(cast(Table, Project.__table__)).where(Project.__table__.c.id == project.id)
    if old_token is not None:
        stmt = stmt.where(Project.__table__.c.plan_token == old_token)
    if db.connection().execute(stmt.values(plan_token=plan.token)).rowcount != 1:
        raise _Stale()
    set_committed_value(project, "plan_token", plan.token)
    _PLANS.pop(project.id, None)
    _PLANS[project.id] = plan
    while len(_PLANS) > _PLANS_KEPT:
        _PLANS.pop(next(iter(_PLANS)))
    critical = plan.ids[figures["critical"]].tolist()
    return Scheduled(makespan, finish, len(plan.ids), len(changed["id"]), critical)


class _Stale(Exception):
    """Another transaction stored a schedule since this process cached its plan."""


def reschedule(*, db: Session, project: Project) -> Scheduled:
    """Re-run CPM over the whole project from the database and store what changed; a loop
    in the links is refused, naming its tasks."""
    db.flush()
    _PLANS.pop(project.id, None)
    rows = db.connection().execute(select(*_COLUMNS).where(_TASKS.project_id == project.id)).all()
    cal = calendar_for(db=db, project=project)
    if not rows:
        project.makespan_days, project.finish_date, project.plan_token = 0, None, None
        return Scheduled(0, None, 0, 0, [])
    network = _network(db, rows, project.id, cal)
    roll = _roll_pairs(rows)
    figures = _figures(network.schedule(), roll)
    old = {name: np.array([getattr(r, name) for r in rows], dtype=np.int64) for name in _FIGURES}
    old["critical"] = np.array([bool(r.critical) for r in rows])
    old_dates = tuple(
        np.array([getattr(r, f) or _NO_DATE for r in rows], dtype="datetime64[D]")
        for f in ("start_date", "finish_date")
    )
    ids = np.array([r.id for r in rows], dtype=np.int64)
    changed = _changes(ids, old, figures, cal, old_dates)  # type: ignore[arg-type]
    plan = _Plan(uuid.uuid4().hex, network, ids, roll, figures, cal)
    return _store(db, project, plan, changed, None)


def _quick(db: Session, project: Project, task: Task) -> Scheduled | None:
    """Reschedule after one task's duration or constraint changed, from this process's cached
    network when it is that of the stored schedule; None when it is not."""
    plan = _PLANS.get(project.id)
    if plan is None or plan.token != project.plan_token:
        return None
    net = plan.network
    i = net.index(task.id)
    is_parent = any(bool((parents == i).any()) for _c, parents in plan.roll)
    dur = 0 if is_parent or task.kind == "milestone" else int(task.duration_days)
    snet, fnlt = _bounds(task.constraint_type, task.constraint_date, dur, plan.calendar)
    network = net.with_changes(
        durations={task.id: dur}, start_no_earlier={task.id: snet}, finish_no_later={task.id: fnlt}
    )
    figures = _figures(network.schedule(), plan.roll)
    changed = _changes(plan.ids, plan.figures, figures, plan.calendar)
    new = _Plan(uuid.uuid4().hex, network, plan.ids, plan.roll, figures, plan.calendar)
    try:
        return _store(db, project, new, changed, plan.token)
    except _Stale:
        return None


def _expire_tasks(db: Session, project_id: int) -> None:
    """Loaded task objects of the project re-read the figures just written under them."""
    for obj in list(db.identity_map.values()):
        if isinstance(obj, Task) and obj.project_id == project_id:
            db.expire(obj, list(SCHEDULE_FIELDS))


def cached_network(project_id: int) -> cpm.Network:
    """The network this process last scheduled for a project (call ``reschedule`` first)."""
    return _PLANS[project_id].network


def forget(project_id: int) -> None:
    """Drop this process's cached network of a project (after a rolled-back change)."""
    _PLANS.pop(project_id, None)


def schedule(*, db: Session, project_id: int, principal: Principal) -> Scheduled:
    """Recompute the schedule of a project now (after a calendar or import change)."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    return reschedule(db=db, project=project)


# --- the WBS -------------------------------------------------------------------------------


def tasks(*, db: Session, project: Project) -> list[Task]:
    """The project's tasks in WBS order."""
    return list(db.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.seq)))


def links(*, db: Session, project: Project) -> list[Link]:
    """The project's links."""
    return list(db.scalars(select(Link).where(Link.project_id == project.id).order_by(Link.id)))


def _task(db: Session, project: Project, task_id: int | None, field_name: str = "task") -> Task:
    task = db.get(Task, task_id) if task_id is not None else None
    if task is None or task.project_id != project.id:
        if field_name != "task":  # a task named in the body: an input error, not a missing page
            raise InvalidInput({field_name: "unknown_task"})
        raise NotFound(field_name)
    return task


def renumber(*, db: Session, project_id: int) -> None:
    """Recompute WBS codes (1.2.3) and the outline order; write the rows that changed."""
    rows = db.execute(
        select(Task.id, Task.parent_id, Task.position, Task.wbs, Task.seq)
        .where(Task.project_id == project_id)
        .order_by(Task.position, Task.id)
    ).all()
    children: dict[int | None, list[int]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row.id)
    codes: dict[int, tuple[str, int]] = {}
    stack: list[tuple[int | None, str]] = [(None, "")]
    order = 0
    while stack:
        parent, prefix = stack.pop()
        kids = children.get(parent, [])
        for n, kid in reversed(list(enumerate(kids, start=1))):
            stack.append((kid, f"{prefix}{n}."))
        if parent is not None:
            codes[parent] = (prefix.rstrip("."), order)
            order += 1
    changed = [
        {"_id": r.id, "_wbs": codes[r.id][0], "_seq": codes[r.id][1]}
        for r in rows
        if (r.wbs, r.seq) != codes.get(r.id, (r.wbs, r.seq))
    ]
    if changed:
        stmt = (
            update(_TABLE)
            .where(Task.__table__.c.id == bindparam("_id"))
            .values(wbs=bindparam("_wbs"), seq=bindparam("_seq"))
        )
        db.execute(stmt, changed, execution_options={"synchronize_session": False})
        for obj in list(db.identity_map.values()):
            if isinstance(obj, Task) and obj.project_id == project_id:
                db.expire(obj, ["wbs", "seq"])


def _siblings(db: Session, project_id: int, parent_id: int | None) -> list[Task]:
    stmt = select(Task).where(Task.project_id == project_id, Task.parent_id.is_(parent_id))
    if parent_id is not None:
        stmt = select(Task).where(Task.project_id == project_id, Task.parent_id == parent_id)
    return list(db.scalars(stmt.order_by(Task.position, Task.id)))


def apply_fields(task: Task, fields: TaskFields) -> None:
    """Set the task fields sent; a milestone has no duration; a dated constraint needs a date."""
    for key, value in fields.model_dump(exclude_unset=True).items():
        if value is None and key in ("name", "kind", "duration_days", "effort_hours"):
            continue
        if value is None and key in ("percent_complete", "constraint_type"):
            value = 0.0 if key == "percent_complete" else "ASAP"
        setattr(task, key, value)
    if task.kind == "milestone":
        task.duration_days = 0
    if task.constraint_type != "ASAP" and task.constraint_date is None:
        raise InvalidInput({"constraint_date": "required"})


def add_task(
    *, db: Session, project: Project, data: TaskCreate, reschedule_now: bool = True
) -> Task:
    """Append a task under its parent (or at the top level)."""
    if data.parent_id is not None:
        _task(db, project, data.parent_id, "parent_id")
    position = int(
        db.scalar(
            select(func.count(Task.id)).where(
                Task.project_id == project.id,
                Task.parent_id == data.parent_id
                if data.parent_id is not None
                else Task.parent_id.is_(None),
            )
        )
        or 0
    )
    task = Task(
        project_id=project.id,
        parent_id=data.parent_id,
        position=position,
        name=data.name,
        kind="task",
        duration_days=1,
        effort_hours=0.0,
        percent_complete=0.0,
        constraint_type="ASAP",
    )
    apply_fields(task, data)
    db.add(task)
    db.flush()
    renumber(db=db, project_id=project.id)
    if reschedule_now:
        reschedule(db=db, project=project)
    return task


def create_task(*, db: Session, project_id: int, data: TaskCreate, principal: Principal) -> Task:
    """A new task in a project the principal may edit; reschedules."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    return add_task(db=db, project=project, data=data)


def update_task(
    *, db: Session, project_id: int, task_id: int, data: TaskFields, principal: Principal
) -> Scheduled:
    """Change a task's fields (a drag sends its new start as an SNET constraint); reschedules
    and answers what the reschedule changed."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    task = _task(db, project, task_id)
    apply_fields(task, data)
    db.flush()
    return _quick(db, project, task) or reschedule(db=db, project=project)


def bulk_update(
    *, db: Session, project_id: int, task_ids: list[int], data: TaskFields, principal: Principal
) -> int:
    """The same changes to many tasks, with one reschedule; how many tasks changed."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    found = list(
        db.scalars(select(Task).where(Task.project_id == project.id, Task.id.in_(task_ids)))
    )
    if len(found) != len(set(task_ids)):
        raise InvalidInput({"task_ids": "unknown_task"})
    for task in found:
        apply_fields(task, data)
    db.flush()
    reschedule(db=db, project=project)
    return len(found)


def _descendants(db: Session, project_id: int, task_id: int) -> set[int]:
    pairs = db.execute(select(Task.id, Task.parent_id).where(Task.project_id == project_id)).all()
    children: dict[int, list[int]] = {}
    for tid, parent in pairs:
        if parent is not None:
            children.setdefault(parent, []).append(tid)
    found, stack = set(), [task_id]
    while stack:
        for kid in children.get(stack.pop(), []):
            found.add(kid)
            stack.append(kid)
    return found


def move_task(
    *,
    db: Session,
    project_id: int,
    task_id: int,
    parent_id: int | None,
    position: int,
    principal: Principal,
) -> Task:
    """Reorder, indent or outdent: put the task under ``parent_id`` at ``position``."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    task = _task(db, project, task_id)
    if parent_id is not None:
        _task(db, project, parent_id, "parent_id")
        if parent_id == task.id or parent_id in _descendants(db, project.id, task.id):
            raise InvalidInput({"parent_id": "inside_itself"})
    old_parent = task.parent_id
    task.parent_id = parent_id
    siblings = [t for t in _siblings(db, project.id, parent_id) if t.id != task.id]
    siblings.insert(min(position, len(siblings)), task)
    for index, sibling in enumerate(siblings):
        if sibling.position != index:
            sibling.position = index
    if old_parent != parent_id:
        for index, sibling in enumerate(_siblings(db, project.id, old_parent)):
            if sibling.id != task.id and sibling.position != index:
                sibling.position = index
    db.flush()
    renumber(db=db, project_id=project.id)
    reschedule(db=db, project=project)
    return task


def indent(*, db: Session, project_id: int, task_id: int, principal: Principal) -> Task:
    """Make a task the last child of the sibling above it."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    task = _task(db, project, task_id)
    above = [t for t in _siblings(db, project.id, task.parent_id) if t.position < task.position]
    if not above:
        raise InvalidInput({"task": "nothing_above"})
    new_parent = above[-1]
    count = len(_siblings(db, project.id, new_parent.id))
    return move_task(
        db=db,
        project_id=project_id,
        task_id=task_id,
        parent_id=new_parent.id,
        position=count,
        principal=principal,
    )


def outdent(*, db: Session, project_id: int, task_id: int, principal: Principal) -> Task:
    """Move a task up one level, just after its former parent."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    task = _task(db, project, task_id)
    if task.parent_id is None:
        raise InvalidInput({"task": "top_level"})
    parent = _task(db, project, task.parent_id)
    return move_task(
        db=db,
        project_id=project_id,
        task_id=task_id,
        parent_id=parent.parent_id,
        position=parent.position + 1,
        principal=principal,
    )


def delete_task(*, db: Session, project_id: int, task_id: int, principal: Principal) -> None:
    """Delete a task with its sub-tasks and links; reschedules."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    task = _task(db, project, task_id)
    doomed = [task.id, *_descendants(db, project.id, task.id)]
    for row in db.scalars(select(Task).where(Task.id.in_(doomed))):
        db.delete(row)
    db.flush()
    renumber(db=db, project_id=project.id)
    reschedule(db=db, project=project)


# --- links ---------------------------------------------------------------------------------


def add_link(
    *, db: Session, project: Project, data: LinkCreate, reschedule_now: bool = True
) -> Link:
    """A dependency between two tasks of the project; a loop is refused with its tasks named."""
    _task(db, project, data.pred_id, "pred_id")
    _task(db, project, data.succ_id, "succ_id")
    if data.pred_id == data.succ_id:
        raise InvalidInput({"succ_id": "same_task"})
    existing = db.scalar(
        select(Link.id).where(Link.pred_id == data.pred_id, Link.succ_id == data.succ_id)
    )
    if existing is not None:
        raise InvalidInput({"succ_id": "already_linked"})
    link = Link(project_id=project.id, **data.model_dump())
    db.add(link)
    db.flush()
    if reschedule_now:
        reschedule(db=db, project=project)
    return link


def create_link(*, db: Session, project_id: int, data: LinkCreate, principal: Principal) -> Link:
    """A new link in a project the principal may edit; reschedules."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    return add_link(db=db, project=project, data=data)


def delete_link(*, db: Session, project_id: int, link_id: int, principal: Principal) -> None:
    """Remove a link; reschedules."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    link = db.get(Link, link_id)
    if link is None or link.project_id != project.id:
        raise NotFound("link")
    db.delete(link)
    db.flush()
    reschedule(db=db, project=project)


# --- baselines -----------------------------------------------------------------------------


def planned_costs(*, db: Session, project: Project) -> dict[int, float]:
    """Each task's planned cost: effort hours × the unit-weighted rate of its resources."""
    rows = db.execute(
        select(Assignment.task_id, Assignment.units, Resource.cost_rate)
        .join(Resource, Resource.id == Assignment.resource_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(Task.project_id == project.id)
    ).all()
    weight: dict[int, list[float]] = {}
    for task_id, units, rate in rows:
        pair = weight.setdefault(task_id, [0.0, 0.0])
        pair[0] += float(units) * float(rate)
        pair[1] += float(units)
    efforts = dict(
        db.execute(select(Task.id, Task.effort_hours).where(Task.project_id == project.id)).all()
    )
    return {
        tid: (float(efforts.get(tid, 0.0)) * w[0] / w[1] if w[1] else 0.0)
        for tid, w in weight.items()
    }


def task_budgets(*, db: Session, project: Project, tasks_: Iterable[Task]) -> dict[int, float]:
    """Each work task's share of the budget at completion.

    With a project budget, the budget is spread by planned cost when every task has one,
    else by effort, else by duration; without a budget, a task's budget is its planned cost.
    """
    work = [t for t in tasks_ if t.kind != "summary"]
    costs = planned_costs(db=db, project=project)
    bac = float(project.budget)
    if not bac:
        return {t.id: costs.get(t.id, 0.0) for t in work}
    priced = {t.id: costs.get(t.id, 0.0) for t in work}
    for weights in (
        priced if all(priced.values()) else {},  # by cost only when every task is priced
        {t.id: float(t.effort_hours) for t in work},
        {t.id: float(t.duration_days) for t in work},
    ):
        total = sum(weights.values())
        if total > 0:
            return {tid: bac * w / total for tid, w in weights.items()}
    return {t.id: 0.0 for t in work}


def leaf_tasks(db: Session, project: Project) -> list[Task]:
    """The work tasks of a project: no summary, no task with sub-tasks."""
    all_tasks = tasks(db=db, project=project)
    parents = {t.parent_id for t in all_tasks if t.parent_id is not None}
    return [t for t in all_tasks if t.id not in parents and t.kind != "summary"]


def save_baseline(*, db: Session, project: Project, name: str) -> Baseline:
    """Snapshot the plan: per task dates, duration, effort and budget share."""
    leaves = leaf_tasks(db, project)
    budgets = task_budgets(db=db, project=project, tasks_=leaves)
    snapshot = {
        str(t.id): {
            "start": t.start_date.isoformat() if t.start_date else None,
            "finish": t.finish_date.isoformat() if t.finish_date else None,
            "duration": t.duration_days,
            "effort": t.effort_hours,
            "cost": round(budgets.get(t.id, 0.0), 2),
        }
        for t in leaves
    }
    baseline = Baseline(
        project_id=project.id,
        name=name.strip(),
        finish_date=project.finish_date,
        budget=project.budget,
        tasks=snapshot,
        created_by=None,
    )
    db.add(baseline)
    db.flush()
    return baseline


def create_baseline(*, db: Session, project_id: int, name: str, principal: Principal) -> Baseline:
    """Save a named baseline of a project the principal may edit."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    baseline = save_baseline(db=db, project=project, name=name)
    baseline.created_by = principal.user_id or None
    db.flush()
    return baseline


def baselines(*, db: Session, project: Project) -> list[Baseline]:
    """The project's baselines, newest first."""
    stmt = select(Baseline).where(Baseline.project_id == project.id)
    return list(db.scalars(stmt.order_by(Baseline.id.desc())))


def latest_baseline(*, db: Session, project: Project) -> Baseline | None:
    """The most recent baseline (the one EVM measures against)."""
    stmt = select(Baseline).where(Baseline.project_id == project.id)
    return db.scalar(stmt.order_by(Baseline.id.desc()).limit(1))


def actuals(*, db: Session, project: Project) -> dict[int, tuple[float, float]]:
    """Approved hours and actual cost per task (timesheets at their rate, plus expenses)."""
    found: dict[int, tuple[float, float]] = {}
    for task_id, hours, cost in db.execute(
        select(
            TimesheetEntry.task_id,
            func.sum(TimesheetEntry.hours),
            func.sum(TimesheetEntry.hours * TimesheetEntry.cost_rate),
        )
        .where(TimesheetEntry.project_id == project.id, TimesheetEntry.status == "approved")
        .group_by(TimesheetEntry.task_id)
    ):
        found[task_id] = (float(hours or 0), float(cost or 0))
    for expense_task, amount in db.execute(
        select(Expense.task_id, func.sum(Expense.amount))
        .where(Expense.project_id == project.id, Expense.task_id.is_not(None))
        .group_by(Expense.task_id)
    ):
        hours, cost = found.get(int(expense_task or 0), (0.0, 0.0))
        found[int(expense_task or 0)] = (hours, cost + float(amount or 0))
    return found


def actual_cost(*, db: Session, project: Project, until: date | None = None) -> float:
    """The project's actual cost: approved hours at their rates plus every expense."""
    hours = select(func.sum(TimesheetEntry.hours * TimesheetEntry.cost_rate)).where(
        TimesheetEntry.project_id == project.id, TimesheetEntry.status == "approved"
    )
    spent = select(func.sum(Expense.amount)).where(Expense.project_id == project.id)
    if until is not None:
        hours, spent = hours.where(TimesheetEntry.day <= until), spent.where(Expense.day <= until)
    return float(db.scalar(hours) or 0) + float(db.scalar(spent) or 0)


def _days_between(a: date | None, b: date | None) -> int | None:
    return (a - b).days if a is not None and b is not None else None


def compare(*, db: Session, project: Project, baseline_id: int | None = None) -> dict[str, Any]:
    """Plan vs baseline vs actual per task (dates, effort, cost) and for the project."""
    baseline = (
        db.get(Baseline, baseline_id) if baseline_id else latest_baseline(db=db, project=project)
    )
    if baseline is None or baseline.project_id != project.id:
        raise NotFound("baseline")
    leaves = leaf_tasks(db, project)
    costs, actual = planned_costs(db=db, project=project), actuals(db=db, project=project)
    rows = [_compare_task(t, baseline.tasks.get(str(t.id)), costs, actual) for t in leaves]
    totals = {
        "plan_finish": project.finish_date,
        "baseline_finish": baseline.finish_date,
        "finish_variance_days": _days_between(project.finish_date, baseline.finish_date),
        "plan_effort": sum(r["plan_effort"] for r in rows),
        "baseline_effort": sum(r["baseline_effort"] or 0 for r in rows),
        "actual_effort": sum(r["actual_effort"] for r in rows),
        "plan_cost": round(sum(r["plan_cost"] for r in rows), 2),
        "baseline_cost": round(sum(r["baseline_cost"] or 0 for r in rows), 2),
        "actual_cost": round(actual_cost(db=db, project=project), 2),
    }
    return {"baseline": baseline, "project": totals, "tasks": rows}


def _compare_task(
    task: Task,
    snap: dict[str, Any] | None,
    costs: dict[int, float],
    actual: dict[int, tuple[float, float]],
) -> dict[str, Any]:
    b_start = date.fromisoformat(snap["start"]) if snap and snap.get("start") else None
    b_finish = date.fromisoformat(snap["finish"]) if snap and snap.get("finish") else None
    hours, cost = actual.get(task.id, (0.0, 0.0))
    return {
        "task_id": task.id,
        "wbs": task.wbs,
        "name": task.name,
        "plan_start": task.start_date,
        "plan_finish": task.finish_date,
        "baseline_start": b_start,
        "baseline_finish": b_finish,
        "actual_start": task.actual_start,
        "actual_finish": task.actual_finish,
        "start_variance_days": _days_between(task.actual_start or task.start_date, b_start),
        "finish_variance_days": _days_between(task.actual_finish or task.finish_date, b_finish),
        "plan_effort": float(task.effort_hours),
        "baseline_effort": float(snap["effort"]) if snap else None,
        "actual_effort": hours,
        "plan_cost": round(costs.get(task.id, 0.0), 2),
        "baseline_cost": float(snap["cost"]) if snap else None,
        "actual_cost": round(cost, 2),
    }


def money(value: float) -> Decimal:
    """A float amount as money (two decimals)."""
    return Decimal(str(round(value, 2)))
