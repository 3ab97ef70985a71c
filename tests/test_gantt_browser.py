"""The Gantt component in a real browser: virtual rows, zoom, keyboard, drag on the server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from clientops.core.web import STATIC_DIR
from tests import gantt_fixture
from tests.test_browser import _free_port
from tests.test_browser import browser as browser  # a fixture, used by name
from tests.test_browser import pytestmark as pytestmark  # browser mark, skip without Chromium

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/app.css">
<link rel="stylesheet" href="/static/projects/gantt.css"></head><body><main>
<div id="g" data-gantt data-src="/plan.json" data-zoom="day"></div></main>
<script src="/static/projects/gantt.js"></script></body></html>"""


@pytest.fixture(scope="module")
def fixture_server() -> Iterator[str]:
    """The component's files and a 2,000-task plan, served without the app."""
    app = FastAPI()
    plan = gantt_fixture.plan()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/", lambda: HTMLResponse(PAGE))
    app.add_api_route("/plan.json", lambda: JSONResponse(plan))
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


def _open(browser: Any, url: str) -> Any:
    page = browser.new_page(locale="en-US", viewport={"width": 1400, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#g[data-ready]")
    assert not errors, errors
    return page


def _stats(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("({...document.getElementById('g').gantt.stats})"))


def test_two_thousand_tasks_only_the_visible_rows_are_built(
    fixture_server: str, browser: Any
) -> None:
    page = _open(browser, fixture_server)
    assert page.evaluate("document.getElementById('g').gantt.rows.length") == 2000
    rows = page.locator(".g-row")
    assert 10 < rows.count() < 60  # about one screen, not 2,000
    assert _stats(page)["bars"] < 40
    assert "Phase 1" in rows.first.locator(".g-name").inner_text()
    # Critical tasks are marked in the grid (and drawn red on the canvas).
    assert "critical" in page.locator(".g-row[data-id='2']").inner_text()

    page.evaluate("document.querySelector('#g .g-scroll').scrollTop = 1e7")
    page.wait_for_function("document.querySelector('#g .g-row[data-row=\"1999\"]') !== null")
    assert page.locator(".g-row").count() < 60
    assert "Task 100.19" in page.locator(".g-row[data-row='1999']").inner_text()


def test_zoom_changes_the_scale(fixture_server: str, browser: Any) -> None:
    page = _open(browser, fixture_server)
    width = "(() => { const g = document.getElementById('g').gantt; const t = g.byId.get(4);"
    width += " const [a, b] = g.barOf(t); return b - a; })()"
    day = page.evaluate(width)
    page.click("#g [data-zoom=week]")
    week = page.evaluate(width)
    page.click("#g [data-zoom=month]")
    month = page.evaluate(width)
    assert day > week > month > 0
    assert page.locator("#g [data-zoom=month]").get_attribute("aria-pressed") == "true"


def test_keyboard_moves_the_selection_and_collapses_a_phase(
    fixture_server: str, browser: Any
) -> None:
    page = _open(browser, fixture_server)
    page.focus("#g .g-grid")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")
    active = page.get_attribute("#g .g-grid", "aria-activedescendant")
    assert active and page.locator(f"#{active}").inner_text().startswith("1.1")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowLeft")  # collapse "Phase 1": its 19 tasks leave the list
    assert page.evaluate("document.getElementById('g').gantt.rows.length") == 1981
    assert page.locator(".g-row[data-row='1']").inner_text().startswith("2")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.getElementById('g').gantt.rows.length") == 2000


def test_png_export_draws_grid_and_timeline(fixture_server: str, browser: Any) -> None:
    page = _open(browser, fixture_server)
    size = page.evaluate(
        "(() => { const c = document.getElementById('g').gantt.snapshot();"
        " return [c.width, c.height, c.toDataURL('image/png').length]; })()"
    )
    assert size[0] > 1000 and size[1] > 1000 and size[2] > 10000
    assert json.dumps(size)


# --- on the app, against the real plan -----------------------------------------------------

from tests.test_browser import _sign_in  # noqa: E402
from tests.test_browser import server as server  # noqa: E402  a fixture, used by name
from tests.test_projects_pages import make_project  # noqa: E402

BAR = """(name) => {
  const g = document.querySelector('[data-gantt]').gantt;
  const t = g.tasks.find((x) => x.name === name);
  g.select(t._row);
  const [x0, x1] = g.barOf(t);
  const r = g.scroller.getBoundingClientRect();
  return {x0: r.left + x0 - g.scroller.scrollLeft, x1: r.left + x1 - g.scroller.scrollLeft,
          y: r.top + t._row * 28 + 14 - g.scroller.scrollTop, dayW: g.dayW, id: t.id};
}"""


def _plan(page: Any, base: str) -> dict[str, Any]:
    data = page.request.get(base).json()
    return {t["name"]: t for t in data["tasks"]}


def test_dragging_a_bar_moves_the_task_and_its_successors_on_the_server(
    server: str, browser: Any, world: Any
) -> None:
    project_id = make_project(world)
    page = browser.new_page(locale="en-US", viewport={"width": 1400, "height": 800})
    _sign_in(page, server, "project_manager")
    page.goto(f"{server}/projects/{project_id}/plan")
    page.wait_for_selector("[data-gantt][data-ready]")
    api = f"{server}/projects/{project_id}/gantt.json"
    before = _plan(page, api)
    page.wait_for_timeout(100)
    bar = page.evaluate(BAR, "Configuration and build")
    x, y = bar["x0"] + 10, bar["y"]  # grab near its start: the right end resizes
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + bar["dayW"] * 3, y, steps=6)
    page.mouse.move(x + bar["dayW"] * 7, y, steps=6)  # one week later
    page.mouse.up()
    page.wait_for_selector("[data-gantt] .g-status:has-text('Saved')")
    after = _plan(page, api)
    assert after["Configuration and build"]["start"] > before["Configuration and build"]["start"]
    assert after["User acceptance testing"]["start"] > before["User acceptance testing"]["start"]
    assert after["Go-live"]["start"] > before["Go-live"]["start"]
    # The page shows the server's dates without a reload.
    shown = page.evaluate(
        "(id) => document.querySelector('[data-gantt]').gantt.byId.get(id).start", bar["id"]
    )
    assert shown == after["Configuration and build"]["start"]


def test_zoom_on_the_plan_page_and_the_customer_panel(
    server: str, browser: Any, world: Any
) -> None:
    project_id = make_project(world)
    page = browser.new_page(locale="en-US", viewport={"width": 1400, "height": 800})
    _sign_in(page, server, "viewer")
    page.goto(f"{server}/projects/{project_id}/plan")
    page.wait_for_selector("[data-gantt][data-ready]")
    day = page.evaluate("document.querySelector('[data-gantt]').gantt.dayW")
    page.click("[data-gantt] [data-zoom=month]")
    month = page.evaluate("document.querySelector('[data-gantt]').gantt.dayW")
    assert month < day
    assert page.get_attribute("[data-gantt]", "data-editable") == "0"

    page.goto(f"{server}/customers/{world.customers['East'][1]}")
    panel = page.locator("[data-testid=customer-projects]")
    assert "华信 CRM 实施" in panel.inner_text()
    panel.locator("text=华信 CRM 实施").click()
    page.wait_for_selector("[data-testid=project-name]")
    assert page.url.endswith(f"/projects/{project_id}")
