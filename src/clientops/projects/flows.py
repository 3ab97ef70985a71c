"""Multi-step project work across the project services: a project from a template, and an
applied change request (plan edits, reschedule, new baseline)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from clientops.core.access import Principal
from clientops.projects import governance, plans, service, templates_catalog
from clientops.projects.models import ChangeRequest, Project, RaciEntry, Risk, Task
from clientops.projects.schemas import LinkCreate, ProjectCreate, TaskCreate


def create_project(*, db: Session, data: ProjectCreate, principal: Principal) -> Project:
    """A new project; with a template, its phases, tasks, milestones, links, RACI and risks."""
    project = service.create(db=db, data=data, principal=principal)
    if data.template:
        apply_template(db=db, project=project, template=data.template)
    return project


def apply_template(*, db: Session, project: Project, template: str) -> None:
    """Create a template's plan in one step and schedule it once."""
    spec: dict[str, Any] = templates_catalog.TEMPLATES[template]
    created: list[Task] = []
    parents: dict[int, int | None] = {0: None}
    for level, name, phase, days, effort, kind in spec["tasks"]:
        data = TaskCreate(
            name=name,
            parent_id=parents.get(level - 1),
            phase=phase,
            kind=kind,
            duration_days=int(days),
            effort_hours=float(effort),
        )
        task = plans.add_task(db=db, project=project, data=data, reschedule_now=False)
        parents[level] = task.id
        created.append(task)
    for pred, succ in spec["links"]:
        link = LinkCreate(pred_id=created[pred].id, succ_id=created[succ].id)
        plans.add_link(db=db, project=project, data=link, reschedule_now=False)
    for deliverable, letters in spec["raci"]:
        for party, letter in letters.items():
            db.add(
                RaciEntry(
                    project_id=project.id, deliverable=deliverable, party=party, letter=letter
                )
            )
    for title, probability, impact, response in spec["risks"]:
        db.add(
            Risk(
                project_id=project.id,
                title=title,
                probability=probability,
                impact=impact,
                response=response,
                owner_id=project.pm_id,
            )
        )
    db.flush()
    plans.reschedule(db=db, project=project)


def apply_change(
    *, db: Session, project_id: int, change_id: int, principal: Principal
) -> ChangeRequest:
    """Apply an approved change: its task edits, a reschedule, then a new baseline."""
    change, project = governance.approved_change(
        db=db, project_id=project_id, change_id=change_id, principal=principal
    )
    for edit in change.edits:
        governance.apply_edit(db=db, project=project, edit=edit)
    if change.cost_impact:
        project.budget = project.budget + change.cost_impact
    db.flush()
    plans.reschedule(db=db, project=project)
    baseline = plans.save_baseline(
        db=db, project=project, name=f"CR-{change.id}: {change.title}"[:120]
    )
    baseline.created_by = principal.user_id or None
    governance.mark_applied(db=db, change=change, baseline_id=baseline.id)
    return change
