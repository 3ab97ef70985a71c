"""Import and export of a project's tasks and links: MS Project XML (MSPDI) and the CSV task
format, read and written by ``scheduling.formats``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from clientops.core.access import Principal
from clientops.exceptions import InvalidInput
from clientops.projects import plans
from clientops.projects import service as projects_service
from clientops.projects.models import Link, Project, Task
from clientops.projects.scheduling import formats
from clientops.projects.schemas import ProjectCreate

Format = Literal["mspdi", "csv"]


def _data(db: Session, project: Project) -> formats.ProjectData:
    """The project as the formats module's plan: tasks with outline, durations, links."""
    cal = plans.calendar_for(db=db, project=project)
    rows = []
    for task in plans.tasks(db=db, project=project):
        snet = None
        if task.constraint_type in ("SNET", "MSO") and task.constraint_date is not None:
            snet = cal.offset_of(task.constraint_date)
        rows.append(
            formats.TaskRow(
                uid=task.id,
                name=task.name,
                duration=task.duration_days,
                wbs=task.wbs,
                outline_level=task.wbs.count(".") + 1,
                summary=task.kind == "summary",
                milestone=task.kind == "milestone",
                start_no_earlier=snet,
            )
        )
    links = [
        formats.LinkRow(k.pred_id, k.succ_id, k.type, k.lag_days)
        for k in plans.links(db=db, project=project)
    ]
    return formats.ProjectData(
        name=project.name, tasks=rows, links=links, start=project.start_date, calendar=cal.calendar
    )


def export_plan(*, db: Session, project_id: int, fmt: Format, principal: Principal) -> bytes:
    """The project's plan as MSPDI XML or CSV bytes."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    data = _data(db, project)
    if fmt == "mspdi":
        return formats.write_mspdi(data, start=project.start_date, calendar=data.calendar)
    return formats.write_csv(data).encode("utf-8")


def read_file(path: Path) -> formats.ProjectData:
    """A plan file (.xml or .csv); a bad file is an input error naming where and why."""
    if path.suffix.lower() not in (".xml", ".mspdi", ".csv"):
        raise InvalidInput({"file": "use .xml (MS Project) or .csv"})
    try:
        return formats.read(path)
    except formats.FormatError as exc:
        raise InvalidInput({"file": str(exc)}) from exc


def import_plan(
    *,
    db: Session,
    data: formats.ProjectData,
    customer_id: int,
    principal: Principal,
    name: str | None = None,
    start: date | None = None,
) -> Project:
    """A new project for a customer holding the file's tasks, outline, links and
    start-no-earlier constraints; scheduled once at the end."""
    project = projects_service.create(
        db=db,
        data=ProjectCreate(
            customer_id=customer_id,
            name=(name or data.name or "Imported plan")[:200],
            start_date=start or data.start or date.today(),
        ),
        principal=principal,
    )
    cal = plans.calendar_for(db=db, project=project)
    created = _tasks(db, project, data, cal)
    for row in data.links:
        if row.pred in created and row.succ in created and row.pred != row.succ:
            db.add(
                Link(
                    project_id=project.id,
                    pred_id=created[row.pred].id,
                    succ_id=created[row.succ].id,
                    type=row.type,
                    lag_days=int(row.lag),
                )
            )
    db.flush()
    plans.renumber(db=db, project_id=project.id)
    plans.reschedule(db=db, project=project)
    return project


def _tasks(
    db: Session, project: Project, data: formats.ProjectData, cal: plans.WorkCalendar
) -> dict[object, Task]:
    """Create the tasks in file order; the outline level gives each its parent."""
    created: dict[object, Task] = {}
    stack: list[Task] = []
    counts: dict[int | None, int] = {}
    for row in data.tasks:
        level = max(int(row.outline_level or 1), 1)
        del stack[level - 1 :]
        parent = stack[-1] if stack else None
        parent_id = parent.id if parent is not None else None
        position = counts.get(parent_id, 0)
        counts[parent_id] = position + 1
        task = Task(
            project_id=project.id,
            parent_id=parent_id,
            position=position,
            name=(row.name or str(row.uid))[:200],
            kind="milestone" if row.milestone else ("summary" if row.summary else "task"),
            duration_days=0 if row.milestone else int(row.duration),
            effort_hours=0.0,
            percent_complete=0.0,
            constraint_type="SNET" if row.start_no_earlier else "ASAP",
            constraint_date=cal.date_of(row.start_no_earlier) if row.start_no_earlier else None,
            external_uid=str(row.uid)[:64],
        )
        db.add(task)
        db.flush()
        created[row.uid] = task
        stack.append(task)
    return created
