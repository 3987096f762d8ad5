"""Routes built from the spec, each operation bound to its handler by operationId.

One request flows one way: authenticate → validate the request → handler →
validate the response → send. Binding happens at start-up: an operation
without a handler, or a handler without an operation, stops the app from
being built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fakeserver import lifecycle
from fakeserver.auth import Principal, authenticate_token, scope_token
from fakeserver.bodies import BodyReads, BodyTimeout, has_body
from fakeserver.errors import ApiError, FakeError, envelope, status_of
from fakeserver.headers import date_header
from fakeserver.journal import BODY_LIMIT, Journal, JournalRow, mask_token, masked_query
from fakeserver.responses import coder_json, empty, sent_parts
from fakeserver.spec import Operation, Spec, SpecError
from fakeserver.validation import RequestValidator, ResponseValidator
from fakeserver.world import World

if TYPE_CHECKING:
    from fakeserver.faults import Fault, Faults


_UNREAD = object()
_NO_READING: AbstractContextManager[None] = nullcontext()  # reusable: it keeps nothing
NO_QUERY: Mapping[str, str] = QueryParams()
logger = logging.getLogger("fakeserver")
request_log = logging.getLogger("fakeserver.requests")  # one line per request: `serve --log-requests`


class Host(Protocol):
    """What the request pipeline needs of the fake it serves (a `FakeCoder`): nothing more."""

    lock: AbstractContextManager[Any]
    world: World
    journal: Journal
    faults: Faults
    validate_responses: bool
    body_reads: BodyReads  # each within the fake's timeout
    cors_origins: Sequence[str] | None  # which pages may call it (cors.py); a WebSocket checks it too


@dataclass
class Call:
    """What a handler gets: the checked request and the fake it acts on."""

    fake: Host  # the control plane's handlers use it as the FakeCoder it is (handlers/control.py)
    params: dict[str, str]
    principal: Principal
    read_body: Callable[[], Any]
    base_url: Callable[[], str] = field(default=lambda: "")  # where the client reached the fake, no trailing /
    task_id: str | None = None  # set when `{task}` resolves, for the journal
    _body: Any = field(default=_UNREAD, repr=False)

    @property
    def body(self) -> Any:
        """The request body, decoded and checked against the spec when the handler first asks.

        coderd resolves `{user}` and `{task}` (404, 400) before it reads a body; a handler that
        does the same first gets the same order of errors.
        """
        if self._body is _UNREAD:
            self._body = self.read_body()
        return self._body

    @property
    def world(self) -> World:
        return self.fake.world


@dataclass
class Exchange:
    """One request on its way through the pipeline: what the journal and the request log need."""

    scope: Scope
    receive: Receive
    started: float  # perf_counter
    token: str  # read once: authentication and the journal both want it ("" for the control plane)
    query: Mapping[str, str]  # parsed only when there is one: most requests have none
    raw_body: bytes = b""
    principal: Principal | None = None
    principal_of: World | None = None  # the world that found the principal
    call: Call | None = None

    @property
    def user(self) -> str:
        return self.principal.label if self.principal is not None else ""


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None  # None: JSON; else a declared text media type and a str body


Handler = Callable[[Call], Reply]
# A handler that must wait (without holding the fake's lock while it does) returns an awaitable
# instead, which the pipeline awaits with the lock released.
WaitingHandler = Callable[[Call], Awaitable[Reply]]
AnyHandler = Handler | WaitingHandler
Subject = Callable[[Call], object]


@dataclass(frozen=True)
class CompiledOperation:
    """An operation with its validators, compiled once per process and shared by every app."""

    operation: Operation
    requests: RequestValidator
    responses: ResponseValidator


def compile_operations(spec: Spec) -> dict[str, CompiledOperation]:
    return {
        op.operation_id: CompiledOperation(
            op, RequestValidator(op, spec.document), ResponseValidator(op, spec.document)
        )
        for op in spec.operations
    }


def check_bindings(spec: Spec, handlers: Mapping[str, AnyHandler]) -> None:
    declared = {op.operation_id for op in spec.operations}
    missing = sorted(declared - handlers.keys())
    unknown = sorted(handlers.keys() - declared)
    problems = []
    if missing:
        problems.append(f"operations without a handler: {', '.join(missing)}")
    if unknown:
        problems.append(f"handlers naming no operation: {', '.join(unknown)}")
    if problems:
        raise SpecError("; ".join(problems))


def build_routes(
    compiled: Mapping[str, CompiledOperation],
    handlers: Mapping[str, AnyHandler],
    journaled: bool,
    subject: Subject | None = None,
) -> list[Route]:
    """One route per path. `subject` finds the task a call is about (setting `call.task_id`) when a
    fault answers in the handler's place."""
    by_path: dict[str, dict[str, OperationEndpoint]] = {}
    server_rank: dict[str, int] = {}
    for operation_id, item in compiled.items():
        endpoint = OperationEndpoint(item, handlers[operation_id], journaled, subject)
        for rank, path in enumerate(item.operation.full_paths):
            by_path.setdefault(path, {})[item.operation.method] = endpoint
            server_rank.setdefault(path, rank)
    # Starlette tries routes in order: every path of the first server (`/api/v2`) before the aliases
    # of the others (`/api/experimental`), which few clients call. No two paths overlap, so the
    # order changes only how soon a route is found.
    paths = sorted(by_path, key=server_rank.__getitem__)
    return [Route(path, PathEndpoint(by_path[path]), methods=None) for path in paths]


class PathEndpoint:
    """All operations of one path; any other method is answered 405 with `Allow`."""

    def __init__(self, methods: dict[str, OperationEndpoint]) -> None:
        self.methods = dict(methods)  # by HTTP method: the front door finds a client's call here too
        if "GET" in self.methods and "HEAD" not in self.methods:
            self.methods["HEAD"] = self.methods["GET"]
        self._allow = ", ".join(sorted(self.methods))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.methods.get(scope["method"])
        if endpoint is None:
            response = method_not_allowed(self._allow)
        else:
            response = await endpoint.handle(scope, receive)
        await response(scope, receive, send)


def method_not_allowed(allow: str) -> Response:
    """A wrong method on a known path: the fake's 405, in Coder's envelope, with the methods the path takes."""
    return coder_json(405, {"message": "Method not allowed."}, {"Allow": allow})


class ConnectionDropped(Exception):
    """An injected fault: the connection is cut after the status line, before the body."""


class OperationEndpoint:
    def __init__(
        self, compiled: CompiledOperation, handler: AnyHandler, journaled: bool, subject: Subject | None
    ) -> None:
        self.operation = compiled.operation
        self._requests = compiled.requests
        self._responses = compiled.responses
        self._handler = handler
        self._journaled = journaled  # the Coder API is journaled and can be faulted; the control plane is not
        self._subject = subject
        # The journal keeps a call's (masked) token; the control plane journals nothing and takes none.
        self._reads_token = journaled or bool(self.operation.security)
        body = self.operation.request_body
        self._read_limit = body.read_limit if body is not None else 0
        self._refuses_past_limit = body is not None and body.max_bytes is None  # coderd has no cap of its own

    async def handle(self, scope: Scope, receive: Receive) -> Response:
        """faults → body → (catch up → authenticate → parameters → handler) → check → encode → record."""
        started = time.perf_counter()
        host: Host = scope["app"].fake  # routes are shared by every app; each app (app.FakeApp) knows its fake
        token = scope_token(scope) if self._reads_token else ""
        query = QueryParams(scope["query_string"]) if scope.get("query_string") else NO_QUERY
        exchange = Exchange(scope, receive, started, token, query)
        injected: Fault | None = None
        if self._journaled and host.faults.kept:  # the control plane cannot be faulted
            faults = self._faults_for(host)
            delay = sum(fault.delay_seconds() for fault in faults)
            if delay:
                await anyio.sleep(delay)
            if any(fault.drop for fault in faults):
                return DroppedConnection()
            injected = next((fault for fault in faults if fault.status is not None), None)
        refusal = None
        if self.operation.request_body is not None:
            try:
                exchange.raw_body, refusal = await self._read_body(host, exchange)
            except ClientDisconnect:
                logger.warning("%s %s: the client went away before its body arrived", scope["method"], scope["path"])
                return empty(400)  # nobody reads it
        # A Coder API call sees one moment of the clock; the control plane moves the clock itself.
        with host.lock, host.world.clock if self._journaled else _NO_READING:
            outcome = self._run(host, exchange, refusal or injected)
            if isinstance(outcome, Reply):
                response = self._answer(host, exchange, outcome)
        if not isinstance(outcome, Reply):  # a waiting handler: it waited with the lock released
            outcome = await outcome
            with host.lock, host.world.clock if self._journaled else _NO_READING:
                response = self._answer(host, exchange, outcome)
        if request_log.isEnabledFor(logging.INFO):
            _log(exchange, outcome)
        return response

    def _answer(self, host: Host, exchange: Exchange, reply: Reply) -> Response:
        if host.validate_responses:
            self._responses.check(reply.status, reply.body, reply.media_type)
        response = _response(reply)
        moment = host.world.now()  # the call's own reading of the clock: its Date, its journal time
        response.raw_headers.append(date_header(moment))
        if self._journaled:
            self._record(host, exchange, reply, moment, sent_parts(response, BODY_LIMIT))
        return response

    def _faults_for(self, host: Host) -> list[Fault]:
        with host.lock:  # counting a fault's calls and drawing its chances change it
            return host.faults.for_call(self.operation.operation_id)

    async def _read_body(self, host: Host, exchange: Exchange) -> tuple[bytes, Reply | None]:
        """The body of an operation that takes one, read only for a caller who is let in; or the
        answer that refuses it (too large, too slow).

        A body past coderd's own cap (`x-coder-max-bytes`) is cut one byte past it: the handler
        then refuses it with coderd's 400, in coderd's order of checks.
        """
        if not has_body(exchange.scope):
            return b"", None
        exchange.principal = self._caller_let_in(host, exchange.token)
        if exchange.principal is None:
            return b"", None
        exchange.principal_of = host.world
        try:
            raw = await host.body_reads.read_at_most(exchange.receive, self._read_limit + 1)
        except BodyTimeout as error:
            return b"", Reply(408, envelope("Timed out reading the request body.", f"{error}."))
        if len(raw) > self._read_limit and self._refuses_past_limit:
            detail = f"The fake reads at most {self._read_limit} bytes of a request body."
            return b"", Reply(413, envelope("Request body too large.", detail))
        return raw, None

    def _caller_let_in(self, host: Host, token: str) -> Principal | None:
        """Who the caller is, as coderd's middleware finds out before a body is read; None for a
        caller it refuses, who gets its 401 with the body unread."""
        with host.lock:
            try:
                return authenticate_token(host.world, self.operation.security, token)
            except ApiError:
                return None

    def _run(self, host: Host, exchange: Exchange, answer: Fault | Reply | None) -> Reply | Awaitable[Reply]:
        """The answer, noting on `exchange` who asked and what about. A refused body or an injected
        fault answers instead of the handler, but the caller and the task are still found, for the journal."""
        scope = exchange.scope
        try:
            if self._journaled:  # the control plane's actions catch up themselves (a reset must not need to)
                lifecycle.catch_up(host.world)
            # Asked again when the caller was not let in before its body was read (caught up now, an
            # agent may have come up), or when a reset replaced the world meanwhile.
            if exchange.principal is None or exchange.principal_of is not host.world:
                exchange.principal = authenticate_token(host.world, self.operation.security, exchange.token)
            params = self._requests.parameters(scope["path_params"], exchange.query)
            raw_body = exchange.raw_body
            call = exchange.call = Call(
                host,
                params,
                exchange.principal,
                lambda: self._requests.body(raw_body),
                lambda: str(HTTPConnection(scope).base_url).rstrip("/"),  # not the exchange: no cycle to collect
            )
            if isinstance(answer, Reply):
                return answer
            if answer is None:
                return self._handler(call)
            if self._subject is not None:
                self._subject(call)
        except ApiError as error:
            if answer is None or isinstance(answer, Reply):
                return Reply(error.status, error.body(), error.headers)
        except FakeError as error:  # the world's and the control actions' errors get their status here
            if answer is None or isinstance(answer, Reply):
                return Reply(status_of(error), envelope(error.message, error.detail))
        assert answer is not None and not isinstance(answer, Reply) and answer.status is not None
        return Reply(answer.status, answer.body)

    def _record(
        self, host: Host, exchange: Exchange, reply: Reply, moment: datetime, response_parts: tuple[bytes, ...]
    ) -> None:
        scope = exchange.scope
        row: JournalRow = (  # in JournalEntry's field order
            host.journal.next_id(),  # id
            moment,  # time
            scope["method"],
            scope["path"],
            masked_query(exchange.query) if exchange.query is not NO_QUERY else None,  # query
            exchange.raw_body,  # request_bytes
            self.operation.operation_id,
            exchange.call.task_id if exchange.call is not None else None,  # task_id
            exchange.user,
            mask_token(exchange.token),  # token
            reply.status,
            response_parts,
            (time.perf_counter() - exchange.started) * 1000,  # duration_ms
        )
        host.journal.record(row)


def _log(exchange: Exchange, reply: Reply) -> None:
    """`serve --log-requests`: the path only, since a query may carry a token."""
    took = (time.perf_counter() - exchange.started) * 1000
    scope = exchange.scope
    request_log.info("%s %s %d %.1fms %s", scope["method"], scope["path"], reply.status, took, exchange.user or "-")


def _response(reply: Reply) -> Response:
    if reply.media_type is not None:
        return Response(reply.body, reply.status, reply.headers, media_type=reply.media_type)
    if reply.body is None:
        return empty(reply.status, reply.headers)
    return coder_json(reply.status, reply.body, reply.headers)


class DroppedConnection(Response):
    """Promise a body, then fail: the server cuts the connection and the client sees it dropped."""

    def __init__(self) -> None:
        self.status_code = 200
        self.background = None
        self.body = b""
        self.raw_headers = [(b"content-type", b"application/json"), (b"content-length", b"1024")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise ConnectionDropped("connection dropped by an injected fault")
