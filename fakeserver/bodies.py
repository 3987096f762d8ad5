"""Reading a request body within bounds: at most so many bytes, within so many seconds.

A server that reads whatever it is sent can be made to hold a 100 MiB body in memory, or a
connection open for ever by a `Content-Length` that is never sent. The pipeline reads a body
only for an operation that takes one, only once the caller is known, and through here.
"""

from __future__ import annotations

import asyncio

import anyio
from starlette.requests import ClientDisconnect, Request

DEFAULT_BODY_TIMEOUT = 10.0  # seconds for the whole body to arrive; `serve --body-timeout` changes it


class BodyTimeout(Exception):
    """The body did not arrive within the timeout."""


def has_body(request: Request) -> bool:
    """Whether the request announces a body (a length above zero, or chunks)."""
    headers = request.headers
    length = headers.get("content-length")
    return (length is not None and length.strip() not in ("", "0")) or "transfer-encoding" in headers


async def read_at_most(request: Request, limit: int, timeout: float) -> bytes:
    """The body, or its first `limit` bytes when it is longer: the rest is never read.

    Raises `BodyTimeout`, and Starlette's `ClientDisconnect` when the client goes away.
    """
    try:
        if _on_asyncio():
            async with asyncio.timeout(timeout):
                return await _read(request, limit)
        with anyio.fail_after(timeout):
            return await _read(request, limit)
    except TimeoutError:
        raise BodyTimeout(f"the body did not arrive within {timeout:g} s") from None


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


def _on_asyncio() -> bool:
    """Whether the fake runs on asyncio, as it does under uvicorn and its in-process transports:
    asyncio's own timeout then costs half of anyio's, which works on trio too."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
