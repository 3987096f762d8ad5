"""A served fake leaves the older generations to reference counting (cli.YOUNG_ONLY_THRESHOLDS):
that holds only while answering requests makes no cyclic garbage, and a sweep still comes."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest
import uvicorn
from conftest import AI_VERSION_ID, http_scope
from starlette.types import ASGIApp, Message

from fakeserver.cli import FULL_SWEEP_SECONDS, StoppingServer
from fakeserver.fake import FakeCoder


async def call(app: ASGIApp, method: str, path: str, token: str, body: object = None) -> tuple[int, bytes]:
    """One request straight to the app, as uvicorn hands it over (an HTTP client of its own would
    bring its own cycles: httpx's requests and responses hold each other)."""
    raw = json.dumps(body).encode() if body is not None else b""
    headers = [(b"host", b"127.0.0.1"), (b"coder-session-token", token.encode())]
    if raw:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    scope = http_scope(method, path, headers)
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status: int = sent[0]["status"]
    return status, b"".join(message.get("body", b"") for message in sent[1:])


def test_answering_requests_makes_no_cyclic_garbage() -> None:
    fake = FakeCoder()
    token = fake.token("alice")

    async def exercise() -> None:
        for index in range(10):
            create = {"template_version_id": AI_VERSION_ID, "input": f"Go {index}"}
            status, created = await call(fake.app, "POST", "/api/v2/tasks/me", token, create)
            assert status == 201
            task = f"/api/v2/tasks/me/{json.loads(created)['id']}"
            fake.advance(10)  # it starts, its agent comes up and answers the prompt
            assert (await call(fake.app, "GET", task, token))[0] == 200
            assert (await call(fake.app, "POST", f"{task}/send", token, {"input": "And then?"}))[0] == 204
            assert (await call(fake.app, "GET", "/api/v2/tasks", token))[0] == 200
            assert (await call(fake.app, "GET", f"{task}/logs", token))[0] == 200
            assert (await call(fake.app, "POST", f"{task}/pause", token))[0] == 202
            fake.advance(10)
            assert (await call(fake.app, "POST", f"{task}/resume", token))[0] == 202
            fake.advance(10)
            assert (await call(fake.app, "GET", "/api/v2/tasks/me/no-such-task", token))[0] == 404
            assert (await call(fake.app, "POST", "/api/v2/tasks/me", token, {"input": 3}))[0] == 400
            assert (await call(fake.app, "GET", "/api/v2/tasks", "not-a-token"))[0] == 401
            assert (await call(fake.app, "DELETE", task, token))[0] == 202
            fake.advance(10)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(exercise())  # the first round's lazy imports and caches: not counted
        gc.collect()
        gc.disable()
        try:
            loop.run_until_complete(exercise())
            found = gc.collect()
        finally:
            gc.enable()
    finally:
        loop.close()
    assert found == 0


@pytest.mark.parametrize(("since", "sweeps"), [(0.0, 0), (FULL_SWEEP_SECONDS + 1, 1)])
def test_the_served_fake_sweeps_every_generation_every_ten_minutes(
    monkeypatch: pytest.MonkeyPatch, since: float, sweeps: int
) -> None:
    collected: list[int] = []

    def collect(generation: int = 2) -> int:
        collected.append(generation)
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    server = StoppingServer(uvicorn.Config(FakeCoder().app))
    server.swept_at -= since
    assert asyncio.run(server.on_tick(1)) is False
    assert asyncio.run(server.on_tick(2)) is False  # swept at most once per interval
    assert collected == [2] * sweeps
