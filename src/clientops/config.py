"""Settings read from the environment (prefix ``CLIENTOPS_``) and the command line."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``CLIENTOPS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CLIENTOPS_", extra="ignore")

    data_dir: Path = Path("./clientops-data")
    database_url: str | None = None
    jobs_database_url: str | None = None
    secret_key: str | None = None
    demo_mode: bool = False
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_attempts_per_window: int = 5
    login_window_seconds: int = 300
    https: bool = False
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=1024)
    default_locale: str = "en"
    jobs_enabled: bool = True
    job_step_delay_ms: int = Field(default=0, ge=0)
    page_size: int = Field(default=25, ge=1, le=200)
    # Customer data platform (issue #3)
    phone_region: str = Field(default="CN", min_length=2, max_length=2)
    import_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    import_max_rows: int = Field(default=5_000_000, ge=1)
    import_xlsx_max_uncompressed: int = Field(default=1024 * 1024 * 1024, ge=1024)
    import_xlsx_max_ratio: int = Field(default=200, ge=10)
    import_batch_size: int = Field(default=10_000, ge=100)
    import_stream_min_rows: int = Field(default=20_000, ge=0)
    import_bulk_index_ratio: float = Field(default=0.5, ge=0)
    events_max_batch: int = Field(default=1000, ge=1)
    events_max_event_bytes: int = Field(default=32 * 1024, ge=1024)
    events_max_batch_bytes: int = Field(default=512 * 1024, ge=1024)
    identity_auto_merge: float = Field(default=0.99, gt=0, le=1)
    identity_review_from: float = Field(default=0.80, gt=0, le=1)
    identity_survivorship: list[str] = ["source_priority", "most_recent", "most_complete"]
    identity_source_priority: list[str] = []
    events_cart_events: list[str] = []
    # Customer value analytics (issue #4)
    analytics_engine: str = Field(default="duckdb", pattern="^(duckdb|postgres|spark)$")
    analytics_nightly_cron: str = "15 3 * * *"
    analytics_batch_size: int = Field(default=50_000, ge=100)
    analytics_clv_model: str = Field(default="bgnbd", pattern="^(bgnbd|paretonbd)$")
    analytics_clv_horizon_weeks: int = Field(default=52, ge=1, le=520)
    analytics_clv_annual_discount: float = Field(default=0.10, ge=0, lt=1)
    analytics_clv_refit_days: int = Field(default=7, ge=1, le=366)
    analytics_churn_horizon_days: int = Field(default=30, ge=1, le=365)
    analytics_churn_definition: str = "no_purchase"
    # Customer projects (issue #5): the budget rule, |CV| / EV within this share of the budget
    projects_budget_tolerance: float = Field(default=0.05, gt=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        rules = {"source_priority", "most_recent", "most_complete"}
        unknown = [rule for rule in self.identity_survivorship if rule not in rules]
        if unknown:
            raise ValueError(f"identity_survivorship: unknown {unknown}; use {sorted(rules)}")
        if self.identity_review_from > self.identity_auto_merge:
            raise ValueError("identity_review_from must not exceed identity_auto_merge")
        return self

    @property
    def app_database_url(self) -> str:
        """The app database: ``CLIENTOPS_DATABASE_URL`` or a SQLite file in the data folder."""
        if self.database_url:
            return normalise_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'clientops.db').resolve()}"

    @property
    def system_database_url(self) -> str:
        """The DBOS system database: next to the app database unless set explicitly."""
        if self.jobs_database_url:
            return normalise_url(self.jobs_database_url)
        if self.database_url and not self.app_database_url.startswith("sqlite"):
            return self.app_database_url
        return f"sqlite:///{(self.data_dir / 'clientops-jobs.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """True when the app database is a SQLite file."""
        return self.app_database_url.startswith("sqlite")

    def session_secret(self) -> str:
        """The signing secret; demo mode keeps a generated one in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests and the CLI reset them with ``configure``)."""
    return Settings()


def configure(**overrides: object) -> Settings:
    """Set process settings, e.g. from CLI flags, on top of those already configured."""
    base = _override[-1] if _override else Settings()
    changes = {k: v for k, v in overrides.items() if v is not None}
    settings = Settings.model_validate({**base.model_dump(), **changes})  # checked and typed
    get_settings.cache_clear()
    _override.clear()
    _override.append(settings)
    return settings


_override: list[Settings] = []


@contextmanager
def override(**changes: object) -> Iterator[Settings]:
    """Settings with some values changed, for the duration of a block (tests, one-off runs)."""
    _override.append(current().model_copy(update=changes))
    try:
        yield _override[-1]
    finally:
        _override.pop()


def current() -> Settings:
    """Settings in force: the ones ``configure`` set, else those from the environment."""
    return _override[-1] if _override else get_settings()
