"""The ways a test talks to an in-process fake: sync and async clients, from sync and async code,
and the transports an SDK-style client takes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from dataclasses import dataclass

import httpx
import pytest
from conftest import AI_VERSION_ID

import fakeserver
from fakeserver import FakeCoder


def test_a_sync_client_works_inside_a_running_event_loop(fake: FakeCoder) -> None:
    """Sync code under test, called from an async test: the request runs on a portal thread."""

    def sync_code_under_test() -> int:
        with fake.client("alice") as alice:
            created = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Hi"})
            return created.status_code

    async def async_test() -> tuple[int, int]:
        status = sync_code_under_test()
        async with fake.async_client("alice") as alice:
            listed = await alice.get("/api/v2/tasks")
        return status, listed.json()["count"]

    assert asyncio.run(async_test()) == (201, 4)


def test_the_sync_client_runs_requests_on_the_callers_thread_unless_a_loop_runs_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fakeserver.handlers import API_HANDLERS
    from fakeserver.routing import Call, Reply

    threads: list[str] = []
    original = API_HANDLERS["listTasks"]

    def recording(call: Call) -> Reply:
        threads.append(threading.current_thread().name)
        return original(call)

    monkeypatch.setitem(API_HANDLERS, "listTasks", recording)
    fake = FakeCoder()

    def list_tasks() -> None:
        with fake.client("alice") as alice:
            assert alice.get("/api/v2/tasks").status_code == 200

    async def from_async_code() -> None:
        list_tasks()

    list_tasks()
    asyncio.run(from_async_code())
    assert threads == [threading.current_thread().name, "fakeserver-portal"]


def test_async_with_a_sync_client_says_what_to_use(fake: FakeCoder) -> None:
    async def misuse() -> None:
        async with fake.client("alice"):  # type: ignore[attr-defined]  # the mistake under test
            pass

    with pytest.raises(TypeError, match=r"fake.client\(\) is a sync httpx.Client.*async with fake.async_client"):
        asyncio.run(misuse())


@dataclass
class TasksSDK:
    """An SDK-style client, as users write them: it builds its own httpx client."""

    client: httpx.Client

    @classmethod
    def make(cls, base_url: str, token: str, transport: httpx.BaseTransport | None = None) -> TasksSDK:
        headers = {"Coder-Session-Token": token}
        return cls(httpx.Client(base_url=base_url, headers=headers, transport=transport))

    def task_names(self) -> list[str]:
        response = self.client.get("/api/v2/tasks", params={"q": "owner:me"})
        response.raise_for_status()
        return sorted(task["name"] for task in response.json()["tasks"])


def test_an_sdk_style_client_runs_on_the_public_transport(fake: FakeCoder) -> None:
    sdk = TasksSDK.make("https://coder.example.com", fake.token("alice"), transport=fake.transport())
    assert sdk.task_names() == ["broken-build", "fix-login-bug", "write-docs"]


def test_the_async_transport_serves_an_async_client(fake: FakeCoder) -> None:
    async def names() -> int:
        headers = {"Coder-Session-Token": fake.token("bob")}
        async with httpx.AsyncClient(transport=fake.async_transport(), base_url="http://x", headers=headers) as bob:
            return int((await bob.get("/api/v2/tasks")).json()["count"])

    assert asyncio.run(names()) == 3


def test_the_supported_surface_is_exported() -> None:
    assert set(fakeserver.__all__) == {
        "BuildAlreadyActive",
        "ClockRangeError",
        "Conflict",
        "FakeCoder",
        "FakeError",
        "FakeServer",
        "FakeServerError",
        "FixtureError",
        "Invalid",
        "NotFound",
        "ResponseValidationError",
        "SpecError",
        "__version__",
    }
    for name in fakeserver.__all__:
        assert getattr(fakeserver, name) is not None


def test_the_command_tells_its_version() -> None:
    done = subprocess.run([sys.executable, "-m", "fakeserver", "--version"], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.strip() == f"fakeserver {fakeserver.__version__}"
