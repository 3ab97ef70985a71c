"""``clientops score``: run the scoring job now, in this process, with a progress bar."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from clientops.core.cli import DatabaseUrl, DataDir, use_database

Engine = Annotated[
    str | None,
    typer.Option(
        "--engine", help="duckdb (default), postgres (in the app database) or spark (local)."
    ),
]


def score(
    engine: Engine = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score as of this ISO date (default: today).")
    ] = None,
    train_churn: Annotated[
        bool, typer.Option("--train-churn", help="Train a new churn model first.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run's figures as JSON.")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Score every customer (RFM, tiers, stages, CLV, churn risk, health) and write the scores
    with their history."""
    from clientops.analytics import flows
    from clientops.exceptions import InvalidInput

    use_database(data_dir, database_url)
    errors = Console(stderr=True)
    try:
        params = flows.score_params(engine=engine, as_of=as_of, train_churn=train_churn)
    except InvalidInput as exc:
        errors.print(f"[red]error:[/red] {exc.errors}")
        raise typer.Exit(2) from exc
    started = time.monotonic()
    job = _run(params, errors)
    summary = _summary(job.id)
    summary.update(job_id=job.id, status=job.status, seconds=round(time.monotonic() - started, 2))
    _print(summary, as_json)
    if job.status != "succeeded":
        errors.print(f"[red]Scoring job {job.id} {job.status}:[/red] {job.error or ''}")
        raise typer.Exit(1)


def _run(params: dict[str, Any], errors: Console) -> Any:
    """Run the job here, showing its progress; the finished job row."""
    from clientops.analytics import flows
    from clientops.jobs import flows as jobs_flows

    jobs_flows.start(listen=False)
    try:
        job = jobs_flows.submit(flows.KIND, params=params, run_here=True)
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[n]}"))
        with Progress(*columns, TimeElapsedColumn(), console=errors, transient=True) as bar:
            task = bar.add_task(flows.KIND, total=None, n="")

            def show(current: Any) -> None:
                bar.update(
                    task, total=current.total or None, completed=current.done, n=f"{current.done:,}"
                )

            return jobs_flows.wait(job.id, on_progress=show, poll_seconds=0.3)
    finally:
        jobs_flows.stop()


def _summary(job_id: int) -> dict[str, Any]:
    from sqlalchemy import select

    from clientops.analytics.models import ScoreRun
    from clientops.db import transaction

    with transaction() as db:
        run = db.scalar(select(ScoreRun).where(ScoreRun.job_id == job_id))
        if run is None:
            return {}
        return {
            "run_id": run.id,
            "engine": run.engine,
            "as_of": run.as_of.isoformat(),
            "customers": run.customers,
            "orders": run.orders,
            "history_rows": run.history_rows,
            "tiers_evaluated": run.tiers_evaluated,
            "peak_memory_mb": run.peak_memory_mb,
            "timings": run.figures.get("timings", {}),
        }


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    out = Console()
    out.print(f"Scoring job {summary['job_id']}: {summary['status']} in {summary['seconds']} s")
    for key, label in (
        ("customers", "customers scored"),
        ("orders", "orders read"),
        ("history_rows", "history rows written"),
    ):
        if key in summary:
            out.print(f"  {summary[key]:>12,}  {label}")
