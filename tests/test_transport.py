"""The in-process transports make the exchange httpx's own ASGITransport makes: the same scope and
messages reach the app, and the same response reaches the client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from fakeserver.guard import IN_PROCESS
from fakeserver.transport import AsyncASGITransport, SyncASGITransport


class Recorder:
    """An app that answers with what it was sent, and keeps the scope and messages it saw."""

    def __init__(self) -> None:
        self.scope: Scope = {}
        self.messages: list[Message] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = dict(scope)
        body = b""
        while True:
            message = await receive()
            self.messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [(b"content-type", b"text/plain"), (b"x-seen", str(len(body)).encode()), (b"set-cookie", b"a=1")]
        await send({"type": "http.response.start", "status": 207, "headers": headers})
        await send({"type": "http.response.body", "body": body[:3], "more_body": True})
        await send({"type": "http.response.body", "body": body[3:]})


async def chunked() -> AsyncIterator[bytes]:
    yield b"first,"
    yield b"second"


REQUESTS: list[dict[str, Any]] = [
    {"method": "GET", "url": "http://fake.coder/api/v2/tasks?q=owner%3Aalice&x=%C3%BC"},
    {"method": "POST", "url": "http://fake.coder/api/v2/tasks/me", "json": {"input": "Fix ü"}},
    {"method": "HEAD", "url": "http://fake.coder/a%20b/c"},
    {"method": "PATCH", "url": "http://127.0.0.1:8080/x", "content": b"raw", "headers": {"X-Mixed-Case": "v"}},
    {"method": "PUT", "url": "http://fake.coder/streamed", "content": "chunked"},
]


async def exchange(transport: httpx.AsyncBaseTransport, app: Recorder, request: dict[str, Any]) -> tuple[Any, ...]:
    if request.get("content") == "chunked":
        request = {**request, "content": chunked()}
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.request(**request)
    scope = {key: value for key, value in app.scope.items() if key != IN_PROCESS}
    return scope, app.messages, response.status_code, response.headers.raw, response.content, dict(client.cookies)


@pytest.mark.parametrize("request_", REQUESTS, ids=[r["method"] for r in REQUESTS])
def test_the_app_and_the_client_see_what_httpx_asgi_transport_shows(request_: dict[str, Any]) -> None:
    ours, theirs = Recorder(), Recorder()
    seen = asyncio.run(exchange(AsyncASGITransport(ours), ours, request_))
    expected = asyncio.run(exchange(httpx.ASGITransport(app=theirs), theirs, request_))
    assert seen == expected
    assert ours.scope[IN_PROCESS] is True  # what the served fake's Host guard lets through


def test_the_sync_transport_answers_the_same() -> None:
    app = Recorder()
    with httpx.Client(transport=SyncASGITransport(app)) as client:
        response = client.post("http://fake.coder/x", content=b"hello world")
    assert (response.status_code, response.content, response.headers["x-seen"]) == (207, b"hello world", "11")
    assert client.cookies["a"] == "1"


def test_an_app_that_waits_for_the_client_to_go_hears_it_once_answered() -> None:
    """As over a socket: `http.disconnect` comes once the response is complete, not before."""
    heard: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body", False):
            pass
        waiting = asyncio.ensure_future(receive())
        await asyncio.sleep(0)
        heard.append("still waiting" if not waiting.done() else "gone early")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        heard.append((await waiting)["type"])

    with httpx.Client(transport=SyncASGITransport(app)) as client:
        assert client.get("http://fake.coder/").content == b"ok"
    assert heard == ["still waiting", "http.disconnect"]
