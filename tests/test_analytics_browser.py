"""Analytics in a real browser: the tier chart, from an R×F cell to its customers, the 360 panel."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

from tests.analytics_data import add_activity, add_customers, score
from tests.test_browser import _sign_in
from tests.test_browser import browser as browser  # a fixture, used by name
from tests.test_browser import pytestmark as pytestmark  # browser mark, skip without Chromium
from tests.test_browser import server as server  # a fixture, used by name

SHOTS = os.environ.get("CLIENTOPS_SCREENSHOTS")
AS_OF = date.today() - timedelta(days=1)


def test_analyst_reads_the_tier_chart_and_a_customers_panel(
    server: str, browser: Any, world: Any
) -> None:
    # Eight big spenders among a hundred buyers: diamond is 8% of customers.
    big = [[(AS_OF - timedelta(days=5), 3700.0), (AS_OF - timedelta(days=40), 100.0)]] * 8
    small = [[(AS_OF - timedelta(days=200 + i), 550.0)] for i in range(92)]
    ids = add_customers(big + small, team_id=world.teams["East"], prefix="VIP")
    add_activity(ids[0], AS_OF - timedelta(days=3))
    score(AS_OF)
    page = browser.new_page(locale="en-US")
    _sign_in(page, server, "analyst")
    page.click("text=Analytics")
    page.wait_for_selector("[data-testid=tier-chart]")
    assert page.locator("[data-testid=tier-chart] rect").count() == 8  # 4 tiers × 2 bars
    page.click("[data-testid=analytics-nav] >> text=Tiers")
    row = page.locator("[data-testid=tier-table] tr[data-tier=diamond]")
    assert "8.0%" in row.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/analytics-tiers.png", full_page=True)
    page.click("[data-testid=analytics-nav] >> text=R×F grid")
    # The eight bought most recently and most often: they are in the top cell, with its count.
    cell = page.locator("[data-testid=cell-5-5] a")
    count = int(cell.inner_text())
    cell.click()
    page.wait_for_selector("[data-testid=scored-customers]")
    assert "R×F cell: R5 F5" in page.locator("[data-testid=rf-cell]").inner_text()
    rows = page.locator("[data-testid=scored-customers] tbody tr")
    assert 8 <= rows.count() == count
    names = {text.split()[0] for text in rows.all_inner_texts()}
    assert {f"VIP{i}" for i in range(8)} <= names
    page.click("text=VIP0")
    page.wait_for_selector("[data-testid=analytics-panel]")
    panel = page.locator("[data-testid=analytics-panel]")
    assert page.locator("[data-testid=panel-tier]").inner_text() == "Diamond"
    assert "last contact 3 days ago" in panel.inner_text()
    assert "no survey answers yet" in panel.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/analytics-panel.png", full_page=True)
