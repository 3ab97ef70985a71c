"""JSON API for customers and accounts: /api/v1/customers, /api/v1/accounts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.types import (
    ERROR_RESPONSES,
    Cursor,
    Limit,
    OptionalId,
    RecordId,
    SearchText,
    ShortText,
)
from clientops.customers import service
from clientops.customers.models import Customer
from clientops.customers.schemas import (
    AccountPage,
    AccountRead,
    ActivityCreate,
    ActivityRead,
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    Stage,
)
from clientops.exceptions import InvalidInput, NotFound

router = APIRouter(prefix="/api/v1", tags=["customers"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, Depends(access("customers:read"))]
Writer = Annotated[Principal, Depends(access("customers:write"))]
Deleter = Annotated[Principal, Depends(access("customers:delete"))]
Revealer = Annotated[Principal, Depends(access("customers:reveal"))]
ActivityWriter = Annotated[Principal, Depends(access("activities:write"))]
AccountReader = Annotated[Principal, Depends(access("accounts:read"))]
AccountWriter = Annotated[Principal, Depends(access("accounts:write"))]
Sort = Annotated[
    Literal["match", "-created", "created", "name", "-name", "-updated"] | None,
    Query(
        description="Order of the items. Default: `match` (by the matched name, phone or email "
        "key) when `q` is given, else `-created` (newest first)."
    ),
]


def _filter(
    request: Request,
    q: str | None,
    owner_id: int | None,
    team_id: int | None,
    tag: str | None,
    stage: str | None,
    kind: str | None,
    account_id: int | None,
    sort: str | None,
) -> service.CustomerFilter:
    custom = {k[3:]: v for k, v in request.query_params.items() if k.startswith("cf.")}
    return service.CustomerFilter(
        q=q,
        owner_id=owner_id,
        team_id=team_id,
        tag=tag,
        stage=stage,
        kind=kind,
        account_id=account_id,
        custom=custom,
        sort=sort,
    )


@router.get("/customers", response_model=CustomerPage)
def list_customers(
    request: Request,
    db: SessionDep,
    principal: Reader,
    q: SearchText = None,
    owner_id: OptionalId = None,
    team_id: OptionalId = None,
    tag: ShortText = None,
    stage: Stage | None = None,
    kind: Literal["person", "company"] | None = None,
    account_id: OptionalId = None,
    sort: Sort = None,
    cursor: Cursor = None,
    limit: Limit = 25,
) -> dict[str, Any]:
    """Customers the caller may see, filtered; ``cf.<key>=value`` filters on a custom field."""
    flt = _filter(request, q, owner_id, team_id, tag, stage, kind, account_id, sort)
    rows, next_cursor = service.list_page(
        db=db, principal=principal, flt=flt, cursor=cursor, limit=limit
    )
    return {"items": [service.to_read(c, principal) for c in rows], "next_cursor": next_cursor}


@router.post("/customers", response_model=CustomerRead, status_code=201)
def create_customer(db: SessionDep, principal: Writer, body: CustomerCreate) -> dict[str, Any]:
    """Create a customer."""
    customer = service.create(db=db, data=body, principal=principal)
    return service.to_read(customer, principal)


@router.get("/customers/{customer_id}", response_model=CustomerRead)
def read_customer(db: SessionDep, principal: Reader, customer_id: RecordId) -> dict[str, Any]:
    """One customer."""
    return service.to_read(
        service.get(db=db, customer_id=customer_id, principal=principal), principal
    )


@router.patch("/customers/{customer_id}", response_model=CustomerRead)
def update_customer(
    db: SessionDep, principal: Writer, customer_id: RecordId, body: CustomerUpdate
) -> dict[str, Any]:
    """Change the fields sent."""
    customer = service.update(db=db, customer_id=customer_id, data=body, principal=principal)
    return service.to_read(customer, principal)


@router.delete("/customers/{customer_id}", status_code=204)
def delete_customer(db: SessionDep, principal: Deleter, customer_id: RecordId) -> Response:
    """Delete a customer."""
    service.delete(db=db, customer_id=customer_id, principal=principal)
    return Response(status_code=204)


class RevealRead(BaseModel):
    """The clear value of one personal field (the read is audited)."""

    field: str
    value: str | None


@router.post("/customers/{customer_id}/reveal", response_model=RevealRead)
def reveal_field(
    db: SessionDep,
    principal: Revealer,
    customer_id: RecordId,
    field: Annotated[Literal["phone", "email", "address", "id_number", "birth_date"], Query()],
) -> RevealRead:
    """Reveal a masked personal field, recording the read."""
    value = service.reveal(db=db, customer_id=customer_id, field_name=field, principal=principal)
    return RevealRead(field=field, value=value)


@router.get("/customers/{customer_id}/activities", response_model=list[ActivityRead])
def list_activities(db: SessionDep, principal: Reader, customer_id: RecordId) -> list[Any]:
    """The customer's timeline of activities, newest first."""
    service.get(db=db, customer_id=customer_id, principal=principal)
    return service.activities(db=db, customer_id=customer_id)


@router.post("/customers/{customer_id}/activities", response_model=ActivityRead, status_code=201)
def add_activity(
    db: SessionDep, principal: ActivityWriter, customer_id: RecordId, body: ActivityCreate
) -> Any:
    """Log a note, call, meeting or email."""
    return service.add_activity(db=db, customer_id=customer_id, data=body, principal=principal)


# --- accounts: companies with their contacts ----------------------------------------------


def _accounts_read(db: SessionDep, rows: list[Customer], principal: Principal) -> list[Any]:
    ids = service.contact_ids(db=db, account_ids=[c.id for c in rows], principal=principal)
    return [{**service.to_read(c, principal), "contact_ids": ids[c.id]} for c in rows]


def _account(db: SessionDep, account_id: int, principal: Principal) -> Customer:
    customer = service.get(db=db, customer_id=account_id, principal=principal)
    if customer.kind != "company":
        raise NotFound("account")
    return customer


@router.get("/accounts", response_model=AccountPage, tags=["accounts"])
def list_accounts(
    request: Request,
    db: SessionDep,
    principal: AccountReader,
    q: SearchText = None,
    owner_id: OptionalId = None,
    team_id: OptionalId = None,
    tag: ShortText = None,
    stage: Stage | None = None,
    sort: Sort = None,
    cursor: Cursor = None,
    limit: Limit = 25,
) -> dict[str, Any]:
    """Accounts (companies) the caller may see, each with its contact ids."""
    flt = _filter(request, q, owner_id, team_id, tag, stage, "company", None, sort)
    rows, next_cursor = service.list_page(
        db=db, principal=principal, flt=flt, cursor=cursor, limit=limit
    )
    return {"items": _accounts_read(db, rows, principal), "next_cursor": next_cursor}


@router.post("/accounts", response_model=AccountRead, status_code=201, tags=["accounts"])
def create_account(db: SessionDep, principal: AccountWriter, body: CustomerCreate) -> Any:
    """Create an account (a company)."""
    if body.kind != "company":
        body = body.model_copy(update={"kind": "company"})
    customer = service.create(db=db, data=body, principal=principal)
    return _accounts_read(db, [customer], principal)[0]


@router.get("/accounts/{account_id}", response_model=AccountRead, tags=["accounts"])
def read_account(db: SessionDep, principal: AccountReader, account_id: RecordId) -> Any:
    """One account with its contact ids."""
    return _accounts_read(db, [_account(db, account_id, principal)], principal)[0]


@router.patch("/accounts/{account_id}", response_model=AccountRead, tags=["accounts"])
def update_account(
    db: SessionDep, principal: AccountWriter, account_id: RecordId, body: CustomerUpdate
) -> Any:
    """Change the fields sent; an account stays a company."""
    _account(db, account_id, principal)
    if body.kind not in (None, "company"):
        raise InvalidInput({"kind": "account_is_company"})
    customer = service.update(db=db, customer_id=account_id, data=body, principal=principal)
    return _accounts_read(db, [customer], principal)[0]


@router.delete("/accounts/{account_id}", status_code=204, tags=["accounts"])
def delete_account(db: SessionDep, principal: Deleter, account_id: RecordId) -> Response:
    """Delete an account; its contacts stay, unlinked."""
    _account(db, account_id, principal)
    service.delete(db=db, customer_id=account_id, principal=principal)
    return Response(status_code=204)
