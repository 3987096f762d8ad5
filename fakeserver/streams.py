"""WebSocket routes for the operations the spec marks `x-coder-websocket` (a build's logs with
`follow`), bound by operationId like the HTTP routes, and checked at start-up the same way.

One socket flows one way: authenticate → validate the parameters → open the handler's stream
(its lookups can refuse, before the upgrade is accepted) → accept → send what the stream has,
checked against the operation's 200 schema, each time the clock has moved → close once the
stream is done, the client has gone, or the world it was opened on was replaced.

A refusal is the HTTP answer coderd gives (its envelope and status) when the server can send
one before the upgrade (uvicorn and the test client can); otherwise a close with 1008.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from fakeserver import lifecycle
from fakeserver.auth import authenticate, request_token
from fakeserver.cors import origin_allowed
from fakeserver.errors import ApiError, FakeError, status_of
from fakeserver.gotext import go_quote
from fakeserver.journal import JournalEntry, mask_token, masked_query
from fakeserver.responses import coder_json
from fakeserver.routing import Call, CompiledOperation, Host
from fakeserver.spec import Spec, SpecError
from fakeserver.wire import json_bytes, json_text
from fakeserver.world import World

POLL_SECONDS = 0.1  # how often an open stream looks at the world again
NORMAL_CLOSURE = 1000
POLICY_VIOLATION = 1008
DENIAL_EXTENSION = "websocket.http.response"


class Stream(Protocol):
    def poll(self, world: World) -> tuple[list[Any], bool]:
        """What to send now (JSON values, one message each), and whether the stream is done."""


StreamHandler = Callable[[Call], Stream]


def check_stream_bindings(spec: Spec, handlers: Mapping[str, StreamHandler]) -> None:
    declared = {op.operation_id for op in spec.operations if op.websocket}
    problems = []
    if missing := sorted(declared - handlers.keys()):
        problems.append(f"WebSocket operations without a stream handler: {', '.join(missing)}")
    if unknown := sorted(handlers.keys() - declared):
        problems.append(f"stream handlers naming no WebSocket operation: {', '.join(unknown)}")
    if problems:
        raise SpecError("; ".join(problems))


def build_stream_routes(
    compiled: Mapping[str, CompiledOperation], handlers: Mapping[str, StreamHandler]
) -> list[WebSocketRoute]:
    return [
        WebSocketRoute(path, StreamEndpoint(item, handlers[operation_id]))
        for operation_id, item in compiled.items()
        if item.operation.websocket
        for path in item.operation.full_paths
    ]


class StreamEndpoint:
    def __init__(self, compiled: CompiledOperation, handler: StreamHandler) -> None:
        self.operation = compiled.operation
        self._requests = compiled.requests
        self._responses = compiled.responses
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        host: Host = scope["app"].fake  # app.FakeApp
        started = time.perf_counter()
        with host.lock:
            world = host.world
            opened = self._open(host, websocket)
            self._record(host, websocket, opened, started)
        if isinstance(opened, ApiError):
            await _refuse(websocket, opened)
            return
        await websocket.accept()
        await self._serve(host, world, websocket, opened)

    def _open(self, host: Host, websocket: WebSocket) -> Stream | ApiError:
        try:
            lifecycle.catch_up(host.world)
            principal = authenticate(host.world, self.operation.security, websocket)
            params = self._requests.parameters(websocket.path_params, websocket.query_params)
            stream = self._handler(Call(host, params, principal, lambda: None))
            _check_origin(host, websocket)  # coder/websocket's Accept checks it last, after the handler's lookups
            return stream
        except ApiError as error:
            return error
        except FakeError as error:
            return ApiError(status_of(error), error.message, error.detail)

    async def _serve(self, host: Host, world: World, websocket: WebSocket, stream: Stream) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(_wait_for_disconnect, websocket, group.cancel_scope)
            while True:
                messages: list[Any]
                with host.lock:
                    if host.world is not world:  # a reset or a load: this stream's records are gone
                        messages, done = [], True
                    else:
                        lifecycle.catch_up(world)
                        messages, done = stream.poll(world)
                        if messages and host.validate_responses:
                            self._responses.check(200, messages)
                try:
                    for message in messages:
                        await websocket.send_text(json_text(message))
                    if done:
                        await websocket.close(NORMAL_CLOSURE)
                        break
                except (WebSocketDisconnect, RuntimeError):  # the client went away mid-send
                    break
                await anyio.sleep(POLL_SECONDS)
            group.cancel_scope.cancel()

    def _record(self, host: Host, websocket: WebSocket, opened: Stream | ApiError, started: float) -> None:
        """The upgrade request, in the journal like any other call: 101 when accepted."""
        status = opened.status if isinstance(opened, ApiError) else 101
        response = json_bytes(opened.body()) if isinstance(opened, ApiError) else b""
        token = request_token(websocket)
        user = host.world.user_by_token(token) if token else None
        host.journal.record(
            JournalEntry(
                id=host.journal.next_id(),
                time=host.world.now(),
                method="GET",
                path=websocket.scope["path"],
                query=masked_query(dict(websocket.query_params)),
                request_bytes=b"",
                operation_id=self.operation.operation_id,
                task_id=None,
                user=user.username if user is not None else "",
                token=mask_token(token),
                status=status,
                response_parts=(response,),
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )


def _check_origin(host: Host, websocket: WebSocket) -> None:
    """A page of another origin may not open the socket (its cookie would carry the user's token),
    unless CORS lets that origin call the fake: coder/websocket's rule, with the fake's CORS."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return
    origin_host = urlsplit(origin).netloc
    host_header = websocket.headers.get("host", "")
    if origin_host.lower() == host_header.lower() or origin_allowed(host.cors_origins)(origin):
        return
    raise ApiError(403, f"request Origin {go_quote(origin)} is not authorized for Host {go_quote(host_header)}")


async def _wait_for_disconnect(websocket: WebSocket, scope: anyio.CancelScope) -> None:
    """Read (and drop) what the client sends, until it closes: then the stream stops."""
    try:
        while websocket.client_state != WebSocketState.DISCONNECTED:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    scope.cancel()


async def _refuse(websocket: WebSocket, error: ApiError) -> None:
    if DENIAL_EXTENSION in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(coder_json(error.status, error.body(), error.headers))
    else:
        await websocket.close(POLICY_VIOLATION, reason=error.message[:120])
