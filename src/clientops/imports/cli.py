"""``clientops import customers|orders|activities FILE --mapping mapping.yaml`` and
``clientops import suggest KIND FILE``: the import wizard's flow from the command line.

The mapping file has the shape of a saved mapping template::

    kind: customers          # optional; must match the command when given
    name: CRM export         # optional; --save-mapping stores it under this or another name
    columns:                 # file header: field (null or absent: the column is ignored)
      客户编号: external_id
      客户名称: name
      手机号码: phone
      下单次数: null
    options:                 # optional defaults; the command line wins
      source: crm
      mode: valid-rows       # or all-or-nothing
      timezone: Asia/Shanghai

Exit codes: 0 done (or dry run done), 1 the import was rejected (all-or-nothing with failed
rows) or its job failed, 2 the file or the mapping was refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from clientops.audit import service as audit_service
from clientops.auth import service as auth_service
from clientops.core.access import Principal
from clientops.core.cli import DatabaseUrl, DataDir, use_database
from clientops.db import transaction
from clientops.exceptions import ClientOpsError, InvalidInput, NotFound
from clientops.imports import flows, service
from clientops.imports.models import Import
from clientops.jobs import flows as jobs_flows
from clientops.jobs.models import Job

app = typer.Typer(
    help="Import customers, orders and activities from CSV or XLSX files.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

File = Annotated[
    Path, typer.Argument(help="The CSV, TSV or XLSX file.", exists=True, dir_okay=False)
]
MappingFile = Annotated[
    Path | None,
    typer.Option(
        "--mapping", help="YAML mapping (columns → fields); default: suggested from headers."
    ),
]
Source = Annotated[
    str | None, typer.Option(help="The system the file comes from; keys external ids.")
]
Mode = Annotated[str | None, typer.Option(help="all-or-nothing or valid-rows (default).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Validate and count; write nothing.")]
Encoding = Annotated[str | None, typer.Option(help="The text encoding, when detection fails.")]
Report = Annotated[
    Path | None, typer.Option(help="Write the row-level report here (.csv or .xlsx).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as one JSON line.")]
Team = Annotated[str | None, typer.Option(help="Team new customers are filed under.")]
Owner = Annotated[str | None, typer.Option(help="User name of new customers' owner.")]
User = Annotated[
    str | None, typer.Option("--user", help="Act as this user (their teams and rights).")
]
Timezone = Annotated[str | None, typer.Option(help="Zone of times without an offset.")]
SaveMapping = Annotated[
    str | None, typer.Option("--save-mapping", help="Save the mapping used under this name.")
]


@app.command("customers")
def import_customers(
    file: File,
    mapping: MappingFile = None,
    source: Source = None,
    mode: Mode = None,
    dry_run: DryRun = False,
    encoding: Encoding = None,
    report: Report = None,
    as_json: AsJson = False,
    team: Team = None,
    owner: Owner = None,
    user: User = None,
    timezone: Timezone = None,
    save_mapping: SaveMapping = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import customers (people and companies, custom fields, tags)."""
    use_database(data_dir, database_url)
    _run("customers", file, locals())


@app.command("orders")
def import_orders(
    file: File,
    mapping: MappingFile = None,
    source: Source = None,
    mode: Mode = None,
    dry_run: DryRun = False,
    encoding: Encoding = None,
    report: Report = None,
    as_json: AsJson = False,
    user: User = None,
    timezone: Timezone = None,
    save_mapping: SaveMapping = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import orders (one row per order, or one per order line)."""
    use_database(data_dir, database_url)
    _run("orders", file, locals())


@app.command("activities")
def import_activities(
    file: File,
    mapping: MappingFile = None,
    source: Source = None,
    mode: Mode = None,
    dry_run: DryRun = False,
    encoding: Encoding = None,
    report: Report = None,
    as_json: AsJson = False,
    user: User = None,
    timezone: Timezone = None,
    save_mapping: SaveMapping = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import activities (calls, meetings, notes, e-mails)."""
    use_database(data_dir, database_url)
    _run("activities", file, locals())


@app.command("suggest")
def suggest(
    kind: Annotated[str, typer.Argument(help="customers, orders or activities.")],
    file: File,
    encoding: Encoding = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the mapping suggested for a file's headers, as a mapping file to edit."""
    use_database(data_dir, database_url)
    try:
        with transaction() as db:
            imp = service.create(
                db=db,
                principal=service.SYSTEM_PRINCIPAL,
                kind=kind,
                file_name=file.name,
                path=file,
                encoding=encoding,
            )
            document = {"kind": kind, "columns": imp.mapping, "options": {}}
            service.file_path(imp).unlink(missing_ok=True)
            db.rollback()  # only the suggestion was wanted
    except ClientOpsError as exc:
        _refuse(exc)
    import yaml

    typer.echo(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), nl=False)


def _refuse(exc: ClientOpsError) -> NoReturn:
    """Print why the file or mapping was refused and exit with 2."""
    message = service.file_error_message(exc) if isinstance(exc, InvalidInput) else str(exc)
    err.print(f"[red]refused:[/red] {message}", soft_wrap=True)
    raise typer.Exit(2)


def _run(kind: str, file: Path, args: dict[str, Any]) -> None:
    audit_service.install()
    try:
        principal = _principal(args.get("user"))
        document = _mapping_document(kind, args.get("mapping"))
        import_id = _prepare(kind, file, principal, document, args)
    except ClientOpsError as exc:
        _refuse(exc)
    jobs_flows.start(listen=False)
    try:
        job = flows.submit(
            principal=principal, import_id=import_id, dry_run=args["dry_run"], run_here=True
        )
        job = _follow(job)
    finally:
        jobs_flows.stop()
    _finish(import_id, job, args)


def _principal(username: str | None) -> Principal:
    if not username:
        return service.SYSTEM_PRINCIPAL
    with transaction() as db:
        try:
            user = auth_service.find_user(db=db, username=username)
        except NotFound as exc:
            raise InvalidInput({"user": "unknown_user"}) from exc
        return auth_service.principal_of(auth_service.get_user(db=db, user_id=user.id))


def _mapping_document(kind: str, path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput({"mapping": "invalid_mapping", "detail": str(exc)[:200]}) from exc
    document = service.parse_template(text)
    if document["kind"] not in (None, kind):
        detail = f"kind: {document['kind']}, not {kind}"
        raise InvalidInput({"mapping": "invalid_mapping", "detail": detail})
    return document


def _prepare(
    kind: str,
    file: Path,
    principal: Principal,
    document: dict[str, Any] | None,
    args: dict[str, Any],
) -> int:
    """Store the file and set its mapping and options; the import's id."""
    options = (document or {}).get("options", {})
    with transaction() as db:
        imp = service.create(
            db=db,
            principal=principal,
            kind=kind,
            file_name=file.name,
            path=file,
            encoding=args.get("encoding"),
        )
        service.configure(
            db=db,
            principal=principal,
            import_id=imp.id,
            mapping=document["columns"] if document else imp.mapping,
            source=args.get("source") or options.get("source"),
            mode=args.get("mode") or options.get("mode"),
            team_id=_team_id(db, args.get("team")),
            owner_id=_user_id(db, args.get("owner")),
            timezone=args.get("timezone") or options.get("timezone"),
        )
        name = args.get("save_mapping")
        if name:
            service.save_template(
                db=db,
                principal=principal,
                kind=kind,
                name=name,
                columns=imp.mapping,
                options={"source": imp.source, "mode": imp.mode, **options},
            )
        return imp.id


def _team_id(db: Any, name: str | None) -> int | None:
    if not name:
        return None
    for team in auth_service.list_teams(db=db):
        if team.name == name:
            return team.id
    raise InvalidInput({"team_id": "unknown_team"})


def _user_id(db: Any, username: str | None) -> int | None:
    if not username:
        return None
    try:
        return auth_service.find_user(db=db, username=username).id
    except NotFound as exc:
        raise InvalidInput({"owner_id": "unknown_user"}) from exc


def _follow(job: Job) -> Job:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"))
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("import", total=None, count="")

        def show(current: Job) -> None:
            bar.update(
                task,
                total=current.total or None,
                completed=current.done,
                count=f"{current.done:,}/{current.total:,} rows",
            )

        return jobs_flows.wait(job.id, on_progress=show, poll_seconds=0.2)


def _finish(import_id: int, job: Job, args: dict[str, Any]) -> None:
    with transaction() as db:
        imp = db.get(Import, import_id)
        assert imp is not None
        summary = service.summary(imp)
        if args.get("report"):
            _write_report(db, imp, args["report"])
    if args.get("as_json"):
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        _print(summary)
    if imp.status == "failed":
        err.print(f"[red]{'refused' if imp.options.get('refused') else 'failed'}:[/red] "
                  f"{imp.error or job.error or ''}", soft_wrap=True)  # fmt: skip
        raise typer.Exit(2 if imp.options.get("refused") else 1)
    if imp.status == "rejected":
        err.print(
            f"[red]rejected:[/red] {imp.failed:,} rows failed; nothing was written "
            "(all-or-nothing). See the report."
        )
        raise typer.Exit(1)


def _write_report(db: Any, imp: Import, path: Path) -> None:
    if path.suffix.lower() == ".xlsx":
        path.write_bytes(service.report_xlsx(db=db, imp=imp))
    else:
        path.write_bytes(service.report_csv(db=db, imp=imp))
    service.record_report_download(db=db, imp=imp, file_format=path.suffix.lower().lstrip("."))


def _print(summary: dict[str, Any]) -> None:
    verb = "would be" if summary["dry_run"] else "were"
    err.print(
        f"Import {summary['id']} ({summary['kind']}, {summary['file_name']}): "
        f"[bold]{summary['status']}[/bold]. {summary['rows']:,} rows: "
        f"{summary['created']:,} {verb} created, {summary['updated']:,} updated, "
        f"{summary['unchanged']:,} unchanged, {summary['failed']:,} failed"
        + (
            f"; {summary['accounts_created']:,} companies created"
            if summary["accounts_created"]
            else ""
        )
        + ".",
        soft_wrap=True,
    )


if __name__ == "__main__":  # ``python -m clientops.imports.cli``, configured by the environment
    app()
