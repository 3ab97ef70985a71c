"""Import pages: the list with progress, the wizard (upload → preview → mapping → dry run →
import), the report downloads and the saved mappings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from clientops.auth import service as auth_service
from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.types import RecordId
from clientops.core.web import hx_redirect, is_htmx, render
from clientops.exceptions import InvalidInput
from clientops.imports import flows, messages, service
from clientops.imports.models import IMPORT_KINDS, IMPORT_MODES, Import
from clientops.jobs import service as jobs_service

router = APIRouter(prefix="/imports")
Importer = Annotated[Principal, Depends(access("imports:run"))]
RUNNING = ("validating", "importing")
ENCODINGS = ("utf-8", "gb18030", "utf-16", "big5", "cp1252", "latin-1", "shift_jis")
REPORT_PREVIEW = 20


@router.get("")
def list_page(request: Request, db: SessionDep, principal: Importer) -> Response:
    """The latest imports with their progress; the table refreshes itself while one runs."""
    imports = service.list_imports(db=db, principal=principal, limit=100)
    context = {
        "imports": imports,
        "running": any(imp.status in RUNNING for imp in imports),
        "percent": {imp.id: _percent(db, imp) for imp in imports},
    }
    return render(request, "imports/list.html", context, fragment="imports/_table.html")


@router.get("/new")
def new_page(request: Request, db: SessionDep, principal: Importer) -> Response:
    """The upload form: what to import, and the file."""
    return render(request, "imports/new.html", {"kinds": IMPORT_KINDS, "error": None})


@router.post("/new")
async def upload(request: Request, db: SessionDep, principal: Importer) -> Response:
    """Store the uploaded file and go to its preview and mapping; a refused file says why."""
    try:
        service.check_upload_size(request.headers.get("content-length"))
    except InvalidInput as exc:
        return _new_error(request, "customers", exc.errors)
    form = await request.form()
    upload_file, kind = form.get("file"), str(form.get("kind") or "customers")
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        return _new_error(request, kind, {"file": "not_found"})
    try:
        imp = service.create(
            db=db,
            principal=principal,
            kind=kind,
            file_name=upload_file.filename,
            stream=upload_file.file,
        )
    except InvalidInput as exc:
        return _new_error(request, kind, exc.errors)
    return hx_redirect(request, f"/imports/{imp.id}")


def _new_error(request: Request, kind: str, errors: dict[str, str]) -> Response:
    context = {"kinds": IMPORT_KINDS, "kind": kind, "error": messages.file_message(errors)}
    return render(request, "imports/new.html", context, status_code=422)


@router.get("/mappings")
def mappings_page(request: Request, db: SessionDep, principal: Importer) -> Response:
    """The saved column mappings, each downloadable as a mapping file for the CLI."""
    return render(request, "imports/mappings.html", {"templates": service.list_templates(db=db)})


@router.get("/mappings/{template_id}/mapping.yaml")
def mapping_file(db: SessionDep, principal: Importer, template_id: RecordId) -> Response:
    """A saved mapping as the YAML file ``clientops import ... --mapping`` takes."""
    template = service.get_template(db=db, template_id=template_id)
    return Response(
        service.template_document(template),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=mapping-{template.id}.yaml"},
    )


@router.post("/mappings/{template_id}/delete")
def delete_mapping(
    request: Request, db: SessionDep, principal: Importer, template_id: RecordId
) -> Response:
    """Delete a saved mapping."""
    service.delete_template(db=db, principal=principal, template_id=template_id)
    return hx_redirect(request, "/imports/mappings")


@router.get("/{import_id}")
def detail_page(
    request: Request, db: SessionDep, principal: Importer, import_id: RecordId
) -> Response:
    """One import: preview and mapping while it can be set up, progress while it runs, counts
    and the report once done."""
    imp = service.get(db=db, principal=principal, import_id=import_id)
    if is_htmx(request) and imp.status not in RUNNING:
        return Response(status_code=204, headers={"HX-Refresh": "true"})  # done: whole page
    context = _detail_context(db, imp, errors={}, values=None)
    return render(request, "imports/detail.html", context, fragment="imports/_progress.html")


def _detail_context(
    db: Any, imp: Import, *, errors: dict[str, str], values: dict[str, Any] | None
) -> dict[str, Any]:
    setup = imp.status in ("uploaded", "validated", "failed")
    preview: list[tuple[int, list[str]]] = []
    preview_error = None
    if setup:
        try:
            preview = service.preview(imp=imp)
        except InvalidInput as exc:
            preview_error = messages.file_message(exc.errors)
    return {
        "imp": imp,
        "setup": setup,
        "running": imp.status in RUNNING,
        "percent": _percent(db, imp),
        "preview": preview,
        "preview_error": preview_error,
        "choices": service.field_choices(db=db, kind=imp.kind),
        "templates": service.list_templates(db=db, kind=imp.kind),
        "teams": auth_service.list_teams(db=db),
        "users": auth_service.list_users(db=db),
        "modes": IMPORT_MODES,
        "encodings": ENCODINGS,
        "errors": errors,
        "values": values or {},
        "report": _report_preview(db, imp),
    }


def _report_preview(db: Any, imp: Import) -> list[list[Any]]:
    if imp.failed == 0 or imp.status in RUNNING:
        return []
    rows = []
    for row in service.report_rows(db=db, imp=imp):
        rows.append(row)
        if len(rows) > REPORT_PREVIEW:
            break
    return rows


def _percent(db: Any, imp: Import) -> int:
    if imp.status in ("validated", "succeeded", "rejected"):
        return 100
    if imp.job_id is None or imp.status not in RUNNING:
        return 0
    job = jobs_service.get_job(db=db, job_id=imp.job_id)
    return round(jobs_service.percent(job))


@router.post("/{import_id}/encoding")
async def choose_encoding(
    request: Request, db: SessionDep, principal: Importer, import_id: RecordId
) -> Response:
    """Read the file again in the encoding the user chose."""
    form = await request.form()
    encoding = str(form.get("encoding") or "")
    if encoding not in ENCODINGS:
        return _detail_error(request, db, principal, import_id, {"encoding": "encoding"}, None)
    try:
        service.choose_encoding(db=db, principal=principal, import_id=import_id, encoding=encoding)
    except InvalidInput as exc:
        db.rollback()
        return _detail_error(request, db, principal, import_id, exc.errors, None)
    return hx_redirect(request, f"/imports/{import_id}")


@router.post("/{import_id}/template")
async def use_template(
    request: Request, db: SessionDep, principal: Importer, import_id: RecordId
) -> Response:
    """Set the mapping and options from a saved mapping."""
    form = await request.form()
    template = str(form.get("template_id") or "")
    try:
        if not template.isdigit():
            raise InvalidInput({"mapping": "invalid_mapping", "detail": "-"})
        service.apply_template(
            db=db, principal=principal, import_id=import_id, template_id=int(template)
        )
    except InvalidInput as exc:
        db.rollback()
        return _detail_error(request, db, principal, import_id, exc.errors, None)
    return hx_redirect(request, f"/imports/{import_id}")


@router.post("/{import_id}/start")
async def start(
    request: Request, db: SessionDep, principal: Importer, import_id: RecordId
) -> Response:
    """Save the mapping and options, optionally as a named mapping, then run the dry run or
    the import itself."""
    form = await request.form()
    imp = service.get(db=db, principal=principal, import_id=import_id)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    mapping = {h: (values.get(f"map-{i}") or None) for i, h in enumerate(imp.headers)}
    try:
        service.configure(
            db=db,
            principal=principal,
            import_id=import_id,
            mapping=mapping,
            source=values.get("source") or None,
            mode=values.get("mode") or None,
            team_id=_number(values.get("team_id")),
            owner_id=_number(values.get("owner_id")),
            timezone=values.get("timezone") or None,
        )
        if values.get("template_name"):
            service.save_template(
                db=db,
                principal=principal,
                kind=imp.kind,
                name=values["template_name"],
                columns=imp.mapping,
                options={"source": imp.source, "mode": imp.mode},
            )
    except InvalidInput as exc:
        db.rollback()
        return _detail_error(request, db, principal, import_id, exc.errors, values)
    db.commit()  # the job reads the mapping from its own connection
    flows.submit(principal=principal, import_id=import_id, dry_run=values.get("action") != "commit")
    return hx_redirect(request, f"/imports/{import_id}")


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def _detail_error(
    request: Request,
    db: Any,
    principal: Principal,
    import_id: int,
    errors: dict[str, str],
    values: dict[str, Any] | None,
) -> Response:
    imp = service.get(db=db, principal=principal, import_id=import_id)
    context = _detail_context(db, imp, errors=errors, values=values)
    context["error"] = messages.file_message(errors)
    return render(request, "imports/detail.html", context, status_code=422)


@router.get("/{import_id}/report.csv")
def report_csv(db: SessionDep, principal: Importer, import_id: RecordId) -> Response:
    """The row-level report as CSV (formula injection neutralised; the download is audited)."""
    imp = service.get(db=db, principal=principal, import_id=import_id)
    service.record_report_download(db=db, imp=imp, file_format="csv")
    return Response(
        service.report_csv(db=db, imp=imp),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=import-{imp.id}-report.csv"},
    )


@router.get("/{import_id}/report.xlsx")
def report_xlsx(db: SessionDep, principal: Importer, import_id: RecordId) -> Response:
    """The row-level report as XLSX (formula injection neutralised; the download is audited)."""
    imp = service.get(db=db, principal=principal, import_id=import_id)
    service.record_report_download(db=db, imp=imp, file_format="xlsx")
    return Response(
        service.report_xlsx(db=db, imp=imp),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=import-{imp.id}-report.xlsx"},
    )
