"""The one middleware every request of a fake passes before it is routed.

In order: the `Host` must be trusted (guard.py); a control-plane task reference keeps its encoded
slash; every answer gets coderd's headers (headers.py); a request from a page (it has an `Origin`)
goes through CORS (cors.py), and a control-plane write from a page must be one no page could send
unasked (guard.py). A bug anywhere inside is answered with Coder's 500 envelope, coderd's headers
and, for a page, CORS's, so that the page reads the fake's error rather than a CORS refusal; a bug
in the front door's own reading of the request, before it knows whether a page sent it, gets the
envelope and coderd's headers.

These are one layer, reading the request's headers once, rather than a middleware each (for the
500, Starlette's `ServerErrorMiddleware`): every layer costs a call and a wrapper around each
message sent, and most requests (a client's, a test's) carry no `Origin` and need neither CORS
nor the write check's second look. Such a call of an API operation goes straight to the operation
(dispatch.py), whose answer is made whole before it is sent: it gets coderd's headers as a whole,
and a bug is known to have come before any byte went out. Every other answer gets them message by
message, on its way out.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fakeserver.cors import cors_layer, origin_allowed
from fakeserver.errors import internal_error
from fakeserver.guard import CONTROL_PREFIX, is_control_write, refuse_host, untrusted_host, write_refusal
from fakeserver.headers import add_coder_headers, request_headers, with_coder_headers
from fakeserver.responses import coder_json

if TYPE_CHECKING:
    from fakeserver.dispatch import RouteIndex
    from fakeserver.fake import FakeCoder

CONTROL_TASKS_PREFIX = f"{CONTROL_PREFIX}tasks/"  # a task reference `owner/name` may arrive with `%2F`


class FrontDoor:
    def __init__(self, routed: RouteIndex, fake: FakeCoder) -> None:
        self.app = routed
        self.fake = fake
        self._origin_allowed = origin_allowed(fake.cors_origins)
        self._cors = cors_layer(self._past_cors, fake.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        trusted = self.fake.allowed_hosts  # read per request: the server sets it once it is bound
        try:  # the front door's own reading of the request: a bug here gets Coder's 500 too
            host_header, origin = request_headers(scope, b"host", b"origin")
            host = untrusted_host(scope, host_header or "", trusted) if trusted is not None else None
            control = scope["path"].startswith(CONTROL_PREFIX)
            is_call = origin is None and not control and scope["type"] == "http" and host is None
            operation = self.app.operation(scope) if is_call else None
        except Exception as error:
            if scope["type"] == "http":
                await self._internal_error(error)(scope, receive, send)
            raise
        if host is not None and trusted is not None:
            await refuse_host(scope, receive, send, host, trusted)
            return
        if operation is None:
            await self._routed(scope, receive, send, origin, control)
            return
        # A client's call of the Coder API (no Origin, no control-plane write to check), most of
        # what a fake is sent: its answer is made whole before a byte goes out, so it gets coderd's
        # headers as it is, and the server's `send` needs no wrapper to add them.
        vary = self._cors is not None  # Starlette's CORS varies every HTTP answer on the Origin
        try:
            response = await operation.handle(scope, receive)
        except Exception as error:
            await self._internal_error(error)(scope, receive, send)
            raise  # answered, then raised again, as below
        add_coder_headers(response.raw_headers, self.fake.world, vary)  # it has its `Date` already
        await response(scope, receive, send)

    def _internal_error(self, error: Exception) -> Response:
        """Coder's 500 for a bug met before anything was sent, with coderd's headers (no CORS: a
        page's request gets CORS's headers on its 500 in `_routed`)."""
        response = coder_json(500, internal_error(error))
        add_coder_headers(response.raw_headers, self.fake.world, self._cors is not None)
        return response

    async def _routed(self, scope: Scope, receive: Receive, send: Send, origin: str | None, control: bool) -> None:
        """Every other request: through CORS when it comes from a page, with coderd's headers
        added to each message sent."""
        if control and scope["path"].startswith(CONTROL_TASKS_PREFIX):
            scope = with_encoded_slashes(scope)
        from_page = origin is not None
        # Starlette's CORS varies every HTTP answer on the Origin: the same, for those it does not see
        vary = self._cors is not None and not from_page and scope["type"] == "http"
        started = False  # whether an HTTP answer has begun: until then, a bug can still get a 500

        def stamped(message: Message) -> Awaitable[None]:
            """The server's `send`, with coderd's headers: a plain function returning the server's
            own awaitable, so that a message sent costs no extra frame (half are bodies: passed on)."""
            nonlocal started
            if message["type"] == "http.response.body":
                return send(message)
            started = started or message["type"] == "http.response.start"
            return send(with_coder_headers(message, self.fake.world, vary))

        cors = self._cors if from_page else None
        inner = cors if cors is not None else self._past_cors if control else self.app
        try:
            await inner(scope, receive, stamped)
        except Exception as error:
            if scope["type"] != "http" or started:
                raise
            # Answered, then raised again: the server logs it, and an in-process client raises it in the test.
            answer: ASGIApp = coder_json(500, internal_error(error))
            if cors is not None:  # a page's answer carries CORS's headers too, or the page cannot read it
                answer = cors_layer(answer, self.fake.cors_origins) or answer
            await answer(scope, receive, stamped)
            raise

    async def _past_cors(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = write_refusal(scope, self._origin_allowed) if is_control_write(scope) else None
        if refusal is not None:
            status, body = refusal
            await coder_json(status, body)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def with_encoded_slashes(scope: Scope) -> Scope:
    """Keep an encoded slash inside a control-plane task reference (`/__fake__/tasks/alice%2Ffix-login-bug/job`).

    The server decodes `%2F` before routing, which would split `owner/name` into two segments.
    """
    raw_path: bytes = scope.get("raw_path") or b""
    if b"%2f" not in raw_path.lower():
        return scope
    encoded = raw_path.split(b"?", 1)[0].decode("latin-1")
    return {**scope, "path": unquote(re.sub("%2[fF]", "%252F", encoded))}
