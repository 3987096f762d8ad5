"""The one clock that every transition of the world is timed by.

A manual clock moves only when told to (tests: deterministic). A real clock
follows the wall clock, scaled by `speed` (a person watching the dashboard).
While an action that fell due runs, the clock is pinned to the moment it fell
due, so every timestamp it writes is exactly when the real server would have.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

ClockMode = Literal["manual", "real"]
# The end of the fake's time: fixture times stop at 8999 and a step is at most a year away, so
# nothing computed from the clock can pass what a datetime holds (year 9999).
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class ClockRangeError(ValueError):
    """A move of the clock past `LATEST`."""


class Clock:
    def __init__(
        self,
        start: datetime,
        mode: ClockMode = "manual",
        speed: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._base = start
        self._room = self.seconds_left(start)  # how far a real clock may run from its base
        self._base_tick = monotonic()
        self._mode: ClockMode = mode
        self._speed = speed
        self._pinned: datetime | None = None
        self._held: list[datetime | None] = []  # what was pinned at each `with clock:` not yet left

    @property
    def mode(self) -> ClockMode:
        return self._mode

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        if self._pinned is not None:
            return self._pinned
        if self._mode == "manual":
            return self._base
        elapsed = (self._monotonic() - self._base_tick) * self._speed
        if not elapsed < self._room:
            return LATEST
        moment = self._base + timedelta(0, elapsed)  # read once per call: positional is a third quicker
        return moment if moment < LATEST else LATEST  # the room is in float seconds: it may round up

    @staticmethod
    def seconds_left(moment: datetime) -> float:
        """How far the clock may still move from `moment`."""
        return (LATEST - moment).total_seconds()

    def set_mode(self, mode: ClockMode, speed: float | None = None) -> None:
        """Switch mode or speed without a jump in time."""
        self._rebase()
        self._mode = mode
        if speed is not None:
            if speed <= 0:
                raise ValueError("speed must be positive")
            self._speed = speed

    def jump_to(self, moment: datetime) -> None:
        """Move the clock forward (never back: the world's history stays in order)."""
        self._rebase()
        if moment > self._base:
            self._set_base(moment)

    def pin(self, moment: datetime | None) -> datetime | None:
        """Hold `now()` at `moment` while a due action runs; `None` releases it. Returns what was
        pinned before, for the caller to put back."""
        previous = self._pinned
        self._pinned = moment
        return previous

    def __enter__(self) -> None:
        """`with clock:` every `now()` inside gives the one reading taken on entry: a call of the
        Coder API sees one moment, as the rows of one coderd transaction would, and reads the clock
        once, not at every timestamp. Steps that fall due meanwhile still pin their own moment
        (`lifecycle`). The clock is its own context (every call enters one: none is made per call),
        entered under the fake's lock, and again inside itself only by the same thread."""
        self._held.append(self._pinned)
        self._pinned = self.now()

    def __exit__(self, *exc_info: object) -> None:
        self._pinned = self._held.pop()

    def _rebase(self) -> None:
        self._set_base(self.now() if self._pinned is None else self._pinned)
        self._base_tick = self._monotonic()

    def _set_base(self, moment: datetime) -> None:
        self._base = moment
        self._room = self.seconds_left(moment)
