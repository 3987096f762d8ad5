"""Shared fixtures: a fresh fake per test, clients signed in as the default users, and a few ids.

The ids are those of the built-in world (fakeserver/fixtures/default.yaml).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fakeserver.fake import FakeCoder

ORG_ID = "7c60d51f-b44e-4682-87d6-449835ea4de6"
ADMIN_ID = "8826ee2e-7933-4665-aef2-2393f84a0d05"
ALICE_ID = "0f2c4cb0-6a59-4c5e-9f9f-6f6a4b1c2a11"
BOB_ID = "3b9a8d4e-2c1f-4e8a-b7d6-5a4c3b2a1f00"

AI_VERSION_ID = "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1"  # claude-code v1, has a coder_ai_task
PLAIN_VERSION_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"  # docker v1, has none
AI_TEMPLATE_ID = "c6d67e98-83ea-49f0-8812-e4abae2b68bc"
PRESET_ID = "512a53a7-30da-446e-a1fc-713c630baff1"

# The default world's tasks, one of each status.
ACTIVE_ID = "11111111-1111-4111-8111-111111111111"  # alice/fix-login-bug
PAUSED_ID = "22222222-2222-4222-8222-222222222222"  # alice/write-docs
ERROR_ID = "33333333-3333-4333-8333-333333333333"  # alice/broken-build
PENDING_ID = "44444444-4444-4444-8444-444444444444"  # bob/add-dark-mode
INITIALIZING_ID = "55555555-5555-4555-8555-555555555555"  # bob/refactor-api
UNKNOWN_ID = "66666666-6666-4666-8666-666666666666"  # bob/lost-agent

NOT_FOUND = {"message": "Resource not found or you do not have access to this resource"}
JSON_TYPE = "application/json; charset=utf-8"

# Long enough for any build, agent and app of the default timings to settle.
SETTLE = 10.0


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """A request's scope as uvicorn hands it to the app, for tests that call its ASGI callable."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


@pytest.fixture
def fake() -> FakeCoder:
    return FakeCoder()


@pytest.fixture
def alice(fake: FakeCoder) -> Iterator[httpx.Client]:
    with fake.client("alice") as client:
        yield client


@pytest.fixture
def bob(fake: FakeCoder) -> Iterator[httpx.Client]:
    with fake.client("bob") as client:
        yield client


@pytest.fixture
def admin(fake: FakeCoder) -> Iterator[httpx.Client]:
    with fake.client("admin") as client:
        yield client


@pytest.fixture
def control(fake: FakeCoder) -> Iterator[httpx.Client]:
    """The control plane: no token, and JSON on every write, as it requires."""
    with fake.control_client() as client:
        yield client


@pytest.fixture
def anonymous(fake: FakeCoder) -> Iterator[httpx.Client]:
    with fake.client() as client:
        yield client


def create_task(client: httpx.Client, user: str = "me", **overrides: Any) -> dict[str, Any]:
    """Create a task from the AI template (201 expected) and return its JSON."""
    body = {"template_version_id": AI_VERSION_ID, "input": "Fix the flaky test", **overrides}
    response = client.post(f"/api/v2/tasks/{user}", json=body)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def get_task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v2/tasks/me/{task_id}")
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task
