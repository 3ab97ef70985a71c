"""The import wizard pages and the imports API, through a real app and the job runtime.

The runtime listens to the jobs queue here, as a server does: the pages queue the import's job
and this process runs it.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clientops import config
from clientops.customers.models import Customer
from clientops.db import transaction
from clientops.imports import service
from clientops.imports.models import Import, ImportMapping
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from tests import factories
from tests.test_imports_service import csv_bytes

HEADER = ["客户编号", "客户名称", "手机号码", "电子邮箱", "备注"]
ROWS = [
    ["W1", "网页导入甲", "13800000001", "jia@example.com", ""],
    ["W2", "网页导入乙", "13800000002", "yi@example.com", "=cmd|' /C calc'!A0"],
    ["W3", "网页导入丙", "138", "bing@example.com", ""],
]


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[None]:
    """DBOS in this process, running queued jobs like a server."""
    jobs_flows.start()
    yield
    jobs_flows.stop()


@pytest.fixture(autouse=True)
def settled(runtime: None) -> Iterator[None]:
    """Every job a test queued (an import, the resolution it asks for) ends before the next."""
    yield
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with transaction() as db:
            busy = [j for j in jobs_service.list_jobs(db=db) if j.status in ("queued", "running")]
        if not busy:
            return
        time.sleep(0.2)
    raise AssertionError(f"jobs still running: {[(j.kind, j.status) for j in busy]}")


@pytest.fixture
def manager(client: TestClient, world: factories.World) -> TestClient:
    """The ops manager (imports:run, team East) signed in."""
    return factories.login(client, "ops_manager")


def _csrf(client: TestClient, path: str = "/imports/new") -> str:
    return factories.csrf_from(client.get(path).text)


def _upload(client: TestClient, data: bytes, kind: str = "customers") -> Any:
    return client.post(
        "/imports/new",
        data={"kind": kind, "csrf_token": _csrf(client)},
        files={"file": ("export.csv", data, "text/csv")},
    )


def _wait(import_id: int, *statuses: str) -> Import:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with transaction() as db:
            imp = db.get(Import, import_id)
            assert imp is not None
            if imp.status in statuses:
                return imp
        time.sleep(0.1)
    raise AssertionError(f"import {import_id} still {imp.status}")


def test_the_wizard_from_upload_to_import(manager: TestClient, world: factories.World) -> None:
    page = manager.get("/imports/new")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    uploaded = _upload(manager, csv_bytes([HEADER, *ROWS], encoding="gbk"))
    assert uploaded.status_code == 303
    location = uploaded.headers["location"]
    import_id = int(location.rsplit("/", 1)[1])

    preview = manager.get(location)
    assert preview.status_code == 200
    assert "网页导入甲" in preview.text and "gb18030" in preview.text  # read, and how
    # Suggested: 客户编号 → external id ... 备注 → notes.
    assert '<option value="external_id" selected>' in preview.text
    assert '<option value="notes" selected>' in preview.text

    form = {f"map-{i}": f for i, f in enumerate(["external_id", "name", "phone", "email", ""])}
    token = factories.csrf_from(preview.text)
    started = manager.post(
        f"/imports/{import_id}/start",
        data={**form, "source": "crm", "mode": "valid-rows", "action": "dry_run",
              "template_name": "CRM 客户", "csrf_token": token},
    )  # fmt: skip
    assert started.status_code == 303
    imp = _wait(import_id, "validated")
    assert (imp.created, imp.failed, imp.mapping["备注"]) == (2, 1, None)
    with transaction() as db:
        assert db.scalars(select(Customer.name).where(Customer.name.like("网页%"))).all() == []
        assert db.scalar(select(ImportMapping.name)) == "CRM 客户"
    done = manager.get(location)
    assert "Dry run: what the import would do" in done.text
    report = manager.get(f"/imports/{import_id}/report.csv")
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines[1][:3] == ["4", "invalid_phone", "手机号码"]

    token = factories.csrf_from(done.text)
    manager.post(
        f"/imports/{import_id}/start",
        data={**form, "source": "crm", "mode": "valid-rows", "action": "commit",
              "csrf_token": token},
    )  # fmt: skip
    imp = _wait(import_id, "succeeded")
    assert (imp.created, imp.failed) == (2, 1)
    listing = manager.get("/imports")
    assert f'data-testid="import-{import_id}"' in listing.text and "100%" in listing.text
    found = manager.get("/customers?q=网页导入").text
    assert "网页导入甲" in found and "网页导入乙" in found  # filed under the manager's team
    with transaction() as db:
        teams = set(db.scalars(select(Customer.team_id).where(Customer.name.like("网页%"))))
    assert teams == {world.teams["East"]}


def test_a_refused_file_is_explained_on_the_form(manager: TestClient) -> None:
    answer = _upload(manager, b"name,phone,name\nA,1,B\n")
    assert answer.status_code == 422
    assert "The header “name” appears twice." in answer.text
    with transaction() as db:
        assert db.scalars(select(Import)).all() == []


def test_an_oversized_upload_is_refused_before_it_is_read(manager: TestClient) -> None:
    stored = set(service.storage_dir().iterdir())
    with config.override(import_max_bytes=4096):
        answer = _upload(manager, b"a" * 200_000)
    assert answer.status_code == 422
    assert "larger than the limit of 4096 bytes" in answer.text
    assert set(service.storage_dir().iterdir()) == stored


def test_an_unsure_encoding_can_be_chosen(manager: TestClient) -> None:
    data = "Name,City,Mobile\nJosé,Bogotá,13800138000\n".encode("cp1252")
    location = _upload(manager, data).headers["location"]
    page = manager.get(location)
    assert 'data-testid="encoding-form"' in page.text
    chosen = manager.post(
        f"{location}/encoding",
        data={"encoding": "cp1252", "csrf_token": factories.csrf_from(page.text)},
    )
    assert chosen.status_code == 303
    again = manager.get(location)
    assert "José" in again.text and 'data-testid="encoding-form"' not in again.text


def test_a_bad_mapping_comes_back_with_the_reason(manager: TestClient) -> None:
    location = _upload(manager, csv_bytes([HEADER, *ROWS])).headers["location"]
    page = manager.get(location)
    answer = manager.post(
        f"{location}/start",
        data={"map-0": "name", "map-1": "name", "action": "dry_run",
              "csrf_token": factories.csrf_from(page.text)},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "is mapped from two columns" in answer.text


def test_the_progress_fragment_polls_then_refreshes(manager: TestClient) -> None:
    location = _upload(manager, csv_bytes([HEADER, *ROWS[:1]])).headers["location"]
    import_id = int(location.rsplit("/", 1)[1])
    with transaction() as db:
        imp = db.get(Import, import_id)
        assert imp is not None
        imp.status, imp.job_id = "importing", None
    running = manager.get(location, headers={"HX-Request": "true"})
    assert running.status_code == 200 and 'hx-trigger="every 1s"' in running.text
    assert "<html" not in running.text  # a fragment
    with transaction() as db:
        imp = db.get(Import, import_id)
        assert imp is not None
        imp.status = "succeeded"
    finished = manager.get(location, headers={"HX-Request": "true"})
    assert (finished.status_code, finished.headers["HX-Refresh"]) == (204, "true")


def test_the_api_upload_map_run_report(manager: TestClient) -> None:
    headers = {"X-CSRF-Token": _csrf(manager)}
    created = manager.post(
        "/api/v1/imports",
        data={"kind": "customers"},
        files={"file": ("api.csv", csv_bytes([HEADER, *ROWS]), "text/csv")},
        headers=headers,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["mapping"]["手机号码"] == "phone" and body["preview"][0][0] == 2
    import_id = body["id"]
    mapped = manager.put(
        f"/api/v1/imports/{import_id}/mapping",
        json={"columns": {"客户编号": "external_id", "客户名称": "name", "手机号码": "phone"},
              "source": "api"},
        headers=headers,
    )  # fmt: skip
    assert mapped.status_code == 200 and mapped.json()["mapping"]["电子邮箱"] is None
    started = manager.post(f"/api/v1/imports/{import_id}/run", json={}, headers=headers)
    assert started.status_code == 202 and started.json()["dry_run"] is True
    _wait(import_id, "validated")
    result = manager.get(f"/api/v1/imports/{import_id}").json()
    assert (result["status"], result["created"], result["failed"]) == ("validated", 2, 1)
    report = manager.get(f"/api/v1/imports/{import_id}/report?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(report.content)).worksheets[0]
    assert [c.value for c in sheet[2]][:2] == [4, "invalid_phone"]
    refused = manager.post(
        "/api/v1/imports",
        data={"kind": "customers"},
        files={"file": ("bad.csv", b"a,a\n1,2\n", "text/csv")},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == {"header": "duplicate_header", "column": "a"}


def test_saved_mappings_page_and_file(manager: TestClient) -> None:
    headers = {"X-CSRF-Token": _csrf(manager)}
    saved = manager.post(
        "/api/v1/imports/mappings",
        json={"kind": "customers", "name": "Shop", "columns": {"手机号码": "phone"},
              "options": {"source": "shop"}},
        headers=headers,
    )  # fmt: skip
    assert saved.status_code == 201
    page = manager.get("/imports/mappings")
    assert "Shop" in page.text and '手机号码 → <span class="mono">phone</span>' in page.text
    document = manager.get(f"/imports/mappings/{saved.json()['id']}/mapping.yaml").text
    assert "kind: customers" in document and "手机号码: phone" in document
    assert "source: shop" in document


def test_people_without_the_permission_are_turned_away(
    client: TestClient, world: factories.World
) -> None:
    factories.login(client, "agent")
    assert client.get("/imports").status_code == 403
    assert client.get("/api/v1/imports").status_code == 403
