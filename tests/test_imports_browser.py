"""The import wizard in a real browser: upload, preview, mapping, dry run, import, report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clientops.jobs import flows as jobs_flows
from tests.test_browser import _sign_in, browser, pytestmark, server  # noqa: F401 - fixtures
from tests.test_imports_service import csv_bytes

ROWS = [
    ["客户编号", "姓名", "手机", "邮箱", "备注"],
    ["B1", "浏览器甲", "13800000011", "b1@example.com", ""],
    ["B2", "浏览器乙", "13800000012", "b2@example.com", "@SUM(A1)"],
    ["B3", "浏览器丙", "13800000013", "b3@example.com", ""],
]


@pytest.fixture
def runtime(database_url: str) -> Iterator[None]:
    """The job runtime in this process, running queued jobs like a server."""
    jobs_flows.start()
    yield
    jobs_flows.stop()


def test_import_wizard_end_to_end(
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    world: Any,
    runtime: None,
    tmp_path: Path,
) -> None:
    data = tmp_path / "客户.csv"
    data.write_bytes(csv_bytes(ROWS))
    page = browser.new_page(locale="en-US")
    _sign_in(page, server, "ops_manager")
    page.click("a[href='/imports']")
    page.click("[data-testid=new-import]")
    page.set_input_files("#f-file", str(data))
    page.click("[data-testid=upload]")
    page.wait_for_selector("[data-testid=preview]")
    assert "浏览器甲" in page.locator("[data-testid=preview]").inner_text()
    assert page.locator("[data-testid='map-手机']").input_value() == "phone"
    assert page.locator("[data-testid='map-备注']").input_value() == "notes"

    page.click("[data-testid=dry-run]")
    page.wait_for_selector("[data-testid=results]", timeout=60_000)  # polled, then refreshed
    assert page.locator("[data-testid=created]").inner_text() == "2"
    assert page.locator("[data-testid=failed]").inner_text() == "1"
    assert "formula" in page.locator("[data-testid=report]").inner_text()

    page.click("[data-testid=commit]")
    page.locator("[data-testid=status]", has_text="Imported").wait_for(timeout=60_000)
    with page.expect_download() as download:
        page.click("[data-testid=report-csv]")
    report = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert "'@SUM(A1)" in report and "浏览器乙" in report

    page.goto(f"{server}/customers?q=浏览器")
    page.locator("table.list tbody tr", has_text="浏览器丙").wait_for()
    assert page.locator("table.list tbody tr").count() == 2
    names = page.locator("table.list tbody").inner_text()
    assert "浏览器甲" in names and "浏览器丙" in names and "浏览器乙" not in names
