"""The review queue in a real browser: compare a pair, merge it, then unmerge it."""

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

from clientops import db
from clientops.core.context import SYSTEM, bind
from clientops.customers.models import Customer
from clientops.identity import service
from tests import factories

CHROMIUM = os.environ.get("CLIENTOPS_CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM),
        reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)",
    ),
]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free localhost port, in this process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
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
def page(server: str, world: factories.World) -> Iterator[Any]:
    """A headless Chromium page, signed in as the operations manager."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(locale="en-US")
        tab.goto(f"{server}/login")
        tab.fill("#username", "ops_manager")
        tab.fill("#password", factories.PASSWORD)
        tab.click("button[type=submit]")
        tab.wait_for_url(f"{server}/customers", timeout=15_000)
        yield tab
        browser.close()


def _exists(customer_id: int) -> bool:
    with db.transaction() as s:
        return s.get(Customer, customer_id) is not None


def test_reviewer_merges_a_pair_and_unmerges_it(
    server: str, page: Any, world: factories.World
) -> None:
    admin, east = world.principal("admin"), world.teams["East"]
    keep = factories.make_customer(
        admin, name="欧阳娜娜", phone="13800138000", source="erp", team_id=east
    )
    dup = factories.make_customer(
        admin, name="欧阳娜娜", phone="138 0013 8000", email="nana@example.cn", team_id=east
    )
    evidence = {"phone": {"label": "same number", "weight": 13.5, "left": "x", "right": "x"}}
    with db.transaction() as s:
        bind(s, actor=SYSTEM)
        candidate = service.Candidate(keep, dup, 1.0, 13.5, "same_phone", evidence)
        pair = service.save_candidate(db=s, candidate=candidate)
        assert pair is not None
        pair_id = pair.id

    page.goto(f"{server}/identity")
    assert page.locator(f"[data-testid=pair-{pair_id}]").count() == 1
    page.click(f"[data-testid=compare-{pair_id}]")
    page.wait_for_selector("[data-testid=comparison]")
    assert page.locator("[data-testid=email-2]").inner_text() == "nana@example.cn"
    assert page.locator(f"[data-testid=survivor-{keep}]").is_checked()
    page.click("[data-testid=merge]")
    page.wait_for_selector("[data-testid=notice]")
    assert "merged" in page.locator("[data-testid=notice]").inner_text()
    assert page.locator(f"[data-testid=pair-{pair_id}]").count() == 0
    assert not _exists(dup)

    page.goto(f"{server}/customers/{keep}")
    assert "nana@example.cn" in page.locator("[data-testid=email]").inner_text()
    assert f"#{dup}" in page.locator("[data-testid=merged-from]").inner_text()

    page.goto(f"{server}/identity/merges")
    undo = page.locator("[data-testid^=undo-]")
    assert undo.count() == 1
    undo.click()
    page.wait_for_selector("[data-testid=notice]")
    assert "both customers are back" in page.locator("[data-testid=notice]").inner_text()
    assert _exists(dup)
    page.goto(f"{server}/customers/{dup}")
    assert page.locator("[data-testid=customer-name]").inner_text() == "欧阳娜娜"
    page.goto(f"{server}/customers/{keep}")
    assert page.locator("[data-testid=email]").inner_text().strip() == "—"
