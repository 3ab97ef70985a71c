"""Applying and checking the Alembic migrations shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from clientops.db import get_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s")
    return config


def upgrade(revision: str = "head") -> None:
    """Bring the configured database up to ``revision``."""
    get_engine()
    command.upgrade(alembic_config(), revision)


def downgrade(revision: str) -> None:
    """Step the configured database down to ``revision``."""
    command.downgrade(alembic_config(), revision)


def check() -> None:
    """Fail when the models and the migrations disagree."""
    command.check(alembic_config())
