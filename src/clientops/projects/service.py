"""Projects themselves: per-record access, create/update, team, phases and their gates.

A project is visible to whoever may see its customer (team scope, see the customers
service) and to its manager and team members. Plans, resources, costs, governance and
reports live in sibling modules that reach projects through ``get``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from clientops.auth import service as auth_service
from clientops.core.access import Principal
from clientops.core.i18n import gettext as _
from clientops.core.pagination import decode_cursor, encode_cursor
from clientops.customers import service as customers_service
from clientops.customers.models import Customer
from clientops.db import utcnow
from clientops.exceptions import Forbidden, InvalidInput, NotFound
from clientops.projects import templates_catalog
from clientops.projects.models import (
    PHASES,
    Baseline,
    BudgetLine,
    ChangeRequest,
    Closure,
    Handover,
    Project,
    ProjectMember,
    ProjectPhase,
    Risk,
    StatusReport,
    Survey,
    Task,
    TimesheetEntry,
)
from clientops.projects.schemas import MemberIn, ProjectCreate, ProjectUpdate

AnySelect = TypeVar("AnySelect", bound=Select[Any])
translate = _  # for labels kept as data (marked with N_ where they are written)


# --- access --------------------------------------------------------------------------------


def require(principal: Principal, permission: str) -> None:
    """Raise ``Forbidden`` unless the principal holds ``permission``."""
    if not principal.can(permission):
        raise Forbidden(permission)


def restrict(stmt: AnySelect, principal: Principal) -> AnySelect:
    """Limit a project query to those the principal may see (no-op when it sees all)."""
    if principal.sees_all:
        return stmt
    customers = customers_service.restrict(select(Customer.id), principal)
    on_team = exists().where(
        ProjectMember.project_id == Project.id, ProjectMember.user_id == principal.user_id
    )
    return stmt.where(
        or_(Project.customer_id.in_(customers), Project.pm_id == principal.user_id, on_team)
    )


def get(
    *, db: Session, project_id: int, principal: Principal, permission: str = "projects:read"
) -> Project:
    """A project the principal may see and act on with ``permission``; ``NotFound`` otherwise."""
    require(principal, "projects:read")
    project = db.scalar(restrict(select(Project).where(Project.id == project_id), principal))
    if project is None:
        raise NotFound("project")
    require(principal, permission)
    return project


def get_for_update(*, db: Session, project_id: int, principal: Principal) -> Project:
    """A project the principal may edit; closed and cancelled projects are read-only."""
    project = get(db=db, project_id=project_id, principal=principal, permission="projects:write")
    if project.status in ("closed", "cancelled"):
        raise InvalidInput({"project": "closed"})
    return project


# --- reading -------------------------------------------------------------------------------


def list_page(
    *,
    db: Session,
    principal: Principal,
    customer_id: int | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 25,
) -> tuple[list[Project], str | None]:
    """Visible projects, newest first, one keyset page and the next cursor."""
    require(principal, "projects:read")
    stmt = restrict(select(Project), principal)
    if customer_id is not None:
        stmt = stmt.where(Project.customer_id == customer_id)
    if status:
        stmt = stmt.where(Project.status == status)
    if cursor:
        after = decode_cursor(cursor)
        stmt = stmt.where(Project.id < int(after[1]))
    rows = list(db.scalars(stmt.order_by(Project.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(["id", rows[limit - 1].id])


def for_customer(*, db: Session, customer_id: int, principal: Principal) -> list[dict[str, Any]]:
    """The projects of a customer (and of its contacts' account) for the customer 360 panel."""
    if not principal.can("projects:read"):
        return []
    stmt = restrict(select(Project), principal).where(Project.customer_id == customer_id)
    return [
        {
            "id": p.id,
            "name": p.name,
            "status": p.status,
            "phase": p.phase,
            "start_date": p.start_date,
            "target_date": p.target_date,
            "finish_date": p.finish_date,
            "rag": p.rag_override,
        }
        for p in db.scalars(stmt.order_by(Project.start_date.desc()).limit(50))
    ]


def members(*, db: Session, project: Project) -> list[dict[str, Any]]:
    """The team: user id, role and display name."""
    rows = db.execute(
        select(ProjectMember.user_id, ProjectMember.role).where(
            ProjectMember.project_id == project.id
        )
    ).all()
    users = {u.id: u for u in auth_service.list_users(db=db)}
    return [
        {
            "user_id": uid,
            "role": role,
            "name": users[uid].display_name or users[uid].username if uid in users else "",
        }
        for uid, role in rows
    ]


def phases(*, db: Session, project: Project) -> list[dict[str, Any]]:
    """The five phases of a project, in order; open gates evaluated against the data now."""
    rows = db.scalars(
        select(ProjectPhase)
        .where(ProjectPhase.project_id == project.id)
        .order_by(ProjectPhase.position)
    )
    facts = gate_facts(db=db, project=project)
    return [
        {
            "key": p.key,
            "position": p.position,
            "status": p.status,
            "checklist": [
                {**i, "label": translate(i["label"])}
                for i in (_evaluated(p.checklist, facts) if p.status == "open" else p.checklist)
            ],
            "closed_at": p.closed_at,
        }
        for p in rows
    ]


def detail(*, db: Session, project: Project) -> dict[str, Any]:
    """The project with its team and phases, as the API returns it."""
    data = {c.key: getattr(project, c.key) for c in Project.__table__.columns}
    data["members"] = members(db=db, project=project)
    data["phases"] = phases(db=db, project=project)
    return data


# --- writing -------------------------------------------------------------------------------


def _check_user(db: Session, user_id: int | None, field: str) -> None:
    if user_id is not None and not auth_service.exists(db=db, user_id=user_id):
        raise InvalidInput({field: "unknown_user"})


def _check_dates(start: date, target: date | None) -> None:
    if target is not None and target < start:
        raise InvalidInput({"target_date": "before_start"})


def create(*, db: Session, data: ProjectCreate, principal: Principal) -> Project:
    """A new project for a customer the principal may see, with its five phases and team."""
    require(principal, "projects:write")
    customer = customers_service.get(db=db, customer_id=data.customer_id, principal=principal)
    if data.template is not None and data.template not in templates_catalog.TEMPLATES:
        raise InvalidInput({"template": "unknown_template"})
    _check_user(db, data.pm_id, "pm_id")
    _check_dates(data.start_date, data.target_date)
    values = data.model_dump(exclude={"template", "members", "customer_id"})
    values["pm_id"] = data.pm_id or (principal.user_id or None)
    project = Project(customer_id=customer.id, project_type=data.template, **values)
    db.add(project)
    db.flush()
    for position, key in enumerate(PHASES):
        checklist = [
            {"key": k, "label": label, "done": False, "auto": auto}
            for k, label, auto in templates_catalog.GATES[key]
        ]
        db.add(ProjectPhase(project_id=project.id, key=key, position=position, checklist=checklist))
    _set_members(db, project, data.members)
    db.flush()
    return project


def update(*, db: Session, project_id: int, data: ProjectUpdate, principal: Principal) -> Project:
    """Change the fields sent; a changed start date or calendar reschedules (by the caller)."""
    project = get_for_update(db=db, project_id=project_id, principal=principal)
    changes = data.model_dump(exclude_unset=True, exclude={"members"})
    _check_user(db, changes.get("pm_id"), "pm_id")
    if changes.get("status") == "closed":
        raise InvalidInput({"status": "close_through_gate"})
    for key, value in changes.items():
        if value is None and key in ("name", "start_date", "budget", "status", "cn_holidays"):
            continue
        setattr(project, key, value)
    _check_dates(project.start_date, project.target_date)
    if data.members is not None:
        _set_members(db, project, data.members)
    db.flush()
    return project


def _set_members(db: Session, project: Project, wanted: list[MemberIn]) -> None:
    """Make the team exactly ``wanted`` (one role per user; the last one given wins)."""
    roles = {m.user_id: m.role for m in wanted}
    for user_id in roles:
        _check_user(db, user_id, "members")
    current = {
        m.user_id: m
        for m in db.scalars(select(ProjectMember).where(ProjectMember.project_id == project.id))
    }
    for user_id, member in current.items():
        if user_id not in roles:
            db.delete(member)
        elif member.role != roles[user_id]:
            member.role = roles[user_id]
    for user_id, role in roles.items():
        if user_id not in current:
            db.add(ProjectMember(project_id=project.id, user_id=user_id, role=role))


def delete(*, db: Session, project_id: int, principal: Principal) -> None:
    """Delete a project and everything in it."""
    project = get(db=db, project_id=project_id, principal=principal, permission="projects:write")
    db.delete(project)
    db.flush()


def set_rag_override(
    *, db: Session, project_id: int, rag: str | None, reason: str | None, principal: Principal
) -> Project:
    """Override the computed RAG health (a reason is required), or clear the override."""
    project = get(db=db, project_id=project_id, principal=principal, permission="projects:write")
    if rag is not None and not (reason and reason.strip()):
        raise InvalidInput({"reason": "required"})
    project.rag_override = rag
    project.rag_reason = reason.strip() if rag is not None and reason else None
    project.rag_override_by = principal.user_id if rag is not None else None
    db.flush()
    return project


# --- phases and gates ----------------------------------------------------------------------


def _count(db: Session, stmt: Select[Any]) -> int:
    return int(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def gate_facts(*, db: Session, project: Project) -> dict[str, bool]:
    """Which automatic gate items the project's data satisfies."""
    pid = project.id
    tasks = select(Task.id).where(Task.project_id == pid, Task.kind != "summary")
    open_tasks = tasks.where(Task.percent_complete < 100)
    pending_changes = select(ChangeRequest.id).where(
        ChangeRequest.project_id == pid, ChangeRequest.status == "submitted"
    )
    pending_hours = select(TimesheetEntry.id).where(
        TimesheetEntry.project_id == pid, TimesheetEntry.status == "submitted"
    )
    closure = db.scalar(select(Closure).where(Closure.project_id == pid))
    return {
        "goal": bool(project.goal and project.scope),
        "manager": project.pm_id is not None,
        "team": _count(db, select(ProjectMember.id).where(ProjectMember.project_id == pid)) > 0,
        "wbs": _count(db, tasks) > 0,
        "budget": project.budget > 0
        or _count(db, select(BudgetLine.id).where(BudgetLine.project_id == pid)) > 0,
        "risks": _count(db, select(Risk.id).where(Risk.project_id == pid)) > 0,
        "baseline": _count(db, select(Baseline.id).where(Baseline.project_id == pid)) > 0,
        "work_done": _count(db, tasks) > 0 and _count(db, open_tasks) == 0,
        "status_report": _count(
            db,
            select(StatusReport.id).where(
                StatusReport.project_id == pid, StatusReport.status == "published"
            ),
        )
        > 0,
        "changes_decided": _count(db, pending_changes) == 0,
        "timesheets_approved": _count(db, pending_hours) == 0,
        "evaluation": closure is not None,
        "lessons": closure is not None and bool(closure.lessons),
        "handover": _count(db, select(Handover.id).where(Handover.project_id == pid)) > 0,
        "csat": _count(db, select(Survey.id).where(Survey.project_id == pid)) > 0,
    }


def _evaluated(checklist: list[dict[str, Any]], facts: dict[str, bool]) -> list[dict[str, Any]]:
    return [
        {**item, "done": facts.get(item["key"], False)} if item["auto"] else dict(item)
        for item in checklist
    ]


def _phase(db: Session, project: Project, key: str) -> ProjectPhase:
    phase = db.scalar(
        select(ProjectPhase).where(ProjectPhase.project_id == project.id, ProjectPhase.key == key)
    )
    if phase is None:
        raise NotFound("phase")
    return phase


def tick(
    *, db: Session, project_id: int, phase: str, key: str, done: bool, principal: Principal
) -> ProjectPhase:
    """Tick or untick a manual item of an open phase's gate."""
    project = get_for_update(db=db, project_id=project_id, principal=principal)
    row = _phase(db, project, phase)
    items = [dict(i) for i in row.checklist]
    item = next((i for i in items if i["key"] == key), None)
    if item is None or item["auto"]:
        raise InvalidInput({"key": "not_a_manual_item"})
    if row.status != "open":
        raise InvalidInput({"phase": "closed"})
    item["done"] = done
    row.checklist = items
    db.flush()
    return row


def close_phase(*, db: Session, project_id: int, phase: str, principal: Principal) -> Project:
    """Close the current phase's gate and move on; refused with the unmet items listed."""
    project = get_for_update(db=db, project_id=project_id, principal=principal)
    if phase != project.phase:
        raise InvalidInput({"phase": f"not_current:{project.phase}"})
    row = _phase(db, project, phase)
    checklist = _evaluated(row.checklist, gate_facts(db=db, project=project))
    unmet = {f"gate.{i['key']}": translate(i["label"]) for i in checklist if not i["done"]}
    if unmet:
        raise InvalidInput(unmet)
    row.checklist, row.status = checklist, "closed"
    row.closed_at, row.closed_by = utcnow(), principal.user_id or None
    index = PHASES.index(phase)
    if index + 1 < len(PHASES):
        project.phase = PHASES[index + 1]
    else:
        project.status, project.closed_at = "closed", utcnow()
    db.flush()
    return project
