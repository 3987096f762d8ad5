"""httpx transports that call an ASGI app in-process, as a socket would look to the client.

httpx ships only an async ASGI transport, and Starlette's TestClient starts a
thread portal for every request (milliseconds each). The sync transport here
runs httpx's own `ASGITransport` on an event loop kept per thread, which keeps
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
from starlette.types import ASGIApp, Receive, Scope, Send

from fakeserver.guard import IN_PROCESS
from fakeserver.routing import ConnectionDropped


class AsyncASGITransport(httpx.ASGITransport):
    def __init__(self, app: ASGIApp, raise_app_exceptions: bool = True) -> None:
        super().__init__(app=InProcess(app), raise_app_exceptions=raise_app_exceptions)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as error:
            raise httpx.RemoteProtocolError(str(error), request=request) from error


class SyncClient(httpx.Client):
    """`FakeCoder.client()`: an httpx.Client that says what to use when it is entered with `async with`."""

    async def __aenter__(self) -> SyncClient:
        raise TypeError(
            "fake.client() is a sync httpx.Client: use `with fake.client(...)`, "
            "or `async with fake.async_client(...)` in async code"
        )

    async def __aexit__(self, *exc_info: object) -> None:
        """Never reached: entering fails."""


class InProcess:
    """Marks a request as come through an in-process transport: the served fake's Host guard
    leaves it alone (no socket reached it), so a test can use both on one fake."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[IN_PROCESS] = True
        await self.app(scope, receive, send)


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
        if _loop_running_here():
            return asyncio.run_coroutine_threadsafe(self._send(request), _portal_loop()).result()
        return _thread_loop().run_until_complete(self._send(request))

    async def _send(self, request: httpx.Request) -> httpx.Response:
        response = await self._transport.handle_async_request(request)
        response.stream = httpx.ByteStream(await response.aread())  # what a sync client can read
        return response


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
