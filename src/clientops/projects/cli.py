"""``clientops project ...``: list, show, schedule, level, report, import and export."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic_core import to_jsonable_python
from rich.console import Console

from clientops.audit import service as audit_service
from clientops.auth import service as auth_service
from clientops.core.access import Principal
from clientops.core.context import SYSTEM, Actor, bind
from clientops.core.i18n import get_locale
from clientops.db import transaction
from clientops.exceptions import ClientOpsError, InvalidInput, NotFound
from clientops.projects import exchange, plans, reports, resources, service

app = typer.Typer(help="Customer projects: plans, schedules, levelling, reports.")
err = Console(stderr=True)
SYSTEM_PRINCIPAL = Principal(user_id=0, username="system", role="admin", all_records=True)
User = Annotated[
    str | None, typer.Option("--user", help="Act as this user (default: the system, sees all).")
]
ProjectId = Annotated[int, typer.Argument(help="Project id.", min=1)]
PROJECT_FIELDS = ("id", "name", "customer_id", "status", "phase", "start_date", "finish_date")
TASK_FIELDS = (
    "id", "wbs", "name", "kind", "duration_days", "start_date", "finish_date", "total_float",
    "critical",
)  # fmt: skip


def _refuse(exc: ClientOpsError) -> NoReturn:
    err.print(f"[red]refused:[/red] {exc}", soft_wrap=True)
    raise typer.Exit(2)


def _principal(db: Any, username: str | None) -> Principal:
    if not username:
        bind(db, actor=SYSTEM)
        return SYSTEM_PRINCIPAL
    try:
        user = auth_service.find_user(db=db, username=username)
    except NotFound as exc:
        raise InvalidInput({"user": "unknown_user"}) from exc
    bind(db, actor=Actor(user.id, user.username))
    return auth_service.principal_of(auth_service.get_user(db=db, user_id=user.id))


def _echo(data: Any) -> None:
    typer.echo(json.dumps(to_jsonable_python(data), ensure_ascii=False))


@app.command("list")
def list_projects(
    customer: Annotated[int | None, typer.Option("--customer", help="Customer id.")] = None,
    user: User = None,
) -> None:
    """The projects, one JSON object per line."""
    with transaction() as db:
        principal = _principal(db, user)
        rows, _cursor = service.list_page(
            db=db, principal=principal, customer_id=customer, limit=200
        )
        for p in rows:
            _echo({k: getattr(p, k) for k in PROJECT_FIELDS})


@app.command("show")
def show(project_id: ProjectId, user: User = None) -> None:
    """A project with its team, phases and tasks, as JSON."""
    try:
        with transaction() as db:
            principal = _principal(db, user)
            project = service.get(db=db, project_id=project_id, principal=principal)
            detail = service.detail(db=db, project=project)
            detail["tasks"] = [
                {k: getattr(t, k) for k in TASK_FIELDS} for t in plans.tasks(db=db, project=project)
            ]
            _echo(detail)
    except ClientOpsError as exc:
        _refuse(exc)


@app.command("schedule")
def schedule(project_id: ProjectId, user: User = None) -> None:
    """Recompute the critical path and store it; prints makespan, finish and critical tasks."""
    audit_service.install()
    try:
        with transaction() as db:
            result = plans.schedule(db=db, project_id=project_id, principal=_principal(db, user))
            _echo(result.__dict__)
    except ClientOpsError as exc:
        _refuse(exc)


@app.command("level")
def level(
    project_id: ProjectId,
    accept: Annotated[bool, typer.Option("--accept", help="Apply the levelled plan.")] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver seconds.")] = 10.0,
    user: User = None,
) -> None:
    """Level the plan against its resources (CP-SAT); with --accept, apply it."""
    audit_service.install()
    try:
        with transaction() as db:
            principal = _principal(db, user)
            proposal = resources.propose_levelling(
                db=db, project_id=project_id, principal=principal, time_limit=time_limit
            )
            if accept:
                resources.decide_levelling(
                    db=db, project_id=project_id, proposal_id=proposal.id, accept=True,
                    principal=principal,
                )  # fmt: skip
            _echo({"proposal_id": proposal.id, "status": proposal.status,
                   "makespan_days": proposal.makespan_days, "bound_days": proposal.bound_days,
                   "gap": proposal.gap})  # fmt: skip
    except ClientOpsError as exc:
        _refuse(exc)


@app.command("report")
def report(
    project_id: ProjectId,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Also write the PDF here.")] = None,
    week: Annotated[str | None, typer.Option("--week", help="A day of the week (ISO).")] = None,
    user: User = None,
) -> None:
    """Generate this week's status report (a draft) and print it; --pdf writes the PDF."""
    audit_service.install()
    try:
        with transaction() as db:
            principal = _principal(db, user)
            day = date.fromisoformat(week) if week else date.today()
            row = reports.generate(
                db=db, project_id=project_id, week_start=day, principal=principal
            )
            if pdf is not None:
                pdf.write_bytes(
                    reports.pdf(
                        db=db, project_id=project_id, report_id=row.id, principal=principal,
                        locale=get_locale(),
                    )
                )  # fmt: skip
            _echo({**row.content, "report_id": row.id, "week_start": row.week_start,
                   "rag": row.rag})  # fmt: skip
    except (ClientOpsError, ValueError) as exc:
        err.print(f"[red]refused:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="MS Project XML (.xml) or CSV (.csv) plan.")],
    customer: Annotated[int, typer.Option("--customer", help="Customer id.", min=1)],
    name: Annotated[str | None, typer.Option("--name", help="Project name.")] = None,
    user: User = None,
) -> None:
    """Create a project for a customer from a plan file; prints the new project."""
    audit_service.install()
    try:
        data = exchange.read_file(file)
        with transaction() as db:
            project = exchange.import_plan(
                db=db, data=data, customer_id=customer, principal=_principal(db, user), name=name
            )
            _echo({"id": project.id, "name": project.name, "tasks": len(data.tasks),
                   "finish_date": project.finish_date})  # fmt: skip
    except ClientOpsError as exc:
        _refuse(exc)


@app.command("export")
def export(
    project_id: ProjectId,
    fmt: Annotated[str, typer.Option("--format", help="mspdi or csv.")] = "mspdi",
    out: Annotated[Path | None, typer.Option("--out", help="File (default: stdout).")] = None,
    user: User = None,
) -> None:
    """Write a project's tasks and links as MS Project XML or CSV."""
    if fmt not in ("mspdi", "csv"):
        err.print("[red]refused:[/red] --format must be mspdi or csv")
        raise typer.Exit(2)
    try:
        with transaction() as db:
            data = exchange.export_plan(
                db=db, project_id=project_id, fmt=fmt,  # type: ignore[arg-type]
                principal=_principal(db, user),
            )  # fmt: skip
    except ClientOpsError as exc:
        _refuse(exc)
    if out is None:
        typer.echo(data.decode("utf-8"), nl=False)
    else:
        out.write_bytes(data)
