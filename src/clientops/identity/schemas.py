"""Identity resolution API shapes: pairs, merges, runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clientops.core.types import MAX_ID


class CustomerBrief(BaseModel):
    """A customer of a pair or merge, as far as the caller may see it (None once merged away)."""

    id: int
    name: str | None = None
    kind: str | None = None


class EvidenceRead(BaseModel):
    """One comparison of a pair: the level it reached, its match weight and the two values."""

    label: str | None = None
    weight: float | None = None
    left: Any = None
    right: Any = None


class PairRead(BaseModel):
    """Two customers that may be the same person, with the engine's evidence."""

    id: int
    left: CustomerBrief
    right: CustomerBrief
    probability: float
    match_weight: float
    rule: str
    evidence: dict[str, EvidenceRead]
    status: Literal["pending", "merged", "rejected"]
    decided_by: int | None
    decided_at: datetime | None
    created_at: datetime


class PairPage(BaseModel):
    """A page of pairs and the cursor of the next one."""

    items: list[PairRead]
    next_cursor: str | None


class MergeCreate(BaseModel):
    """Which customer of the pair lives on; by default the one the survivorship rules pick."""

    model_config = ConfigDict(extra="forbid")
    survivor_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class FieldChoice(BaseModel):
    """Whose value a field took in a merge, and the rule that decided."""

    source: Literal["survivor", "merged"] = Field(alias="from")
    rule: str

    model_config = ConfigDict(populate_by_name=True)


class MergeRead(BaseModel):
    """A merge: who was folded into whom, why, which rule chose each field, whether undone."""

    id: int
    survivor: CustomerBrief
    merged: CustomerBrief
    pair_id: int | None
    choices: dict[str, FieldChoice]
    moved: dict[str, int] = Field(description="Rows re-pointed to the survivor, per table.")
    reason: dict[str, Any]
    created_by: int | None
    created_at: datetime
    undone_at: datetime | None
    undone_by: int | None


class MergePage(BaseModel):
    """A page of merges, newest first, and the cursor of the next one."""

    items: list[MergeRead]
    next_cursor: str | None


class RunCreate(BaseModel):
    """Start a resolve run: ``full``, or ``incremental`` since a time (default: since the last
    successful run)."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["full", "incremental"] = "incremental"
    since: datetime | None = None


class RunRead(BaseModel):
    """The queued resolve job (its progress and log: ``/jobs/{job_id}``)."""

    job_id: int
    status: str
    params: dict[str, Any]
