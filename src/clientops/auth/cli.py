"""``clientops user ...`` and ``clientops token ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clientops.auth import service
from clientops.core.access import ROLES, TOKEN_SCOPES
from clientops.core.cli import DatabaseUrl, DataDir, use_database
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from clientops.exceptions import ClientOpsError

user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
err = Console(stderr=True)


def _prepare(data_dir: Path | None, database_url: str | None) -> None:
    from clientops import migrate

    use_database(data_dir, database_url)
    from clientops.audit import service as audit_service

    migrate.upgrade()
    audit_service.install()


def _fail(exc: ClientOpsError) -> None:
    err.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


@user_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str, typer.Option(help="One of: " + ", ".join(ROLES))] = "viewer",
    team: Annotated[list[str] | None, typer.Option(help="Team name (repeatable).")] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="CLIENTOPS_NEW_PASSWORD"
        ),
    ] = "",
    all_customers: Annotated[bool, typer.Option(help="See every customer.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user (the password is asked for, or read from CLIENTOPS_NEW_PASSWORD)."""
    _prepare(data_dir, database_url)
    try:
        with transaction() as db:
            bind(db, actor=SYSTEM)
            user = service.create_user(
                db=db,
                username=username,
                password=password,
                role=role,
                team_names=team or [],
                all_customers=all_customers,
            )
            err.print(f"Created user {user.username} (id {user.id}, role {user.role}).")
    except ClientOpsError as exc:
        _fail(exc)


@user_app.command("disable")
def disable_user(
    username: Annotated[str, typer.Argument()],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Disable a user: every session and token stops working at once."""
    _prepare(data_dir, database_url)
    try:
        with transaction() as db:
            bind(db, actor=SYSTEM)
            user = service.find_user(db=db, username=username)
            service.set_active(db=db, user_id=user.id, active=False)
    except ClientOpsError as exc:
        _fail(exc)
    err.print(f"Disabled {username}.")


@token_app.command("create")
def create_token(
    user: Annotated[str, typer.Option("--user", help="Username the token acts as.")],
    scope: Annotated[list[str], typer.Option("--scope", help=", ".join(TOKEN_SCOPES))],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "",
    days: Annotated[int | None, typer.Option(help="Expire after this many days.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it, alone, on standard output."""
    _prepare(data_dir, database_url)
    scopes = [s.strip() for item in scope for s in item.split(",") if s.strip()]
    try:
        with transaction() as db:
            bind(db, actor=SYSTEM)
            owner = service.find_user(db=db, username=user)
            token = service.create_token(db=db, user=owner, scopes=scopes, name=name, days=days)
    except ClientOpsError as exc:
        _fail(exc)
    print(token)
