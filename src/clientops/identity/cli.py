"""``clientops dedupe`` (standalone, no server) and ``clientops resolve`` (issue #3)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from clientops.core.cli import DatabaseUrl, DataDir, use_database
from clientops.identity import dedupe as dedupe_file


def dedupe(
    file: Annotated[Path, typer.Argument(help="CSV file, one record per row.")],
    id_column: Annotated[str, typer.Option("--id", help="Column with each row's unique id.")],
    field: Annotated[
        list[str],
        typer.Option(
            "--field",
            help="COLUMN:ROLE, repeatable. Roles: name, given_name, family_name, phone, email, "
            "address, postcode, city, birth_date, id_number.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write id,cluster_id.")],
    threshold: Annotated[
        float, typer.Option(help="Match probability at which two rows are one person.")
    ] = 0.5,
    encoding: Annotated[
        str | None, typer.Option(help="File encoding (detected when omitted).")
    ] = None,
    pairs: Annotated[
        Path | None, typer.Option("--pairs", help="Also write the matched pairs here.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random sampling in training.")] = 1,
) -> None:
    """Cluster the rows of a CSV file into people; needs no server or database."""
    try:
        fields = dedupe_file.parse_fields(field)
        summary = dedupe_file.run(
            file,
            id_column=id_column,
            fields=fields,
            out=out,
            threshold=threshold,
            encoding=encoding,
            pairs_out=pairs,
            seed=seed,
        )
    except dedupe_file.DedupeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(summary, ensure_ascii=False))


def resolve(
    full: Annotated[
        bool, typer.Option("--full", help="Compare every customer with every other.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Compare the customers new or changed since this ISO date or time "
            "(default: since the last successful run; all customers when there was none).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Find duplicate customers in the database: merge the sure ones, queue the likely ones
    for review (runs here, with a progress bar)."""
    from clientops.db import transaction
    from clientops.exceptions import InvalidInput
    from clientops.identity import flows as identity_flows
    from clientops.identity import service as identity_service

    use_database(data_dir, database_url)
    errors = Console(stderr=True)
    if full and since:
        errors.print("[red]error:[/red] --full and --since cannot be used together.")
        raise typer.Exit(2)
    try:
        params = identity_flows.resolve_params(mode="full" if full else "incremental", since=since)
    except InvalidInput as exc:
        errors.print(f"[red]error:[/red] --since {since!r} is not an ISO date or time ({exc}).")
        raise typer.Exit(2) from exc
    started = time.monotonic()
    job = _run_resolve(params, errors)
    with transaction() as db:
        run = identity_service.run_of(db=db, job_id=job.id)
        summary = identity_flows.summary(run) if run is not None else {"job_id": job.id}
    summary.update(status=job.status, seconds=round(time.monotonic() - started, 2))
    _print_summary(summary, as_json)
    if job.status != "succeeded":
        errors.print(f"[red]Resolve job {job.id} {job.status}:[/red] {job.error or ''}")
        raise typer.Exit(1)


def _run_resolve(params: dict[str, Any], errors: Console) -> Any:
    """Run the resolve job in this process, showing its progress; the finished job."""
    from clientops.jobs import flows as jobs_flows

    jobs_flows.start(listen=False)
    try:
        job = jobs_flows.submit("resolve-customers", params=params, run_here=True)
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[n]}"))
        with Progress(*columns, TimeElapsedColumn(), console=errors, transient=True) as bar:
            task = bar.add_task("resolve-customers", total=None, n="")

            def show(current: Any) -> None:
                total = current.total or None
                bar.update(task, total=total, completed=current.done, n=f"{current.done:,}")

            return jobs_flows.wait(job.id, on_progress=show, poll_seconds=0.3)
    finally:
        jobs_flows.stop()


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    out = Console()
    out.print(f"Resolve job {summary['job_id']}: {summary['status']} in {summary['seconds']} s")
    for key, label in (
        ("compared", "customers compared"),
        ("pairs_found", "pairs found"),
        ("auto_merged", "merged automatically"),
        ("queued_for_review", "queued for review"),
        ("skipped", "skipped (decided before, or a person with a company)"),
    ):
        if key in summary:
            out.print(f"  {summary[key]:>10,}  {label}")
