"""Test fixtures: a real, migrated database (SQLite file, or PostgreSQL when
``CLIENTOPS_TEST_DATABASE_URL`` is set), the app, users of every role, factories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from clientops import config, db, migrate, registry
from clientops.audit import service as audit_service

PG_URL = os.environ.get("CLIENTOPS_TEST_DATABASE_URL")


def fresh_postgres(base_url: str, prefix: str = "co_test") -> str:
    """A new, empty PostgreSQL database on the server of ``base_url``; its URL."""
    url = make_url(config.normalise_url(base_url))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres(url_text: str) -> None:
    """Drop a database made by ``fresh_postgres``."""
    url = make_url(url_text)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, skip the tests marked ``nodb``: they touch no database, so the SQLite
    pass has already run them and a second run would test nothing new."""
    if not PG_URL:
        return
    skip = pytest.mark.skip(reason="touches no database: run in the SQLite pass")
    for item in items:
        if item.get_closest_marker("nodb"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the whole run."""
    data_dir = tmp_path_factory.mktemp("data")
    url = fresh_postgres(PG_URL) if PG_URL else None
    config.configure(
        data_dir=data_dir,
        database_url=url,
        demo_mode=False,
        jobs_enabled=False,
        secret_key="test-secret-not-for-production",
        login_attempts_per_window=5,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )  # fast hashes in tests only
    migrate.upgrade()
    audit_service.install()
    yield config.current().app_database_url
    db.dispose_engines()
    if url:
        drop_postgres(url)


TABLES_TO_CLEAN = [t.name for t in reversed(registry.metadata.sorted_tables)]


@pytest.fixture(autouse=True)
def clean_db(database_url: str) -> Iterator[None]:
    """Every test starts from empty tables."""
    yield
    with db.get_engine().begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("TRUNCATE " + ", ".join(TABLES_TO_CLEAN) + " RESTART IDENTITY CASCADE")
            )
        else:
            for name in TABLES_TO_CLEAN:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def app(database_url: str) -> Any:
    """The web application (jobs runtime off; job tests start their own)."""
    from clientops.main import create_app

    return create_app(config.current(), start_jobs=False)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """An anonymous browser-like client over https (cookies are ``__Host-`` and Secure)."""
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
def world(database_url: str) -> Any:
    """Teams, one user per role, and customers in two teams."""
    from tests import factories

    return factories.world()


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    """A scratch data folder."""
    return tmp_path
