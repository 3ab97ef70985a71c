"""The ``clientops`` command: serve, demo, migrate, users, tokens, jobs, import, dedupe,
resolve."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from clientops import config
from clientops.analytics import cli as analytics_cli
from clientops.analytics import score_cli
from clientops.auth import cli as auth_cli
from clientops.core.cli import DatabaseUrl, DataDir, use_database
from clientops.identity import cli as identity_cli
from clientops.imports import cli as imports_cli
from clientops.jobs import cli as jobs_cli
from clientops.projects import cli as projects_cli
from clientops.projects.scheduling import cli as scheduling_cli

app = typer.Typer(
    help="clientops: customer operations and customer projects.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(auth_cli.user_app, name="user")
app.add_typer(auth_cli.token_app, name="token")
app.add_typer(jobs_cli.app, name="jobs")
app.add_typer(imports_cli.app, name="import")
app.add_typer(analytics_cli.clv_app, name="clv")
app.add_typer(projects_cli.app, name="project")
app.command("dedupe")(identity_cli.dedupe)
app.command("resolve")(identity_cli.resolve)
app.command("score")(score_cli.score)
app.command("schedule")(scheduling_cli.schedule)
err = Console(stderr=True)


@app.callback()
def main(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Every command works on the data folder or database given here."""
    use_database(data_dir, database_url)


def _migrate() -> None:
    from clientops import migrate

    migrate.upgrade()


@app.command("migrate")
def migrate_command(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply the database migrations."""
    use_database(data_dir, database_url)
    _migrate()
    err.print("[green]Database is up to date.[/green]")


def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    settings = config.current()
    if workers > 1 and settings.is_sqlite:
        err.print("[yellow]--workers > 1 needs PostgreSQL; using 1.[/yellow]")
        workers = 1
    if workers > 1:
        uvicorn.run(
            "clientops.asgi:app",
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            log_level="warning",
        )
        return
    from clientops.main import create_app

    uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=True, log_level="warning")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Web processes (PostgreSQL).")] = 1,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Start the web server and the job runtime (creates no users or credentials)."""
    use_database(data_dir, database_url)
    _migrate()
    err.print(f"clientops on [bold]http://{host}:{port}[/bold]")
    _serve(host, port, workers)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="Customers to create.")] = 2400,
    orders: Annotated[int, typer.Option(help="Orders to create.")] = 12000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build only.")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a demo company (once per data folder) and start the server."""
    use_database(data_dir, database_url, demo_mode=True)
    settings = config.current()
    _migrate()
    from clientops.customers import demo as demo_data
    from clientops.db import get_engine

    if demo_data.is_loaded(engine=get_engine()):
        err.print("Demo data is already loaded in this database.")
    else:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TimeElapsedColumn(),
            console=err,
        ) as bar:
            tasks: dict[str, object] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

            counts = demo_data.load_demo(
                engine=get_engine(),
                customers=customers,
                orders=orders,
                seed=seed,
                progress=progress,
            )
        err.print("Loaded: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), soft_wrap=True)
        _demo_projects_and_scores()
    if no_serve:
        return
    err.print(
        f"\nOpen [bold]http://{host}:{port}[/bold] and sign in as "
        "[bold]admin[/bold] / [bold]admin[/bold] (demo mode only)."
    )
    err.print(
        f"Data folder: {settings.data_dir.resolve()}"
        if settings.is_sqlite
        else "Database: PostgreSQL"
    )
    _serve(host, port, 1)


def _demo_projects_and_scores() -> None:
    """Projects for the demo company, and a first scoring run with a churn model (queued: the
    server runs it as it starts, so the analytics pages fill within seconds)."""
    from datetime import date

    from clientops.analytics import flows as analytics_flows
    from clientops.auth import service as auth_service
    from clientops.core.context import SYSTEM, bind
    from clientops.db import transaction
    from clientops.jobs import flows as jobs_flows
    from clientops.projects import demo as projects_demo

    with transaction() as db:
        bind(db, actor=SYSTEM)
        admin = auth_service.principal_of(auth_service.find_user(db=db, username="admin"))
        pm = auth_service.find_user(db=db, username="pm")
        made = projects_demo.load_demo(db=db, principal=admin, pm_id=pm.id, today=date.today())
    params = analytics_flows.score_params(train_churn=True)
    job = jobs_flows.submit(analytics_flows.KIND, params=params)
    err.print(f"Projects: {made}; customer scoring queued as job {job.id}.")


def run() -> None:
    """Entry point that turns domain errors into a message and exit code 2."""
    from clientops.exceptions import ClientOpsError

    try:
        app()
    except ClientOpsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    run()
