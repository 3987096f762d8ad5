"""Release profiles: the fake answers as the Coder release it is told to play, each difference
of `fakeserver/releases.py` tested in every release."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import ACTIVE_ID, SETTLE

from fakeserver import FakeCoder
from fakeserver.releases import (
    CHANGES,
    FAILURE_SHOWN_AS_FAILED,
    LATEST,
    RELEASES,
    SEND_WHILE_BUSY_CONFLICT,
    Change,
    Release,
    markdown_table,
)

DOCS = Path(__file__).parent.parent / "docs" / "releases.md"


@pytest.mark.parametrize(
    ("text", "release"), [("2.31", Release(2, 31)), ("v2.33", Release(2, 33)), ("v2.36.4", LATEST)]
)
def test_a_release_is_named_by_its_minor(text: str, release: Release) -> None:
    assert Release.parse(text) == release


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2.30", "the fake does not play Coder 2.30 (it plays 2.31, 2.32, 2.33, 2.34, 2.35, 2.36)"),
        ("2.37", "the fake does not play Coder 2.37 (it plays 2.31, 2.32, 2.33, 2.34, 2.35, 2.36)"),
        ("3", "not a Coder release: '3' (e.g. 2.31)"),
        ("latest", "not a Coder release: 'latest' (e.g. 2.31)"),
        ("", "not a Coder release: '' (e.g. 2.31)"),
    ],
)
def test_a_release_the_fake_does_not_play_is_refused_by_name(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        Release.parse(text)
    assert str(refused.value) == reason


def test_the_docs_show_the_table_the_code_holds() -> None:
    assert markdown_table() in DOCS.read_text(encoding="utf-8")
    printed = subprocess.run(
        [sys.executable, "-m", "fakeserver", "releases"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == markdown_table()


@pytest.mark.parametrize("release", RELEASES, ids=str)
def test_each_release_says_which_it_is(release: Release) -> None:
    fake = FakeCoder(coder_version=str(release))
    with fake.client("alice") as alice:
        response = alice.get("/api/v2/buildinfo")
    assert response.json()["version"] == response.headers["X-Coder-Build-Version"] == f"v{release}.0"


def busy_send(fake: FakeCoder) -> httpx.Response:
    """Send to the active task while the agent is still answering the message before."""
    with fake.client("alice") as alice:
        path = f"/api/v2/tasks/me/{ACTIVE_ID}/send"
        assert alice.post(path, json={"input": "First"}).status_code == 204
        return alice.post(path, json={"input": "Second"})


def failure_state(fake: FakeCoder) -> str:
    fake.report_status(ACTIVE_ID, "failure", "Tests failed")
    with fake.client("alice") as alice:
        state: str = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}").json()["current_state"]["state"]
    return state


def check_send_while_busy(fake: FakeCoder, changed: bool) -> None:
    response = busy_send(fake)
    assert response.status_code == (409 if changed else 502)
    assert response.json() == {"message": "Task app is not ready to accept input.", "detail": "Status: running"}


def check_failure_shown(fake: FakeCoder, changed: bool) -> None:
    assert failure_state(fake) == ("failed" if changed else "failure")


CHECKS: dict[str, Callable[[FakeCoder, bool], None]] = {
    SEND_WHILE_BUSY_CONFLICT.name: check_send_while_busy,
    FAILURE_SHOWN_AS_FAILED.name: check_failure_shown,
}


def test_every_change_has_a_check() -> None:
    assert set(CHECKS) == {change.name for change in CHANGES}


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.name)
@pytest.mark.parametrize("release", RELEASES, ids=str)
def test_each_release_answers_as_it_did(release: Release, change: Change) -> None:
    fake = FakeCoder(coder_version=str(release))  # responses are checked against the spec as always
    CHECKS[change.name](fake, release.has(change))


def test_the_release_survives_a_reset_and_a_load(tmp_path: Path) -> None:
    fake = FakeCoder(coder_version="2.31")
    saved = fake.save(tmp_path / "world.yaml")
    fake.reset()
    fake.load(saved)
    assert busy_send(fake).status_code == 502
    fake.advance(SETTLE)


def test_serve_refuses_a_release_it_does_not_play() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fakeserver", "serve", "--coder-version", "2.29"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "the fake does not play Coder 2.29 (it plays 2.31, 2.32, 2.33, 2.34, 2.35, 2.36)" in done.stderr
