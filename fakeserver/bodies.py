"""Reading a request body within bounds: at most so many bytes, within so many seconds.

A server that reads whatever it is sent can be made to hold a 100 MiB body in memory, or a
connection open for ever by a `Content-Length` that is never sent. The pipeline reads a body
only for an operation that takes one, only once the caller is known, and through here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request

DEFAULT_BODY_TIMEOUT = 10.0  # seconds for the whole body to arrive; `serve --body-timeout` changes it


class BodyTimeout(Exception):
    """The body did not arrive within the timeout."""


def has_body(request: Request) -> bool:
    """Whether the request announces a body (a length above zero, or chunks), read from the raw
    header list in one pass (Starlette's `Headers` would copy it first)."""
    length: bytes | None = None
    for name, value in request.scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and length is None:
            length = value
    return length is not None and length.strip() not in (b"", b"0")


class BodyReads:
    """The bodies being read for one fake, each within `timeout` seconds of its start.

    On asyncio one timer serves every read: a timer of its own per read (`asyncio.timeout`) made
    and cancelled a timer handle for every request with a body, a twentieth of a POST's cost,
    and almost every body has arrived before its read begins. The shared timer is armed for the
    oldest read in flight; when it fires it ends the reads past their deadline and is armed again
    for the next, so a read that stalls is ended on time and a steady stream of reads costs one
    timer per `timeout` seconds. A read is registered only while it awaits its body, so the timer
    can cancel nothing else. Other event loops (trio) get anyio's timeout per read.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadlines: dict[asyncio.Task[Any], float] = {}  # in flight, oldest first
        self._expired: set[asyncio.Task[Any]] = set()

    async def read_at_most(self, request: Request, limit: int) -> bytes:
        """The body, or its first `limit` bytes when it is longer: the rest is never read.

        Raises `BodyTimeout`, and Starlette's `ClientDisconnect` when the client goes away.
        """
        task = _current_asyncio_task()
        if task is None:
            try:
                with anyio.fail_after(self.timeout):
                    return await _read(request, limit)
            except TimeoutError:
                raise self._timed_out() from None
        self._watch(task)
        try:
            return await _read(request, limit)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            self._expired.discard(task)
            if task.uncancel() > 0:  # cancelled by someone else as well: theirs goes on
                raise
            raise self._timed_out() from None
        finally:
            self._deadlines.pop(task, None)

    def _timed_out(self) -> BodyTimeout:
        return BodyTimeout(f"the body did not arrive within {self.timeout:g} s")

    def _watch(self, task: asyncio.Task[Any]) -> None:
        loop = task.get_loop()
        if loop is not self._loop:  # a fake outlives the event loops of the tests that use it
            self._loop, self._timer = loop, None
            self._deadlines.clear()
            self._expired.clear()
        deadline = loop.time() + self.timeout
        self._deadlines[task] = deadline
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._end_overdue)

    def _end_overdue(self) -> None:
        assert self._loop is not None
        self._timer = None
        now = self._loop.time()
        while self._deadlines:
            task, deadline = next(iter(self._deadlines.items()))
            if deadline > now:
                self._timer = self._loop.call_at(deadline, self._end_overdue)
                return
            del self._deadlines[task]
            self._expired.add(task)
            task.cancel()


async def _read(request: Request, limit: int) -> bytes:
    """The body's messages, read as Starlette's `Request.stream` reads them, with no async generator
    between (the pipeline reads each body once, here, and nothing reads it after)."""
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while size < limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)[:limit]


def _current_asyncio_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no asyncio loop runs: trio
        return None
