"""``clientops jobs ...``: list the durable jobs and run one."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clientops.core.cli import DatabaseUrl, DataDir, use_database
from clientops.db import transaction
from clientops.exceptions import ClientOpsError
from clientops.jobs import flows
from clientops.jobs import service as jobs_service
from clientops.jobs.models import JOB_STATUSES, Job

app = typer.Typer(
    help="Durable jobs: list them, run them.", no_args_is_help=True, pretty_exceptions_enable=False
)
run_app = typer.Typer(help="Run a job.", no_args_is_help=True)
app.add_typer(run_app, name="run")
out = Console()
err = Console(stderr=True)

Wait = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Run the job in this process and show its progress until it ends. Without it "
        "the job is queued for the server or a worker.",
    ),
]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _as_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "workflow_id": job.workflow_id,
        "kind": job.kind,
        "status": job.status,
        "params": job.params,
        "total": job.total,
        "done": job.done,
        "percent": round(jobs_service.percent(job), 1),
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error,
    }


def _table(jobs: list[Job]) -> Table:
    table = Table("id", "kind", "status", "progress", "created", "finished")
    for job in jobs:
        table.add_row(
            str(job.id),
            job.kind,
            job.status,
            f"{jobs_service.percent(job):.0f}% ({job.done:,}/{job.total:,})",
            _when(job.created_at),
            _when(job.finished_at),
        )
    return table


@app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help="Only jobs in this status: " + ", ".join(JOB_STATUSES))
    ] = None,
    limit: Annotated[int, typer.Option(help="How many of the latest jobs.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The latest jobs, newest first."""
    use_database(data_dir, database_url)
    try:
        with transaction() as db:
            jobs = jobs_service.list_jobs(db=db, limit=limit, status=status)
    except ClientOpsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps([_as_dict(job) for job in jobs], ensure_ascii=False))
    else:
        out.print(_table(jobs))


@run_app.command("reindex-customers")
def run_reindex_customers(
    wait: Wait = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Rebuild every customer's search keys (after the normalisation rules changed)."""
    use_database(data_dir, database_url)
    _run("reindex-customers", {}, wait=wait)


@run_app.command("link-events")
def run_link_events(
    wait: Wait = False, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Link behaviour events to customers whose identities became known since they arrived."""
    use_database(data_dir, database_url)
    _run("link-events", {}, wait=wait)


def _run(kind: str, params: dict[str, Any], *, wait: bool) -> None:
    if not wait:
        job = flows.submit(kind, params=params)
        err.print(f"Job {job.id} ({kind}) queued; the server or a worker runs it.")
        typer.echo(job.id)
        return
    flows.start(listen=False)
    try:
        job = flows.submit(kind, params=params, run_here=True)
        err.print(f"Job {job.id} ({kind}) started.")
        job = _follow(job)
    finally:
        flows.stop()
    if job.status != "succeeded":
        err.print(f"[red]Job {job.id} {job.status}:[/red] {job.error or ''}")
        raise typer.Exit(1)
    err.print(f"[green]Job {job.id} succeeded:[/green] {job.done:,} done.")


def _follow(job: Job) -> Job:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"))
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(job.kind, total=None, count="")

        def show(current: Job) -> None:
            bar.update(
                task,
                total=current.total or None,
                completed=current.done,
                count=f"{current.done:,}/{current.total:,}",
            )

        return flows.wait(job.id, on_progress=show)


if __name__ == "__main__":  # ``python -m clientops.jobs.cli``, configured by the environment
    app()
