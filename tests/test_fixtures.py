"""Fixture files: every mistake is reported as `file:line: path: reason` (by the CLI without a traceback),
and good files build the world they describe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import SETTLE
from served import serve

from fakeserver.fake import FakeCoder
from fakeserver.fixtures import FixtureError, default_fixture_path

USERS = """\
users:
  - username: alice
    tokens: [alice-token]
"""
TEMPLATE = """\
templates:
  - name: claude-code
    versions:
      - name: v1
"""

# (file content, line, path, reason)
BAD_FILES = {
    "unknown-key": (
        USERS + "    nickname: ally\n",
        4,
        "users[0].nickname",
        "unknown key 'nickname'; did you mean 'name' for 'nickname'? "
        "(known: avatar_url, email, id, name, organizations, roles, status, tokens, username)",
    ),
    "wrong-type": (
        "settings:\n  seed: forty-two\n",
        2,
        "settings.seed",
        '"forty-two" is not of type "integer"',
    ),
    "wrong-enum": (
        USERS + TEMPLATE + "tasks:\n  - owner: alice\n    status: sleeping\n",
        10,
        "tasks[0].status",
        "'sleeping' is not one of: pending, initializing, active, paused, error, unknown",
    ),
    "dangling-owner": (
        USERS + TEMPLATE + "tasks:\n  - owner: zed\n    prompt: hi\n",
        9,
        "tasks[0].owner",
        "no user 'zed' (known: alice)",
    ),
    "dangling-template": (
        USERS + TEMPLATE + "tasks:\n  - owner: alice\n    template: nope\n",
        10,
        "tasks[0].template",
        "no template 'nope' (known: claude-code)",
    ),
    "duplicate-username": (
        USERS + "  - username: Alice\n",
        4,
        "users[1].username",
        "duplicate username 'Alice'",
    ),
    "duplicate-task-name": (
        USERS + TEMPLATE + "tasks:\n  - owner: alice\n    name: fix-it\n  - owner: alice\n    name: FIX-IT\n",
        12,
        "tasks[1].name",
        "alice already has a task named 'FIX-IT'",
    ),
    "malformed-uuid": (
        "users:\n  - username: alice\n    id: 1234-not-a-uuid\n",
        3,
        "users[0].id",
        "malformed UUID '1234-not-a-uuid'",
    ),
    "invalid-yaml": (
        "users:\n  - username: alice\n   tokens: [x]\n",
        3,
        "(document)",
        "not valid YAML: expected <block end>, but found '<block mapping start>'",
    ),
    "not-a-mapping": (
        "- alice\n- bob\n",
        1,
        "(document)",
        "a fixture file is a mapping of sections (settings, users, templates, tasks...)",
    ),
    "status-and-workspace": (
        USERS
        + TEMPLATE
        + "tasks:\n  - owner: alice\n    status: active\n"
        + "    workspace: {builds: [{transition: start, job: {status: succeeded}}]}\n",
        10,
        "tasks[0].status",
        "a task has either a `status` or a `workspace`, not both",
    ),
}


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_fake_coder_reports_file_line_path_and_reason(tmp_path: Path, case: str) -> None:
    content, line, path, reason = BAD_FILES[case]
    file = write(tmp_path, f"{case}.yaml", content)
    with pytest.raises(FixtureError) as raised:
        FakeCoder([file])
    error = raised.value
    assert (error.file, error.line, error.reason) == (str(file), line, reason)
    assert str(error) == f"{file}:{line}: {path}: {reason}"


@pytest.mark.parametrize("case", ["unknown-key", "dangling-owner", "duplicate-task-name", "invalid-yaml"])
def test_serve_prints_the_error_and_exits_non_zero(tmp_path: Path, case: str) -> None:
    content, line, path, reason = BAD_FILES[case]
    write(tmp_path, "bad.yaml", content)
    result = serve_and_exit(tmp_path, "--fixtures", "bad.yaml")
    assert result.returncode == 2
    assert result.stderr == f"fakeserver: bad fixture file: bad.yaml:{line}: {path}: {reason}\n"
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_serve_names_the_file_that_is_wrong(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", USERS + TEMPLATE)
    write(tmp_path, "more.yaml", "tasks:\n  - owner: zed\n")
    result = serve_and_exit(tmp_path, "--fixtures", "good.yaml", "--fixtures", "more.yaml")
    assert result.returncode == 2
    assert result.stderr == "fakeserver: bad fixture file: more.yaml:2: tasks[0].owner: no user 'zed' (known: alice)\n"


def test_serve_with_a_missing_file(tmp_path: Path) -> None:
    result = serve_and_exit(tmp_path, "--fixtures", "missing.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("fakeserver: bad fixture file: missing.yaml: (document): cannot read the file")
    assert "Traceback" not in result.stderr


def serve_and_exit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fakeserver", "serve", "--port", "0", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_a_later_file_refers_to_an_earlier_one(tmp_path: Path) -> None:
    extra = write(
        tmp_path,
        "extra.yaml",
        "tasks:\n  - owner: alice\n    name: extra-task\n    template: claude-code\n    status: paused\n",
    )
    fake = FakeCoder([default_fixture_path(), extra])
    with fake.client("alice") as alice:
        names = [task["name"] for task in alice.get("/api/v2/tasks").json()["tasks"]]
        assert names == ["extra-task", "broken-build", "write-docs", "fix-login-bug"]
        assert alice.get("/api/v2/tasks/me/extra-task").json()["status"] == "paused"


def test_serve_adds_the_tasks_of_a_second_file(tmp_path: Path) -> None:
    write(tmp_path, "extra.yaml", "tasks:\n  - owner: bob\n    name: from-second-file\n    status: paused\n")
    default = str(default_fixture_path())
    arguments = ("--clock", "manual", "--fixtures", default, "--fixtures", "extra.yaml")
    with serve(*arguments, cwd=tmp_path) as served, served.client("bob-token") as bob:
        response = bob.get("/api/v2/tasks")
    names = [(task["name"], task["status"]) for task in response.json()["tasks"]]
    assert names == [
        ("from-second-file", "paused"),
        ("lost-agent", "unknown"),
        ("refactor-api", "initializing"),
        ("add-dark-mode", "pending"),
    ]


def test_an_error_in_the_second_file_names_it(tmp_path: Path) -> None:
    extra = write(tmp_path, "extra.yaml", "users:\n  - username: bob\n")
    with pytest.raises(FixtureError) as raised:
        FakeCoder([default_fixture_path(), extra])
    assert str(raised.value) == f"{extra}:2: users[0].username: duplicate username 'bob'"


# status shortcuts

STATUSES = ("pending", "initializing", "active", "paused", "error", "unknown")


@pytest.fixture
def by_status(tmp_path: Path) -> FakeCoder:
    tasks = "".join(
        f"  - owner: alice\n    name: {status}-task\n    prompt: Be {status}.\n    status: {status}\n"
        for status in STATUSES
    )
    return FakeCoder([write(tmp_path, "statuses.yaml", USERS + TEMPLATE + "tasks:\n" + tasks)])


@pytest.mark.parametrize("status", STATUSES)
def test_each_status_shortcut_yields_that_status(by_status: FakeCoder, status: str) -> None:
    with by_status.client("alice") as alice:
        task = alice.get(f"/api/v2/tasks/me/{status}-task").json()
    assert task["status"] == status
    assert task["initial_prompt"] == f"Be {status}."


@pytest.mark.parametrize(
    ("status", "later"),
    [
        ("pending", "active"),
        ("initializing", "active"),
        ("active", "active"),
        ("paused", "paused"),
        ("error", "error"),
        ("unknown", "unknown"),
    ],
)
def test_status_shortcuts_carry_on_consistently(by_status: FakeCoder, status: str, later: str) -> None:
    by_status.advance(SETTLE)
    with by_status.client("alice") as alice:
        assert alice.get(f"/api/v2/tasks/me/{status}-task").json()["status"] == later


def test_status_defaults_to_active(tmp_path: Path) -> None:
    fake = FakeCoder([write(tmp_path, "plain.yaml", USERS + TEMPLATE + "tasks:\n  - owner: alice\n    name: t\n")])
    with fake.client("alice") as alice:
        assert alice.get("/api/v2/tasks/me/t").json()["status"] == "active"


# an explicit workspace

EXPLICIT = (
    "settings:\n  clock_start: '2026-01-05T08:30:01Z'\n"
    + USERS
    + TEMPLATE
    + """\
tasks:
  - owner: alice
    id: 77777777-7777-4777-8777-777777777777
    name: explicit
    display_name: Taken as written
    template: claude-code
    prompt: Do it exactly so.
    created_at: '2026-01-05T08:00:00Z'
    workspace:
      id: 88888888-8888-4888-8888-888888888888
      name: explicit-ws
      updated_at: '2026-01-05T08:30:00Z'
      builds:
        - transition: start
          created_at: '2026-01-05T08:00:00Z'
          job: {status: succeeded}
          agent:
            id: 99999999-9999-4999-8999-999999999999
            lifecycle: ready
            app: {id: aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa, health: healthy}
        - transition: stop
          reason: task_manual_pause
          created_at: '2026-01-05T08:30:00Z'
          job: {status: running, started_at: '2026-01-05T08:30:01Z'}
      app_statuses:
        - state: complete
          message: All done
          created_at: '2026-01-05T08:20:00Z'
"""
)


@pytest.fixture
def explicit(tmp_path: Path) -> httpx.Client:
    return FakeCoder([write(tmp_path, "explicit.yaml", EXPLICIT)]).client("alice")


def test_an_explicit_workspace_is_taken_as_written(explicit: httpx.Client) -> None:
    task = explicit.get("/api/v2/tasks/me/explicit").json()
    assert {key: task[key] for key in ("id", "workspace_id", "workspace_name", "display_name")} == {
        "id": "77777777-7777-4777-8777-777777777777",
        "workspace_id": "88888888-8888-4888-8888-888888888888",
        "workspace_name": "explicit-ws",
        "display_name": "Taken as written",
    }
    assert (task["status"], task["workspace_status"], task["workspace_build_number"]) == ("unknown", "stopping", 2)
    assert (task["created_at"], task["updated_at"]) == ("2026-01-05T08:00:00Z", "2026-01-05T08:30:00Z")
    assert task["workspace_agent_id"] is None  # the stop build links no agent
    assert task["current_state"] == {
        "timestamp": "2026-01-05T08:20:00Z",
        "state": "complete",
        "message": "All done",
        "uri": "",
    }


def test_an_explicit_workspace_moves_on_from_where_it_is(tmp_path: Path) -> None:
    fake = FakeCoder([write(tmp_path, "explicit.yaml", EXPLICIT)])
    fake.advance(SETTLE)
    with fake.client("alice") as alice:
        task = alice.get("/api/v2/tasks/me/explicit").json()
    assert (task["status"], task["workspace_status"]) == ("paused", "stopped")


# Messages that say what to do.


def test_an_empty_fixture_file_is_refused(tmp_path: Path) -> None:
    for text in ("", "# nothing here yet\n"):
        path = write(tmp_path, "empty.yaml", text)
        with pytest.raises(
            FixtureError, match=r"empty.yaml: \(document\): the document is empty: .*`\{\}` is an empty world"
        ):
            FakeCoder([path])
    assert FakeCoder([write(tmp_path, "braces.yaml", "{}\n")]).summary()["users"] == 0


def test_every_mistake_of_a_file_is_reported_with_a_guess(tmp_path: Path) -> None:
    path = write(
        tmp_path, "typos.yaml", "users:\n  - usrname: ally\n    tokns: [x]\n  - username: 7\ntasks:\n  - ownr: ally\n"
    )
    with pytest.raises(FixtureError) as raised:
        FakeCoder([path])
    lines = str(raised.value).splitlines()
    assert len(raised.value.problems) == len(lines) == 5
    assert lines[0].startswith(f"{path}:2: users[0].usrname: unknown keys 'usrname', 'tokns'; ")
    assert "did you mean 'username' for 'usrname', 'tokens' for 'tokns'?" in lines[0]
    assert lines[2] == f'{path}:4: users[1].username: 7 is not of type "string"'
    assert "did you mean 'owner' for 'ownr'?" in lines[3]


def test_a_put_document_reports_every_mistake_as_a_validation(control: httpx.Client) -> None:
    response = control.put(
        "/__fake__/state",
        content=b"users:\n  - usrname: a\n  - username: 7\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 400
    fields = [validation["field"] for validation in response.json()["validations"]]
    assert fields == ["users[0].usrname", "users[0]", "users[1].username"]
    assert response.json()["detail"].count("\n") == 2


def test_a_dangling_reference_names_what_there_is(tmp_path: Path) -> None:
    text = USERS + TEMPLATE + "tasks:\n  - owner: alce\n    template: claude-cod\n"
    with pytest.raises(FixtureError, match=r"no user 'alce'; did you mean 'alice'\? \(known: alice\)"):
        FakeCoder([write(tmp_path, "dangling.yaml", text)])
    text = USERS + TEMPLATE + "tasks:\n  - owner: alice\n    template: claude-cod\n"
    with pytest.raises(FixtureError, match=r"no template 'claude-cod'; did you mean 'claude-code'\?"):
        FakeCoder([write(tmp_path, "dangling.yaml", text)])


def test_an_unclosed_bracket_names_the_line_it_opened_on(tmp_path: Path) -> None:
    path = write(tmp_path, "open.yaml", "users:\n  - username: a\ntasks: [\n  {owner: a, prompt: hi}\n\n\n")
    with pytest.raises(FixtureError) as raised:
        FakeCoder([path])
    assert (
        str(raised.value)
        == f"{path}:3: (document): not valid YAML: a flow sequence that starts on line 3 is never closed"
    )


def test_a_held_task_keeps_its_status_until_someone_acts_and_exports_the_hold() -> None:
    fake = FakeCoder()
    held = {task["name"] for task in fake.export()["tasks"] if task.get("hold")}
    assert held == {"add-dark-mode", "refactor-api"}
    fake.advance(3600)
    assert fake.task("bob/add-dark-mode")["status"] == "pending"
    assert fake.task("bob/refactor-api")["status"] == "initializing"
    fake.set_agent("bob/refactor-api", "ready")
    fake.advance(60)
    assert fake.task("bob/refactor-api")["status"] == "active"
    assert {task["name"] for task in fake.export()["tasks"] if task.get("hold")} == {"add-dark-mode"}


def test_the_kept_document_keeps_what_aliases_share(tmp_path: Path) -> None:
    """The parsed document is kept (copied out of the parser's memory) for every reset: an
    aliased block stays one block, and a reset builds the same world from it."""
    file = write(
        tmp_path,
        "aliases.yaml",
        "users:\n  - {username: alice}\n"
        "templates:\n  - {name: claude-code, versions: [{name: v1, has_ai_task: true}]}\n"
        "tasks:\n"
        "  - owner: alice\n    name: two\n    prompt: hi\n    conversation: &talk [{role: user, content: hi}]\n"
        "  - owner: alice\n    name: three\n    prompt: hi\n    conversation: *talk\n",
    )
    fake = FakeCoder([file])
    two, three = (entry.data for entry in fake.fixtures.tasks)
    assert two["conversation"] is three["conversation"] == [{"role": "user", "content": "hi"}]
    fake.reset()
    assert sorted(task.name for task in fake.world.tasks.values()) == ["three", "two"]
