"""Customer pages: list and search, create and edit, the 360 view, reveal, export, fields."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from clientops.analytics import service as analytics_service
from clientops.auth import service as auth_service
from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.csvsafe import safe_cell
from clientops.core.types import RecordId
from clientops.core.web import hx_redirect, render
from clientops.customers import messages, service
from clientops.customers.models import LIFECYCLE_STAGES
from clientops.customers.schemas import (
    ActivityCreate,
    CustomerCreate,
    CustomerUpdate,
    CustomFieldCreate,
)
from clientops.events import service as events_service
from clientops.exceptions import Conflict, InvalidInput
from clientops.identity import service as identity_service
from clientops.projects import service as projects_service

router = APIRouter(prefix="/customers")
fields_router = APIRouter(prefix="/settings")

Reader = Annotated[Principal, Depends(access("customers:read"))]
Writer = Annotated[Principal, Depends(access("customers:write"))]
Deleter = Annotated[Principal, Depends(access("customers:delete"))]
Revealer = Annotated[Principal, Depends(access("customers:reveal"))]
Exporter = Annotated[Principal, Depends(access("customers:export"))]
ActivityWriter = Annotated[Principal, Depends(access("activities:write"))]
FieldAdmin = Annotated[Principal, Depends(access("fields:manage"))]

FORM_FIELDS = (
    "name",
    "kind",
    "phone",
    "email",
    "address",
    "province",
    "city",
    "district",
    "postcode",
    "birth_date",
    "id_number",
    "title",
    "website",
    "industry",
    "lifecycle_stage",
    "source",
    "notes",
    "account_id",
    "owner_id",
    "team_id",
)
EXPORT_COLUMNS = (
    "id",
    "kind",
    "name",
    "phone",
    "email",
    "address",
    "province",
    "city",
    "district",
    "postcode",
    "birth_date",
    "id_number",
    "industry",
    "lifecycle_stage",
    "owner_id",
    "team_id",
    "account_id",
    "created_at",
)


def _list_filter(request: Request) -> service.CustomerFilter:
    params = request.query_params

    def number(key: str) -> int | None:
        value = params.get(key, "")
        return int(value) if value.isdigit() and len(value) < 10 else None

    sort = params.get("sort") or None
    return service.CustomerFilter(
        q=(params.get("q") or "")[:200] or None,
        owner_id=number("owner_id"),
        team_id=number("team_id"),
        tag=params.get("tag") or None,
        stage=params.get("stage") if params.get("stage") in LIFECYCLE_STAGES else None,
        kind=params.get("kind") if params.get("kind") in ("person", "company") else None,
        account_id=number("account_id"),
        custom={k[3:]: v[:200] for k, v in params.items() if k.startswith("cf.") and v},
        sort=sort if sort in service.SORTS else None,
        within=analytics_service.list_filter(dict(params), request.state.principal),
    )


def _choices(db: SessionDep) -> dict[str, Any]:
    return {
        "users": auth_service.list_users(db=db),
        "teams": auth_service.list_teams(db=db),
        "tags": service.list_tags(db=db),
        "stages": LIFECYCLE_STAGES,
        "fields": service.list_fields(db=db),
    }


@router.get("")
def list_page(request: Request, db: SessionDep, principal: Reader) -> Response:
    """The customer list with search, filters, sort and next/previous pages."""
    flt = _list_filter(request)
    cursor = request.query_params.get("cursor") or None
    try:
        rows, next_cursor = service.list_page(db=db, principal=principal, flt=flt, cursor=cursor)
    except InvalidInput:
        rows, next_cursor = service.list_page(db=db, principal=principal, flt=flt)
    total = service.count(db=db, principal=principal, flt=flt)
    context = {
        "rows": [service.to_read(c, principal) for c in rows],
        "next_cursor": next_cursor,
        "flt": flt,
        "total": total,
        "cap": service.COUNT_CAP,
        "base_qs": urlencode(
            [(k, v) for k, v in request.query_params.multi_items() if k != "cursor" and v]
        ),
        "has_cursor": bool(cursor),
        **_choices(db),
    }
    return render(request, "customers/list.html", context, fragment="customers/_table.html")


def _form_data(form: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in FORM_FIELDS:
        if key in form:
            value = str(form.get(key) or "").strip()
            data[key] = value or None
    if "tags" in form:
        data["tags"] = [t.strip() for t in str(form.get("tags") or "").split(",") if t.strip()]
    if "external_ids" in form:
        pairs = [
            line.split(":", 1)
            for line in str(form.get("external_ids") or "").splitlines()
            if ":" in line
        ]
        data["external_ids"] = [{"source": s.strip(), "external_id": x.strip()} for s, x in pairs]
    custom = {k[3:]: str(v).strip() or None for k, v in form.items() if k.startswith("cf.")}
    if custom:
        data["custom_fields"] = custom
    return data


def _pydantic_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = loc[0] if loc else "form"
        if key == "custom_fields" and len(loc) > 1:
            key = f"cf.{loc[1]}"
        code = (
            "required"
            if error["type"] == "missing"
            else ("too_long" if "too_long" in error["type"] else "invalid")
        )
        errors.setdefault(key, code)
    return errors


def _form_page(
    request: Request,
    db: SessionDep,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    customer_id: int | None,
    status: int = 200,
) -> Response:
    context = {
        "values": values,
        "errors": {k: messages.message(v) for k, v in errors.items()},
        "customer_id": customer_id,
        **_choices(db),
    }
    return render(request, "customers/form.html", context, status_code=status)


async def _save(
    request: Request, db: SessionDep, principal: Principal, customer_id: int | None
) -> Response:
    form = await request.form()
    data = _form_data(form)
    try:
        if customer_id is None:
            customer = service.create(db=db, data=CustomerCreate(**data), principal=principal)
        else:
            customer = service.update(
                db=db, customer_id=customer_id, data=CustomerUpdate(**data), principal=principal
            )
    except ValidationError as exc:
        errors = _pydantic_errors(exc)
    except (InvalidInput, Conflict) as exc:
        errors = exc.errors
    else:
        return hx_redirect(request, f"/customers/{customer.id}")
    db.rollback()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    return _form_page(
        request, db, values=values, errors=errors, customer_id=customer_id, status=422
    )


@router.get("/new")
def new_form(request: Request, db: SessionDep, principal: Writer) -> Response:
    """An empty customer form (``?account_id=`` pre-fills the company of a new contact)."""
    values = {
        "kind": request.query_params.get("kind", "person"),
        "account_id": request.query_params.get("account_id", ""),
        "owner_id": str(principal.user_id),
        "lifecycle_stage": "potential",
        "team_id": str(min(principal.team_ids)) if principal.team_ids else "",
    }
    return _form_page(request, db, values=values, errors={}, customer_id=None)


@router.post("/new")
async def create(request: Request, db: SessionDep, principal: Writer) -> Response:
    """Create a customer from the form; on errors the form comes back with messages."""
    return await _save(request, db, principal, None)


@router.get("/export.csv")
def export_csv(request: Request, db: SessionDep, principal: Exporter) -> Response:
    """The filtered list as CSV (masked per role; formula injection neutralised; audited)."""
    rows = service.export_rows(db=db, principal=principal, flt=_list_filter(request))
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(row[c]) for c in EXPORT_COLUMNS])
    return StreamingResponse(
        iter([buffer.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=customers.csv"},
    )


@router.get("/{customer_id}")
def detail(request: Request, db: SessionDep, principal: Reader, customer_id: RecordId) -> Response:
    """The customer 360 page: profile, account and contacts, timeline, orders."""
    customer = service.get(db=db, customer_id=customer_id, principal=principal)
    account = None
    if customer.account_id:
        try:
            account = service.get(db=db, customer_id=customer.account_id, principal=principal)
        except Exception:
            account = None
    context = {
        "c": service.to_read(customer, principal),
        "account": account,
        "contacts": service.contacts(db=db, account_id=customer.id, principal=principal)
        if customer.kind == "company"
        else [],
        "timeline": events_service.with_events(
            service.timeline(db=db, customer_id=customer.id), db=db, customer_id=customer.id
        ),
        "event_summary": events_service.summary(db=db, customer_id=customer.id),
        "orders": service.recent_orders(db=db, customer_id=customer.id),
        "summary": service.order_summary(db=db, customer_id=customer.id),
        "owner": auth_service.get_user(db=db, user_id=customer.owner_id)
        if customer.owner_id
        else None,
        "team": next((t for t in auth_service.list_teams(db=db) if t.id == customer.team_id), None),
        "fields": {f.key: f for f in service.list_fields(db=db)},
        "masked": not principal.sees_clear,
        "can_reveal": principal.can("customers:reveal"),
        "merges": identity_service.merges_into(db=db, customer_id=customer.id),
        "analytics": analytics_service.panel(db=db, customer_id=customer.id, principal=principal),
        "customer_projects": projects_service.for_customer(
            db=db, customer_id=customer.id, principal=principal
        ),
    }
    return render(request, "customers/detail.html", context)


@router.get("/{customer_id}/edit")
def edit_form(
    request: Request, db: SessionDep, principal: Writer, customer_id: RecordId
) -> Response:
    """The edit form of a customer."""
    customer = service.get(db=db, customer_id=customer_id, principal=principal)
    data = service.to_read(customer, principal)
    values = {k: "" if data.get(k) is None else str(data[k]) for k in FORM_FIELDS}
    values["tags"] = ", ".join(data["tags"])
    values["external_ids"] = "\n".join(
        f"{e['source']}:{e['external_id']}" for e in data["external_ids"]
    )
    values.update(
        {f"cf.{k}": "" if v is None else str(v) for k, v in data["custom_fields"].items()}
    )
    return _form_page(request, db, values=values, errors={}, customer_id=customer_id)


@router.post("/{customer_id}/edit")
async def update(
    request: Request, db: SessionDep, principal: Writer, customer_id: RecordId
) -> Response:
    """Save the edit form."""
    service.get(db=db, customer_id=customer_id, principal=principal)
    return await _save(request, db, principal, customer_id)


@router.post("/{customer_id}/delete")
def delete(request: Request, db: SessionDep, principal: Deleter, customer_id: RecordId) -> Response:
    """Delete a customer."""
    service.delete(db=db, customer_id=customer_id, principal=principal)
    return hx_redirect(request, "/customers")


@router.post("/{customer_id}/reveal/{field_name}")
def reveal(
    request: Request, db: SessionDep, principal: Revealer, customer_id: RecordId, field_name: str
) -> Response:
    """Show one masked field in clear (the read is recorded)."""
    if field_name not in service.PERSONAL_FIELDS:
        raise InvalidInput({"field": "invalid"})
    value = service.reveal(
        db=db, customer_id=customer_id, field_name=field_name, principal=principal
    )
    return render(request, "customers/_revealed.html", {"value": value, "field": field_name})


@router.post("/{customer_id}/activities")
async def log_activity(
    request: Request, db: SessionDep, principal: ActivityWriter, customer_id: RecordId
) -> Response:
    """Log a note, call, meeting or email from the 360 page."""
    service.get(db=db, customer_id=customer_id, principal=principal)
    form = await request.form()
    try:
        data = ActivityCreate(
            kind=str(form.get("kind", "note")),
            subject=str(form.get("subject", "")),
            body=str(form.get("body", "")) or None,
        )
    except ValidationError as exc:
        raise InvalidInput(_pydantic_errors(exc)) from exc
    service.add_activity(db=db, customer_id=customer_id, data=data, principal=principal)
    return hx_redirect(request, f"/customers/{customer_id}")


@fields_router.get("/fields")
def fields_page(request: Request, db: SessionDep, principal: FieldAdmin) -> Response:
    """Custom field definitions (admins)."""
    return render(
        request,
        "customers/fields.html",
        {"fields": service.list_fields(db=db), "errors": {}, "values": {}},
    )


@fields_router.post("/fields")
async def add_field(request: Request, db: SessionDep, principal: FieldAdmin) -> Response:
    """Define a custom field."""
    form = await request.form()
    values = {k: str(v) for k, v in form.items()}
    choices = [c.strip() for c in values.get("choices", "").split(",") if c.strip()]
    try:
        data = CustomFieldCreate(
            key=values.get("key", ""),
            label_en=values.get("label_en", ""),
            label_zh=values.get("label_zh", ""),
            field_type=values.get("field_type", "text"),
            choices=choices,
            required=values.get("required") == "on",
        )
        service.create_field(db=db, data=data, principal=principal)
    except ValidationError as exc:
        errors = _pydantic_errors(exc)
    except (InvalidInput, Conflict) as exc:
        errors = exc.errors
    else:
        return hx_redirect(request, "/settings/fields")
    db.rollback()
    return render(
        request,
        "customers/fields.html",
        {
            "fields": service.list_fields(db=db),
            "values": values,
            "errors": {k: messages.message(v) for k, v in errors.items()},
        },
        status_code=422,
    )
