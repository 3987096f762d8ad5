"""Many isolated worlds in one served fake: `/w/<name>/...` is a world of its own.

Parallel browser tests (Playwright workers) and CI jobs share one `fakeserver serve`, yet each
needs its own tasks, clock, journal and faults. A path that starts with `/w/<name>/` is served
by that world's own fake, made on first use from the served fixtures (a `PUT
/w/<name>/__fake__/state` then gives it fixtures of its own); the prefix is stripped, so a
browser app only changes its base URL. Every other path is the default world, as before.

A `FakeCoder` costs about half a millisecond, so a world is one: its app, world, journal and
faults are its own, and nothing is shared but the compiled spec. Idle worlds are dropped after
`idle_seconds`; at most `max_worlds` live at once, and holding more tasks than `max_tasks` in
all is refused, with an answer that says which bound and how to free room.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from fakeserver.errors import ROUTE_NOT_FOUND, envelope
from fakeserver.fake import FakeCoder
from fakeserver.headers import request_header
from fakeserver.responses import coder_json

PREFIX = "/w/"
WORLD_HEADER = "x-fakeserver-world"  # the same as the /w/<name> prefix, for clients that set headers
_WORLD_HEADER_KEY = WORLD_HEADER.encode("latin-1")
WORLD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_MAX_WORLDS = 64
DEFAULT_IDLE_SECONDS = 30 * 60.0
DEFAULT_MAX_TASKS = 100_000  # live tasks in every world together


class WorldsFull(Exception):
    """A new world would pass a bound; the message says which."""


@dataclass
class Kept:
    fake: FakeCoder
    last_used: float


class Worlds:
    """The named worlds beside the default one, made on first use by `make()`."""

    def __init__(
        self,
        make: Callable[[], FakeCoder],
        *,
        max_worlds: int = DEFAULT_MAX_WORLDS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        max_tasks: int = DEFAULT_MAX_TASKS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make = make
        self.max_worlds = max_worlds
        self.idle_seconds = idle_seconds
        self.max_tasks = max_tasks
        self._monotonic = monotonic
        self._kept: dict[str, Kept] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> FakeCoder:
        """The world called `name`, made now if it is new; raises `WorldsFull` past a bound."""
        with self._lock:
            now = self._monotonic()
            self._drop_idle(now)
            kept = self._kept.get(name)
            if kept is None:
                self._check_room()
                kept = self._kept[name] = Kept(self._make(), now)
            kept.last_used = now
            return kept.fake

    def add(self, name: str, fake: FakeCoder) -> None:
        """Serve `fake` as the world `name` (the pytest plugin's world of one test)."""
        with self._lock:
            self._kept[name] = Kept(fake, self._monotonic())

    def names(self) -> list[str]:
        with self._lock:
            self._drop_idle(self._monotonic())
            return sorted(self._kept)

    def describe(self) -> list[dict[str, object]]:
        with self._lock:
            now = self._monotonic()
            self._drop_idle(now)
            return [
                {"name": name, "tasks": _tasks(kept.fake), "idle_seconds": round(now - kept.last_used, 3)}
                for name, kept in sorted(self._kept.items())
            ]

    def drop(self, name: str) -> bool:
        with self._lock:
            return self._kept.pop(name, None) is not None

    def _drop_idle(self, now: float) -> None:
        for name in [name for name, kept in self._kept.items() if now - kept.last_used > self.idle_seconds]:
            del self._kept[name]

    def _check_room(self) -> None:
        if len(self._kept) >= self.max_worlds:
            raise WorldsFull(
                f"{len(self._kept)} worlds already live, the most this server keeps (serve --max-worlds); "
                f"DELETE /__fake__/worlds/<name> frees one, and idle worlds go after {self.idle_seconds:g} s"
            )
        tasks = sum(_tasks(kept.fake) for kept in self._kept.values())
        if tasks >= self.max_tasks:
            raise WorldsFull(
                f"the live worlds hold {tasks} tasks, the most this server keeps; DELETE /__fake__/worlds/<name> "
                "frees their room"
            )


def _tasks(fake: FakeCoder) -> int:
    return len(fake.world.tasks)


class WorldsApp:
    """The ASGI app of a served fake: `/w/<name>/...` to that world, the rest to the default one."""

    def __init__(self, default: FakeCoder, worlds: Worlds) -> None:
        self.default = default
        self.worlds = worlds
        default.worlds = worlds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.default.app(scope, receive, send)
            return
        if not path.startswith(PREFIX):
            named = request_header(scope, _WORLD_HEADER_KEY)  # a client that cannot change its URL
            if named is None:
                await self.default.app(scope, receive, send)
                return
            path = f"{PREFIX}{named}{path}"
            scope = {**scope, "path": path, "raw_path": f"{PREFIX}{named}".encode() + (scope.get("raw_path") or b"")}
        name, slash, rest = path[len(PREFIX) :].partition("/")
        if not WORLD_NAME.fullmatch(name) or not slash:
            detail = "A world is /w/<name>/... with a name of letters, digits, '.', '_' and '-' (at most 64)."
            await coder_json(404, envelope(ROUTE_NOT_FOUND, detail))(scope, receive, send)
            return
        try:
            fake = self.worlds.get(name)
        except WorldsFull as error:
            await coder_json(503, {"message": "No room for another world.", "detail": str(error)})(scope, receive, send)
            return
        prefix = f"{PREFIX}{name}"
        raw_path: bytes = scope.get("raw_path") or path.encode()
        # The world sees its own paths (what its routes, static files and guards match), and the
        # redirects it answers with get the prefix back.
        inner = {
            **scope,
            "path": "/" + rest,
            "raw_path": raw_path[len(prefix) :] if raw_path.startswith(prefix.encode()) else raw_path,
        }
        await fake.app(inner, receive, functools.partial(_prefixed_location, prefix=prefix, send=send))


async def _prefixed_location(message: Message, prefix: str, send: Send) -> None:
    if message["type"] == "http.response.start":
        headers = MutableHeaders(scope=message)
        location = headers.get("location")
        if location is not None:
            parts = urlsplit(location)
            if not parts.path.startswith(prefix + "/"):
                headers["location"] = urlunsplit(parts._replace(path=prefix + parts.path))
    await send(message)


def world_maker(default: FakeCoder) -> Callable[[], FakeCoder]:
    """New worlds start from the served fixtures, with the served clock and settings."""

    def make() -> FakeCoder:
        return FakeCoder(
            default.fixture_paths,
            clock=default.clock_mode,
            speed=default.speed,
            validate_responses=default.validate_responses,
            cors_origins=default.cors_origins,
            body_timeout=default.body_reads.timeout,
            allowed_hosts=default.allowed_hosts,
            coder_version=default.release,
        )

    return make
