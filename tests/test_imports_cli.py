"""``clientops import ...`` from the command line, and an import that survives ``kill -9``.

The kill test follows tests/test_jobs.py: its own data folder (and PostgreSQL database when
``CLIENTOPS_TEST_DATABASE_URL`` is set), a child process importing with slowed batches, killed
in the middle, then a new process that resumes the workflow.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from clientops import config, db, migrate
from clientops.config import Settings
from clientops.customers.models import Customer, ExternalId
from clientops.imports import cli as imports_cli
from clientops.imports import indexes, service
from clientops.imports.models import Import
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from tests.conftest import drop_postgres, fresh_postgres
from tests.test_imports_service import csv_bytes

PG_URL = os.environ.get("CLIENTOPS_TEST_DATABASE_URL")
SRC = Path(__file__).resolve().parents[1] / "src"
HEADER = ["编号", "客户", "Tel", "Mail"]
ROWS = [
    ["A1", "甲公司联系人", "13800000001", "a1@example.com"],
    ["A2", "乙", "13800000002", "a2@example.com"],
    ["A3", "丙", "12", "a3@example.com"],
]
MAPPING = {
    "kind": "customers",
    "name": "ERP",
    "columns": {"编号": "external_id", "客户": "name", "Tel": "phone", "Mail": None},
    "options": {"source": "erp"},
}


@pytest.fixture(scope="module", autouse=True)
def dbos_logging(database_url: str) -> None:
    """DBOS attaches its console log handler to ``sys.stderr`` on its first launch: launch it
    once here, not inside CliRunner, whose captured stream is closed after each command."""
    jobs_flows.start(listen=False)
    jobs_flows.stop()


@pytest.fixture
def files(tmp_path: Path, database_url: str) -> dict[str, Path]:
    """The data file and its mapping file."""
    data = tmp_path / "erp.csv"
    data.write_bytes(csv_bytes([HEADER, *ROWS]))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING, allow_unicode=True), encoding="utf-8")
    return {"data": data, "mapping": mapping}


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(imports_cli.app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _names() -> set[str]:
    with db.transaction() as session:
        return set(session.scalars(select(Customer.name)))


def test_import_with_a_mapping_file_json_and_a_report(
    files: dict[str, Path], tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    code, out, _err = _invoke(
        "customers", str(files["data"]), "--mapping", str(files["mapping"]),
        "--report", str(report), "--json",
    )  # fmt: skip
    assert code == 0, _err
    result = json.loads(out)
    assert (result["status"], result["created"], result["failed"]) == ("succeeded", 2, 1)
    assert result["source"] == "erp"  # from the mapping file's options
    assert _names() == {"甲公司联系人", "乙"}
    with db.transaction() as session:
        emails = set(session.scalars(select(Customer.email)))
        ids = set(session.execute(select(ExternalId.source, ExternalId.external_id)))
    assert emails == {None}  # Mail was mapped to nothing
    assert ids == {("erp", "A1"), ("erp", "A2")}
    lines = list(csv.reader(io.StringIO(report.read_text("utf-8-sig"))))
    assert lines[1][:3] == ["4", "invalid_phone", "Tel"]
    # Again: nothing changes.
    code, out, _err = _invoke(
        "customers", str(files["data"]), "--mapping", str(files["mapping"]), "--json"
    )
    assert code == 0, _err
    assert (json.loads(out)["created"], json.loads(out)["unchanged"]) == (0, 2)


def test_dry_run_writes_nothing_and_an_xlsx_report(files: dict[str, Path], tmp_path: Path) -> None:
    report = tmp_path / "report.xlsx"
    code, _out, err = _invoke(
        "customers", str(files["data"]), "--mapping", str(files["mapping"]), "--dry-run",
        "--report", str(report),
    )  # fmt: skip
    assert code == 0
    assert "2 would be created" in err and "1 failed" in err
    assert _names() == set()
    sheet = openpyxl.load_workbook(report).worksheets[0]
    assert [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))][:3] == [
        4,
        "invalid_phone",
        "Tel",
    ]


def test_all_or_nothing_exits_1_and_writes_nothing(files: dict[str, Path]) -> None:
    code, _out, err = _invoke(
        "customers", str(files["data"]), "--mapping", str(files["mapping"]),
        "--mode", "all-or-nothing",
    )  # fmt: skip
    assert code == 1
    assert "rejected" in err and "nothing was written" in err
    assert _names() == set()


def test_a_refused_file_exits_2_with_the_reason(tmp_path: Path, database_url: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"name,name\nA,B\n")
    code, _out, err = _invoke("customers", str(bad))
    assert code == 2
    assert "refused" in err and "The header “name” appears twice." in err
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Import)) == 0


def test_a_refused_mapping_exits_2(files: dict[str, Path], tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("kind: orders\ncolumns: {编号: number}\n", encoding="utf-8")
    code, _out, err = _invoke("customers", str(files["data"]), "--mapping", str(wrong))
    assert code == 2 and "kind: orders, not customers" in err
    missing = tmp_path / "missing.yaml"
    missing.write_text("columns: {姓名: name}\n", encoding="utf-8")
    code, _out, err = _invoke("customers", str(files["data"]), "--mapping", str(missing))
    assert code == 2 and "“姓名”, which the file does not have" in err


def test_suggest_prints_a_mapping_file_and_save_mapping_stores_it(
    files: dict[str, Path],
) -> None:
    code, out, _err = _invoke("suggest", "customers", str(files["data"]))
    assert code == 0
    assert yaml.safe_load(out) == {
        "kind": "customers",
        "columns": {"编号": None, "客户": "name", "Tel": "phone", "Mail": "email"},
        "options": {},
    }
    assert _invoke(
        "customers", str(files["data"]), "--mapping", str(files["mapping"]),
        "--save-mapping", "ERP monthly", "--dry-run",
    )[0] == 0  # fmt: skip
    with db.transaction() as session:
        (template,) = service.list_templates(db=session, kind="customers")
        assert (template.name, template.columns["编号"]) == ("ERP monthly", "external_id")
        assert template.options["source"] == "erp"


# --- kill -9 and resume ---------------------------------------------------------------------

BATCH = 100  # the smallest batch the settings allow
TOTAL = 5 * BATCH


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """clientops on a fresh data folder (and PostgreSQL database) for child processes."""
    previous = config.current()
    pg = fresh_postgres(PG_URL, prefix="co_imp") if PG_URL else None
    settings = config.configure(data_dir=tmp_path / "data", database_url=pg, jobs_enabled=True)
    migrate.upgrade()
    try:
        yield settings
    finally:
        jobs_flows.stop()
        db.dispose_engines()
        if pg:
            drop_postgres(pg)
        config.configure(**previous.model_dump())


def _child_env(settings: Settings, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTOPS_")}
    environ["CLIENTOPS_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        environ["CLIENTOPS_DATABASE_URL"] = settings.database_url
    environ["CLIENTOPS_IMPORT_BATCH_SIZE"] = str(BATCH)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), environ.get("PYTHONPATH")]))
    return environ | extra


RESUME = """
import sys
from clientops.jobs import flows
flows.start()  # launching DBOS recovers the killed process's workflow
job = flows.wait(int(sys.argv[1]), timeout=120, poll_seconds=0.2)
flows.stop()
sys.exit(0 if job.status == "succeeded" else 1)
"""


def _imported_ids() -> list[str]:
    with db.transaction() as session:
        return sorted(session.scalars(select(ExternalId.external_id)))


def _missing_indexes() -> list[str]:
    with db.transaction() as session:
        return indexes.missing(db=session)


def _wait_for_partial_progress(proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the import ended before it could be killed"
        with db.transaction() as session:
            jobs = jobs_service.list_jobs(db=session)
        if jobs and BATCH <= jobs[0].done < TOTAL:
            return jobs[0].id
        time.sleep(0.05)
    raise AssertionError("no batch was done in time")


@pytest.mark.slow
@pytest.mark.parametrize("streamed", [False, True], ids=["staged-first", "streamed"])
def test_killed_import_resumes_in_a_new_process(
    env: Settings, tmp_path: Path, streamed: bool
) -> None:
    rows = [[f"K{i:04d}", f"客户{i}", f"139{i:08d}"] for i in range(TOTAL)]
    data = tmp_path / "big.csv"
    data.write_bytes(csv_bytes([["客户编号", "姓名", "手机"], *rows]))
    command = [sys.executable, "-m", "clientops.imports.cli", "customers", str(data)]
    # Streamed: staged by a second process while written; a resumed run stages the rest again.
    stream = {"CLIENTOPS_IMPORT_STREAM_MIN_ROWS": "0" if streamed else str(10 * TOTAL)}
    with (tmp_path / "first.log").open("wb") as log:
        first = subprocess.Popen(
            command,
            env=_child_env(env, CLIENTOPS_JOB_STEP_DELAY_MS="700", **stream),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            job_id = _wait_for_partial_progress(first)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL

    # Left behind: whole batches only, the first ones, and a running job.
    with db.transaction() as session:
        job = jobs_service.get_job(db=session, job_id=job_id)
        assert job.status == "running"
        done = job.done
        customers = session.scalar(select(func.count()).select_from(Customer))
    assert done % BATCH == 0 and BATCH <= done < TOTAL
    assert customers == done
    assert _imported_ids() == [f"K{i:04d}" for i in range(done)]
    # Streamed here means bulk-loaded too (500 rows into an empty table): indexes set aside.
    assert bool(_missing_indexes()) == streamed

    resume = subprocess.run(
        [sys.executable, "-c", RESUME, str(job_id)],
        env=_child_env(env, **stream),
        capture_output=True,
        timeout=180,
    )
    assert resume.returncode == 0, resume.stderr.decode()
    assert _imported_ids() == [f"K{i:04d}" for i in range(TOTAL)]
    assert _missing_indexes() == []
    migrate.check()  # every index back, exactly as the migrations define it
    with db.transaction() as session:
        imp = session.scalars(select(Import)).one()
        assert (imp.status, imp.created, imp.failed) == ("succeeded", TOTAL, 0)
        messages = [line.message for line in jobs_service.logs(db=session, job_id=job_id)]
        batch_lines = [message for message in messages if message.startswith("batch ")]
    assert any("streamed" in message for message in messages) == streamed
    # Each batch written once, in order ("batch 3/5", or "batch 3" before the total is known).
    numbers = [line.split(" (")[0].split("/")[0] for line in batch_lines]
    assert numbers == [f"batch {n}" for n in range(1, 6)]
