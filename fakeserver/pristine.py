"""Worlds as their fixtures build them, kept and copied for each new fake and each reset.

On a manual clock the same fixtures always build the same world: ids come from the seed and
times from the clock's start. So a world is built once per process for each fixtures and
release, its tasks encoded, and each fake or reset gets a copy (`World.copy`): a fraction of a
build, and its first list encodes nothing. A copy shares nothing that changes with the kept
world or with another copy, so two fakes never see each other.

A running clock's world depends on the moment it is built, and a big world's copy would hold
its memory for as long as the process runs: both are built each time instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, NamedTuple

from fakeserver.builder import build_world
from fakeserver.clock import Clock, ClockMode
from fakeserver.fixtures import Fixtures
from fakeserver.releases import LATEST, Release
from fakeserver.serialize import task_wire
from fakeserver.world import RandomStates, World

KEPT_TASKS = 2_000  # tasks in all the kept worlds together (a few MB)
KEPT_WORLDS = 16


class _Kept(NamedTuple):
    documents: tuple[dict[str, Any], ...]  # held, so that the ids in its key stay theirs
    world: World
    random_states: RandomStates  # read once: the kept world never draws again


_kept: OrderedDict[tuple[object, ...], _Kept] = OrderedDict()
_lock = threading.Lock()


def fresh_world(
    fixtures: Fixtures, clock_mode: ClockMode = "manual", speed: float = 1.0, release: Release = LATEST
) -> World:
    """What `build_world` gives for these fixtures; a copy of a kept one where it can be."""
    if clock_mode != "manual" or len(fixtures.tasks) > KEPT_TASKS:
        return build_world(fixtures, clock_mode, speed, release)
    kept = _kept_world(fixtures, release)
    return kept.world.copy(Clock(kept.world.clock.now(), clock_mode, speed), kept.random_states)


def _kept_world(fixtures: Fixtures, release: Release) -> _Kept:
    # Parsed documents are cached per file version (fixtures.py), so their identity names them.
    key = (*(id(document) for document in fixtures.documents), release)
    with _lock:
        kept = _kept.get(key)
        if kept is not None:
            _kept.move_to_end(key)
            return kept
    world = _built(fixtures, release)  # outside the lock: a bad file raises here, keeping nothing
    kept = _Kept(fixtures.documents, world, world.random_states())
    with _lock:
        _kept[key] = kept
        _forget_the_oldest()
    return kept


def _built(fixtures: Fixtures, release: Release) -> World:
    world = build_world(fixtures, "manual", 1.0, release)
    for task in world.live_tasks_newest_first():
        task_wire(world, task)  # what the first list of every copy would encode
    return world


def _forget_the_oldest() -> None:
    while len(_kept) > 1 and (len(_kept) > KEPT_WORLDS or kept_tasks() > KEPT_TASKS):
        _kept.popitem(last=False)


def kept_tasks() -> int:
    return sum(len(kept.world.tasks) for kept in _kept.values())
