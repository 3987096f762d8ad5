"""Who may talk to a served fake. Its control plane has no token and its tokens are well known,
so it trusts the network no further than a loopback address does.

- trusted hosts: only requests whose `Host` names a loopback host (or one the user added
  with `serve --allow-host`) are answered. A DNS-rebinding page reaches 127.0.0.1 under a name
  of its own; it gets 400, not the world's tokens.
- browser writes: a page can send a "simple" cross-site request (a form post, or `text/plain`)
  without a preflight, so CORS hides only the answer, not the effect. A control-plane write that
  carries an `Origin` the fake does not allow (nor its own) gets 403, and a control-plane POST,
  PUT or PATCH must say
  `Content-Type: application/json` (or YAML for a state upload), which no page can send to
  another origin without a preflight; else 415. The Coder API itself is left as coderd leaves
  it (no Origin check): its writes need a user's token.

Both answer in Coder's envelope. They stand outside the operations (no spec declares these
statuses) because they are about where a request comes from, not what it asks: the front door
(frontdoor.py) applies them to every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from fakeserver.responses import coder_json

IN_PROCESS = "fakeserver.in_process"  # set in the scope by the in-process transports: no socket, no Host to trust
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ANY_HOST = "*"
CONTROL_PREFIX = "/__fake__/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # DELETE has no body: a page cannot send it without asking
# The content types a page may send to another origin without a preflight (the Fetch standard's
# CORS-safelisted request headers), and no content type at all.
SIMPLE_CONTENT_TYPES = frozenset({"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})


def trusted_hosts(bound: str, added: Iterable[str] = ()) -> frozenset[str]:
    """The loopback names, the address the server is bound to, and what the user added."""
    hosts = {*LOOPBACK_HOSTS, *(host.strip().lower().strip("[]") for host in added)}
    if bound not in ("0.0.0.0", "::", ""):
        hosts.add(bound.lower().strip("[]"))
    return frozenset(hosts)


def host_name(host_header: str) -> str:
    """`example.com:8080` -> `example.com`; `[::1]:8080` -> `::1`."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")].lower() if "]" in host_header else ""
    return host_header.rsplit(":", 1)[0].lower() if host_header.count(":") == 1 else host_header.lower()


def is_trusted(host: str, trusted: frozenset[str]) -> bool:
    return ANY_HOST in trusted or host in trusted or host.endswith(".localhost")


WS_POLICY_VIOLATION = 1008


def untrusted_host(scope: Scope, host_header: str, trusted: frozenset[str] | None) -> str | None:
    """The host a request names (its `Host` header) when it must not be answered, else None.
    `trusted` None trusts any (a fake that is not served has no network to be reached from), and
    so does a request that came through an in-process transport."""
    if trusted is None or scope.get(IN_PROCESS):
        return None
    return _refused_host(host_header, trusted)


@lru_cache(maxsize=256)  # a server sees a few Host values, each worked out once; bounded, as any may come
def _refused_host(host_header: str, trusted: frozenset[str]) -> str | None:
    host = host_name(host_header)
    return None if is_trusted(host, trusted) else host


async def refuse_host(scope: Scope, receive: Receive, send: Send, host: str, trusted: frozenset[str]) -> None:
    detail = (
        f"fakeserver answers only to {', '.join(sorted(trusted))} (a guard against DNS rebinding); "
        f"start it with --allow-host {host or 'NAME'} to answer to {host or 'a name'} too."
    )
    if scope["type"] == "websocket":
        await WebSocket(scope, receive, send).close(WS_POLICY_VIOLATION, "Invalid host header.")
    else:
        await coder_json(400, {"message": "Invalid host header.", "detail": detail})(scope, receive, send)


def is_control_write(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["method"] not in SAFE_METHODS and scope["path"].startswith(CONTROL_PREFIX)


def write_refusal(scope: Scope, origin_allowed: Callable[[str], bool]) -> tuple[int, dict[str, str]] | None:
    """Why a control-plane write from a page is refused (status, body), or None: it may."""
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    if origin is not None and not _same_origin(origin, headers) and not origin_allowed(origin.lower()):
        detail = f"A page of {origin} may not change the fake; start it with --cors-origin {origin} to allow it."
        return 403, {"message": "Cross-origin request refused.", "detail": detail}
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if scope["method"] in BODY_METHODS and content_type in SIMPLE_CONTENT_TYPES:
        detail = (
            "Control-plane writes need Content-Type: application/json (a state upload may also be "
            "application/yaml), so that no web page can send them without the browser asking first."
        )
        return 415, {"message": "Unsupported media type.", "detail": detail}
    return None


def _same_origin(origin: str, headers: Headers) -> bool:
    """The fake's own pages (the dashboard) write to it: their origin's host is the request's `Host`."""
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()
