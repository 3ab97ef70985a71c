"""Imports JSON API: /api/v1/imports (upload, mapping, run, report) and saved mappings."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.types import ERROR_RESPONSES, RecordId
from clientops.exceptions import InvalidInput
from clientops.imports import flows, service
from clientops.imports.models import Import
from clientops.imports.schemas import (
    ImportRead,
    ImportRun,
    ImportSetup,
    JobStarted,
    MappingTemplateIn,
    MappingTemplateRead,
)

router = APIRouter(prefix="/api/v1/imports", tags=["imports"], responses=ERROR_RESPONSES)
Importer = Annotated[Principal, Depends(access("imports:run"))]


def _read(imp: Import, *, preview: bool = False) -> ImportRead:
    rows = []
    if preview and imp.status in ("uploaded", "validated", "failed"):
        try:
            rows = [[number, cells] for number, cells in service.preview(imp=imp)]
        except InvalidInput:
            rows = []
    return ImportRead(**service.summary(imp), preview=rows)


@router.get("", response_model=list[ImportRead])
def list_imports(db: SessionDep, principal: Importer) -> list[ImportRead]:
    """The latest imports the caller may see, newest first."""
    return [_read(imp) for imp in service.list_imports(db=db, principal=principal)]


@router.post("", response_model=ImportRead, status_code=201)
async def upload(request: Request, db: SessionDep, principal: Importer) -> ImportRead:
    """Upload a file (multipart: ``kind`` and ``file``); answers with headers, the suggested
    mapping and a preview. A file that cannot be read is refused with 422 and the reason."""
    service.check_upload_size(request.headers.get("content-length"))
    form = await request.form()
    file, kind = form.get("file"), str(form.get("kind") or "customers")
    if not isinstance(file, UploadFile) or not file.filename:
        raise InvalidInput({"file": "not_found"})
    imp = service.create(
        db=db, principal=principal, kind=kind, file_name=file.filename, stream=file.file
    )
    return _read(imp, preview=True)


@router.get("/mappings", response_model=list[MappingTemplateRead])
def list_mappings(db: SessionDep, principal: Importer) -> list[MappingTemplateRead]:
    """The saved mappings."""
    return [_template(t) for t in service.list_templates(db=db)]


@router.post("/mappings", response_model=MappingTemplateRead, status_code=201)
def save_mapping(
    db: SessionDep, principal: Importer, body: MappingTemplateIn
) -> MappingTemplateRead:
    """Save (or replace, by kind and name) a mapping."""
    template = service.save_template(
        db=db,
        principal=principal,
        kind=body.kind,
        name=body.name,
        columns=body.columns,
        options=dict(body.options),
    )
    return _template(template)


def _template(template: object) -> MappingTemplateRead:
    return MappingTemplateRead.model_validate(template, from_attributes=True)


@router.get("/{import_id}", response_model=ImportRead)
def get_import(db: SessionDep, principal: Importer, import_id: RecordId) -> ImportRead:
    """An import, with a preview of its first rows while it can still be set up."""
    return _read(service.get(db=db, principal=principal, import_id=import_id), preview=True)


@router.put("/{import_id}/mapping", response_model=ImportRead)
def set_mapping(
    db: SessionDep, principal: Importer, import_id: RecordId, body: ImportSetup
) -> ImportRead:
    """Set the column mapping and options (and, with ``encoding``, read the file again)."""
    if body.encoding:
        service.choose_encoding(
            db=db, principal=principal, import_id=import_id, encoding=body.encoding
        )
    imp = service.configure(
        db=db,
        principal=principal,
        import_id=import_id,
        mapping=body.columns,
        source=body.source,
        mode=body.mode,
        team_id=body.team_id,
        owner_id=body.owner_id,
        timezone=body.timezone,
    )
    return _read(imp, preview=True)


@router.post("/{import_id}/run", response_model=JobStarted, status_code=202)
def run_import(
    db: SessionDep, principal: Importer, import_id: RecordId, body: ImportRun
) -> JobStarted:
    """Start the dry run (default) or the import; follow it with GET /api/v1/imports/{id}."""
    _ready(db, principal, import_id)
    job = flows.submit(principal=principal, import_id=import_id, dry_run=body.dry_run)
    return JobStarted(import_id=import_id, job_id=job.id, dry_run=body.dry_run)


def _ready(db: Session, principal: Principal, import_id: int) -> None:
    """The mapping must be complete; the request's transaction ends before the job starts."""
    imp = service.get(db=db, principal=principal, import_id=import_id)
    service.check_mapping(
        kind=imp.kind,
        headers=imp.headers,
        mapping=imp.mapping,
        custom=[c.key for c in service.custom_columns(db=db)],
    )
    db.commit()


@router.get("/{import_id}/report", response_class=Response)
def report(
    db: SessionDep,
    principal: Importer,
    import_id: RecordId,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    """The failed rows: row number, error codes, columns, messages and the original cells
    (formula injection neutralised). The download is audited."""
    imp = service.get(db=db, principal=principal, import_id=import_id)
    service.record_report_download(db=db, imp=imp, file_format=format)
    if format == "xlsx":
        data = service.report_xlsx(db=db, imp=imp)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        data, media = service.report_csv(db=db, imp=imp), "text/csv; charset=utf-8"
    disposition = f"attachment; filename=import-{imp.id}-report.{format}"
    return Response(data, media_type=media, headers={"Content-Disposition": disposition})
