"""Property-based API testing: schemathesis generates requests from our OpenAPI document.

Over the customers and accounts API, no request may cause a server error and every response
must conform to the documented schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from clientops.auth import service as auth_service
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from clientops.main import create_app

# The app touches no database until a request comes; by then conftest has configured it.
schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(start_jobs=False)).include(
    path_regex=r"^/api/v1/(customers|accounts)"
)


@pytest.fixture
def auth_headers(world: Any) -> dict[str, str]:
    """A token with every customers/accounts scope, acting as a team-scoped manager."""
    with transaction() as db:
        bind(db, actor=SYSTEM)
        user = auth_service.find_user(db=db, username="ops_manager")
        token = auth_service.create_token(
            db=db,
            user=user,
            scopes=[
                "customers:read",
                "customers:write",
                "customers:delete",
                "accounts:read",
                "accounts:write",
            ],
        )
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_never_errors_and_matches_its_schema(case: Any, auth_headers: dict[str, str]) -> None:
    case.call_and_validate(
        headers=auth_headers, checks=[not_a_server_error, response_schema_conformance]
    )
