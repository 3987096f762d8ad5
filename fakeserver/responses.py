"""Responses with coderd's framing: JSON as `application/json; charset=utf-8`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fakeserver.journal import first_parts
from fakeserver.wire import Encoded, Wire, encode_parts

JSON_MEDIA_TYPE = "application/json; charset=utf-8"
# A body past this many bytes is sent as its parts, about this many at a time (`PartsResponse`).
SENT_IN_PARTS_BYTES = 1024 * 1024


def coder_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    sized = status >= 200 and status not in (204, 304)  # those Starlette sends no length
    if type(body) is Wire and not headers and sized and len(body.encoded) < SENT_IN_PARTS_BYTES:
        return JSONResponse([body.encoded, b"\n"], status)  # one task: the answer of most calls
    encoded = encode_parts(body)
    if encoded.size > SENT_IN_PARTS_BYTES:
        return PartsResponse(encoded, status, headers)
    if not headers and sized:
        return JSONResponse(encoded.parts, status)
    return Response(b"".join(encoded.parts), status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


class JSONResponse(Response):
    """An encoded JSON body and the two headers Starlette's `Response` gives it, in its order, set
    at once: most answers are one of these, and Starlette's header building is generic."""

    media_type = JSON_MEDIA_TYPE

    def __init__(self, parts: list[bytes], status: int) -> None:
        self.status_code = status
        self.background = None
        self.parts = parts  # for the journal (`sent_parts`)
        self.body = body = b"".join(parts)
        self.raw_headers = [(b"content-length", str(len(body)).encode("latin-1")), _JSON_CONTENT_TYPE]


_JSON_CONTENT_TYPE = (b"content-type", JSON_MEDIA_TYPE.encode("latin-1"))


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    if not headers:
        return EmptyResponse(status)
    return Response(b"", status_code=status, headers=headers)


class EmptyResponse(Response):
    """No body, and the one header Starlette's `Response` gives it (a zero length, but for the
    statuses that have none), set at once: every `send` is answered with one of these."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.background = None
        self.body = b""
        self.raw_headers = [] if status < 200 or status in (204, 304) else [(b"content-length", b"0")]


def sent_parts(response: Response, limit: int) -> tuple[bytes, ...]:
    """The first `limit` bytes of what `response` sends, as the parts it was joined from: the
    journal keeps them, and a task's part is the world's own encoded bytes, not a copy per call."""
    if isinstance(response, JSONResponse):
        return tuple(response.parts) if len(response.body) <= limit else first_parts(response.parts, limit)
    if isinstance(response, PartsResponse):
        return first_parts(response.parts, limit)
    if not response.body:  # a 204, a 202 without a body: half the answers a client gets
        return _NO_BODY
    return first_parts((bytes(response.body),), limit)


_NO_BODY = (b"",)


class PartsResponse(Response):
    """A JSON body sent as the parts it is made of, a megabyte at a time, with its length declared.

    A list of 100,000 tasks is 95 MB: joined, it would cost a fresh 95 MB (and the time to fault
    its pages in) on every call; its parts are the tasks' kept fragments, and each chunk sent
    reuses the memory of the one before.
    """

    def __init__(self, encoded: Encoded, status: int, headers: dict[str, str] | None) -> None:
        self.encoded = encoded
        self.parts = encoded.parts
        super().__init__(
            b"",
            status_code=status,
            headers={**(headers or {}), "content-length": str(encoded.size)},
            media_type=JSON_MEDIA_TYPE,
        )

    def chunks(self, chunk_bytes: int | None = None) -> Iterator[bytes]:
        start = 0
        for end in [*self.encoded.cuts(chunk_bytes or SENT_IN_PARTS_BYTES), len(self.parts)]:
            if end > start:
                yield b"".join(self.parts[start:end])
                start = end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for chunk in self.chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
