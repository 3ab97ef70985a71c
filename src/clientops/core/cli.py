"""Options every ``clientops`` command takes: which data folder or database it works on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clientops import config

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", envvar="CLIENTOPS_DATA_DIR", help="Folder for the SQLite databases."
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="CLIENTOPS_DATABASE_URL", help="App database URL (PostgreSQL)."
    ),
]


def use_database(data_dir: Path | None, database_url: str | None, **settings: object) -> None:
    """Point this process at the data folder or database a command was given (if any)."""
    if data_dir is None and database_url is None and not settings:
        return
    config.configure(data_dir=data_dir, database_url=database_url, **settings)
