"""Identity resolution pages: the review queue, a pair side by side, merge history, runs."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.i18n import N_, gettext
from clientops.core.types import RecordId
from clientops.core.web import hx_redirect, render
from clientops.customers import service as customers_service
from clientops.exceptions import ClientOpsError, Conflict, InvalidInput, NotFound
from clientops.identity import flows, service
from clientops.identity.models import CandidatePair

router = APIRouter(prefix="/identity")
Reviewer = Annotated[Principal, Depends(access("identity:review"))]

ERRORS = {
    "already_merged": N_("This pair has been merged already."),
    "already_rejected": N_("This pair has been marked as not the same person already."),
    "not_in_pair": N_("Choose one of the two customers to keep."),
    "kinds_differ": N_("A person and a company cannot be merged."),
    "same_customer": N_("A customer cannot be merged with itself."),
    "already_undone": N_("This merge has been undone already."),
    "undo_later_merge_first": N_(
        "A later merge involves these customers: undo merge #%(id)s first."
    ),
    "survivor_gone": N_("The customer this merge kept no longer exists."),
    "merged_id_in_use": N_("The merged customer's id is in use again, so it cannot be restored."),
    "invalid_choice": N_("Choose one of the listed values."),
    "invalid_datetime": N_("Enter a date and time as YYYY-MM-DDTHH:MM."),
    "not_with_full": N_("A full run compares every customer: leave the date empty."),
    "invalid": N_("Invalid value."),
}
COMPARED = (
    ("name", N_("Name")),
    ("kind", N_("Type")),
    ("phone", N_("Phone")),
    ("email", N_("Email")),
    ("address", N_("Address")),
    ("province", N_("Province")),
    ("city", N_("City")),
    ("district", N_("District")),
    ("postcode", N_("Postcode")),
    ("birth_date", N_("Birth date")),
    ("id_number", N_("Identity number")),
    ("title", N_("Job title")),
    ("industry", N_("Industry")),
    ("website", N_("Website")),
    ("source", N_("Source")),
    ("tags", N_("Tags")),
    ("external_ids", N_("External ids")),
    ("created_at", N_("Created")),
    ("updated_at", N_("Updated")),
)


def _message(exc: ClientOpsError) -> str:
    """The reader's words for a service's refusal."""
    errors: dict[str, str] = getattr(exc, "errors", None) or {}
    code = next(iter(errors.values()), "invalid")
    text = gettext(ERRORS.get(code, ERRORS["invalid"]))
    return text % {"id": errors.get("later_merge_id", "")} if "%(id)s" in text else text


@router.get("")
def queue_page(request: Request, db: SessionDep, principal: Reviewer) -> Response:
    """Pending pairs, the most probable first; a pair opens side by side."""
    cursor = request.query_params.get("cursor") or None
    try:
        rows, next_cursor = service.list_pairs(db=db, principal=principal, cursor=cursor)
    except InvalidInput:
        rows, next_cursor = service.list_pairs(db=db, principal=principal)
    context = {
        "pairs": service.pair_reads(db=db, pairs=rows, principal=principal),
        "next_cursor": next_cursor,
        "has_cursor": bool(cursor),
        "notice": _notice(request),
    }
    return render(request, "identity/queue.html", context, fragment="identity/_queue.html")


def _notice(request: Request) -> dict[str, str] | None:
    params = request.query_params
    for key in ("merged", "rejected", "undone"):
        value = params.get(key, "")
        if value.isdigit() and len(value) < 10:
            return {"kind": key, "id": value}
    return None


def _side(db: SessionDep, customer_id: int, principal: Principal) -> dict[str, Any] | None:
    try:
        customer = customers_service.get(db=db, customer_id=customer_id, principal=principal)
    except NotFound:
        return None
    data = customers_service.to_read(customer, principal)
    data["orders"] = customers_service.order_summary(db=db, customer_id=customer_id)["count"]
    return data


def _pair_page(
    request: Request,
    db: SessionDep,
    principal: Principal,
    pair: CandidatePair,
    error: str | None = None,
    status: int = 200,
) -> Response:
    sides = [_side(db, i, principal) for i in (pair.left_id, pair.right_id)]
    live = [s["id"] for s in sides if s is not None]
    context = {
        "pair": service.pair_reads(db=db, pairs=[pair], principal=principal)[0],
        "left": sides[0],
        "right": sides[1],
        "compared": COMPARED,
        "labels": dict(COMPARED),
        "survivor_id": service.default_survivor(db=db, ids=live) if len(live) == 2 else None,
        "error": error,
    }
    return render(request, "identity/pair.html", context, status_code=status)


@router.get("/pairs/{pair_id}")
def pair_page(request: Request, db: SessionDep, principal: Reviewer, pair_id: RecordId) -> Response:
    """Two customers side by side with the evidence per comparison; merge or reject."""
    pair = service.get_pair(db=db, pair_id=pair_id, principal=principal)
    return _pair_page(request, db, principal, pair)


@router.post("/pairs/{pair_id}/merge")
async def merge(
    request: Request, db: SessionDep, principal: Reviewer, pair_id: RecordId
) -> Response:
    """Merge the pair into the customer chosen on the form (default: by the rules)."""
    form = await request.form()
    raw = str(form.get("survivor_id") or "").strip()
    try:
        if raw and not (raw.isdigit() and len(raw) < 10):
            raise InvalidInput({"survivor_id": "not_in_pair"})
        record = service.merge_pair(
            db=db, pair_id=pair_id, principal=principal, survivor_id=int(raw) if raw else None
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        pair = service.get_pair(db=db, pair_id=pair_id, principal=principal)
        status = 409 if isinstance(exc, Conflict) else 422
        return _pair_page(request, db, principal, pair, error=_message(exc), status=status)
    return hx_redirect(request, "/identity?" + urlencode({"merged": record.id}))


@router.post("/pairs/{pair_id}/reject")
def reject(request: Request, db: SessionDep, principal: Reviewer, pair_id: RecordId) -> Response:
    """Not the same person: the pair leaves the queue until one of the records changes."""
    try:
        pair = service.reject(db=db, pair_id=pair_id, principal=principal)
    except Conflict as exc:
        db.rollback()
        pair = service.get_pair(db=db, pair_id=pair_id, principal=principal)
        return _pair_page(request, db, principal, pair, error=_message(exc), status=409)
    return hx_redirect(request, "/identity?" + urlencode({"rejected": pair.id}))


def _merges_page(
    request: Request,
    db: SessionDep,
    principal: Principal,
    error: str | None = None,
    status: int = 200,
) -> Response:
    cursor = request.query_params.get("cursor") or None
    try:
        rows, next_cursor = service.list_merges(db=db, principal=principal, cursor=cursor)
    except InvalidInput:
        rows, next_cursor = service.list_merges(db=db, principal=principal)
    context = {
        "merges": service.merge_reads(db=db, merges=rows),
        "next_cursor": next_cursor,
        "has_cursor": bool(cursor),
        "error": error,
        "notice": _notice(request),
    }
    return render(
        request,
        "identity/merges.html",
        context,
        status_code=status,
        fragment="identity/_merges.html",
    )


@router.get("/merges")
def merges_page(request: Request, db: SessionDep, principal: Reviewer) -> Response:
    """Merges done by people and by resolve runs, newest first, each with Unmerge."""
    return _merges_page(request, db, principal)


@router.post("/merges/{merge_id}/undo")
def undo(request: Request, db: SessionDep, principal: Reviewer, merge_id: RecordId) -> Response:
    """Unmerge: both customers back exactly as they were."""
    try:
        record = service.unmerge(db=db, merge_id=merge_id, actor=principal)
    except Conflict as exc:
        db.rollback()
        return _merges_page(request, db, principal, error=_message(exc), status=409)
    return hx_redirect(request, "/identity/merges?" + urlencode({"undone": record.id}))


@router.post("/runs")
async def start_run(request: Request, db: SessionDep, principal: Reviewer) -> Response:
    """Look for duplicates now: new and changed customers, or all of them."""
    form = await request.form()
    mode = str(form.get("mode") or "incremental")
    job = flows.start_run(db=db, principal=principal, mode=mode, since=None)
    return hx_redirect(request, f"/jobs/{job.id}")
