"""The schedule: which workspace's next step falls due first.

Each workspace's next step is worked out again only when it was touched (its records changed,
or its step just ran) and kept in a heap; an entry superseded since is skipped when it comes up.
So finding the next step costs O(log n), however many workspaces are in motion. What the next
step of a workspace is, is the lifecycle's to say (`next_step`); the schedule only keeps order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Step:
    due: datetime
    apply: Callable[[], None]


NextStep = Callable[[str], "Step | None"]  # a workspace id -> its next step, if any


class Schedule:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, str]] = []  # (due, entry, workspace id)
        self._entries: dict[str, int] = {}  # workspace id -> its current entry
        self._touched: set[str] = set()
        self._entry_count = 0  # entries ever made: the next one's number

    def copy(self) -> Schedule:
        """The same order, sharing nothing with this one (World.copy)."""
        copied = Schedule()
        copied._heap = list(self._heap)
        copied._entries = dict(self._entries)
        copied._touched = set(self._touched)
        copied._entry_count = self._entry_count
        return copied

    @property
    def idle(self) -> bool:
        """Nothing scheduled and nothing to work out again."""
        return not self._heap and not self._touched

    def touch(self, workspace_id: str) -> None:
        """Work this workspace's next step out again before the next look at the schedule."""
        self._touched.add(workspace_id)

    def earliest(self, next_step: NextStep) -> Step | None:
        """The step that falls due first; applying it marks its workspace touched."""
        self._reschedule(next_step)
        while self._heap:
            due, entry, workspace_id = self._heap[0]
            if self._entries.get(workspace_id) != entry:
                heapq.heappop(self._heap)  # superseded
                continue
            step = next_step(workspace_id)
            if step is not None and step.due == due:
                return self._touching(workspace_id, step)
            self.touch(workspace_id)  # its records changed without a touch: work it out again
            self._reschedule(next_step)
        return None

    def _reschedule(self, next_step: NextStep) -> None:
        for workspace_id in self._touched:
            step = next_step(workspace_id)
            if step is None:
                self._entries.pop(workspace_id, None)
                continue
            entry = self._entry_count
            self._entry_count += 1
            self._entries[workspace_id] = entry
            heapq.heappush(self._heap, (step.due, entry, workspace_id))
        self._touched.clear()

    def _touching(self, workspace_id: str, step: Step) -> Step:
        """The step, marking its workspace touched once it ran (its next step is then a new one)."""

        def apply() -> None:
            step.apply()
            self.touch(workspace_id)

        return Step(step.due, apply)
