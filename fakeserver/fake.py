"""`FakeCoder`: one fake Coder deployment — its world, clock, journal, faults and ASGI app.

Everything the control API (`/__fake__/...`) does is a method here, so a test
can drive the fake without HTTP, and the HTTP control plane is a thin layer
over the same calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fakeserver import control, lifecycle
from fakeserver.bodies import DEFAULT_BODY_TIMEOUT, BodyReads
from fakeserver.clock import ClockMode
from fakeserver.errors import NotFound
from fakeserver.export import export_world
from fakeserver.faults import Fault, Faults
from fakeserver.fixtures import Fixtures, combine, default_fixture_path, load_fixtures, parse_fixture_text
from fakeserver.journal import Journal, JournalEntry
from fakeserver.models import AppState, Task
from fakeserver.pristine import fresh_world
from fakeserver.releases import LATEST, Release
from fakeserver.timefmt import format_time
from fakeserver.world import World

if TYPE_CHECKING:
    import httpx
    from starlette.applications import Starlette

    from fakeserver.routing import CompiledOperation
    from fakeserver.worlds import Worlds

JSONObject = dict[str, Any]
IN_PROCESS_URL = "http://fakeserver"  # the base URL of in-process clients (no socket behind it)
CONTROL_HEADERS = {"Content-Type": "application/json"}  # what a control-plane write must say (guard.py)


class FakeCoder:
    """A fake Coder with its own world: nothing is shared with any other instance.

    >>> fake = FakeCoder()                      # the default world, a manual clock
    >>> alice = fake.client("alice")            # an in-process httpx client
    >>> alice.get("/api/v2/tasks").json()["count"]
    3
    """

    def __init__(
        self,
        fixtures: Sequence[str | Path] = (),
        *,
        clock: ClockMode = "manual",
        speed: float = 1.0,
        validate_responses: bool = True,
        cors_origins: Sequence[str] | None = None,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        allowed_hosts: frozenset[str] | None = None,
        coder_version: str | Release = LATEST,
    ) -> None:
        from fakeserver.app import api_operations, build_app  # app.py builds routes around this class

        self.fixture_paths = [Path(p) for p in fixtures] or [default_fixture_path()]
        self.fixtures: Fixtures = load_fixtures(self.fixture_paths)
        self.clock_mode: ClockMode = clock
        self.speed = speed
        self.validate_responses = validate_responses
        self.cors_origins = cors_origins  # None: any localhost origin; empty: no CORS (see app.py)
        self.body_reads = BodyReads(body_timeout)  # each body within `body_timeout` seconds (bodies.py)
        # The Host names it answers to once served (guard.py); None, in process: any.
        self.allowed_hosts = allowed_hosts
        self.worlds: Worlds | None = None  # the named worlds served beside this one (worlds.py), if any
        self.lock = threading.RLock()  # requests and direct calls may come from different threads
        # Which Coder release the API answers as (releases.py): `2.31` ... `2.36`, the latest by default.
        self.release = coder_version if isinstance(coder_version, Release) else Release.parse(coder_version)
        self.world: World = fresh_world(self.fixtures, clock, speed, self.release)
        self.journal = Journal()
        self.faults = Faults()
        self.api_operations: dict[str, CompiledOperation] = api_operations()
        self.app: Starlette = build_app(self)

    # the world

    def reset(self) -> World:
        """Back to the loaded fixtures (not to empty); the journal and faults are cleared.

        The clock keeps its mode and speed.
        """
        return self._replace_world(self.fixtures, clear_faults=True)

    def summary(self) -> JSONObject:
        world = self.world
        return {
            "users": len(world.users),
            "tasks": sum(1 for _ in world.live_tasks()),
            "files": list(self.fixtures.files),
        }

    def state(self) -> JSONObject:
        """The whole world: the fixture document that recreates it, and every live task as the API shows it."""
        with self.lock:
            lifecycle.catch_up(self.world)
            tasks = [control.derived(self.world, task) for task in self.world.live_tasks()]
            return {"clock": self.clock(), "world": export_world(self.world), "tasks": tasks}

    def export(self) -> JSONObject:
        """The fixture document that recreates this world (ids, tokens and timestamps kept)."""
        with self.lock:
            lifecycle.catch_up(self.world)
            return export_world(self.world)

    def export_yaml(self) -> str:
        return yaml.safe_dump(self.export(), sort_keys=False, allow_unicode=True, width=120)

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.export_yaml(), encoding="utf-8")
        return target

    def load(self, path: str | Path) -> World:
        """Load a fixture file; it replaces the world and becomes what `reset()` returns to."""
        world = self._use(load_fixtures([Path(path)]))
        self.fixture_paths = [Path(path)]
        return world

    def reload(self) -> World:
        """Read the fixture files again (after they changed on disk) and start over from them.

        An invalid file raises `FixtureError` and leaves the current world untouched.
        """
        return self._use(load_fixtures(self.fixture_paths))

    def load_text(self, text: str, name: str = "<text>") -> World:
        """The same as `load()`, from a YAML or JSON document."""
        return self._use(combine([parse_fixture_text(text, name)]))

    def _use(self, fixtures: Fixtures) -> World:
        return self._replace_world(fixtures, clear_faults=False)

    def _replace_world(self, fixtures: Fixtures, *, clear_faults: bool) -> World:
        """The one way a world is replaced (reset, load, reload): a new one from `fixtures`, the
        clock's mode and speed kept, the journal cleared (and the faults, for a reset)."""
        with self.lock:
            clock = self.world.clock
            world = fresh_world(fixtures, clock.mode, clock.speed, self.release)  # raises before anything is replaced
            self.fixtures, self.world = fixtures, world
            self.journal.clear()
            if clear_faults:
                self.faults.remove()
            return world

    # the clock

    def clock(self) -> JSONObject:
        clock = self.world.clock
        return {"now": format_time(clock.now()), "mode": clock.mode, "speed": clock.speed}

    def advance(self, seconds: float) -> int:
        """Move the clock forward, applying every transition that falls due; returns how many."""
        with self.lock:
            return lifecycle.advance(self.world, seconds)

    def set_clock(self, mode: ClockMode | None = None, speed: float | None = None) -> JSONObject:
        with self.lock:
            lifecycle.catch_up(self.world)
            self.world.clock.set_mode(mode or self.world.clock.mode, speed)
            return self.clock()

    # driving tasks (a task is named by its id or as "owner/name")

    def task(self, ref: str) -> JSONObject:
        """The task as the API shows it, plus what its agent is doing."""
        with self.lock:
            lifecycle.catch_up(self.world)
            return control.derived(self.world, control.find_task(self.world, ref))

    def task_record(self, ref: str) -> JSONObject:
        with self.lock:
            lifecycle.catch_up(self.world)
            task = control.find_task(self.world, ref)
            record = next(entry for entry in export_world(self.world)["tasks"] if entry["id"] == task.id)
            return {"task": control.derived(self.world, task), "record": record}

    def set_job(self, ref: str, status: str, error: str = "") -> JSONObject:
        """Move the latest build's job now: "running", "succeeded", "failed", "canceling" or "canceled"."""
        return self._drive(ref, lambda world, task: control.set_job(world, task, status, error))

    def finish_build(self, ref: str) -> JSONObject:
        return self.set_job(ref, "succeeded")

    def fail_build(self, ref: str, error: str = "") -> JSONObject:
        return self.set_job(ref, "failed", error)

    def set_agent(self, ref: str, lifecycle: str | None = None, disconnected: bool | None = None) -> JSONObject:
        return self._drive(ref, lambda world, task: control.set_agent(world, task, lifecycle, disconnected))

    def set_app_health(self, ref: str, health: str) -> JSONObject:
        return self._drive(ref, lambda world, task: control.set_app_health(world, task, health))

    def report_status(self, ref: str, state: AppState, message: str = "", uri: str = "") -> JSONObject:
        """Report an app status as the task's agent would; it becomes the task's `current_state`."""
        return self._drive(ref, lambda world, task: control.report_status(world, task, state, message, uri))

    def agent_says(self, ref: str, content: str) -> JSONObject:
        """Append agent output to the task's conversation."""
        return self._drive(ref, lambda world, task: control.agent_says(world, task, content))

    def agent(self, ref: str) -> dict[str, str]:
        """The task's agent id and token, to call the agent endpoints as that agent."""
        with self.lock:
            lifecycle.catch_up(self.world)
            return control.agent_info(self.world, control.find_task(self.world, ref))

    def _drive(self, ref: str, action: Callable[[World, Task], None]) -> JSONObject:
        with self.lock:
            lifecycle.catch_up(self.world)
            task = control.find_task(self.world, ref)
            action(self.world, task)
            return control.derived(self.world, task)

    # the journal and faults

    def requests(
        self,
        operation: str | None = None,
        task: str | None = None,
        user: str | None = None,
        *,
        since: int = 0,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """What clients sent to the Coder API, oldest first; filter by operationId, task id or username,
        keep only those with an id above `since`, and only the newest `limit`."""
        with self.lock:
            return self.journal.entries(operation, task, user, since, limit)

    def stalled_waits(self) -> list[JSONObject]:
        """Tasks a client keeps polling (3 reads or more, nothing else done to them) that cannot
        change under the manual clock: each with its reads and a hint (see docs/control-api.md)."""
        with self.lock:
            lifecycle.catch_up(self.world)
            return control.stalled_waits(self.world, self.journal.entries())

    def clear_requests(self) -> None:
        with self.lock:
            self.journal.clear()

    def fault(self, operation_id: str, **options: Any) -> Fault:
        """Inject a fault: `latency_ms` (number or [min, max]), `status` (+ `body`), `drop`,
        limited by `count` or `probability` (with `seed`). Only what the spec declares is allowed:
        anything else raises `fakeserver.Invalid` (a `ValueError`) saying why."""
        with self.lock:
            return self.faults.add(self.api_operations, {"operation_id": operation_id, **options})

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.remove()

    # clients

    def token(self, username: str) -> str:
        user = self.world.user_by_name(username)
        if user is None or not user.tokens:
            raise NotFound("No such user.", f"No user {username!r} with a token.")
        return user.tokens[0]

    def client(self, user: str | None = None) -> httpx.Client:
        """An httpx client talking to this fake in-process (no socket), signed in as `user` or anonymous.

        It works from sync code and from sync code called by an async test alike; async code
        awaits `async_client()` instead. A response that breaks the spec raises
        `ResponseValidationError` here, in the caller.
        """
        from fakeserver.transport import SyncClient

        return SyncClient(transport=self.transport(), base_url=IN_PROCESS_URL, headers=self._auth_headers(user))

    def control_client(self) -> httpx.Client:
        """An in-process client for the control plane (`/__fake__/...`): it says
        `Content-Type: application/json` on every request, as control-plane writes must."""
        from fakeserver.transport import SyncClient

        return SyncClient(transport=self.transport(), base_url=IN_PROCESS_URL, headers=CONTROL_HEADERS)

    def async_client(self, user: str | None = None) -> httpx.AsyncClient:
        """The same as `client()`, for async code (`async with fake.async_client("alice") as alice`)."""
        import httpx

        return httpx.AsyncClient(
            transport=self.async_transport(), base_url=IN_PROCESS_URL, headers=self._auth_headers(user)
        )

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport to this fake, for code that builds its own client: an SDK's
        `make_client(base_url, token, transport=...)`, or `httpx.Client(transport=fake.transport(),
        base_url="http://fakeserver")`. Any base URL works: the transport never opens a socket."""
        from fakeserver.transport import SyncASGITransport

        return SyncASGITransport(self.app)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """The same as `transport()`, for an `httpx.AsyncClient`."""
        from fakeserver.transport import AsyncASGITransport

        return AsyncASGITransport(self.app)

    def _auth_headers(self, user: str | None) -> dict[str, str]:
        return {"Coder-Session-Token": self.token(user)} if user else {}
