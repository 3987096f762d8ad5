"""The schedule: which workspace's next step falls due first.

Each workspace's next step is worked out again only when it was touched (its records changed,
or its step just ran), and kept, with its entry in a heap; an entry superseded since is skipped
when it comes up. So finding the next step costs O(log n), however many workspaces are in motion.
A kept step is trusted: every change to the records it is worked out from goes through one of
the world's mutators, which touch (world.py), and tests hold kept steps to fresh ones. What the next
step of a workspace is, is the lifecycle's to say (`next_step`); the schedule only keeps order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from fakeserver.models import Workspace
    from fakeserver.world import World


class Step(NamedTuple):
    """What happens next to a workspace, and when: `action(world, workspace, subject)`.

    A step names a function of the lifecycle and what it acts on, rather than holding a closure:
    a served world keeps a step per workspace in motion, and a closure and its cells are three
    more objects each for the cycle collector to look at. It is given its world when it runs, not
    holding it: a world that held itself would wait for the cycle collector to be freed (a reset
    drops one a test).
    """

    due: datetime
    action: Callable[[World, Workspace, Any], None]
    workspace: Workspace
    subject: Any  # the build or the agent the step acts on


NextStep = Callable[[str], "Step | None"]  # a workspace id -> its next step, if any


class Schedule:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, str]] = []  # (due, entry, workspace id)
        self._entries: dict[str, tuple[int, Step]] = {}  # workspace id -> its current entry and step
        self._touched: set[str] = set()
        self._entry_count = 0  # entries ever made: the next one's number

    def copy(self) -> Schedule:
        """The same schedule for a copy of its world (World.copy): a step holds its world's records,
        so the copy works each step out again, from its own."""
        copied = Schedule()
        copied._touched = self._touched | self._entries.keys()
        copied._entry_count = self._entry_count
        return copied

    @property
    def idle(self) -> bool:
        """Nothing scheduled and nothing to work out again."""
        return not self._heap and not self._touched

    def touch(self, workspace_id: str) -> None:
        """Work this workspace's next step out again before the next look at the schedule."""
        self._touched.add(workspace_id)

    def earliest(self, next_step: NextStep) -> tuple[str, Step] | None:
        """The step that falls due first, with its workspace's id: whoever applies the step touches
        the workspace (its next step is then a new one)."""
        if self._touched:
            self._reschedule(next_step)
        while self._heap:
            _, entry, workspace_id = self._heap[0]
            current = self._entries.get(workspace_id)
            if current is None or current[0] != entry:
                heapq.heappop(self._heap)  # superseded
                continue
            return workspace_id, current[1]
        return None

    def upcoming(self, next_step: NextStep) -> dict[str, datetime]:
        """When each scheduled workspace's next step falls due (tests hold it to a fresh working-out)."""
        self._reschedule(next_step)
        return {workspace_id: step.due for workspace_id, (_, step) in self._entries.items()}

    def _reschedule(self, next_step: NextStep) -> None:
        for workspace_id in self._touched:
            step = next_step(workspace_id)
            if step is None:
                self._entries.pop(workspace_id, None)
                continue
            entry = self._entry_count
            self._entry_count += 1
            self._entries[workspace_id] = (entry, step)
            heapq.heappush(self._heap, (step.due, entry, workspace_id))
        self._touched.clear()
