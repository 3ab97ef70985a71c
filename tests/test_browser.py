"""The pages in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tests import factories

CHROMIUM = os.environ.get("CLIENTOPS_CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM),
        reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)",
    ),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free localhost port, in this process."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    try:
        page.wait_for_url(f"{base}/customers", timeout=15_000)
    except Exception as exc:  # show what the browser shows instead of a bare time-out
        raise AssertionError(
            f"sign-in as {username} stayed on {page.url}:\n{page.content()}"
        ) from exc


def test_agent_creates_finds_and_opens_a_customer_viewer_sees_it_masked(
    server: str, browser: Any, world: Any
) -> None:
    page = browser.new_page(locale="en-US")
    _sign_in(page, server, "agent")
    assert page.locator("h1").inner_text() == "Customers"

    page.click("[data-testid=lang-zh_CN]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "客户"

    page.click("text=新建客户")
    page.fill("#f-name", "欧阳娜娜")
    page.fill("#f-phone", "1381234")
    page.fill("#f-email", "nana@example.cn")
    page.click("[data-testid=save]")
    error = page.locator("[data-testid=error-phone]")
    assert "请输入有效的电话号码" in error.inner_text()
    assert page.locator("#f-name").input_value() == "欧阳娜娜"  # nothing typed is lost

    page.fill("#f-phone", "138 0013 8000")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=customer-name]")
    assert page.locator("[data-testid=customer-name]").inner_text() == "欧阳娜娜"
    assert "13800138000" in page.locator("[data-testid=phone]").inner_text()

    page.goto(f"{server}/customers")
    assert page.locator("table.list tbody tr").count() == 3
    page.fill("[data-testid=search]", "欧阳")
    page.wait_for_url("**/customers?*q=*")
    page.wait_for_function("document.querySelectorAll('table.list tbody tr').length === 1")
    assert page.locator("table.list tbody tr").count() == 1
    page.click("text=欧阳娜娜")
    page.wait_for_selector("[data-testid=customer-name]")
    assert "/customers/" in page.url

    viewer = browser.new_page(locale="en-US")
    _sign_in(viewer, server, "viewer")
    viewer.goto(page.url)
    phone = viewer.locator("[data-testid=phone]").inner_text()
    assert "138****8000" in phone and "13800138000" not in phone
    assert viewer.locator("[data-testid=reveal-phone]").count() == 0


def test_project_manager_reveals_a_masked_phone(server: str, browser: Any, world: Any) -> None:
    page = browser.new_page(locale="zh-CN")
    _sign_in(page, server, "project_manager")
    page.goto(f"{server}/customers/{world.customers['East'][0]}")
    assert "138****1234" in page.locator("[data-testid=phone]").inner_text()
    page.click("[data-testid=reveal-phone]")
    page.wait_for_selector("[data-testid=revealed-phone]")
    assert page.locator("[data-testid=revealed-phone]").inner_text() == "13812341234"
