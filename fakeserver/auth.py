"""Who is calling: a user by API token, or a workspace agent by agent token.

Tokens are read where coderd reads them: the `Coder-Session-Token` header,
then the `coder_session_token` cookie, then the `coder_session_token` query
parameter.
"""

from __future__ import annotations

from typing import NamedTuple

from starlette.requests import HTTPConnection
from starlette.types import Scope

from fakeserver.errors import ApiError
from fakeserver.headers import request_header
from fakeserver.models import Agent, User, Workspace
from fakeserver.validation import first_value
from fakeserver.world import World

TOKEN_HEADER = "Coder-Session-Token"
TOKEN_COOKIE = "coder_session_token"
SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."
AGENT_NOT_AUTHORIZED = "Workspace agent not authorized."
AGENT_NOT_AUTHORIZED_DETAIL = (
    "The agent cannot authenticate until the workspace provision job has been completed. "
    "If the job is no longer running, this agent is invalid."
)

USER_SCHEME = "CoderSessionToken"
AGENT_SCHEME = "CoderAgentToken"
SCHEMES = (USER_SCHEME, AGENT_SCHEME)


class Principal(NamedTuple):
    """The authenticated caller; at most one of the two is set. A named tuple made positionally,
    not a frozen dataclass: one is made per request, and a frozen dataclass sets each field
    through `object.__setattr__`."""

    user: User | None = None
    agent: Agent | None = None
    workspace: Workspace | None = None  # the agent's workspace

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.username
        if self.agent is not None:
            return f"agent:{self.agent.id}"
        return ""


ANONYMOUS = Principal()


def request_token(request: HTTPConnection) -> str:
    """The token of a request or a WebSocket (`scope_token`)."""
    return scope_token(request.scope)


def scope_token(scope: Scope) -> str:
    """The first of each, as Go's `Header.Get`, `Request.Cookie` and `url.Values.Get` give it
    (Starlette's cookie and query mappings keep the last). Nearly every client sends the header."""
    found = request_header(scope, _TOKEN_HEADER_KEY)
    if found:
        return found
    connection = HTTPConnection(scope)
    return _first_cookie(connection.headers.getlist("cookie"), TOKEN_COOKIE) or first_value(
        connection.query_params, TOKEN_COOKIE
    )


_TOKEN_HEADER_KEY = TOKEN_HEADER.lower().encode("latin-1")


def _first_cookie(headers: list[str], name: str) -> str:
    for header in headers:
        for pair in header.split(";"):
            key, _, value = pair.partition("=")
            if key.strip() == name:
                return value.strip().strip('"')
    return ""


def authenticate(world: World, schemes: tuple[str, ...], request: HTTPConnection) -> Principal:
    return authenticate_token(world, schemes, request_token(request) if schemes else "")


def authenticate_token(world: World, schemes: tuple[str, ...], token: str) -> Principal:
    """The caller a token names (its reading, `request_token`, done once per request by the caller)."""
    if not schemes:
        return ANONYMOUS
    if AGENT_SCHEME in schemes:
        return authenticate_agent(world, token)
    return authenticate_user(world, token)


def authenticate_user(world: World, token: str) -> Principal:
    if not token:
        raise ApiError(401, SIGNED_OUT, f'Cookie "{TOKEN_COOKIE}" or query parameter must be provided.')
    user = world.user_by_token(token)
    if user is None:
        raise ApiError(401, SIGNED_OUT, "API key is invalid.")
    if user.status == "suspended":
        raise ApiError(401, 'User is not active (status = "suspended"). Contact an admin to reactivate your account.')
    return Principal(user)


def authenticate_agent(world: World, token: str) -> Principal:
    found = world.agent_by_token(token) if token else None
    if found is None:
        raise ApiError(401, AGENT_NOT_AUTHORIZED, AGENT_NOT_AUTHORIZED_DETAIL)
    agent, workspace = found
    return Principal(None, agent, workspace)
