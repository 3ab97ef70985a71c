"""Weekly status reports (generated, edited, published, PDF), RAG health, the DCMA 14-point
assessment, and closure: evaluation, lessons, CSAT surveys and the hand-over to operations."""

from __future__ import annotations

import secrets
from collections.abc import Hashable
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clientops.analytics import service as analytics_service
from clientops.core.access import Principal
from clientops.core.i18n import gettext as _
from clientops.customers import service as customers_service
from clientops.customers.models import Customer
from clientops.customers.schemas import ActivityCreate
from clientops.db import utcnow
from clientops.exceptions import Conflict, InvalidInput, NotFound
from clientops.projects import costs, governance, plans, templates_catalog
from clientops.projects import service as projects_service
from clientops.projects.control import dcma, evm, rag, report_pdf
from clientops.projects.models import (
    Assignment,
    ChangeRequest,
    Closure,
    Handover,
    Issue,
    Project,
    Risk,
    StatusReport,
    Survey,
    Task,
)
from clientops.projects.schemas import ClosureIn, HandoverIn, StatusReportUpdate, SurveyAnswer

HIGH_RISK_SCORE = 15  # probability × impact from which an open risk counts as high
TOP_RISKS = 5


# --- RAG -----------------------------------------------------------------------------------


def csat(*, db: Session, project: Project) -> float | None:
    """The mean satisfaction score of the project's answered surveys."""
    value = db.scalar(
        select(func.avg(Survey.score)).where(
            Survey.project_id == project.id, Survey.score.is_not(None)
        )
    )
    return float(value) if value is not None else None


def health(*, db: Session, project: Project, figures: evm.EvmFigures | None = None) -> rag.Rag:
    """RAG from schedule, cost, risk and customer signals, with the PM's override if any."""
    figures = figures or costs.figures(db=db, project=project)
    baseline = plans.latest_baseline(db=db, project=project)
    reference = baseline.finish_date if baseline is not None else project.target_date
    slip = None
    if project.finish_date and reference:
        # In working days, as the RAG thresholds are: a slip over a holiday week is no slip.
        table = plans.calendar_for(db=db, project=project).table
        slip = float(table.offset_of(project.finish_date) - table.offset_of(reference))
    high = db.scalar(
        select(func.count(Risk.id)).where(
            Risk.project_id == project.id,
            Risk.status != "closed",
            Risk.probability * Risk.impact >= HIGH_RISK_SCORE,
        )
    )
    override = None
    if project.rag_override:
        override = rag.RagOverride(
            colour=project.rag_override,  # type: ignore[arg-type]
            reason=project.rag_reason or "",
            by=str(project.rag_override_by or ""),
        )
    return rag.assess(
        spi=figures.spi,
        spi_t=figures.spi_t,
        finish_slip_days=slip,
        cpi=figures.cpi,
        budget=figures.budget,
        open_high_risks=int(high or 0),
        churn_risk=analytics_service.churn_risk(db=db, customer_id=project.customer_id),
        csat=csat(db=db, project=project),
        override=override,
    )


def health_read(*, db: Session, project_id: int, principal: Principal) -> dict[str, Any]:
    """The RAG health as plain data."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    data: dict[str, Any] = to_jsonable_python(asdict(health(db=db, project=project)))
    return data


# --- status reports ------------------------------------------------------------------------


def _milestones(db: Session, project: Project) -> list[dict[str, Any]]:
    baseline = plans.latest_baseline(db=db, project=project)
    snap = baseline.tasks if baseline is not None else {}
    stmt = select(Task).where(Task.project_id == project.id, Task.kind == "milestone")
    rows = []
    for task in db.scalars(stmt.order_by(Task.seq)):
        planned = snap.get(str(task.id), {}).get("finish")
        done = task.percent_complete >= 100
        rows.append(
            {
                "name": task.name,
                "baseline": planned or "",
                "forecast": (task.actual_finish or task.finish_date or "").__str__(),
                "status": "done" if done else "open",
            }
        )
    return rows


def _decisions(db: Session, project: Project) -> list[str]:
    issues = db.scalars(
        select(Issue.title).where(
            Issue.project_id == project.id,
            Issue.needs_decision.is_(True),
            Issue.status.in_(("open", "in_progress")),
        )
    )
    pending = db.scalars(
        select(ChangeRequest.title).where(
            ChangeRequest.project_id == project.id, ChangeRequest.status == "submitted"
        )
    )
    return [*issues, *(_("Change request: {title}").format(title=t) for t in pending)]


def _progress(db: Session, project: Project) -> float | None:
    leaves = plans.leaf_tasks(db, project)
    weight = sum(max(t.duration_days, 1) for t in leaves)
    if not weight:
        return None
    return round(sum(max(t.duration_days, 1) * t.percent_complete for t in leaves) / weight, 1)


def _content(db: Session, project: Project, week_start: date) -> tuple[dict[str, Any], str]:
    status_date = min(week_start + timedelta(days=6), date.today())
    figures = costs.figures(db=db, project=project, status_date=status_date)
    health_ = health(db=db, project=project, figures=figures)
    top = governance.risks(db=db, project=project)
    content = {
        "status_date": status_date,
        "percent_complete": _progress(db, project),
        "milestones": _milestones(db, project),
        "evm": asdict(figures),
        "rag": asdict(health_),
        "risks": [
            {"title": r.title, "score": r.probability * r.impact, "response": r.response or ""}
            for r in top
            if r.status != "closed"
        ][:TOP_RISKS],
        "decisions": _decisions(db, project),
        "s_curve": [
            asdict(p) for p in costs.curve_points(db=db, project=project, status_date=status_date)
        ],
    }
    return to_jsonable_python(content), health_.colour


def generate(
    *, db: Session, project_id: int, week_start: date, principal: Principal
) -> StatusReport:
    """The week's report, generated from the data (a draft is regenerated, keeping its text)."""
    project = projects_service.get(
        db=db, project_id=project_id, principal=principal, permission="projects:write"
    )
    monday = week_start - timedelta(days=week_start.weekday())
    report = db.scalar(
        select(StatusReport).where(
            StatusReport.project_id == project.id, StatusReport.week_start == monday
        )
    )
    if report is not None and report.status == "published":
        raise Conflict({"report": "published"})
    if report is None:
        report = StatusReport(project_id=project.id, week_start=monday, status="draft")
        db.add(report)
    report.content, report.rag = _content(db, project, monday)
    if not report.decisions:
        report.decisions = "\n".join(report.content["decisions"]) or None
    db.flush()
    return report


def _report(db: Session, project: Project, report_id: int) -> StatusReport:
    report = db.get(StatusReport, report_id)
    if report is None or report.project_id != project.id:
        raise NotFound("report")
    return report


def reports(*, db: Session, project: Project) -> list[StatusReport]:
    """The project's status reports, newest week first."""
    stmt = select(StatusReport).where(StatusReport.project_id == project.id)
    return list(db.scalars(stmt.order_by(StatusReport.week_start.desc())))


def get_report(
    *, db: Session, project_id: int, report_id: int, principal: Principal
) -> StatusReport:
    """One status report of a visible project."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    return _report(db, project, report_id)


def edit(
    *,
    db: Session,
    project_id: int,
    report_id: int,
    data: StatusReportUpdate,
    principal: Principal,
) -> StatusReport:
    """Edit a draft's summary and decisions; a published report is immutable."""
    project = projects_service.get(
        db=db, project_id=project_id, principal=principal, permission="projects:write"
    )
    report = _report(db, project, report_id)
    if report.status == "published":
        raise Conflict({"report": "published"})
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(report, key, value)
    db.flush()
    return report


def publish(*, db: Session, project_id: int, report_id: int, principal: Principal) -> StatusReport:
    """Publish a draft (``projects:approve``): frozen from then on."""
    project = projects_service.get(
        db=db, project_id=project_id, principal=principal, permission="projects:approve"
    )
    report = _report(db, project, report_id)
    if report.status == "published":
        raise Conflict({"report": "published"})
    report.status, report.published_at, report.published_by = (
        "published",
        utcnow(),
        principal.user_id or None,
    )
    db.flush()
    return report


def _pdf_data(project: Project, customer: str, report: StatusReport) -> report_pdf.StatusReportData:
    content = report.content
    figures = dict(content["evm"])
    figures["budget"] = evm.BudgetStatus(**figures["budget"])
    health_ = content["rag"]
    sections = [report_pdf.TextSection(_("Summary"), report.summary)] if report.summary else []
    return report_pdf.StatusReportData(
        title=_("Weekly status report"),
        project=project.name,
        customer=customer,
        period=f"{report.week_start} – {report.week_start + timedelta(days=6)}",
        status_date=date.fromisoformat(content["status_date"]),
        rag_colour=report.rag,  # type: ignore[arg-type]
        rag_reasons=tuple(health_.get("reasons", ())),
        rag_override=(health_.get("override") or {}).get("reason"),
        percent_complete=content.get("percent_complete"),
        milestones=[report_pdf.MilestoneRow(**m) for m in content["milestones"]],
        evm=evm.EvmFigures(**figures),
        s_curve=[_curve_point(p) for p in content.get("s_curve", ())],
        risks=[
            report_pdf.RiskRow(r["title"], r["score"], "", r["response"]) for r in content["risks"]
        ],
        decisions=[line for line in (report.decisions or "").splitlines() if line.strip()],
        sections=tuple(sections),
    )


def _curve_point(stored: dict[str, Any]) -> evm.SCurvePoint:
    return evm.SCurvePoint(**{**stored, "period_end": date.fromisoformat(stored["period_end"])})


def pdf(
    *, db: Session, project_id: int, report_id: int, principal: Principal, locale: str
) -> bytes:
    """The report as a PDF in ``locale``."""
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    report = _report(db, project, report_id)
    customer = db.get(Customer, project.customer_id)
    return report_pdf.render(_pdf_data(project, customer.name if customer else "", report), locale)


# --- DCMA ----------------------------------------------------------------------------------


def _dcma_tasks(db: Session, project: Project, cal: plans.WorkCalendar) -> list[dcma.ScheduleTask]:
    baseline = plans.latest_baseline(db=db, project=project)
    snap = baseline.tasks if baseline is not None else {}
    staffed = set(
        db.scalars(select(Assignment.task_id).join(Task).where(Task.project_id == project.id))
    )
    parents = {t.parent_id for t in plans.tasks(db=db, project=project) if t.parent_id}
    found = []
    for t in plans.tasks(db=db, project=project):
        item = snap.get(str(t.id), {})
        found.append(
            dcma.ScheduleTask(
                id=str(t.id),
                name=f"{t.wbs} {t.name}",
                is_summary=t.id in parents or t.kind == "summary",
                is_milestone=t.kind == "milestone",
                duration=float(t.duration_days),
                baseline_start=date.fromisoformat(item["start"]) if item.get("start") else None,
                baseline_finish=date.fromisoformat(item["finish"]) if item.get("finish") else None,
                actual_start=t.actual_start,
                actual_finish=t.actual_finish,
                early_start=t.start_date,
                early_finish=t.finish_date,
                late_start=cal.date_of(t.late_start),
                late_finish=cal.finish_of(t.late_start, t.late_finish),
                total_float=float(t.total_float),
                constraint=t.constraint_type,
                has_resources=t.id in staffed,
                remaining_duration=t.duration_days * (1 - t.percent_complete / 100.0),
            )
        )
    return found


def assess_schedule(
    *, db: Session, project_id: int, principal: Principal, status_date: date | None = None
) -> list[dict[str, Any]]:
    """The DCMA 14-point assessment, each check with its figure and offending tasks.

    The critical path test delays a critical task in a copy of the network and reports how
    far the project end moved.
    """
    project = projects_service.get(db=db, project_id=project_id, principal=principal)
    plans.reschedule(db=db, project=project)
    network = plans.cached_network(project.id)
    base = network.schedule().makespan
    cal = plans.calendar_for(db=db, project=project)

    def delay(task_id: str, days: float) -> float:
        index = network.index(int(task_id))
        longer: dict[Hashable, int] = {int(task_id): int(network.durations[index]) + int(days)}
        return float(network.with_changes(durations=longer).schedule().makespan - base)

    links = [
        dcma.ScheduleLink(str(k.pred_id), str(k.succ_id), k.type, float(k.lag_days))  # type: ignore[arg-type]
        for k in plans.links(db=db, project=project)
    ]
    checks = dcma.assess(
        _dcma_tasks(db, project, cal),
        links,
        status_date=status_date or date.today(),
        critical_path_test=delay,
        finish_target=project.target_date,
        is_working_day=cal.is_working,
    )
    return [to_jsonable_python(asdict(c)) for c in checks]


# --- closure, surveys, hand-over -----------------------------------------------------------


def evaluation(*, db: Session, project: Project) -> dict[str, Any]:
    """The project against its budget and dates."""
    spent = plans.actual_cost(db=db, project=project)
    budget = float(project.budget)
    finished = db.scalar(select(func.max(Task.actual_finish)).where(Task.project_id == project.id))
    finish = finished or project.finish_date
    variance = budget - spent
    tolerance = costs.budget_rule().threshold
    data: dict[str, Any] = to_jsonable_python(
        {
            "goal": project.goal,
            "target_date": project.target_date,
            "finish_date": finish,
            "days_late": (finish - project.target_date).days
            if finish and project.target_date
            else None,
            "budget": budget,
            "actual_cost": round(spent, 2),
            "budget_variance": round(variance, 2),
            "budget_variance_pct": round(variance / budget, 4) if budget else None,
            "within_budget_rule": abs(variance) <= tolerance * budget if budget else None,
        }
    )
    return data


def close_out(*, db: Session, project_id: int, data: ClosureIn, principal: Principal) -> Closure:
    """Record (or redo) the closing evaluation and the lessons learned."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    closure = db.scalar(select(Closure).where(Closure.project_id == project.id))
    if closure is None:
        closure = Closure(project_id=project.id)
        db.add(closure)
    closure.goal_met, closure.summary = data.goal_met, data.summary
    closure.lessons = [lesson.model_dump() for lesson in data.lessons]
    closure.evaluation = {**evaluation(db=db, project=project), "goal_met": data.goal_met}
    db.flush()
    return closure


def closure_of(*, db: Session, project: Project) -> Closure | None:
    """The closing evaluation, if recorded."""
    return db.scalar(select(Closure).where(Closure.project_id == project.id))


def send_surveys(
    *, db: Session, project_id: int, contact_ids: list[int] | None, principal: Principal
) -> list[Survey]:
    """A CSAT survey request (a token link) for each chosen contact of the customer."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    customer = customers_service.get(db=db, customer_id=project.customer_id, principal=principal)
    people = customers_service.contacts(db=db, account_id=customer.id, principal=principal)
    candidates = {c.id for c in people} | ({customer.id} if customer.kind == "person" else set())
    chosen = candidates if contact_ids is None else set(contact_ids)
    if not chosen or not chosen <= candidates:
        raise InvalidInput({"contact_ids": "not_a_contact"})
    surveys = [
        Survey(project_id=project.id, contact_id=cid, token=secrets.token_urlsafe(32))
        for cid in sorted(chosen)
    ]
    db.add_all(surveys)
    db.flush()
    return surveys


def surveys(*, db: Session, project: Project) -> list[Survey]:
    """The project's survey requests."""
    return list(
        db.scalars(select(Survey).where(Survey.project_id == project.id).order_by(Survey.id))
    )


def survey_by_token(*, db: Session, token: str) -> tuple[Survey, Project]:
    """The survey behind a link (the token is the only credential)."""
    survey = db.scalar(select(Survey).where(Survey.token == token))
    project = db.get(Project, survey.project_id) if survey is not None else None
    if survey is None or project is None:
        raise NotFound("survey")
    return survey, project


def answer_survey(*, db: Session, token: str, data: SurveyAnswer) -> Survey:
    """Store a customer's answer; a survey is answered once."""
    survey, _project = survey_by_token(db=db, token=token)
    if survey.answered_at is not None:
        raise Conflict({"survey": "already_answered"})
    survey.score, survey.comment, survey.answers = data.score, data.comment, dict(data.answers)
    survey.answered_at = utcnow()
    db.flush()
    return survey


def _open_items(db: Session, project: Project) -> list[dict[str, Any]]:
    tasks = [
        {"kind": "task", "title": f"{t.wbs} {t.name}", "percent_complete": t.percent_complete}
        for t in plans.leaf_tasks(db, project)
        if t.percent_complete < 100
    ]
    issues = [
        {"kind": "issue", "title": i.title, "severity": i.severity}
        for i in governance.issues(db=db, project=project)
        if i.status in ("open", "in_progress")
    ]
    return tasks + issues


def hand_over(*, db: Session, project_id: int, data: HandoverIn, principal: Principal) -> Handover:
    """Hand the delivered project to the customer's operations owner: a hand-over record and
    an entry on the customer's timeline listing the milestones, scope and open items."""
    project = projects_service.get_for_update(db=db, project_id=project_id, principal=principal)
    if db.scalar(select(Handover.id).where(Handover.project_id == project.id)):
        raise Conflict({"handover": "exists"})
    customer = customers_service.get(db=db, customer_id=project.customer_id, principal=principal)
    open_items = (
        [{"kind": "note", "title": t} for t in data.open_items]
        if data.open_items is not None
        else _open_items(db, project)
    )
    plan = data.onboarding_plan or [_(step) for step in templates_catalog.DEFAULT_ONBOARDING]
    handover = Handover(
        project_id=project.id,
        owner_id=customer.owner_id,
        delivered_scope=data.delivered_scope or project.scope,
        open_items=open_items,
        onboarding_plan=[{"step": step, "done": False} for step in plan],
    )
    activity = customers_service.add_activity(
        db=db,
        customer_id=customer.id,
        data=ActivityCreate(
            kind="note",
            subject=_("Project handed over: {name}").format(name=project.name)[:200],
            body=_handover_body(db, project, handover),
        ),
        principal=principal,
    )
    handover.activity_id = activity.id
    db.add(handover)
    db.flush()
    return handover


def _handover_body(db: Session, project: Project, handover: Handover) -> str:
    lines = [_("Delivered scope: {scope}").format(scope=handover.delivered_scope or "-")]
    lines += [_("Milestones:")] + [
        f"- {m['name']} ({m['forecast']}, {m['status']})" for m in _milestones(db, project)
    ]
    lines += [_("Open items:")] + [f"- {i['title']}" for i in handover.open_items]
    lines += [_("Onboarding plan:")] + [f"- {s['step']}" for s in handover.onboarding_plan]
    return "\n".join(lines)[:20000]


def handover_of(*, db: Session, project: Project) -> Handover | None:
    """The hand-over record, if made."""
    return db.scalar(select(Handover).where(Handover.project_id == project.id))
