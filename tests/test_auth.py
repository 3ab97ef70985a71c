"""Sign-in, sessions, CSRF, throttling, security headers, passwords."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from clientops.auth import service as auth_service
from clientops.auth.deps import SESSION_COOKIE
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from tests import factories


def test_pages_need_sign_in(client: TestClient, world: Any) -> None:
    response = client.get("/customers")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_wrong_password_is_refused_then_throttled(client: TestClient, world: Any) -> None:
    csrf = factories.csrf_from(client.get("/login").text)
    statuses = [
        client.post(
            "/login", data={"username": "agent", "password": "wrong", "csrf_token": csrf}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    right = client.post(
        "/login", data={"username": "agent", "password": factories.PASSWORD, "csrf_token": csrf}
    )
    assert right.status_code == 429  # still throttled inside the window


def test_login_without_csrf_token_is_refused(client: TestClient, world: Any) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "agent", "password": factories.PASSWORD})
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_session_rotates_at_login_and_logout_revokes_it(app: Any, world: Any) -> None:
    first = TestClient(app, base_url="https://testserver", follow_redirects=False)
    factories.login(first, "agent")
    old = first.cookies[SESSION_COOKIE]
    factories.login(first, "agent")
    new = first.cookies[SESSION_COOKIE]
    assert old != new
    replay = TestClient(app, base_url="https://testserver", follow_redirects=False)
    replay.cookies.set(SESSION_COOKIE, old)
    assert replay.get("/customers").status_code == 303
    csrf = factories.csrf_from(first.get("/customers").text)
    first.post("/logout", data={"csrf_token": csrf})
    replay.cookies.set(SESSION_COOKIE, new)
    assert replay.get("/customers").status_code == 303


def test_disabling_a_user_revokes_sessions_and_tokens(app: Any, world: Any) -> None:
    browser = TestClient(app, base_url="https://testserver", follow_redirects=False)
    factories.login(browser, "agent")
    with transaction() as db:
        bind(db, actor=SYSTEM)
        user = auth_service.find_user(db=db, username="agent")
        token = auth_service.create_token(db=db, user=user, scopes=["customers:read"])
    api = TestClient(app, base_url="https://testserver")
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with transaction() as db:
        bind(db, actor=SYSTEM)
        auth_service.set_active(db=db, user_id=user.id, active=False)
    assert browser.get("/customers").status_code == 303
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_form_posts_need_the_session_csrf_token(client: TestClient, world: Any) -> None:
    factories.login(client, "agent")
    response = client.post("/customers/new", data={"name": "No Token"})
    assert response.status_code == 403
    response = client.post("/customers/new", data={"name": "Bad", "csrf_token": "forged"})
    assert response.status_code == 403


def test_security_headers_and_cookie_flags(client: TestClient, world: Any) -> None:
    page = client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["strict-transport-security"].startswith("max-age=")
    csrf = factories.csrf_from(page.text)
    response = client.post(
        "/login", data={"username": "agent", "password": factories.PASSWORD, "csrf_token": csrf}
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
        assert flag.lower() in cookie.lower()


def test_passwords_are_stored_as_argon2id(world: Any) -> None:
    with transaction() as db:
        user = auth_service.find_user(db=db, username="agent")
        assert user.password_hash.startswith("$argon2id$")
        assert factories.PASSWORD not in user.password_hash


def test_language_choice_is_remembered_per_user(app: Any, world: Any) -> None:
    browser = TestClient(app, base_url="https://testserver", follow_redirects=False)
    factories.login(browser, "agent")
    assert "Customers" in browser.get("/customers").text
    csrf = factories.csrf_from(browser.get("/customers").text)
    browser.post("/language", data={"csrf_token": csrf, "locale": "zh_CN"})
    other = TestClient(
        app,
        base_url="https://testserver",
        follow_redirects=False,
        headers={"Accept-Language": "en-US"},
    )
    factories.login(other, "agent")
    assert "客户" in other.get("/customers").text


def test_browser_language_is_the_default(app: Any, world: Any) -> None:
    browser = TestClient(app, base_url="https://testserver", headers={"Accept-Language": "zh-CN"})
    assert "登录" in browser.get("/login").text


def test_idle_and_absolute_timeouts_end_the_session(app: Any, world: Any) -> None:
    from clientops import config

    browser = TestClient(app, base_url="https://testserver", follow_redirects=False)
    factories.login(browser, "agent")
    assert browser.get("/customers").status_code == 200
    with config.override(session_idle_minutes=0):
        assert browser.get("/customers").status_code == 303
    factories.login(browser, "agent")
    with config.override(session_absolute_hours=0):
        assert browser.get("/customers").status_code == 303
