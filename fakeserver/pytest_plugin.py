"""The pytest plugin: a fresh fake Coder per test, in-process or on a real port.

Installed with the package (the `pytest11` entry point), it provides:

- `fake_coder`: a `PytestFakeCoder` for every test, in the state a new one
  would be in (the default world or the suite's fixture files, a manual clock);
- `fake_coder_server`: a `ServedFakeCoder` for every test, served as a world of its
  own (`/w/<name>/`) by one loopback server per session (per xdist worker);
- the `fake_coder` marker, to choose the world and clock of a test, class or
  module: `@pytest.mark.fake_coder(fixtures=["world.yaml"], clock="real", speed=10)`;
- `--fake-coder-fixtures FILE` and the `fake_coder_fixtures` ini option, the
  suite's default world.

See docs/pytest-plugin.md.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Self, get_args

import pytest

from fakeserver import control, lifecycle
from fakeserver.clock import ClockMode
from fakeserver.errors import NotFound
from fakeserver.fake import FakeCoder, JSONObject
from fakeserver.fixtures import FixtureError, default_fixture_path, load_fixtures
from fakeserver.journal import JournalEntry
from fakeserver.pristine import fresh_world
from fakeserver.releases import LATEST, Release
from fakeserver.server import FakeServer
from fakeserver.spec import load_spec, spec_path
from fakeserver.worlds import PREFIX as WORLDS_PREFIX
from fakeserver.worlds import Worlds, WorldsApp

if TYPE_CHECKING:
    import httpx

DEFAULT_WORLD = default_fixture_path()  # to add your own files to the built-in world: [DEFAULT_WORLD, "more.yaml"]
MARKER = "fake_coder"
SUITE_FIXTURES = pytest.StashKey[tuple[Path, ...]]()


@dataclass(frozen=True)
class Settings:
    """What a test's fake is built from; no fixture files means the built-in world."""

    fixtures: tuple[Path, ...] = ()
    clock: ClockMode = "manual"
    speed: float = 1.0
    validate_responses: bool = True
    coder_version: str = str(LATEST)

    def options(self) -> dict[str, Any]:
        """`FakeCoder`'s keyword arguments."""
        return {
            "clock": self.clock,
            "speed": self.speed,
            "validate_responses": self.validate_responses,
            "coder_version": self.coder_version,
        }


class PytestFakeCoder(FakeCoder):
    """A `FakeCoder` with waits and assertions that read well in a test."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(settings.fixtures, **settings.options())

    def advance_until(
        self, ref: str, status: str | None = None, *, state: str | None = None, timeout: float = 60.0
    ) -> JSONObject:
        """Move the clock, one due step at a time, until the task has `status` (and `state`, its
        `current_state.state`); return the task. Fails once `timeout` seconds of fake time have
        passed, or as soon as nothing more can happen on its own."""
        __tracebackhide__ = True
        wanted = _Wanted(status, state)
        start = self.world.now()
        seen = _Seen(start)
        while True:
            with self.lock:
                task = self._observe(ref, seen)
                if task is not None and wanted.met_by(task):
                    return task
                step = lifecycle.earliest_step(self.world)
                now = self.world.now()
                left = timeout - (now - start).total_seconds()
                if task is None or step is None or left <= 0:
                    break
                self.advance(min(max((step.due - now).total_seconds(), 0.0), left))
        elapsed = (self.world.now() - start).total_seconds()
        if task is None:
            raise AssertionError(f"task {ref} was deleted before it reached {wanted}; seen: {seen}")
        if step is None:
            held = (
                "; it is held (`hold: true` in its fixture) until someone acts on it: move its job, agent or "
                "app, or pause, resume or delete it"
                if self._is_held(ref)
                else ""
            )
            raise AssertionError(
                f"task {ref} will not reach {wanted}: nothing more happens on its own "
                f"(after {elapsed:g} s of fake time); seen: {seen}{held}"
            )
        raise AssertionError(f"task {ref} did not reach {wanted} within {timeout:g} s of fake time; seen: {seen}")

    def wait_until(
        self, ref: str, status: str | None = None, *, state: str | None = None, timeout: float = 10.0
    ) -> JSONObject:
        """Wait, in real time and without moving a manual clock, until the task has `status` (and
        `state`): for a real clock, or a task that another thread or process drives."""
        __tracebackhide__ = True
        wanted = _Wanted(status, state)
        seen = _Seen(self.world.now())
        deadline = time.monotonic() + timeout
        while True:
            task = self._observe(ref, seen)
            if task is not None and wanted.met_by(task):
                return task
            if time.monotonic() >= deadline:
                hint = ""
                if self.world.clock.mode == "manual":
                    hint = (
                        "; the clock is manual, so nothing moves by itself: use fake.advance_until(...) to move it, "
                        "or @pytest.mark.fake_coder(clock='real') for a clock that runs"
                    )
                raise AssertionError(f"task {ref} did not reach {wanted} within {timeout:g} s; seen: {seen}{hint}")
            time.sleep(0.01)

    def assert_called(
        self,
        operation: str,
        *,
        task: str | None = None,
        user: str | None = None,
        status: int | None = None,
        times: int | None = None,
    ) -> list[JournalEntry]:
        """Assert that clients called `operation` (an operationId such as "pauseTask"): at least
        once, or exactly `times`; optionally only calls about `task` (id or "owner/name"), made by
        `user` (a username), or answered with `status`. Returns the matching calls."""
        __tracebackhide__ = True
        _check_operation(operation)
        with self.lock:
            task_ids = self._task_ids(task) if task is not None else None
            entries = self.requests()
        matching = [
            entry
            for entry in entries
            if entry.operation_id == operation
            and (task_ids is None or entry.task_id in task_ids)
            and (user is None or entry.user == user)
            and (status is None or entry.status == status)
        ]
        if (len(matching) != times) if times is not None else not matching:
            call = f"{operation}({', '.join(_filters(task=task, user=user, status=status))})"
            expected = _expectation(times)
            actually = f"it was called {_times(len(matching))}" if matching else "it was never called"
            raise AssertionError(f"expected {call} {expected}, but {actually}.\n{_describe_calls(entries)}")
        return matching

    def assert_not_called(
        self, operation: str, *, task: str | None = None, user: str | None = None, status: int | None = None
    ) -> None:
        __tracebackhide__ = True
        self.assert_called(operation, task=task, user=user, status=status, times=0)

    def _observe(self, ref: str, seen: _Seen) -> JSONObject | None:
        with self.lock:
            try:
                task = self.task(ref)
            except NotFound:
                if not seen:
                    raise LookupError(f"no live task {ref!r} (give its id or owner/name)") from None
                task = None
            seen.add(_describe_task(task), self.world.now())
            return task

    def _is_held(self, ref: str) -> bool:
        with self.lock:
            workspace = self.world.workspace_of(control.find_task(self.world, ref))
            return workspace is not None and workspace.held

    def _task_ids(self, ref: str) -> set[str]:
        """Every task, deleted or not, that `ref` names: a journal outlives the tasks it mentions."""
        owner_name, slash, name = ref.partition("/")
        if not slash:
            return {ref.lower()}
        owner = self.world.user_by_name(owner_name)
        if owner is None:
            raise LookupError(f"no user {owner_name!r}")
        return {t.id for t in self.world.tasks.values() if t.owner_id == owner.id and t.name.lower() == name.lower()}


class ServedFakeCoder(PytestFakeCoder):
    """A `PytestFakeCoder` that is also served over a socket, as a world of its own (`/w/<name>/`)
    of the session's server; `client()` still talks in-process."""

    server: FakeServer
    world_name: str

    @property
    def url(self) -> str:
        """The base URL of this test's world, e.g. `http://127.0.0.1:54321/w/t7` (the API is under
        `/api/v2`, the control plane under `/__fake__`)."""
        return f"{self.server.url}{WORLDS_PREFIX}{self.world_name}"

    def http_client(self, user: str | None = None) -> httpx.Client:
        """An httpx client that goes through the socket, signed in as `user` or anonymous."""
        import httpx

        # trust_env=False: a proxy from the environment must not intercept loopback traffic.
        # verify=False: the URL is plain http, and loading the CA bundle would cost ~50 ms per client.
        return httpx.Client(base_url=self.url, headers=self._auth_headers(user), trust_env=False, verify=False)


# the fixtures


@pytest.fixture
def fake_coder(request: pytest.FixtureRequest) -> PytestFakeCoder:
    """This test's own fake Coder, in-process (`client(user)`, `async_client(user)`): a new one per
    test (about half a millisecond: the spec is compiled once per process)."""
    with _bad_fixtures_fail_the_test():
        return PytestFakeCoder.from_settings(_settings_for(request))


@pytest.fixture
def fake_coder_server(request: pytest.FixtureRequest, _fake_coder_host: _Host) -> Iterator[ServedFakeCoder]:
    """This test's own fake, served as a world of its own on the session's server: `.url` for
    clients that need a socket. No two tests share a world, so none waits for or sees another."""
    with _bad_fixtures_fail_the_test():
        fake = ServedFakeCoder.from_settings(_settings_for(request))
    if not _fake_coder_host.server.running:  # a test stopped it
        _fake_coder_host.server.start()
    fake.server = _fake_coder_host.server
    fake.allowed_hosts = _fake_coder_host.server.fake.allowed_hosts
    fake.world_name = _fake_coder_host.next_name()
    _fake_coder_host.worlds.add(fake.world_name, fake)
    try:
        yield fake
    finally:
        _fake_coder_host.worlds.drop(fake.world_name)


@dataclass
class _Host:
    """The session's (or xdist worker's) server, with the world of each served test."""

    server: FakeServer
    worlds: Worlds
    count: int = 0

    def next_name(self) -> str:
        self.count += 1
        return f"t{self.count}"


@pytest.fixture(scope="session")
def _fake_coder_host() -> Iterator[_Host]:
    default = FakeCoder()
    worlds = Worlds(FakeCoder, max_worlds=1_000_000, idle_seconds=float("inf"))
    server = FakeServer(default, app=WorldsApp(default, worlds))
    server.start()
    try:
        yield _Host(server, worlds)
    finally:
        server.stop()


@contextmanager
def _bad_fixtures_fail_the_test() -> Iterator[None]:
    try:
        yield
    except FixtureError as error:
        pytest.fail(f"fakeserver: bad fixture file: {error}", pytrace=False)


# settings: the marker over the command line over the ini file


def _settings_for(request: pytest.FixtureRequest) -> Settings:
    settings = Settings(fixtures=request.config.stash.get(SUITE_FIXTURES, ()))
    markers = list(request.node.iter_markers(MARKER))  # the closest first
    for marker in reversed(markers):
        settings = _apply_marker(settings, marker, Path(request.node.path).parent)
    return settings


def _apply_marker(settings: Settings, marker: pytest.Mark, base: Path) -> Settings:
    if marker.args:
        _usage_error("takes keyword arguments only, e.g. fake_coder(fixtures=['world.yaml'])")
    unknown = sorted(set(marker.kwargs) - {"fixtures", "clock", "speed", "validate_responses", "coder_version"})
    if unknown:
        _usage_error(
            f"unknown option {', '.join(unknown)}; use fixtures, clock, speed, validate_responses or coder_version"
        )
    options = dict(marker.kwargs)
    if "fixtures" in options:
        options["fixtures"] = _fixture_paths(options["fixtures"], base)
    clock = options.get("clock", settings.clock)
    if clock not in get_args(ClockMode):
        _usage_error(f"clock must be 'manual' or 'real', not {clock!r}")
    speed = options.get("speed", settings.speed)
    if isinstance(speed, bool) or not isinstance(speed, int | float) or speed <= 0:
        _usage_error(f"speed must be a positive number, not {speed!r}")
    try:
        Release.parse(str(options.get("coder_version", settings.coder_version)))
    except ValueError as error:
        _usage_error(f"coder_version: {error}")
    if not isinstance(options.get("validate_responses", True), bool):
        _usage_error(f"validate_responses must be True or False, not {options['validate_responses']!r}")
    return replace(settings, **options)


def _fixture_paths(value: object, base: Path) -> tuple[Path, ...]:
    """Marker paths are relative to the test file's directory."""
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str | Path) for item in items):
        _usage_error(f"fixtures must be a path or a list of paths, not {value!r}")
    return tuple(base / item for item in items)


def _usage_error(message: str) -> NoReturn:
    pytest.fail(f"@pytest.mark.{MARKER}: {message}", pytrace=False)


# hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakeserver", "fake Coder Tasks API (fakeserver)")
    group.addoption(
        "--fake-coder-fixtures",
        action="append",
        dest="fake_coder_fixtures",
        default=None,
        metavar="FILE",
        help="fixture file of the world fake_coder and fake_coder_server start from (repeatable; later files "
        "add to earlier ones; relative to the current directory). Default: the fake_coder_fixtures ini "
        "option, else the built-in world.",
    )
    parser.addini(
        "fake_coder_fixtures",
        type="paths",
        default=[],
        help="fixture files of the world fake_coder and fake_coder_server start from (relative to the ini file)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(fixtures=None, clock='manual', speed=1.0, validate_responses=True): the world and clock of "
        "fake_coder / fake_coder_server (fixture paths relative to the test file)",
    )
    fixtures = _suite_fixtures(config)
    if fixtures:
        try:
            fresh_world(load_fixtures(fixtures))  # a bad file stops the run now, not in every test
        except FixtureError as error:
            raise pytest.UsageError(f"fakeserver: bad fixture file: {error}") from None
    config.stash[SUITE_FIXTURES] = fixtures


def _suite_fixtures(config: pytest.Config) -> tuple[Path, ...]:
    given: list[str] | None = config.getoption("fake_coder_fixtures")
    if given:
        return tuple(config.invocation_params.dir / path for path in given)
    from_ini: list[Path] = config.getini("fake_coder_fixtures")
    return tuple(from_ini)


# helpers of the helpers


@cache
def _task_statuses() -> tuple[str, ...]:
    statuses: list[str] = load_spec(spec_path("coder-tasks.yaml")).components["schemas"]["TaskStatus"]["enum"]
    return tuple(statuses)


@cache
def _task_states() -> tuple[str, ...]:
    states: list[str] = load_spec(spec_path("coder-tasks.yaml")).components["schemas"]["TaskState"]["enum"]
    return tuple(states)


@dataclass(frozen=True)
class _Wanted:
    """What a wait waits for; a misspelt status fails at once instead of after the timeout."""

    status: str | None
    state: str | None

    def __post_init__(self) -> None:
        if self.status is None and self.state is None:
            raise ValueError("give a status, a state or both")
        if self.status is not None and self.status not in _task_statuses():
            raise ValueError(f"unknown task status {self.status!r}; one of {', '.join(_task_statuses())}")
        if self.state is not None and self.state not in _task_states():
            raise ValueError(f"unknown task state {self.state!r}; one of {', '.join(_task_states())}")

    def met_by(self, task: JSONObject) -> bool:
        state = (task.get("current_state") or {}).get("state")
        return (self.status is None or task["status"] == self.status) and (self.state is None or state == self.state)

    def __str__(self) -> str:
        parts = [f"status {self.status!r}" if self.status else "", f"state {self.state!r}" if self.state else ""]
        return " and ".join(part for part in parts if part)


class _Seen:
    """The distinct situations a task went through, each with when it was first seen."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._seen: list[tuple[str, float]] = []

    def add(self, situation: str, now: datetime) -> None:
        if not self._seen or self._seen[-1][0] != situation:
            self._seen.append((situation, (now - self._start).total_seconds()))

    def __bool__(self) -> bool:
        return bool(self._seen)

    def __str__(self) -> str:
        return " -> ".join(f"{situation} (at {offset:g} s)" for situation, offset in self._seen)


def _describe_task(task: JSONObject | None) -> str:
    if task is None:
        return "gone"
    state = (task.get("current_state") or {}).get("state")
    return f"{task['status']}/{state}" if state else str(task["status"])


@cache
def _operation_ids() -> tuple[str, ...]:
    return tuple(op.operation_id for op in load_spec(spec_path("coder-tasks.yaml")).operations)


def _check_operation(operation: str) -> None:
    """A misspelt operationId would make `assert_not_called` pass whatever the client did."""
    if operation not in _operation_ids():
        close = difflib.get_close_matches(operation, _operation_ids(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; one of {', '.join(_operation_ids())}"
        raise ValueError(f"no operation {operation!r} in the API spec{hint}")


def _filters(**values: Any) -> list[str]:
    return [f"{name}={value}" for name, value in values.items() if value is not None]


def _expectation(times: int | None) -> str:
    if times is None:
        return "to be called at least once"
    return "not to be called" if times == 0 else f"to be called {_times(times)}"


def _times(count: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(count, f"{count} times")


def _describe_calls(entries: list[JournalEntry]) -> str:
    if not entries:
        return "No calls were made to the Coder API."
    lines = [f"Calls to the Coder API ({len(entries)}, oldest first):"]
    for number, entry in enumerate(entries, 1):
        query = "?" + "&".join(f"{k}={v}" for k, v in entry.query.items()) if entry.query else ""
        details = " ".join(_filters(task=entry.task_id, user=entry.user or "anonymous"))
        lines.append(
            f"  {number}. {entry.operation_id}: {entry.method} {entry.path}{query} -> {entry.status}  {details}"
        )
    return "\n".join(lines)
