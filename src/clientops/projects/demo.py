"""Projects for the demo company: one per template, each at a different point of its life, so
that the project pages, the Gantt chart, earned value and the customer 360 panel show something
on the first start."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clientops.core.access import Principal
from clientops.customers.models import Customer
from clientops.projects import flows, plans
from clientops.projects.models import Project
from clientops.projects.schemas import ProjectCreate, TaskFields

# (template, name, start relative to today in days, budget in CNY)
DEMO_PROJECTS = (
    ("implementation", "CRM 系统实施 CRM rollout", -75, Decimal("480000")),
    ("consulting", "客户运营诊断 Customer operations review", -20, Decimal("160000")),
    ("onboarding", "支持服务上线 Support onboarding", 10, Decimal("60000")),
)


def load_demo(*, db: Session, principal: Principal, pm_id: int | None, today: date) -> int:
    """Create the demo projects for the first company customers, with a baseline and the
    progress a plan started on that day would have; how many were created."""
    companies = db.scalars(
        select(Customer.id).where(Customer.kind == "company").order_by(Customer.id).limit(3)
    ).all()
    for customer_id, (template, name, offset, budget) in zip(
        companies, DEMO_PROJECTS, strict=False
    ):
        data = ProjectCreate(
            customer_id=customer_id, name=name, template=template, pm_id=pm_id,
            start_date=today + timedelta(days=offset), budget=budget,
        )  # fmt: skip
        project = flows.create_project(db=db, data=data, principal=principal)
        plans.create_baseline(db=db, project_id=project.id, name="Plan", principal=principal)
        _progress(db, project, principal, today)
    return min(len(companies), len(DEMO_PROJECTS))


def _progress(db: Session, project: Project, principal: Principal, today: date) -> None:
    """Tasks planned to finish before today are done; the one under way is half done."""
    for task in plans.leaf_tasks(db, project):
        start, finish = task.start_date, task.finish_date
        if start is None or finish is None or start > today:
            continue
        done = finish < today
        fields = TaskFields(
            percent_complete=100 if done else 50,
            actual_start=start,
            actual_finish=finish if done else None,
        )
        plans.update_task(
            db=db, project_id=project.id, task_id=task.id, data=fields, principal=principal
        )
