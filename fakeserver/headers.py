"""The headers coderd puts on every answer: `Date` on the fake's clock, and the build version.

A client that reasons about time (a token's expiry, "updated 5 s ago") compares the times in
bodies with the `Date` of the answer. Under a manual or sped-up clock those must agree, so the
fake writes `Date` itself from its world's clock (the server is told not to write its own).

Every `coder` CLI command reads `X-Coder-Build-Version` from its first answer and compares it with
its own version (a mismatch prints a warning and fetches `/api/v2/buildinfo`).

Also here: reading one header of a request where the server put it (`request_header`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from starlette.types import Message, Scope

if TYPE_CHECKING:
    from fakeserver.world import World

BUILD_VERSION_HEADER = b"x-coder-build-version"
VARY_ORIGIN = (b"vary", b"Origin")


def request_headers(scope: Scope, first: bytes, second: bytes) -> tuple[str | None, str | None]:
    """The first value of each of two headers, in one pass (the front door reads `Host` and `Origin`
    of every request)."""
    found_first: str | None = None
    found_second: str | None = None
    for key, value in scope["headers"]:
        if key == first and found_first is None:
            found_first = str(value.decode("latin-1"))
        elif key == second and found_second is None:
            found_second = str(value.decode("latin-1"))
    return found_first, found_second


def request_header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower case, as ASGI servers give names), read from the
    scope's raw list: a few headers are read on every call, and Starlette's `Headers` copies the
    list first."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def with_coder_headers(message: Message, world: World, vary_on_origin: bool) -> Message:
    """A message of an answer with coderd's headers added (`add_coder_headers`). The front door
    passes every message sent through here but bodies and the answers of the API's operations,
    which it stamps whole (frontdoor.py)."""
    # An HTTP answer, a WebSocket's refusal, or its acceptance (the 101 the CLI reads too).
    kind = message["type"]
    if kind in ("http.response.start", "websocket.http.response.start"):
        headers = list(message.get("headers", ()))
        add_coder_headers(headers, world, vary_on_origin and kind == "http.response.start")
        return {**message, "headers": headers}
    if kind == "websocket.accept":
        return {
            **message,
            "headers": [*message.get("headers", ()), (BUILD_VERSION_HEADER, world.release.version_header)],
        }
    return message


def add_coder_headers(headers: list[tuple[bytes, bytes]], world: World, vary_on_origin: bool) -> None:
    """Add coderd's headers to an answer's: `Date` unless it has one, the build version, and
    `Vary: Origin` when asked, for the CORS middleware's sake (it varies an answer on the Origin
    even when none came, cors.py). Nothing inside writes these headers but `Date`, so they are
    appended, not replaced."""
    for name, _ in headers:
        if name == b"date":
            break
    else:
        headers.append(date_header(world.now()))
    headers.append((BUILD_VERSION_HEADER, world.release.version_header))
    if vary_on_origin:
        headers.append(VARY_ORIGIN)


def date_header(moment: datetime) -> tuple[bytes, bytes]:
    """`Date` at `moment`. An operation's answer carries the moment its call read the clock
    (routing.py), so that its body's times and its `Date` agree; other answers are dated as sent."""
    return (b"date", http_date(int(moment.timestamp())))


@lru_cache(maxsize=256)  # one value a second of fake time
def http_date(timestamp: int) -> bytes:
    """RFC 9110's IMF-fixdate: `Mon, 05 Jan 2026 09:00:00 GMT`."""
    return format_datetime(datetime.fromtimestamp(timestamp, UTC), usegmt=True).encode("ascii")
