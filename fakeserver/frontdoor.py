"""The one middleware every request of a fake passes before it is routed.

In order: the `Host` must be trusted (guard.py); every answer gets coderd's headers (headers.py);
a request from a page (it has an `Origin`) goes through CORS (cors.py), and a control-plane write
from a page must be one no page could send unasked (guard.py).

These are one layer, reading the request's headers once, rather than a middleware each: every
layer costs a call and a wrapper around each message sent, and most requests (a client's, a
test's) carry no `Origin` and need neither CORS nor the write check's second look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from fakeserver.cors import cors_layer, origin_allowed
from fakeserver.guard import is_control_write, refuse_host, untrusted_host, write_refusal
from fakeserver.headers import request_header, with_coder_headers
from fakeserver.responses import coder_json

if TYPE_CHECKING:
    from fakeserver.fake import FakeCoder


class FrontDoor:
    def __init__(self, app: ASGIApp, fake: FakeCoder) -> None:
        self.app = app
        self.fake = fake
        self._origin_allowed = origin_allowed(fake.cors_origins)
        self._cors = cors_layer(self._past_cors, fake.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        trusted = self.fake.allowed_hosts  # read per request: the server sets it once it is bound
        host = untrusted_host(scope, request_header(scope, b"host") or "", trusted)
        if host is not None and trusted is not None:
            await refuse_host(scope, receive, send, host, trusted)
            return
        from_page = request_header(scope, b"origin") is not None
        # Starlette's CORS varies every HTTP answer on the Origin: the same, for those it does not see
        vary = self._cors is not None and not from_page and scope["type"] == "http"
        stamped = with_coder_headers(send, self.fake, vary_on_origin=vary)
        if from_page and self._cors is not None:
            await self._cors(scope, receive, stamped)
        else:
            await self._past_cors(scope, receive, stamped)

    async def _past_cors(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = write_refusal(scope, self._origin_allowed) if is_control_write(scope) else None
        if refusal is not None:
            status, body = refusal
            await coder_json(status, body)(scope, receive, send)
            return
        await self.app(scope, receive, send)
