"""Pydantic shapes of the imports API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Kind = Literal["customers", "orders", "activities"]
Mode = Literal["all-or-nothing", "valid-rows"]


class ImportRead(BaseModel):
    """An import: its file, setup, status and counts (dry run: what would happen)."""

    id: int
    kind: Kind
    file_name: str
    source: str
    mode: Mode
    status: str = Field(
        description="uploaded, validating, validated (dry run done), importing, succeeded, "
        "rejected (all-or-nothing with failed rows: nothing written) or failed."
    )
    dry_run: bool
    encoding: str | None = Field(description="The text encoding read (null for XLSX).")
    encoding_confident: bool = Field(description="False: detection was unsure; check preview.")
    delimiter: str | None
    headers: list[str]
    mapping: dict[str, str | None] = Field(description="File header → field (null: ignored).")
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    accounts_created: int
    job_id: int | None
    team_id: int | None
    owner_id: int | None
    created_at: str | None
    finished_at: str | None
    error: str | None
    preview: list[list[Any]] = Field(
        default_factory=list, description="The first rows: [row number, [cells...]]."
    )


class ImportSetup(BaseModel):
    """The column mapping and options of an import."""

    columns: dict[str, str | None] = Field(
        description="File header → field (`name`, `phone`, `cf.<key>`...); null ignores it."
    )
    source: str | None = Field(default=None, max_length=60)
    mode: Mode | None = None
    team_id: int | None = None
    owner_id: int | None = None
    timezone: str | None = Field(default=None, max_length=60)
    encoding: str | None = Field(default=None, max_length=32, description="Read the file again.")


class ImportRun(BaseModel):
    """Start the import's job."""

    dry_run: bool = Field(default=True, description="Validate and count only; write nothing.")


class JobStarted(BaseModel):
    """The job now running the import."""

    import_id: int
    job_id: int
    dry_run: bool


class MappingTemplateIn(BaseModel):
    """A reusable mapping, the same shape as the CLI's mapping file."""

    kind: Kind
    name: str = Field(min_length=1, max_length=120)
    columns: dict[str, str | None]
    options: dict[str, str] = Field(default_factory=dict)


class MappingTemplateRead(MappingTemplateIn):
    """A saved mapping."""

    id: int
