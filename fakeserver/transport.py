"""httpx transports that call an ASGI app in-process, as a socket would look to the client.

httpx ships only an async ASGI transport, and Starlette's TestClient starts a
thread portal for every request (milliseconds each). The transports here make the
exchange httpx's `ASGITransport` makes (the same scope, messages and response) at
about half its cost; the sync one runs it on an event loop kept per thread, which keeps
a request in the tens of microseconds. Where that thread already runs a loop (sync
code under test called from an async test), a loop cannot be nested in it: the request
then runs on one shared portal thread's loop instead, and the caller waits for it.

A connection dropped by an injected fault surfaces as `httpx.RemoteProtocolError`,
as it does over a real socket, so client retry code can be tested in-process.
"""

from __future__ import annotations

import asyncio
import atexit
import threading

import httpx
from starlette.types import ASGIApp, Message, Scope

from fakeserver.guard import IN_PROCESS
from fakeserver.routing import ConnectionDropped

CLIENT_ADDRESS = ("127.0.0.1", 123)  # httpx's ASGITransport's


class AsyncASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp, raise_app_exceptions: bool = True) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await _exchange(self.app, request, self.raise_app_exceptions)
        except ConnectionDropped as error:
            raise httpx.RemoteProtocolError(str(error), request=request) from error


async def _exchange(app: ASGIApp, request: httpx.Request, raise_app_exceptions: bool) -> httpx.Response:
    """One request through the app, as httpx's own ASGITransport makes it (the same scope and
    messages), without what it needs for trio and for streaming."""
    url = request.url
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?")[0],
        "query_string": url.query,
        "server": (url.host, url.port),
        "client": CLIENT_ADDRESS,
        "root_path": "",
        IN_PROCESS: True,  # no socket reached it: a served fake's Host guard lets it through (guard.py)
    }
    assert isinstance(request.stream, httpx.AsyncByteStream)
    chunks = request.stream.__aiter__()
    body_sent = False
    answered: asyncio.Event | None = None  # made only if the app waits for the client to go
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    parts: list[bytes] = []
    complete = False

    async def receive() -> Message:
        nonlocal answered, body_sent
        if not body_sent:
            try:
                return {"type": "http.request", "body": await chunks.__anext__(), "more_body": True}
            except StopAsyncIteration:
                body_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
        if not complete:
            answered = answered or asyncio.Event()
            await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers, complete
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if chunk and request.method != "HEAD":
                parts.append(chunk)
            if not message.get("more_body", False):
                complete = True
                if answered is not None:
                    answered.set()

    try:
        await app(scope, receive, send)
    except Exception:
        if raise_app_exceptions:
            raise
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(b"".join(parts)))


class SyncClient(httpx.Client):
    """`FakeCoder.client()`: an httpx.Client that says what to use when it is entered with `async with`."""

    async def __aenter__(self) -> SyncClient:
        raise TypeError(
            "fake.client() is a sync httpx.Client: use `with fake.client(...)`, "
            "or `async with fake.async_client(...)` in async code"
        )

    async def __aexit__(self, *exc_info: object) -> None:
        """Never reached: entering fails."""


class SyncASGITransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp, raise_app_exceptions: bool = True) -> None:
        self._transport = AsyncASGITransport(app, raise_app_exceptions=raise_app_exceptions)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.ByteStream):  # a ByteStream reads both ways; anything else, once
            request = httpx.Request(
                request.method,
                request.url,
                headers=request.headers,
                content=request.read(),
                extensions=request.extensions,
            )
        exchange = self._transport.handle_async_request(request)  # its response's stream reads both ways
        if _loop_running_here():
            return asyncio.run_coroutine_threadsafe(exchange, _portal_loop()).result()
        return _thread_loop().run_until_complete(exchange)


_local = threading.local()


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_portal_lock = threading.Lock()
_portal: asyncio.AbstractEventLoop | None = None


def _portal_loop() -> asyncio.AbstractEventLoop:
    """A loop on a thread of its own, started on first use, for requests made inside a running loop."""
    global _portal
    with _portal_lock:
        if _portal is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="fakeserver-portal", daemon=True).start()
            _portal = loop
        return _portal


def _thread_loop() -> asyncio.AbstractEventLoop:
    """One loop per thread, shared by every client in it: creating a loop costs more than a request."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
        atexit.register(loop.close)
    return loop
