"""The data quality page in a real browser: from a figure to the customers behind it."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import insert

from clientops.customers.models import Customer
from clientops.db import transaction
from tests.test_browser import _sign_in
from tests.test_browser import browser as browser  # a fixture, used by name
from tests.test_browser import pytestmark as pytestmark  # browser mark, skip without Chromium
from tests.test_browser import server as server  # a fixture, used by name

SHOTS = os.environ.get("CLIENTOPS_SCREENSHOTS")


def _legacy_customer(world: Any) -> int:
    """A customer whose phone an old system stored as typed, not in E.164."""
    row = {
        "name": "李雷",
        "name_key": "李雷",
        "phone": "138 0013 8001",
        "phone_key": "13800138001",
        "kind": "person",
        "lifecycle_stage": "potential",
        "team_id": world.teams["East"],
    }
    with transaction() as db:
        return int(db.execute(insert(Customer).values(**row).returning(Customer.id)).scalar_one())


def test_analyst_drills_down_from_a_figure_to_the_customer(
    server: str, browser: Any, world: Any
) -> None:
    customer_id = _legacy_customer(world)
    page = browser.new_page(locale="en-US")
    _sign_in(page, server, "analyst")
    page.click("text=Data quality")
    page.wait_for_selector("[data-testid=fields]")
    # Four customers have a phone, one of them badly written: 75.0% valid.
    assert page.locator("[data-testid=phone-invalid]").inner_text() == "75.0%"
    assert page.locator("[data-testid=trend-score] svg").count() == 1
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/quality.png", full_page=True)

    page.click("[data-testid=phone-invalid]")
    page.wait_for_selector("[data-testid=offenders]")
    assert "/quality/fields/phone/invalid" in page.url
    rows = page.locator("[data-testid=offenders] tbody tr")
    assert rows.count() == 1
    assert "李雷" in rows.inner_text()
    # Masked for the analyst as in the customer list: the first 3 and last 4 characters kept.
    assert "138******8001" in rows.inner_text()
    assert "0013" not in rows.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/quality-drill.png", full_page=True)

    page.click("text=李雷")
    page.wait_for_selector("[data-testid=customer-name]")
    assert page.url.endswith(f"/customers/{customer_id}")

    page.goto(f"{server}/quality")
    page.click("[data-testid=recompute]")
    page.wait_for_selector("[data-testid=computed]")
    assert "over 4 customers" in page.locator("[data-testid=computed]").inner_text()
