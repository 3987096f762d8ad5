"""`fakeserver serve --reload`: an edited fixture file is served at once; an invalid one is reported
(file, line, reason) while the previous world is kept. Run against a real server process."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from served import Served, eventually, serve

from fakeserver.fixtures import default_fixture_path

DEFAULT_WORLD = default_fixture_path().read_text(encoding="utf-8")
BAD_USERNAME = "not a name!"
WITH_CAROL = DEFAULT_WORLD.replace("\ntemplates:", "  - username: carol\n    tokens: [carol-token]\n\ntemplates:", 1)


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if fragment in line)


def rewrite_until(path: Path, text: str, done: Callable[[], bool], atomic: bool = False) -> bool:
    """Write `text` to `path` until `done()`: the first write may come before the watch is in place."""
    for _ in range(4):
        if atomic:  # as many editors save: a new file renamed over the old one
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, path)
        else:
            path.write_text(text, encoding="utf-8")
        if eventually(done, timeout=3.0):
            return True
    return False


def usernames(served: Served) -> list[str]:
    with served.client() as client:
        return [user["username"] for user in client.get("/__fake__/state").json()["world"]["users"]]


def status_as(served: Served, token: str) -> int:
    with served.client(token) as client:
        return client.get("/api/v2/tasks").status_code


def test_an_invalid_edit_keeps_the_world_and_names_the_file_and_line_then_a_valid_one_is_served(
    tmp_path: Path,
) -> None:
    fixture = tmp_path / "f.yaml"
    fixture.write_text(DEFAULT_WORLD, encoding="utf-8")
    with serve("--reload", "--fixtures", "f.yaml", "--clock", "manual", cwd=tmp_path) as served:
        assert "watching f.yaml" in served.output()
        with served.client("alice-token") as alice:
            assert alice.post("/api/v2/tasks/alice/fix-login-bug/send", json={"input": "hello"}).status_code == 204

        broken = DEFAULT_WORLD.replace("username: bob\n", f"username: {BAD_USERNAME}\n", 1)
        assert rewrite_until(fixture, broken, lambda: BAD_USERNAME in served.stderr())
        error = served.stderr()
        assert "not reloaded, still serving the previous world" in error
        assert f"f.yaml:{line_of(broken, BAD_USERNAME)}: users[2].username:" in error
        assert served.process.poll() is None
        assert usernames(served) == ["admin", "alice", "bob"]
        with served.client() as client:  # not even the journal was touched
            journal = client.get("/__fake__/requests").json()["requests"]
            assert [entry["operation_id"] for entry in journal] == ["sendTaskInput"]
        assert status_as(served, "bob-token") == 200

        assert rewrite_until(fixture, WITH_CAROL, lambda: "carol" in usernames(served), atomic=True)
        assert "fakeserver: reloaded f.yaml: 4 users, 6 tasks" in served.output()
        assert status_as(served, "carol-token") == 200
        assert status_as(served, "bob-token") == 200


def test_a_reload_starts_the_world_over_from_the_file(tmp_path: Path) -> None:
    fixture = tmp_path / "world.yaml"
    fixture.write_text(DEFAULT_WORLD, encoding="utf-8")
    arguments = ("--reload", "--fixtures", str(fixture), "--clock", "manual")
    with serve(*arguments, cwd=tmp_path) as served, served.client("alice-token") as alice:
        assert alice.delete("/api/v2/tasks/alice/fix-login-bug").status_code == 202
        assert alice.get("/api/v2/tasks/alice/fix-login-bug").status_code == 404
        renamed = DEFAULT_WORLD.replace("display_name: Fix the login bug", "display_name: Fix the logout bug", 1)
        assert rewrite_until(
            fixture,
            renamed,
            lambda: alice.get("/api/v2/tasks/alice/fix-login-bug").status_code == 200,
        )
        assert alice.get("/api/v2/tasks/alice/fix-login-bug").json()["display_name"] == "Fix the logout bug"


def test_reload_without_fixture_files_says_there_is_nothing_to_watch(tmp_path: Path) -> None:
    with serve("--reload", cwd=tmp_path) as served:
        assert "--reload has nothing to watch: no --fixtures given" in served.output()
        assert status_as(served, "alice-token") == 200
