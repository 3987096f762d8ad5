"""The built-in fake agent: what runs inside a task's workspace in place of AgentAPI.

It holds the conversation, answers each user message after a pause (reporting
`working`, then its rule's final state, through app statuses as a real agent
does), and uploads a log snapshot when its workspace stops. Its answers come
from rules (first match wins); the fixtures may add their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import re2

from fakeserver.models import Agent, AppState, PendingReply, Snapshot, Task, Workspace
from fakeserver.serialize import conversation_json
from fakeserver.world import World

EXCERPT_LENGTH = 60
# When a rule keeps the agent working, it stays busy with nothing more to say: its next answer
# falls due at the end of time, and only a stop of the workspace ends the work.
NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AgentRule:
    """How the fake agent answers a user message that matches `match` (a regex; None matches all).

    `match` is RE2 syntax, as Go's regexp, matched without regard to case. RE2 matches in time
    linear in the message, so no rule (`^(a+)+$`) can stall the server; an invalid one raises
    `InvalidRule` when the rule is made, that is when its fixture is loaded.
    `{input}` in `reply` and `message` stands for the message, shortened.
    """

    match: str | None = None
    reply: str = "Done. I worked on: {input}"
    state: AppState = "idle"
    message: str = "Done: {input}"
    delay: float | None = None  # seconds; None means the world's `agent_reply` timing
    _pattern: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.match is not None:
            object.__setattr__(self, "_pattern", compile_rule(self.match))

    def matches(self, text: str) -> bool:
        return self._pattern is None or self._pattern.search(text) is not None


class InvalidRule(ValueError):
    """A rule's `match` is not a regular expression RE2 accepts."""


def compile_rule(pattern: str) -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the error is raised to the caller, not printed by RE2
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) else error
        raise InvalidRule(f"invalid regular expression {pattern!r}: {reason}") from None


DEFAULT_RULE = AgentRule()


def rule_for(rules: list[AgentRule], text: str) -> AgentRule:
    for rule in rules:
        if rule.matches(text):
            return rule
    return DEFAULT_RULE


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1] + "…"


def is_busy(task: Task) -> bool:
    """AgentAPI reports `running` while the agent is still producing its answer, else `stable`."""
    return task.pending_reply is not None


def receive(world: World, task: Task, workspace: Workspace, agent: Agent, text: str) -> None:
    """A user message reaches the agent: it records it, starts working and queues its answer."""
    world.append_message(task, "user", text)
    rule = rule_for(world.agent_rules, text)
    summary = excerpt(text)
    world.report_app_status(workspace, agent, "working", f"Working on: {summary}", "")
    delay = world.timings.agent_reply if rule.delay is None else rule.delay
    reply = PendingReply(
        due_at=world.now() + timedelta(seconds=delay),
        content=rule.reply.replace("{input}", summary),
        state=rule.state,
        message=rule.message.replace("{input}", summary),
    )
    world.queue_reply(task, reply)


def deliver(world: World, task: Task, workspace: Workspace, agent: Agent) -> None:
    """The answer the agent was working on is ready."""
    reply = task.pending_reply
    if reply is None or reply.due_at == NEVER:
        return
    world.queue_reply(task, None)
    world.append_message(task, "agent", reply.content)
    world.report_app_status(workspace, agent, reply.state, reply.message, "")
    if reply.state == "working":  # a rule may keep the agent working forever: AgentAPI stays `running`
        world.queue_reply(task, PendingReply(due_at=NEVER, content="", state="working", message=""))


def start_session(world: World, task: Task, workspace: Workspace, agent: Agent) -> None:
    """The app is up: on the task's first start the agent takes the initial prompt as its first message."""
    if task.conversation or not task.prompt.strip():
        return
    receive(world, task, workspace, agent, task.prompt)


def stop_session(world: World, task: Task) -> None:
    """The workspace is stopping: the agent saves its conversation as the task's log snapshot."""
    world.queue_reply(task, None)
    world.save_snapshot(task, Snapshot(format="agentapi", payload=conversation_payload(task), created_at=world.now()))


def conversation_payload(task: Task) -> dict[str, object]:
    """The conversation as AgentAPI's `GET /messages` document."""
    return {"messages": conversation_json(task.conversation)}
