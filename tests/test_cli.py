"""The ``clientops`` command as scripts drive it: a real process on a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from clientops import config
from clientops.auth.models import User


def _clientops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CLIENTOPS_DATA_DIR", "CLIENTOPS_DATABASE_URL")
    }
    return subprocess.run(
        [sys.executable, "-m", "clientops.cli", *args],
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _where() -> list[str]:
    """The options that point a command at the test database."""
    settings = config.current()
    if settings.is_sqlite:
        return ["--data-dir", str(settings.data_dir)]
    return ["--database-url", settings.app_database_url]


def test_every_command_takes_data_dir_after_its_name(tmp_path: Path) -> None:
    data = str(tmp_path / "here")
    assert _clientops("migrate", "--data-dir", data).returncode == 0
    created = _clientops(
        "user", "create", "mei", "--role", "agent", "--data-dir", data,
        env={"CLIENTOPS_NEW_PASSWORD": "a long enough secret"},
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    listed = _clientops("jobs", "list", "--json", "--data-dir", data)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
    engine = create_engine(f"sqlite:///{tmp_path / 'here' / 'clientops.db'}")
    with engine.connect() as conn:
        assert conn.scalar(select(User.username)) == "mei"
    engine.dispose()
    from_env = _clientops("jobs", "list", "--json", env={"CLIENTOPS_DATA_DIR": data})
    assert from_env.returncode == 0 and from_env.stdout.strip() == "[]"


def test_migrate_creates_no_users_or_credentials(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    assert _clientops("migrate", "--data-dir", str(data)).returncode == 0
    engine = create_engine(f"sqlite:///{data / 'clientops.db'}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User)) == 0
    engine.dispose()


def test_token_create_prints_the_token_alone_and_it_works(
    client: TestClient, world: object
) -> None:
    made = _clientops(
        "token", "create", "--user", "ops_manager", "--scope", "customers:read", *_where()
    )
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "ops_manager"
    assert me.json()["scopes"] == ["customers:read"]
    listed = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    created = client.post(
        "/api/v1/customers", json={"name": "李雷"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 403  # the user may write; the token's scope may not


def test_unknown_user_gets_a_clear_error_and_exit_code_2(database_url: str) -> None:
    made = _clientops("token", "create", "--user", "nobody", "--scope", "customers:read", *_where())
    assert made.returncode == 2
    assert made.stdout == ""
    assert "nobody" in made.stderr or "user" in made.stderr.lower()
