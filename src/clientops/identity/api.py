"""Identity resolution JSON API: the review queue, merges and unmerges, resolve runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.types import ERROR_RESPONSES, Cursor, Limit, RecordId
from clientops.identity import flows, service
from clientops.identity.schemas import (
    MergeCreate,
    MergePage,
    MergeRead,
    PairPage,
    PairRead,
    RunCreate,
    RunRead,
)

router = APIRouter(prefix="/api/v1/identity", tags=["identity"], responses=ERROR_RESPONSES)

Reviewer = Annotated[Principal, Depends(access("identity:review"))]
Status = Annotated[
    Literal["pending", "merged", "rejected"],
    Query(description="Pairs in this state; the most probable first."),
]


@router.get("/pairs", response_model=PairPage)
def list_pairs(
    db: SessionDep,
    principal: Reviewer,
    status: Status = "pending",
    cursor: Cursor = None,
    limit: Limit = 25,
) -> dict[str, Any]:
    """Candidate pairs whose customers the caller may see, with the evidence per comparison."""
    rows, next_cursor = service.list_pairs(
        db=db, principal=principal, status=status, cursor=cursor, limit=limit
    )
    return {
        "items": service.pair_reads(db=db, pairs=rows, principal=principal),
        "next_cursor": next_cursor,
    }


@router.post("/pairs/{pair_id}/merge", response_model=MergeRead, status_code=201)
def merge_pair(
    db: SessionDep, principal: Reviewer, pair_id: RecordId, body: MergeCreate | None = None
) -> dict[str, Any]:
    """Merge the pair's customers into ``survivor_id`` (default: by the survivorship rules)."""
    survivor_id = body.survivor_id if body else None
    record = service.merge_pair(
        db=db, pair_id=pair_id, principal=principal, survivor_id=survivor_id
    )
    return service.merge_reads(db=db, merges=[record])[0]


@router.post("/pairs/{pair_id}/reject", response_model=PairRead)
def reject_pair(db: SessionDep, principal: Reviewer, pair_id: RecordId) -> dict[str, Any]:
    """Not the same person: the pair leaves the queue until one of its records changes."""
    pair = service.reject(db=db, pair_id=pair_id, principal=principal)
    return service.pair_reads(db=db, pairs=[pair], principal=principal)[0]


@router.get("/merges", response_model=MergePage)
def list_merges(
    db: SessionDep, principal: Reviewer, cursor: Cursor = None, limit: Limit = 25
) -> dict[str, Any]:
    """Merges the caller may see, newest first."""
    rows, next_cursor = service.list_merges(db=db, principal=principal, cursor=cursor, limit=limit)
    return {"items": service.merge_reads(db=db, merges=rows), "next_cursor": next_cursor}


@router.post("/merges/{merge_id}/undo", response_model=MergeRead)
def undo_merge(db: SessionDep, principal: Reviewer, merge_id: RecordId) -> dict[str, Any]:
    """Unmerge: both customers back as they were (409 while a later merge depends on it)."""
    record = service.unmerge(db=db, merge_id=merge_id, actor=principal)
    return service.merge_reads(db=db, merges=[record])[0]


@router.post("/runs", response_model=RunRead, status_code=202)
def start_run(db: SessionDep, principal: Reviewer, body: RunCreate | None = None) -> dict[str, Any]:
    """Queue a resolve run (``incremental`` since the last successful run by default)."""
    body = body or RunCreate()
    job = flows.start_run(db=db, principal=principal, mode=body.mode, since=body.since)
    return {"job_id": job.id, "status": job.status, "params": job.params}
