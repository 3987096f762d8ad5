"""Worlds kept per fixtures and copied (pristine.py): a copy is the world its fixtures build, and
shares nothing that changes with the kept world or another copy."""

from __future__ import annotations

import re
import types
from dataclasses import fields, is_dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeserver import pristine
from fakeserver.builder import build_world
from fakeserver.clock import Clock
from fakeserver.fake import FakeCoder
from fakeserver.fixtures import default_fixture_path
from fakeserver.releases import Release
from fakeserver.wire import Wire
from fakeserver.world import World

AI_VERSION_ID = "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1"
MEMBERS = ("alice", "bob")

# What two worlds may hold the same instance of: values nothing changes in place.
VALUES = (str, bytes, int, float, bool, type(None), datetime, timedelta, Release, Wire)
PATTERNS = (re.Pattern, type(re2.compile("a")))
CALLABLES = (types.BuiltinFunctionType, types.FunctionType, types.MethodType, type)


def changeable_objects(root: object) -> dict[int, tuple[object, str]]:
    """Every object reachable from `root` that could be changed in place, by id, with a path to it."""
    found: dict[int, tuple[object, str]] = {}
    stack: list[tuple[object, str]] = [(root, "world")]
    walked: set[int] = set()
    while stack:
        value, path = stack.pop()
        if isinstance(value, VALUES + PATTERNS + CALLABLES) or id(value) in walked:
            continue
        walked.add(id(value))
        if not (isinstance(value, tuple | frozenset) or _frozen(value)):  # walked: they cannot change, their items may
            found[id(value)] = (value, path)
        if isinstance(value, dict):
            stack.extend((item, f"{path}[{key!r}]") for key, item in value.items())
        elif isinstance(value, list | tuple | set | frozenset):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
        elif is_dataclass(value):
            stack.extend((getattr(value, f.name), f"{path}.{f.name}") for f in fields(value))
        elif hasattr(value, "__dict__"):
            stack.extend((item, f"{path}.{name}") for name, item in vars(value).items())
        else:
            raise AssertionError(f"{path}: a {type(value).__name__} the walk does not know")
    return found


def _frozen(value: object) -> bool:
    params = getattr(type(value), "__dataclass_params__", None)
    return params is not None and bool(params.frozen)


def shared_changeable(one: World, other: World) -> list[str]:
    mine = changeable_objects(one)
    theirs = changeable_objects(other)
    return sorted(f"{path} ({type(value).__name__})" for key, (value, path) in mine.items() if key in theirs)


def busy_fixture() -> str:
    """A world with every kind of record: builds of each transition, app statuses, a conversation
    with a reply on its way, log snapshots, a deleted task, agent rules (its own export)."""
    fake = FakeCoder()
    rules = "agent:\n  rules:\n    - match: 'deploy'\n      reply: 'Deploying now.'\n      state: working\n"
    fake.load_text(default_fixture_path().read_text(encoding="utf-8") + rules)
    with fake.client("alice") as alice:
        created = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Fix it"})
        assert created.status_code == 201, created.text
        path = f"/api/v2/tasks/alice/{created.json()['id']}"
        fake.advance(10)
        assert alice.post(f"{path}/send", json={"input": "deploy please"}).status_code == 204
        fake.advance(0.5)  # the reply is still on its way
        listed = alice.get("/api/v2/tasks").json()["tasks"]
        active = next(task for task in listed if task["status"] == "active" and task["id"] != created.json()["id"])
        assert alice.post(f"/api/v2/tasks/alice/{active['id']}/pause").status_code == 202
        deleted = next(task for task in listed if task["id"] not in (active["id"], created.json()["id"]))
        assert alice.delete(f"/api/v2/tasks/alice/{deleted['id']}").status_code == 202
    with fake.control_client() as control:
        exported = control.get("/__fake__/state", params={"format": "yaml"})
    assert exported.status_code == 200, exported.text
    return exported.text


def test_two_fakes_of_the_same_fixtures_share_nothing_that_changes() -> None:
    one, other = FakeCoder(), FakeCoder()
    assert shared_changeable(one.world, other.world) == []
    one.reset()
    assert shared_changeable(one.world, other.world) == []


def test_a_copy_of_a_busy_world_shares_nothing_that_changes() -> None:
    fake = FakeCoder()
    fake.load_text(busy_fixture())
    kept = pristine._kept_world(fake.fixtures, fake.release).world
    assert fake.world.tasks.keys() == kept.tasks.keys()
    assert any(task.snapshot for task in kept.tasks.values())
    assert any(task.pending_reply for task in kept.tasks.values())
    assert kept.agent_rules
    assert shared_changeable(fake.world, kept) == []
    assert shared_changeable(fake.world, fake.world.copy(Clock(fake.world.now(), "manual"))) == []


def test_the_walk_finds_a_shared_record() -> None:
    """The check above can fail: a copy that kept one list of its original's is caught."""
    world = FakeCoder().world
    copied = world.copy(world.clock)
    task = next(iter(copied.tasks.values()))
    task.conversation = world.tasks[task.id].conversation
    assert any(".conversation" in path for path in shared_changeable(world, copied))


def test_a_copied_world_holds_what_its_world_held() -> None:
    """Every attribute a world has, its copy has (one added to World and not to copy() fails here)."""
    world = FakeCoder().world
    assert vars(world.copy(world.clock)).keys() == vars(world).keys()


# A copy answers as the world its fixtures build: the same calls, the same bytes.

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(MEMBERS), st.sampled_from(["Fix the flaky test", "Ship it"])),
        st.tuples(st.just("advance"), st.sampled_from([0.5, 1.0, 3.0, 6.0, 60.0])),
        st.tuples(
            st.just("act"),
            st.sampled_from(MEMBERS),
            st.integers(0, 5),
            st.sampled_from(["pause", "resume", "send", "delete", "input"]),
        ),
        st.tuples(st.just("reset")),
    ),
    max_size=12,
)


class Side:
    """One fake driven by the steps; `built`: its worlds built from the fixtures, not copied."""

    def __init__(self, fixture: str | None, *, built: bool) -> None:
        self.fake = FakeCoder()
        if fixture is not None:
            self.fake.load_text(fixture, "busy.yaml")
        self.built = built
        self.clients = {user: self.fake.client(user) for user in (*MEMBERS, "admin")}
        self.fresh_world()

    def fresh_world(self) -> None:
        if self.built:
            with self.fake.lock:
                self.fake.world = build_world(self.fake.fixtures, "manual", 1.0, self.fake.release)

    def step(self, step: tuple[Any, ...]) -> list[tuple[int, bytes]]:
        kind = step[0]
        if kind == "advance":
            return [(self.fake.advance(step[1]), b"")]
        if kind == "reset":
            self.fake.reset()
            self.fresh_world()
            return []
        if kind == "create":
            body = {"template_version_id": AI_VERSION_ID, "input": step[2]}
            return [answer(self.clients[step[1]].post("/api/v2/tasks/me", json=body))]
        _, member, index, action = step
        client = self.clients[member]
        tasks = client.get("/api/v2/tasks").json()["tasks"]
        if not tasks:
            return []
        path = f"/api/v2/tasks/{member}/{tasks[index % len(tasks)]['id']}"
        if action == "delete":
            return [answer(client.delete(path))]
        if action == "send":
            return [answer(client.post(f"{path}/send", json={"input": "And the docs"}))]
        if action == "input":
            return [answer(client.patch(f"{path}/input", json={"input": "Only the docs"}))]
        return [answer(client.post(f"{path}/{action}"))]

    def views(self) -> list[tuple[int, bytes]]:
        seen = [answer(self.clients[user].get("/api/v2/tasks")) for user in (*MEMBERS, "admin")]
        seen.append(answer(self.clients["admin"].get("/api/v2/workspaces")))
        return seen

    def state(self) -> Any:
        return self.fake.state()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def answer(response: httpx.Response) -> tuple[int, bytes]:
    return response.status_code, response.content


@pytest.fixture(scope="module")
def busy() -> str:
    return busy_fixture()


@pytest.mark.parametrize("which", ["default", "busy"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_a_copied_world_answers_as_a_built_one(which: str, busy: str, steps: list[tuple[Any, ...]]) -> None:
    fixture = busy if which == "busy" else None
    copied, built = Side(fixture, built=False), Side(fixture, built=True)
    try:
        assert copied.views() == built.views()
        for step in steps:
            assert copied.step(step) == built.step(step), step
            assert copied.views() == built.views(), step
        assert copied.state() == built.state()
    finally:
        copied.close()
        built.close()


def test_a_reset_after_changes_answers_as_a_new_fake() -> None:
    used, new = FakeCoder(), None
    with used.client("alice") as alice:
        alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Fix it"})
        used.advance(30)
        used.reset()
        new = FakeCoder()
        with new.client("alice") as other:
            assert alice.get("/api/v2/tasks").content == other.get("/api/v2/tasks").content
    assert used.state() == new.state()


def test_a_running_clock_builds_its_world_when_it_starts() -> None:
    fake = FakeCoder(clock="real")
    assert abs((datetime.fromisoformat(fake.clock()["now"]) - datetime.now().astimezone()).total_seconds()) < 60


def test_only_a_few_small_worlds_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pristine, "_kept", type(pristine._kept)())
    monkeypatch.setattr(pristine, "KEPT_TASKS", 5)
    fake = FakeCoder()
    for seed in range(pristine.KEPT_WORLDS + 5):
        fake.load_text(f"settings: {{seed: {seed}}}")
    assert len(pristine._kept) == pristine.KEPT_WORLDS
    fake.load_text(busy_fixture())  # more tasks than may be kept: built, not kept
    assert pristine.kept_tasks() <= 5
    with fake.client("alice") as alice:
        assert alice.get("/api/v2/tasks").status_code == 200
