"""Risks (probability × impact), the issues log, change requests and the RACI matrix."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from clientops.core.access import Principal
from clientops.db import utcnow
from clientops.exceptions import InvalidInput, NotFound
from clientops.projects import plans
from clientops.projects import service as projects_service
from clientops.projects.models import ChangeRequest, Issue, Project, RaciEntry, Risk, Task
from clientops.projects.schemas import (
    ChangeRequestIn,
    IssueIn,
    RaciIn,
    RiskIn,
    TaskCreate,
    TaskEdit,
    TaskFields,
)

Row = TypeVar("Row", Risk, Issue, ChangeRequest)


def _owned(db: Session, model: type[Row], project: Project, row_id: int) -> Row:
    row = db.get(model, row_id)
    if row is None or row.project_id != project.id:
        raise NotFound(model.__tablename__)
    return row


# --- risks and issues ----------------------------------------------------------------------


def risks(*, db: Session, project: Project) -> list[Risk]:
    """The risk register, highest score first."""
    rows = db.scalars(select(Risk).where(Risk.project_id == project.id))
    return sorted(rows, key=lambda r: (-(r.probability * r.impact), r.id))


def risk_read(risk: Risk) -> dict[str, Any]:
    """A risk with its score."""
    data = {c.key: getattr(risk, c.key) for c in Risk.__table__.columns}
    data["score"] = risk.probability * risk.impact
    return data


def heat_map(*, db: Session, project: Project) -> list[list[int]]:
    """Open risks counted by impact (rows 5..1) and probability (columns 1..5)."""
    grid = [[0] * 5 for _ in range(5)]
    for risk in risks(db=db, project=project):
        if risk.status != "closed":
            grid[5 - risk.impact][risk.probability - 1] += 1
    return grid


def save_risk(
    *, db: Session, project_id: int, data: RiskIn, principal: Principal, risk_id: int | None = None
) -> Risk:
    """Create a risk (``risk_id`` None) or change the fields sent."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    values = data.model_dump(exclude_unset=True)
    if risk_id is None:
        if not values.get("title"):
            raise InvalidInput({"title": "required"})
        risk = Risk(project_id=project.id, owner_id=project.pm_id)
        db.add(risk)
    else:
        risk = _owned(db, Risk, project, risk_id)
    for key, value in values.items():
        if value is not None or key in ("owner_id", "review_on", "trigger", "response"):
            setattr(risk, key, value)
    db.flush()
    return risk


def issues(*, db: Session, project: Project) -> list[Issue]:
    """The issues log, newest first."""
    stmt = select(Issue).where(Issue.project_id == project.id)
    return list(db.scalars(stmt.order_by(Issue.id.desc())))


def save_issue(
    *,
    db: Session,
    project_id: int,
    data: IssueIn,
    principal: Principal,
    issue_id: int | None = None,
) -> Issue:
    """Log an issue (``issue_id`` None) or change the fields sent."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    values = data.model_dump(exclude_unset=True)
    if issue_id is None:
        if not values.get("title"):
            raise InvalidInput({"title": "required"})
        issue = Issue(project_id=project.id)
        db.add(issue)
    else:
        issue = _owned(db, Issue, project, issue_id)
    for key, value in values.items():
        if value is not None or key in ("owner_id", "due_on"):
            setattr(issue, key, value)
    db.flush()
    return issue


# --- change requests -----------------------------------------------------------------------


def changes(*, db: Session, project: Project) -> list[ChangeRequest]:
    """The change requests, newest first."""
    stmt = select(ChangeRequest).where(ChangeRequest.project_id == project.id)
    return list(db.scalars(stmt.order_by(ChangeRequest.id.desc())))


def create_change(
    *, db: Session, project_id: int, data: ChangeRequestIn, principal: Principal
) -> ChangeRequest:
    """A draft change request with its impact and plan edits."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    for edit in data.edits:
        if edit.task_id is not None:
            plans_task(db, project, edit.task_id)
    change = ChangeRequest(
        project_id=project.id,
        requested_by=principal.user_id or None,
        **data.model_dump(exclude={"edits"}),
        edits=[e.model_dump(mode="json", exclude_unset=True) for e in data.edits],
    )
    db.add(change)
    db.flush()
    return change


def plans_task(db: Session, project: Project, task_id: int) -> Task:
    """A task of the project, or ``NotFound``."""
    task = db.get(Task, task_id)
    if task is None or task.project_id != project.id:
        raise NotFound("task")
    return task


def submit_change(
    *, db: Session, project_id: int, change_id: int, principal: Principal
) -> ChangeRequest:
    """Send a draft change request for a decision."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    change = _owned(db, ChangeRequest, project, change_id)
    if change.status != "draft":
        raise InvalidInput({"status": f"not_draft:{change.status}"})
    change.status = "submitted"
    db.flush()
    return change


def decide_change(
    *,
    db: Session,
    project_id: int,
    change_id: int,
    approve: bool,
    note: str | None,
    principal: Principal,
) -> ChangeRequest:
    """Approve or reject a submitted change request (``projects:approve``)."""
    project = projects_service.get(
        db=db, project_id=project_id, principal=principal, permission="projects:approve"
    )
    change = _owned(db, ChangeRequest, project, change_id)
    if change.status != "submitted":
        raise InvalidInput({"status": f"not_submitted:{change.status}"})
    change.status = "approved" if approve else "rejected"
    change.decided_by, change.decided_at, change.decision_note = (
        principal.user_id or None,
        utcnow(),
        note,
    )
    db.flush()
    return change


def approved_change(
    *, db: Session, project_id: int, change_id: int, principal: Principal
) -> tuple[ChangeRequest, Project]:
    """An approved, not yet applied change request and its project, for applying."""
    projects_service.require(principal, "projects:approve")
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    change = _owned(db, ChangeRequest, project, change_id)
    if change.status != "approved":
        raise InvalidInput({"status": f"not_approved:{change.status}"})
    return change, project


def apply_edit(*, db: Session, project: Project, edit: dict[str, Any]) -> None:
    """One plan edit of a change request: change a task, or add one."""
    parsed = TaskEdit.model_validate(edit)
    if parsed.task_id is None:
        fields = parsed.fields.model_dump(exclude_unset=True)
        if not fields.get("name"):
            raise InvalidInput({"edits": "name_required"})
        data = TaskCreate(parent_id=parsed.parent_id, **fields)
        plans.add_task(db=db, project=project, data=data, reschedule_now=False)
        return
    task = plans_task(db, project, parsed.task_id)
    plans.apply_fields(
        task, TaskFields.model_validate(parsed.fields.model_dump(exclude_unset=True))
    )


def mark_applied(*, db: Session, change: ChangeRequest, baseline_id: int) -> None:
    """Record that a change was applied and which baseline it produced."""
    change.status, change.baseline_id = "applied", baseline_id
    db.flush()


# --- RACI ----------------------------------------------------------------------------------


def raci(*, db: Session, project: Project) -> list[RaciEntry]:
    """The RACI cells, by deliverable then party."""
    stmt = select(RaciEntry).where(RaciEntry.project_id == project.id)
    return list(db.scalars(stmt.order_by(RaciEntry.deliverable, RaciEntry.party)))


def set_raci(*, db: Session, project_id: int, data: RaciIn, principal: Principal) -> None:
    """Set one RACI cell; a deliverable has exactly one A."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    cell = db.scalar(
        select(RaciEntry).where(
            RaciEntry.project_id == project.id,
            RaciEntry.deliverable == data.deliverable,
            RaciEntry.party == data.party,
        )
    )
    if data.letter is None:
        if cell is not None:
            db.delete(cell)
        db.flush()
        return
    if data.letter == "A":
        for other in raci(db=db, project=project):
            if other.deliverable == data.deliverable and other.letter == "A" and other is not cell:
                other.letter = "R"  # the accountable party moves; the former one stays responsible
    if cell is None:
        cell = RaciEntry(project_id=project.id, deliverable=data.deliverable, party=data.party)
        db.add(cell)
    cell.letter, cell.user_id = data.letter, data.user_id
    db.flush()
