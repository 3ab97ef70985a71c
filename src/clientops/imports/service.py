"""Import rules: which column is which field, the life of an import, staging, writing, report.

A file's headers are matched to fields by their normalised form against the names Chinese and
English tools use (姓名, 手机号码, E-mail, Mobile Phone ...), then against the admin-defined custom
fields (key or either label). Each field is taken once, by the first matching column; the rest
stay unmapped for the user to choose. The same rules serve the wizard and the CLI.

An import goes: upload (the file is stored in the data folder and must open as a table) →
mapping and options → a job that stages every row (validated, in batches, in the database) and
then simulates (dry run) or writes each batch → finished, with a row-level report.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from clientops.audit import service as audit_service
from clientops.auth import service as auth_service
from clientops.auth.models import Team, User
from clientops.config import current
from clientops.core import i18n
from clientops.core.access import Principal
from clientops.core.csvsafe import safe_cell
from clientops.core.normalise import clean_text
from clientops.core.tabular import Limits, Table, TabularError, open_table
from clientops.customers.models import CustomFieldDef
from clientops.db import utcnow
from clientops.exceptions import Forbidden, InvalidInput, NotFound
from clientops.imports import messages, upsert
from clientops.imports.fields import CUSTOMER_FIELDS as CUSTOMER_FIELDS
from clientops.imports.fields import CUSTOMER_KEY_FIELDS, FIELDS, ID_LIKE, LABELS
from clientops.imports.models import (
    IMPORT_KINDS,
    IMPORT_MODES,
    Import,
    ImportBatch,
    ImportMapping,
)
from clientops.imports.staging import (
    Entry,
    Scan,
    StageCounts,
    Stager,
    StageSpec,
    check_mixed_encoding,
    pack,
    scan_file,
    unpack,
)
from clientops.imports.validate import CustomFieldRule, Lookup, RowValidator

PREVIEW_ROWS = 10
DEFAULT_SOURCE = "import"
SYSTEM_PRINCIPAL = Principal(user_id=0, username="system", role="admin", all_records=True)
"""Who a command-line import acts as when no user is named: sees and may do everything."""

# --- column mapping ---------------------------------------------------------------------------

_PUNCTUATION = re.compile(r"[\s_\-./:：()（）\[\]【】*#＊]+")


def header_key(header: str) -> str:
    """A header as compared: width-normalised, case-folded, punctuation and spaces removed."""
    return _PUNCTUATION.sub("", clean_text(header).casefold())


_SYNONYMS = {
    kind: {header_key(name): field for field, names in table.items() for name in names}
    for kind, table in FIELDS.items()
}


@dataclass(frozen=True)
class CustomColumn:
    """An admin-defined custom field as the mapping sees it."""

    key: str
    label_en: str
    label_zh: str


def suggest_mapping(
    headers: Sequence[str], custom_fields: Iterable[CustomColumn] = (), kind: str = "customers"
) -> dict[str, str | None]:
    """The field suggested for each header (``cf.<key>`` for a custom field), else ``None``.

    Headers are compared in their normalised form; each field is suggested for one column
    only, the first that matches, so a file with 手机 and 电话 maps 手机 to ``phone``.
    """
    custom: dict[str, str] = {}
    for definition in custom_fields:
        for name in (definition.key, definition.label_en, definition.label_zh):
            custom.setdefault(header_key(name), f"cf.{definition.key}")
    synonyms = _SYNONYMS[kind]
    taken: set[str] = set()
    mapping: dict[str, str | None] = {}
    for header in headers:
        key = header_key(header)
        field = synonyms.get(key) or custom.get(key)
        if field in taken:
            field = None
        if field is not None:
            taken.add(field)
        mapping[header] = field
    return mapping


def custom_columns(*, db: Session) -> list[CustomColumn]:
    """The custom fields a customer import can fill."""
    return [
        CustomColumn(d.key, d.label_en, d.label_zh)
        for d in db.scalars(select(CustomFieldDef).order_by(CustomFieldDef.key))
    ]


def field_choices(*, db: Session, kind: str) -> list[tuple[str, str]]:
    """(field, label) pairs a column of this kind of import can be mapped to."""
    choices = [(name, i18n.gettext(LABELS.get(name, name))) for name in FIELDS[kind]]
    if kind == "customers":
        choices += [(f"cf.{c.key}", c.label_en) for c in custom_columns(db=db)]
    return choices


def check_mapping(
    *, kind: str, headers: Sequence[str], mapping: dict[str, str | None], custom: Iterable[str]
) -> dict[str, str | None]:
    """The mapping, complete over ``headers``, or ``InvalidInput`` naming what is wrong."""
    known = set(FIELDS[kind]) | ({f"cf.{key}" for key in custom} if kind == "customers" else set())
    by_key = {header_key(h): h for h in headers}
    result: dict[str, str | None] = dict.fromkeys(headers)
    for header, field in mapping.items():
        actual = header if header in result else by_key.get(header_key(header))
        if actual is None:
            raise InvalidInput({"mapping": "missing_column", "column": header})
        if not field:
            continue
        if field not in known:
            raise InvalidInput({"mapping": "unknown_field", "field": field})
        if field in result.values():
            raise InvalidInput({"mapping": "field_twice", "field": field})
        result[actual] = field
    _check_required(kind, {f for f in result.values() if f})
    return result


REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "customers": [("name", "family_name", "given_name")],
    "orders": [("number",), ("ordered_at",), ("amount", "line_amount", "unit_price")],
    "activities": [("occurred_at",), ("subject", "body")],
}
"""Per kind: groups of fields of which the mapping must fill at least one."""


def _check_required(kind: str, fields: set[str]) -> None:
    for options in REQUIRED[kind]:
        if not fields & set(options):
            raise InvalidInput({"mapping": "missing_field", "field": options[0]})
    if kind != "customers" and not fields & set(CUSTOMER_KEY_FIELDS):
        raise InvalidInput({"mapping": "missing_customer_key"})


# --- files -----------------------------------------------------------------------------------


def limits() -> Limits:
    """Reading limits from the settings."""
    settings = current()
    return Limits(
        max_bytes=settings.import_max_bytes,
        max_rows=settings.import_max_rows,
        max_unzipped_bytes=settings.import_xlsx_max_uncompressed,
        max_ratio=settings.import_xlsx_max_ratio,
    )


def storage_dir() -> Path:
    """Where uploaded files are kept (the data folder; shared by every server and worker)."""
    folder = current().data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_path(imp: Import) -> Path:
    """The stored copy of an import's file."""
    return storage_dir() / imp.stored_name


def open_file(imp: Import) -> Table:
    """The import's file opened as a table, with its chosen encoding."""
    return open_table(file_path(imp), limits=limits(), encoding=_explicit(imp), sheet=_sheet(imp))


def _explicit(imp: Import) -> str | None:
    return imp.encoding if imp.options.get("encoding_chosen") else None


def _sheet(imp: Import) -> str | int:
    sheet: str | int = imp.options.get("sheet", 0)
    return sheet


def _suffix(file_name: str) -> str:
    suffix = Path(file_name).suffix.lower()
    return suffix if suffix in (".csv", ".tsv", ".txt", ".xlsx", ".xls") else ".dat"


# --- imports ---------------------------------------------------------------------------------


def require(principal: Principal) -> None:
    """Raise ``Forbidden`` unless the principal may run imports."""
    if not principal.can("imports:run"):
        raise Forbidden("imports:run")


def create(
    *,
    db: Session,
    principal: Principal,
    kind: str,
    file_name: str,
    data: bytes | None = None,
    path: Path | None = None,
    stream: BinaryIO | None = None,
    encoding: str | None = None,
) -> Import:
    """Store an uploaded file (``data``, a copy of ``path``, or what ``stream`` holds) and read
    its headers. A file that cannot be read as a table raises ``TabularError`` and nothing is
    kept.
    """
    require(principal)
    if kind not in IMPORT_KINDS:
        raise InvalidInput({"kind": "unknown_kind"})
    stored = uuid.uuid4().hex + _suffix(file_name)
    target = storage_dir() / stored
    try:
        size = _store(target, data=data, path=path, stream=stream)
    except TabularError:
        target.unlink(missing_ok=True)
        raise
    imp = Import(
        kind=kind,
        file_name=(Path(file_name).name or "upload")[:255],
        stored_name=stored,
        size=size,
        source=DEFAULT_SOURCE,
        mode="valid-rows",
        status="uploaded",
        options={"encoding_chosen": encoding is not None},
        encoding=encoding,
        created_by=principal.user_id or None,
        owner_id=principal.user_id or None,
        team_id=min(principal.team_ids) if principal.team_ids else None,
    )
    try:
        _read_headers(db, imp)
    except TabularError:
        target.unlink(missing_ok=True)
        raise
    db.add(imp)
    db.flush()
    return imp


def _store(target: Path, *, data: bytes | None, path: Path | None, stream: BinaryIO | None) -> int:
    """Copy the upload to ``target``, refusing it as soon as it passes the size limit."""
    limit = current().import_max_bytes
    too_large = TabularError({"file": "too_large", "limit": str(limit)})
    if data is not None:
        stream = io.BytesIO(data)
    if path is not None:
        if path.stat().st_size > limit:
            raise too_large
        shutil.copyfile(path, target)
        return path.stat().st_size
    size = 0
    with target.open("wb") as out:
        while stream is not None and (chunk := stream.read(1024 * 1024)):
            size += len(chunk)
            if size > limit:
                raise too_large
            out.write(chunk)
    return size


def check_upload_size(declared: str | None) -> None:
    """Refuse an upload whose declared length (``Content-Length``) is past the limit, before
    its body is read (a little slack for the multipart envelope)."""
    limit = current().import_max_bytes
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise TabularError({"file": "too_large", "limit": str(limit)})


def _read_headers(db: Session, imp: Import) -> Table:
    table = open_file(imp)
    check_mixed_encoding(file_path(imp), table)
    imp.encoding = table.encoding
    imp.encoding_confident = table.confident
    imp.delimiter = table.delimiter
    if imp.headers != table.headers:
        imp.headers = table.headers
        imp.mapping = suggest_mapping(table.headers, custom_columns(db=db), imp.kind)
    return table


def get(*, db: Session, principal: Principal, import_id: int) -> Import:
    """An import the principal may see: their own, their teams', or any for those who see all."""
    require(principal)
    imp = db.get(Import, import_id)
    if imp is None or not _visible(imp, principal):
        raise NotFound("import")
    return imp


def _visible(imp: Import, principal: Principal) -> bool:
    if principal.sees_all:
        return True
    return imp.created_by == principal.user_id or imp.team_id in principal.team_ids


def list_imports(*, db: Session, principal: Principal, limit: int = 50) -> list[Import]:
    """The latest imports the principal may see."""
    require(principal)
    stmt = select(Import).order_by(Import.created_at.desc(), Import.id.desc()).limit(limit)
    if not principal.sees_all:
        stmt = stmt.where(
            or_(Import.created_by == principal.user_id, Import.team_id.in_(principal.team_ids))
        )
    return list(db.scalars(stmt))


def preview(*, imp: Import, limit: int = PREVIEW_ROWS) -> list[tuple[int, list[str]]]:
    """The first data rows of the file, as read with the import's encoding."""
    rows = []
    for number, cells in open_file(imp).rows:
        rows.append((number, cells))
        if len(rows) >= limit:
            break
    return rows


def choose_encoding(*, db: Session, principal: Principal, import_id: int, encoding: str) -> Import:
    """Read the file again with an encoding the user chose (when detection was unsure)."""
    imp = get(db=db, principal=principal, import_id=import_id)
    _editable(imp)
    imp.encoding = encoding
    imp.options = {**imp.options, "encoding_chosen": True}
    _read_headers(db, imp)
    imp.encoding_confident = True
    db.flush()
    return imp


def _editable(imp: Import) -> None:
    if imp.status not in ("uploaded", "validated", "failed"):
        raise InvalidInput({"import": "not_ready"})


def configure(
    *,
    db: Session,
    principal: Principal,
    import_id: int,
    mapping: dict[str, str | None],
    source: str | None = None,
    mode: str | None = None,
    team_id: int | None = None,
    owner_id: int | None = None,
    timezone: str | None = None,
) -> Import:
    """Set the import's column mapping and options, checked; a changed setup is staged anew."""
    imp = get(db=db, principal=principal, import_id=import_id)
    _editable(imp)
    custom = [c.key for c in custom_columns(db=db)]
    imp.mapping = check_mapping(kind=imp.kind, headers=imp.headers, mapping=mapping, custom=custom)
    if source is not None:
        cleaned = clean_text(source)
        if not 1 <= len(cleaned) <= 60:
            raise InvalidInput({"source": "invalid_source"})
        imp.source = cleaned
    if mode is not None:
        if mode not in IMPORT_MODES:
            raise InvalidInput({"mode": "invalid_mode"})
        imp.mode = mode
    if team_id is not None:
        _check_team(db, principal, team_id)
        imp.team_id = team_id
    if owner_id is not None:
        if not auth_service.exists(db=db, user_id=owner_id):
            raise InvalidInput({"owner_id": "unknown_user"})
        imp.owner_id = owner_id
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput({"timezone": "invalid_timezone"}) from exc
        imp.options = {**imp.options, "timezone": timezone}
    db.flush()
    return imp


def _check_team(db: Session, principal: Principal, team_id: int) -> None:
    if not auth_service.exists(db=db, team_id=team_id):
        raise InvalidInput({"team_id": "unknown_team"})
    if not principal.sees_all and team_id not in principal.team_ids:
        raise InvalidInput({"team_id": "not_your_team"})


def mark_submitted(*, db: Session, imp: Import, dry_run: bool) -> Import:
    """The import's job is being queued: it is now validating (dry run) or importing."""
    if imp.status not in ("uploaded", "validated", "failed"):
        raise InvalidInput({"import": "not_ready"})
    imp.dry_run = dry_run
    imp.status = "validating" if dry_run else "importing"
    imp.error = None
    imp.finished_at = None
    db.flush()
    return imp


def set_job(*, db: Session, import_id: int, job_id: int) -> None:
    """Link the import to the job that runs it."""
    db.execute(update(Import).where(Import.id == import_id).values(job_id=job_id))


def summary(imp: Import) -> dict[str, Any]:
    """The import as the API and the CLI show it."""
    return {
        "id": imp.id,
        "kind": imp.kind,
        "file_name": imp.file_name,
        "source": imp.source,
        "mode": imp.mode,
        "status": imp.status,
        "dry_run": imp.dry_run,
        "encoding": imp.encoding,
        "encoding_confident": imp.encoding_confident,
        "delimiter": imp.delimiter,
        "headers": imp.headers,
        "mapping": imp.mapping,
        "rows": imp.rows_total,
        "created": imp.created,
        "updated": imp.updated,
        "unchanged": imp.unchanged,
        "failed": imp.failed,
        "accounts_created": imp.accounts_created,
        "job_id": imp.job_id,
        "team_id": imp.team_id,
        "owner_id": imp.owner_id,
        "created_at": imp.created_at.isoformat() if imp.created_at else None,
        "finished_at": imp.finished_at.isoformat() if imp.finished_at else None,
        "error": imp.error,
    }


# --- mapping templates -----------------------------------------------------------------------

TEMPLATE_OPTIONS = ("source", "mode", "timezone")


def save_template(
    *,
    db: Session,
    principal: Principal,
    kind: str,
    name: str,
    columns: dict[str, str | None],
    options: dict[str, Any] | None = None,
) -> ImportMapping:
    """Save (or replace) a named mapping for this kind of import."""
    require(principal)
    name = clean_text(name)
    if kind not in IMPORT_KINDS:
        raise InvalidInput({"kind": "unknown_kind"})
    if not 1 <= len(name) <= 120:
        raise InvalidInput({"name": "required"})
    known = set(FIELDS[kind])
    for field in columns.values():
        if field and field not in known and not (kind == "customers" and field.startswith("cf.")):
            raise InvalidInput({"mapping": "unknown_field", "field": field})
    kept = {k: v for k, v in (options or {}).items() if k in TEMPLATE_OPTIONS and v}
    template = db.scalar(
        select(ImportMapping).where(ImportMapping.kind == kind, ImportMapping.name == name)
    )
    if template is None:
        template = ImportMapping(kind=kind, name=name, created_by=principal.user_id or None)
        db.add(template)
    template.columns = dict(columns)
    template.options = kept
    db.flush()
    return template


def list_templates(*, db: Session, kind: str | None = None) -> list[ImportMapping]:
    """Saved mappings, by kind and name."""
    stmt = select(ImportMapping).order_by(ImportMapping.kind, ImportMapping.name)
    if kind is not None:
        stmt = stmt.where(ImportMapping.kind == kind)
    return list(db.scalars(stmt))


def get_template(*, db: Session, template_id: int) -> ImportMapping:
    """A saved mapping by id."""
    template = db.get(ImportMapping, template_id)
    if template is None:
        raise NotFound("mapping")
    return template


def delete_template(*, db: Session, principal: Principal, template_id: int) -> None:
    """Delete a saved mapping."""
    require(principal)
    db.delete(get_template(db=db, template_id=template_id))
    db.flush()


def apply_template(
    *, db: Session, principal: Principal, import_id: int, template_id: int
) -> Import:
    """Use a saved mapping and its options for an import."""
    template = get_template(db=db, template_id=template_id)
    imp = get(db=db, principal=principal, import_id=import_id)
    if template.kind != imp.kind:
        raise InvalidInput({"mapping": "unknown_kind"})
    return configure(
        db=db,
        principal=principal,
        import_id=import_id,
        mapping=template.columns,
        source=template.options.get("source"),
        mode=template.options.get("mode"),
        timezone=template.options.get("timezone"),
    )


def template_document(template: ImportMapping) -> str:
    """A saved mapping as the YAML the CLI's ``--mapping`` takes."""
    document = {
        "kind": template.kind,
        "name": template.name,
        "columns": template.columns,
        "options": template.options,
    }
    return str(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


def parse_template(text: str) -> dict[str, Any]:
    """A mapping document (YAML): ``kind``, ``name``, ``columns`` and ``options``, checked."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput({"mapping": "invalid_mapping", "detail": str(exc)[:200]}) from exc
    if not isinstance(document, dict) or not isinstance(document.get("columns"), dict):
        raise InvalidInput({"mapping": "invalid_mapping", "detail": "columns: header: field"})
    columns = {str(k): (str(v) if v else None) for k, v in document["columns"].items()}
    options = document.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidInput({"mapping": "invalid_mapping", "detail": "options must be a mapping"})
    kind = document.get("kind")
    if kind is not None and kind not in IMPORT_KINDS:
        raise InvalidInput({"mapping": "invalid_mapping", "detail": f"kind: {kind}"})
    return {"kind": kind, "name": document.get("name"), "columns": columns, "options": options}


# --- staging (the job's first step) ----------------------------------------------------------


@dataclass
class Staging:
    """Everything the stage step needs: the open table, the validator, the raw scan (and the
    same as a ``spec``, for staging in another process)."""

    imp: Import
    table: Table
    validator: RowValidator
    scan: Scan
    key: str
    spec: StageSpec


def principal_of(db: Session, imp: Import) -> Principal:
    """Who the import acts as: its creator, or the system for a command-line import."""
    if imp.created_by is None:
        return SYSTEM_PRINCIPAL
    return auth_service.principal_of(auth_service.get_user(db=db, user_id=imp.created_by))


def _zone(imp: Import) -> ZoneInfo:
    default = "Asia/Shanghai" if current().phone_region == "CN" else "UTC"
    return ZoneInfo(imp.options.get("timezone") or default)


def _lookup(db: Session, imp: Import, principal: Principal) -> Lookup:
    users: dict[str, int] = {}
    for user in db.scalars(select(User)):
        users.setdefault(user.username.casefold(), user.id)
        users.setdefault((user.display_name or user.username).casefold(), user.id)
    teams = {team.name.casefold(): team.id for team in db.scalars(select(Team))}
    custom = {
        d.key: CustomFieldRule(d.field_type, tuple(d.choices or ()))
        for d in db.scalars(select(CustomFieldDef))
    }
    return Lookup(
        region=current().phone_region,
        zone=_zone(imp),
        users=users,
        teams=teams,
        allowed_teams=None if principal.sees_all else principal.team_ids,
        custom=custom,
    )


def staging_key(imp: Import) -> str:
    """What the staged batches depend on; a different key means staging again."""
    basis = [imp.stored_name, imp.kind, imp.encoding, imp.mapping, imp.options.get("timezone")]
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def prepare_staging(*, db: Session, import_id: int, job_id: int) -> Staging | None:
    """Open the file and build its validator; ``None`` when the batches staged for the same
    setup are still there (a commit after a dry run, or a resumed job)."""
    imp = _load(db, import_id)
    if imp.options.get("run_of_job") != job_id:
        imp.started_at = utcnow()  # customers older than this may be matched by phone/e-mail
        imp.options = {**imp.options, "run_of_job": job_id}
    key = staging_key(imp)
    if imp.staged_key == key:
        db.execute(
            update(ImportBatch)
            .where(ImportBatch.import_id == imp.id)
            .values(failures=None, applied=False, counts={})
        )
        return None
    db.execute(delete(ImportBatch).where(ImportBatch.import_id == imp.id))
    imp.staged_key = None
    db.flush()
    return _open_staging(db, imp, key)


def resume_staging(*, db: Session, import_id: int) -> Staging:
    """Open the file and build its validator again, keeping the batches already written (a
    streamed import resumed in a new process)."""
    imp = _load(db, import_id)
    return _open_staging(db, imp, staging_key(imp))


def _open_staging(db: Session, imp: Import, key: str) -> Staging:
    table = open_file(imp)
    lookup = _lookup(db, imp, principal_of(db, imp))
    validator = RowValidator(imp.kind, table.headers, imp.mapping, lookup)
    mapped = [index for index, *_ in validator.plan]
    id_columns = [
        index
        for index, _header, target, _handler in validator.plan
        if target in ID_LIKE and target not in ("postcode", "id_number")
    ]
    path, sheet, bounds = file_path(imp), _sheet(imp), limits()
    scan = scan_file(
        path, table, mapped=mapped, id_columns=id_columns, max_rows=bounds.max_rows, sheet=sheet
    )
    spec = StageSpec(path, _explicit(imp), sheet, bounds, imp.kind, imp.mapping, lookup, scan)
    return Staging(imp, table, validator, scan, key, spec)


def _load(db: Session, import_id: int) -> Import:
    imp = db.get(Import, import_id)
    if imp is None:
        raise NotFound("import")
    return imp


def stage_rows(
    staging: Staging, batch_size: int, sink: Callable[[list[Entry], list[Entry]], None]
) -> StageCounts:
    """Validate every row of the file into batches handed to ``sink`` (which commits each)."""
    stager = Stager(staging.validator, staging.scan, batch_size, sink)
    return stager.run(staging.table.rows)


def save_batch(
    *,
    db: Session,
    import_id: int,
    number: int,
    entries: list[Entry],
    report: list[Entry],
    keep_values: bool = True,
) -> ImportBatch:
    """Store one staged batch (without its values and cells when it is written at once)."""
    rows = sum(len(entry[0]) for entry in entries) + sum(len(entry[0]) for entry in report)
    empty = pack([])
    batch = ImportBatch(
        import_id=import_id,
        number=number,
        rows=rows,
        invalid=sum(len(entry[0]) for entry in report),
        # The values to write, each pointing at its cells, which are kept apart: a batch's
        # cells are read only when one of its rows fails against the database.
        payload=pack(write_entries(entries)) if keep_values else empty,
        cells=pack([cells for _rows, cells, _values in entries]) if keep_values else empty,
        report=pack(report),
        applied=False,
        counts={},
    )
    db.add(batch)
    db.flush()
    return batch


def write_entries(entries: list[Entry]) -> list[Entry]:
    """Staged entries as the writer takes them: [rows, index of their cells, values]."""
    return [[rows, index, values] for index, (rows, _cells, values) in enumerate(entries)]


def write_batch(
    *, db: Session, import_id: int, number: int, entries: list[Entry], report: list[Entry]
) -> upsert.Outcome:
    """Store a batch just staged and write it, in the caller's transaction (a streamed
    import: the batch is kept for its counts and report, not to be written again)."""
    save_batch(
        db=db, import_id=import_id, number=number, entries=entries, report=report,
        keep_values=False,
    )  # fmt: skip
    outcome = apply_batch(db=db, import_id=import_id, number=number, entries=entries)
    cells = [cells for _rows, cells, _values in entries]
    record_batch(
        db=db, import_id=import_id, number=number, outcome=outcome, applied=True, cells=cells
    )
    return outcome


def written_so_far(*, db: Session, import_id: int) -> tuple[int, int]:
    """(batches, rows) stored so far: the first rows of the file, in whole batches."""
    stmt = select(
        func.coalesce(func.max(ImportBatch.number), 0), func.coalesce(func.sum(ImportBatch.rows), 0)
    ).where(ImportBatch.import_id == import_id)
    batches, rows = db.execute(stmt).one()
    return int(batches), int(rows)


def clear_batches(*, db: Session, import_id: int) -> None:
    """Forget whatever was staged (the file was refused half-way)."""
    db.execute(delete(ImportBatch).where(ImportBatch.import_id == import_id))
    db.execute(update(Import).where(Import.id == import_id).values(staged_key=None))


def mark_staged(*, db: Session, import_id: int, key: str, counts: StageCounts) -> None:
    """All batches are stored: the job may run them (a resumed job does not stage again)."""
    imp = _load(db, import_id)
    imp.staged_key = key
    imp.rows_total = counts.total
    db.flush()


def batch_plan(*, db: Session, import_id: int) -> list[tuple[int, int]]:
    """(batch number, rows) of the staged batches, in order."""
    stmt = (
        select(ImportBatch.number, ImportBatch.rows)
        .where(ImportBatch.import_id == import_id)
        .order_by(ImportBatch.number)
    )
    return [(number, rows) for number, rows in db.execute(stmt)]


def invalid_rows(*, db: Session, import_id: int) -> int:
    """Rows that failed validation while staging."""
    stmt = select(func.coalesce(func.sum(ImportBatch.invalid), 0)).where(
        ImportBatch.import_id == import_id
    )
    return int(db.scalar(stmt) or 0)


# --- writing (one job step per batch) --------------------------------------------------------


def apply_batch(
    *, db: Session, import_id: int, number: int, entries: list[Entry] | None = None
) -> upsert.Outcome:
    """Write (or, in a transaction the caller rolls back, simulate) one staged batch: the
    stored one, or ``entries`` as staged when given."""
    # A write first: on SQLite it takes the single write lock the id allocation relies on.
    db.execute(update(Import).where(Import.id == import_id).values(updated_at=Import.updated_at))
    imp = _load(db, import_id)
    payload = _stored_entries(db, import_id, number) if entries is None else write_entries(entries)
    custom = {d.key: (d.id, d.field_type) for d in db.scalars(select(CustomFieldDef))}
    now = utcnow()
    ctx = upsert.Context(
        import_id=imp.id,
        kind=imp.kind,
        source=imp.source,
        principal=principal_of(db, imp),
        team_id=imp.team_id,
        owner_id=imp.owner_id,
        started_at=imp.started_at or now,
        now=now,
        custom=custom,
    )
    return upsert.apply(db, ctx, payload)


def _stored_entries(db: Session, import_id: int, number: int) -> list[Entry]:
    batch = db.scalar(
        select(ImportBatch).where(ImportBatch.import_id == import_id, ImportBatch.number == number)
    )
    if batch is None:
        raise NotFound("batch")
    return list(unpack(batch.payload))


def record_batch(
    *,
    db: Session,
    import_id: int,
    number: int,
    outcome: upsert.Outcome,
    applied: bool,
    cells: list[Any] | None = None,
) -> None:
    """Keep what a batch did (counts, rows that failed against the database, with their cells:
    ``cells`` when given, else the stored ones)."""
    batch = db.scalar(
        select(ImportBatch).where(ImportBatch.import_id == import_id, ImportBatch.number == number)
    )
    if batch is None:
        raise NotFound("batch")
    batch.counts = outcome.counts()
    batch.failures = None
    if outcome.failed:
        cells = unpack(batch.cells) if cells is None else cells
        failed = [[rows, cells[index], errors] for rows, index, errors in outcome.failed]
        batch.failures = pack(failed)
    batch.applied = applied
    db.flush()


def failed_rows(*, db: Session, import_id: int) -> int:
    """Rows that failed so far: validation and the database checks of the batches run."""
    stmt = select(ImportBatch.invalid, ImportBatch.counts).where(ImportBatch.import_id == import_id)
    return sum(invalid + int(counts.get("failed", 0)) for invalid, counts in db.execute(stmt))


def finish(*, db: Session, import_id: int, status: str, error: str | None = None) -> Import:
    """Total the batches' counts and set the import's final status."""
    imp = _load(db, import_id)
    totals = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0, "accounts_created": 0}
    stmt = select(ImportBatch.invalid, ImportBatch.counts).where(ImportBatch.import_id == import_id)
    for invalid, counts in db.execute(stmt):
        for name in totals:
            totals[name] += int(counts.get(name, 0))
        totals["failed"] += invalid
    if status == "rejected":
        totals.update(created=0, updated=0, unchanged=0, accounts_created=0)
    for name, value in totals.items():
        setattr(imp, name, value)
    imp.status = status
    imp.error = error
    imp.finished_at = utcnow()
    if status in ("succeeded", "rejected"):
        _release(db, imp)
    db.flush()
    return imp


def _release(db: Session, imp: Import) -> None:
    """A finished import keeps its counts and report; its staged rows go (and, once this is
    committed, its stored file: ``discard_file``)."""
    empty = pack([])
    db.execute(
        update(ImportBatch)
        .where(ImportBatch.import_id == imp.id)
        .values(payload=empty, cells=empty)
    )
    imp.staged_key = None


def discard_file(imp: Import) -> None:
    """Delete the stored copy of a finished import's file."""
    file_path(imp).unlink(missing_ok=True)


def fail(*, db: Session, import_id: int, error: str, refused: bool = False) -> None:
    """The job crashed, or the file was refused while its rows were read: the import shows it."""
    imp = _load(db, import_id)
    imp.options = {**imp.options, "refused": refused}
    imp.status = "failed"
    imp.error = error[:2000]
    imp.finished_at = utcnow()
    db.flush()


# --- the report ------------------------------------------------------------------------------


def report_entries(*, db: Session, import_id: int) -> Iterator[Entry]:
    """The failed rows, in file order: validation errors and database errors together."""
    stmt = (
        select(ImportBatch.report, ImportBatch.failures)
        .where(ImportBatch.import_id == import_id)
        .order_by(ImportBatch.number)
    )
    for report, failures in db.execute(stmt):
        entries = unpack(report) + (unpack(failures) if failures else [])
        yield from sorted(entries, key=lambda entry: entry[0][0])


def report_rows(*, db: Session, imp: Import) -> Iterator[list[Any]]:
    """The report as rows: row number, error codes, columns, messages, then the original cells."""
    yield [
        i18n.gettext("Row"),
        i18n.gettext("Error"),
        i18n.gettext("Column"),
        i18n.gettext("Message"),
        *imp.headers,
    ]
    for rows, cells, errors in report_entries(db=db, import_id=imp.id):
        codes = "; ".join(code for _column, code, _detail in errors)
        columns = "; ".join(column for column, _code, _detail in errors if column)
        text = " ".join(messages.row_message(code, detail) for _column, code, detail in errors)
        for number, row in zip(rows, cells, strict=True):
            yield [number, codes, columns, text, *row]


def record_report_download(*, db: Session, imp: Import, file_format: str) -> None:
    """Downloading a report is a read of personal data: it goes in the audit trail."""
    audit_service.record(
        db,
        action="export",
        entity="imports",
        entity_id=str(imp.id),
        details={"report": file_format, "rows": imp.failed},
    )


def report_csv(*, db: Session, imp: Import) -> bytes:
    """The report as UTF-8 CSV with a BOM (Excel), every cell neutralised against formulas."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    for row in report_rows(db=db, imp=imp):
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")


def report_xlsx(*, db: Session, imp: Import) -> bytes:
    """The report as an XLSX workbook, every text cell neutralised against formulas."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook(write_only=True)
    sheet = book.create_sheet(i18n.gettext("Report")[:31])
    for row in report_rows(db=db, imp=imp):
        sheet.append([cell if isinstance(cell, int) else safe_cell(cell) for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def file_error_message(exc: InvalidInput) -> str:
    """A refused file or mapping, in one translated sentence."""
    return messages.file_message(exc.errors)
