"""Budget lines, expenses, earned value and S-curves, and the budget rule alert.

PV comes from the latest baseline (each task's budget share spread over its baseline working
days), EV from the tasks' % complete today, AC from approved timesheets at their rates plus
expenses. The formulas are ``control.evm``'s.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clientops.config import current as current_settings
from clientops.core.access import Principal
from clientops.exceptions import NotFound
from clientops.projects import plans
from clientops.projects import service as projects_service
from clientops.projects.control import evm
from clientops.projects.models import BudgetLine, Expense, Project, Task, TimesheetEntry
from clientops.projects.schemas import BudgetLineIn, ExpenseIn


def budget_lines(*, db: Session, project: Project) -> list[BudgetLine]:
    """The budget lines of a project."""
    stmt = select(BudgetLine).where(BudgetLine.project_id == project.id)
    return list(db.scalars(stmt.order_by(BudgetLine.phase, BudgetLine.category)))


def add_budget_line(
    *, db: Session, project_id: int, data: BudgetLineIn, principal: Principal
) -> BudgetLine:
    """A budget line; the project's budget becomes the sum of its lines."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    line = BudgetLine(project_id=project.id, **data.model_dump())
    db.add(line)
    db.flush()
    total = db.scalar(
        select(func.sum(BudgetLine.amount)).where(BudgetLine.project_id == project.id)
    )
    project.budget = Decimal(total or 0)
    db.flush()
    return line


def delete_budget_line(*, db: Session, project_id: int, line_id: int, principal: Principal) -> None:
    """Remove a budget line; the budget follows."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    line = db.get(BudgetLine, line_id)
    if line is None or line.project_id != project.id:
        raise NotFound("budget_line")
    db.delete(line)
    db.flush()
    total = db.scalar(
        select(func.sum(BudgetLine.amount)).where(BudgetLine.project_id == project.id)
    )
    project.budget = Decimal(total or 0)
    db.flush()


def expenses(*, db: Session, project: Project) -> list[Expense]:
    """The project's expenses, newest first."""
    stmt = select(Expense).where(Expense.project_id == project.id)
    return list(db.scalars(stmt.order_by(Expense.day.desc(), Expense.id.desc())))


def add_expense(*, db: Session, project_id: int, data: ExpenseIn, principal: Principal) -> Expense:
    """Record a cost incurred outside timesheets."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    if data.task_id is not None:
        task = db.get(Task, data.task_id)
        if task is None or task.project_id != project.id:
            raise NotFound("task")
    expense = Expense(project_id=project.id, **data.model_dump())
    db.add(expense)
    db.flush()
    return expense


def budget_by(*, db: Session, project: Project) -> dict[str, Any]:
    """Budget by phase and by category, with actual cost by category."""
    by_phase: dict[str, float] = {}
    by_category: dict[str, float] = {}
    for line in budget_lines(db=db, project=project):
        by_phase[line.phase or "-"] = by_phase.get(line.phase or "-", 0.0) + float(line.amount)
        by_category[line.category] = by_category.get(line.category, 0.0) + float(line.amount)
    labour = float(
        db.scalar(
            select(func.sum(TimesheetEntry.hours * TimesheetEntry.cost_rate)).where(
                TimesheetEntry.project_id == project.id, TimesheetEntry.status == "approved"
            )
        )
        or 0
    )
    actual: dict[str, float] = {"labour": labour}
    for category, amount in db.execute(
        select(Expense.category, func.sum(Expense.amount))
        .where(Expense.project_id == project.id)
        .group_by(Expense.category)
    ):
        actual[category] = actual.get(category, 0.0) + float(amount or 0)
    return {"by_phase": by_phase, "by_category": by_category, "actual_by_category": actual}


def _task_budgets(db: Session, project: Project) -> list[evm.TaskBudget]:
    """The baseline's tasks with today's % complete (no baseline: the current plan)."""
    baseline = plans.latest_baseline(db=db, project=project)
    leaves = {t.id: t for t in plans.leaf_tasks(db, project)}
    if baseline is not None:
        snap = baseline.tasks
    else:
        budgets = plans.task_budgets(db=db, project=project, tasks_=leaves.values())
        snap = {
            str(t.id): {
                "start": t.start_date.isoformat() if t.start_date else None,
                "finish": t.finish_date.isoformat() if t.finish_date else None,
                "cost": budgets.get(t.id, 0.0),
            }
            for t in leaves.values()
        }
    found = []
    for key, item in snap.items():
        if not item.get("start") or not item.get("finish"):
            continue
        task = leaves.get(int(key))
        found.append(
            evm.TaskBudget(
                budget=float(item["cost"]),
                baseline_start=date.fromisoformat(item["start"]),
                baseline_finish=date.fromisoformat(item["finish"]),
                percent_complete=task.percent_complete if task else 100.0,
                id=key,
            )
        )
    return found


def budget_rule() -> evm.BudgetRule:
    """The configured budget rule (``projects_budget_tolerance``, default ±5%)."""
    return evm.BudgetRule(threshold=current_settings().projects_budget_tolerance)


def figures(*, db: Session, project: Project, status_date: date | None = None) -> evm.EvmFigures:
    """EVM and earned schedule figures of a project at the status date (default today)."""
    day = status_date or date.today()
    cal = plans.calendar_for(db=db, project=project)
    baseline = plans.latest_baseline(db=db, project=project)
    bac = float(baseline.budget) if baseline is not None and baseline.budget else None
    return evm.compute(
        tasks=_task_budgets(db, project),
        actual_cost=plans.actual_cost(db=db, project=project, until=day),
        status_date=day,
        bac=bac,
        is_working_day=cal.is_working,
        budget_rule=budget_rule(),
    )


def evm_read(
    *, db: Session, project_id: int, principal: Principal, status_date: date | None = None
) -> dict[str, Any]:
    """The EVM figures as plain data, with the budget rule's verdict."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    return asdict(figures(db=db, project=project, status_date=status_date))


def cost_events(*, db: Session, project: Project) -> list[tuple[date, float]]:
    """Actual costs as booked: approved hours per day at their rates, and expenses."""
    labour = db.execute(
        select(TimesheetEntry.day, func.sum(TimesheetEntry.hours * TimesheetEntry.cost_rate))
        .where(TimesheetEntry.project_id == project.id, TimesheetEntry.status == "approved")
        .group_by(TimesheetEntry.day)
    ).all()
    spent = db.execute(
        select(Expense.day, func.sum(Expense.amount))
        .where(Expense.project_id == project.id)
        .group_by(Expense.day)
    ).all()
    events = [(day, float(amount or 0)) for day, amount in labour]
    events += [(day, float(amount or 0)) for day, amount in spent]
    return sorted(events)


def s_curve(
    *,
    db: Session,
    project_id: int,
    principal: Principal,
    period: evm.Period = "week",
    status_date: date | None = None,
) -> list[dict[str, Any]]:
    """PV, EV and AC per period and cumulative, for the S-curve chart."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    day = status_date or date.today()
    points = curve_points(db=db, project=project, status_date=day, period=period)
    return [asdict(p) for p in points]


def curve_points(
    *, db: Session, project: Project, status_date: date, period: evm.Period = "week"
) -> list[evm.SCurvePoint]:
    """The S-curve of a project already checked for access (status reports keep a copy)."""
    cal = plans.calendar_for(db=db, project=project)
    tasks = _task_budgets(db, project)
    curve = evm.planned_curve(tasks=tasks, is_working_day=cal.is_working)
    earned = [(status_date, evm.earned_value(tasks))]
    return evm.s_curve(
        curve=curve, status_date=status_date, earned=earned,
        costs=cost_events(db=db, project=project), period=period,
    )  # fmt: skip
