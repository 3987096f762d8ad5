"""CORS, so that a web app on a developer's machine (Vite, Next...) can call the fake from the browser.

By default any localhost origin is allowed, on any port: http(s)://localhost,
127.0.0.1, [::1] and *.localhost. `fakeserver serve --cors-origin` replaces
that with a list of origins, or `*` for any origin. Credentials (cookies) and the
Coder-Session-Token header are allowed; with credentials, the browser needs the
caller's origin echoed rather than `*`, which Starlette's CORSMiddleware does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ANY_ORIGIN = "*"
LOCALHOST_ORIGINS = r"https?://(?:(?:[a-z0-9-]+\.)*localhost|127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?"
ORIGIN = re.compile(r"https?://[^/\s?#]+")
MAX_AGE = 600  # seconds a browser may cache a preflight answer


def parse_origin(value: str) -> str:
    """An origin as browsers send it (`scheme://host[:port]`, lower case, no path), or `*`."""
    origin = value.strip().rstrip("/").lower()
    if origin != ANY_ORIGIN and not ORIGIN.fullmatch(origin):
        raise ValueError(f"{value!r} is not an origin: expected scheme://host[:port] (e.g. http://localhost:5173) or *")
    return origin


def describe(origins: Sequence[str] | None) -> str:
    """For the server's banner."""
    if origins is None:
        return "any localhost origin"
    if not origins:
        return "off"
    return "any origin" if ANY_ORIGIN in origins else ", ".join(origins)


def origin_allowed(origins: Sequence[str] | None) -> Callable[[str], bool]:
    """Whether a page of `origin` may call the fake: the CORS middleware's own decision."""
    return StrictCORSMiddleware(_no_app, **_cors_options(origins)).is_allowed_origin


def cors_layer(app: ASGIApp, origins: Sequence[str] | None) -> ASGIApp | None:
    """`app` behind CORS, or None when there is none. `origins` None: any localhost origin; an empty
    sequence: no CORS at all; else these origins (`*`: any)."""
    if origins is not None and not origins:
        return None
    return StrictCORSMiddleware(app, **_cors_options(origins))


def _cors_options(origins: Sequence[str] | None) -> dict[str, Any]:
    return {
        "allow_origins": [parse_origin(origin) for origin in origins or ()],
        "allow_origin_regex": LOCALHOST_ORIGINS if origins is None else None,
        "allow_methods": ["*"],
        "allow_headers": ["*"],  # echo what the app asks for: Coder-Session-Token, Content-Type, tracing headers...
        "allow_credentials": True,
        "allow_private_network": True,  # a page served from elsewhere may call the fake on loopback
        "max_age": MAX_AGE,
    }


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind a middleware that is only asked which origins it allows."""


class StrictCORSMiddleware(CORSMiddleware):
    """Starlette's CORSMiddleware, except that an origin that is not allowed gets no CORS header at all.

    (Starlette's adds `Access-Control-Allow-Credentials` and, on a refused
    preflight, the allowed methods and headers, whatever the origin.)
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        if origin is None and scope["type"] == "http":  # what Starlette does then: `Vary: Origin`, no more
            await self.app(scope, receive, functools.partial(vary_on_origin, send=send))
        elif origin is None or self.is_allowed_origin(origin):
            await super().__call__(scope, receive, send)
        elif scope["method"] == "OPTIONS" and "access-control-request-method" in Headers(scope=scope):
            response = PlainTextResponse(
                f"CORS: origin {origin} is not allowed; start fakeserver with --cors-origin {origin}",
                status_code=400,
                headers={"Vary": "Origin"},
            )
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, functools.partial(vary_on_origin, send=send))


async def vary_on_origin(message: Message, send: Send) -> None:
    """The answer depends on the Origin header: caches must not serve it to another origin."""
    if message["type"] == "http.response.start":
        raw = message.get("headers", ())
        if any(key.lower() == b"vary" for key, _ in raw):
            headers = MutableHeaders(scope=message)
            headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
        else:  # the usual case: no header map to build
            message = {**message, "headers": [*raw, (b"vary", b"Origin")]}
    await send(message)
