"""The fixture files the benchmark serves, written to a temp dir.

The throughput world gives alice the same 10 tasks in every server, all in
states that stay put under the real clock (active, paused, error, unknown:
no build, agent or app of theirs has a step still to come), so the fake's
list and task bodies are the same bytes from the first request to the last,
and the bare app can serve those bytes. `agent_reply: 0` makes the fake
agent answer a message at once: the next request's catch-up delivers the
answer, so the agent is never busy when the next `send` arrives.
"""

from __future__ import annotations

from pathlib import Path

CLOCK_START = "2026-01-05T09:00:00Z"  # fixed, so that every server's timestamps are the same bytes
USER = "alice"
TOKEN = "alice-token"
ADMIN_TOKEN = "admin-token"
TEMPLATE_VERSION_ID = "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1"
TASK_COUNT = 10
SETTLED_STATUSES = ("active", "active", "paused", "active", "error", "active", "unknown", "active", "paused", "active")


def task_id(index: int) -> str:
    return f"{index + 1:08x}-0000-4000-8000-{index + 1:012x}"


ONE_TASK_ID = task_id(0)  # active: the target of GET one and POST send
SEND_TASK_ID = task_id(0)

_HEADER = f"""\
# Written by bench/worlds.py: the world every throughput run serves.
settings:
  seed: 42
  clock_start: "{CLOCK_START}"
  timings:
    agent_reply: 0   # the fake agent answers at once, so it is never busy when the next message comes
users:
  - username: admin
    roles: [owner]
    tokens: [{ADMIN_TOKEN}]
  - username: {USER}
    name: Alice Liddell
    avatar_url: https://avatars.example.com/alice.png
    tokens: [{TOKEN}]
templates:
  - name: claude-code
    display_name: Claude Code
    icon: /icon/claude.svg
    versions:
      - name: v1
        id: {TEMPLATE_VERSION_ID}
        has_ai_task: true
"""


def throughput_world() -> str:
    lines = [_HEADER, "tasks:\n"]
    for index, status in enumerate(SETTLED_STATUSES):
        lines.append(
            f"  - owner: {USER}\n"
            f"    id: {task_id(index)}\n"
            f"    name: bench-task-{index}\n"
            f"    display_name: Benchmark task {index}\n"
            f"    prompt: Make the benchmark task number {index} faster without breaking it.\n"
            f"    status: {status}\n"
        )
        if status == "active":
            lines.append(
                "    conversation:\n"
                f"      - {{role: user, content: Make the benchmark task number {index} faster.}}\n"
                "      - {role: agent, content: Done; the hot path now skips a copy.}\n"
                "    current_state: {state: idle, message: Removed a copy from the hot path}\n"
            )
    return "".join(lines)


SCALE_USERS = ("ann", "ben", "cat", "dan")
SCALE_STATUSES = ("active", "paused", "error", "unknown")  # settled: see the module docstring


def scale_world(count: int) -> str:
    """`count` tasks declared by status, spread evenly over four members; admin (an owner) sees them all."""
    lines = [
        "# Written by bench/worlds.py: a world of generated tasks.\n",
        f'settings:\n  seed: 7\n  clock_start: "{CLOCK_START}"\n',
        f"users:\n  - username: admin\n    roles: [owner]\n    tokens: [{ADMIN_TOKEN}]\n",
        *(f"  - username: {user}\n    tokens: [{user}-token]\n" for user in SCALE_USERS),
        "templates:\n  - name: claude-code\n    versions:\n      - name: v1\n        has_ai_task: true\n",
        "tasks:\n" if count else "tasks: []\n",
    ]
    for index in range(count):
        lines.append(
            f"  - owner: {SCALE_USERS[index % len(SCALE_USERS)]}\n"
            f"    name: task-{index}\n"
            f"    display_name: Generated task {index}\n"
            f"    prompt: Generated benchmark task number {index}.\n"
            f"    status: {SCALE_STATUSES[index // len(SCALE_USERS) % len(SCALE_STATUSES)]}\n"
        )
    return "".join(lines)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
