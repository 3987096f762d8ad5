"""Reading a request body within bounds: at most so many bytes, within so many seconds.

A server that reads whatever it is sent can be made to hold a 100 MiB body in memory, or a
connection open for ever by a `Content-Length` that is never sent. The pipeline reads a body
only for an operation that takes one, only once the caller is known, and through here.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import anyio
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

DEFAULT_BODY_TIMEOUT = 10.0  # seconds for the whole body to arrive; `serve --body-timeout` changes it


class BodyTimeout(Exception):
    """The body did not arrive within the timeout."""


def has_body(scope: Scope) -> bool:
    """Whether the request announces a body (a length above zero, or chunks)."""
    length: bytes | None = None
    for key, value in scope["headers"]:  # one pass for both (every POST asks)
        if key == b"transfer-encoding":
            return True
        if key == b"content-length" and length is None:
            length = value
    return length is not None and length.decode("latin-1").strip() not in ("", "0")


class BodyReads:
    """The bodies being read for one fake, each within `timeout` seconds of its start.

    On asyncio one timer per event loop serves every read: a timer of its own per read
    (`asyncio.timeout`) made and cancelled a timer handle for every request with a body, a
    twentieth of a POST's cost, and almost every body has arrived before its read begins. Other
    event loops (trio) get anyio's timeout per read.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        # A fake outlives the loops of the tests that use it, and a served fake's loop runs in a
        # thread of its own beside the test's: each loop's reads are its own.
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopReads] = weakref.WeakKeyDictionary()
        self._last: _LoopReads | None = None

    async def read_at_most(self, receive: Receive, limit: int) -> bytes:
        """The body, or its first `limit` bytes when it is longer: the rest is never read.

        Raises `BodyTimeout`, and Starlette's `ClientDisconnect` when the client goes away.
        """
        task = _current_asyncio_task()
        if task is None:
            try:
                with anyio.fail_after(self.timeout):
                    return await _read(receive, limit)
            except TimeoutError:
                raise self._timed_out() from None
        reads = self._reads_on(task.get_loop())
        reads.watch(task, self.timeout)
        try:
            return await _read(receive, limit)
        except asyncio.CancelledError:
            if not reads.ended(task) or task.uncancel() > 0:  # someone else's cancellation goes on
                raise
            raise self._timed_out() from None
        finally:
            reads.forget(task)

    def _reads_on(self, loop: asyncio.AbstractEventLoop) -> _LoopReads:
        reads = self._last
        if reads is None or reads.loop is not loop:
            reads = self._by_loop.get(loop)
            if reads is None:
                reads = self._by_loop[loop] = _LoopReads(loop)
            self._last = reads
        return reads

    def _timed_out(self) -> BodyTimeout:
        return BodyTimeout(f"the body did not arrive within {self.timeout:g} s")


class _LoopReads:
    """The reads in flight on one loop, and its one timer, armed for the oldest: when it fires it
    ends the reads past their deadline and is armed again for the next. A read is watched only
    while it awaits its body, so the timer cancels nothing else."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._deadlines: dict[asyncio.Task[Any], float] = {}  # oldest first: one timeout for all
        self._ended: set[asyncio.Task[Any]] = set()

    def watch(self, task: asyncio.Task[Any], timeout: float) -> None:
        deadline = self.loop.time() + timeout
        self._deadlines[task] = deadline
        if self._timer is None:
            self._timer = self.loop.call_at(deadline, self._end_overdue)

    def forget(self, task: asyncio.Task[Any]) -> None:
        self._deadlines.pop(task, None)

    def ended(self, task: asyncio.Task[Any]) -> bool:
        """Whether the timer cancelled this read (asked once, when the cancellation arrives)."""
        if task not in self._ended:
            return False
        self._ended.discard(task)
        return True

    def _end_overdue(self) -> None:
        self._timer = None
        now = self.loop.time()
        while self._deadlines:
            task, deadline = next(iter(self._deadlines.items()))
            if deadline > now:
                self._timer = self.loop.call_at(deadline, self._end_overdue)
                return
            del self._deadlines[task]
            self._ended.add(task)
            task.cancel()


async def _read(receive: Receive, limit: int) -> bytes:
    """The body's messages, read as Starlette's `Request.stream` reads them, straight from the
    server's `receive`: no `Request` to make, no async generator between (the pipeline reads each
    body once, here, and nothing reads it after)."""
    chunks: list[bytes] = []
    size = 0
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
