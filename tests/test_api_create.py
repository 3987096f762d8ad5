"""POST /api/v2/tasks/{user}: the 201 body, name rules and generation, and every 4xx of §4.2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (
    AI_TEMPLATE_ID,
    AI_VERSION_ID,
    ALICE_ID,
    BOB_ID,
    ORG_ID,
    PLAIN_VERSION_ID,
    PRESET_ID,
    SETTLE,
    create_task,
)

from fakeserver.fake import FakeCoder
from fakeserver.fixtures import default_fixture_path

VERSION_NOT_FOUND = {"message": "Template version not found or you do not have access to this resource"}
BAD_NAME = "Unable to create a Task with the provided name."

# Added to the default world: a second organization and templates that cannot be built from.
ACME_VERSION_ID = "aaaaaaaa-0000-4000-8000-000000000001"
DEPRECATED_VERSION_ID = "aaaaaaaa-0000-4000-8000-000000000002"
ARCHIVED_VERSION_ID = "aaaaaaaa-0000-4000-8000-000000000003"
PENDING_IMPORT_ID = "aaaaaaaa-0000-4000-8000-000000000004"
RUNNING_IMPORT_ID = "aaaaaaaa-0000-4000-8000-000000000005"
FAILED_IMPORT_ID = "aaaaaaaa-0000-4000-8000-000000000006"
NULL_AI_TASK_ID = "aaaaaaaa-0000-4000-8000-000000000007"
EXTRA_WORLD = f"""
organizations:
  - name: acme
templates:
  - name: acme-ai
    organization: acme
    versions:
      - {{name: v1, id: {ACME_VERSION_ID}}}
  - name: retired
    deprecated: Use claude-code instead.
    versions:
      - {{name: v1, id: {DEPRECATED_VERSION_ID}}}
  - name: staged
    versions:
      - {{name: v1, id: {ARCHIVED_VERSION_ID}, archived: true}}
      - {{name: v2, id: {PENDING_IMPORT_ID}, import_status: pending}}
      - {{name: v3, id: {RUNNING_IMPORT_ID}, import_status: running}}
      - {{name: v4, id: {FAILED_IMPORT_ID}, import_status: failed}}
      - {{name: v5, id: {NULL_AI_TASK_ID}, has_ai_task: null}}
"""


@pytest.fixture
def extra_fake(tmp_path: Path) -> FakeCoder:
    path = tmp_path / "extra.yaml"
    path.write_text(EXTRA_WORLD)
    return FakeCoder([default_fixture_path(), path])


def post(client: httpx.Client, body: Any, user: str = "me") -> httpx.Response:
    return client.post(f"/api/v2/tasks/{user}", json=body)


# success


def test_created_task_shape(alice: httpx.Client) -> None:
    response = post(alice, {"template_version_id": AI_VERSION_ID, "input": "Fix the flaky test", "name": "flaky"})
    assert response.status_code == 201
    task = response.json()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", task["id"])
    assert re.fullmatch(r"[0-9a-f-]{36}", task["workspace_id"])
    assert task == {
        "id": task["id"],
        "organization_id": ORG_ID,
        "owner_id": ALICE_ID,
        "owner_name": "alice",
        "owner_avatar_url": "https://avatars.example.com/alice.png",
        "name": "flaky",
        "display_name": "Fix the flaky test",
        "template_id": AI_TEMPLATE_ID,
        "template_version_id": AI_VERSION_ID,
        "template_name": "claude-code",
        "template_display_name": "Claude Code",
        "template_icon": "/icon/claude.svg",
        "workspace_id": task["workspace_id"],
        "workspace_name": "flaky",
        "workspace_status": "pending",
        "workspace_build_number": 1,
        "workspace_agent_id": None,
        "workspace_agent_lifecycle": None,
        "workspace_agent_health": None,
        "workspace_app_id": None,
        "initial_prompt": "Fix the flaky test",
        "status": "pending",
        "current_state": None,
        "created_at": "2026-01-05T09:00:00Z",
        "updated_at": "2026-01-05T09:00:00Z",
    }


def test_avatar_url_is_absent_when_empty(bob: httpx.Client) -> None:
    assert "owner_avatar_url" not in create_task(bob)


def test_created_task_can_be_fetched_and_listed(alice: httpx.Client) -> None:
    task = create_task(alice)
    assert alice.get(f"/api/v2/tasks/me/{task['id']}").json() == task
    assert alice.get(f"/api/v2/tasks/alice/{task['name']}").json() == task
    assert alice.get("/api/v2/tasks").json()["tasks"][0] == task


def test_unknown_fields_are_ignored(alice: httpx.Client) -> None:
    task = create_task(alice, prompt="the old field name", rich_parameter_values=[{"name": "a", "value": "b"}])
    assert task["initial_prompt"] == "Fix the flaky test"


def test_empty_input_is_accepted(alice: httpx.Client) -> None:
    assert create_task(alice, input="", name="no-prompt")["initial_prompt"] == ""


def test_input_is_stored_as_sent(alice: httpx.Client) -> None:
    assert create_task(alice, input="  spaced\nout  ")["initial_prompt"] == "  spaced\nout  "


@pytest.mark.parametrize("user", ["alice", ALICE_ID, "ALICE"])
def test_admin_creates_for_another_user(admin: httpx.Client, user: str) -> None:
    task = create_task(admin, user=user)
    assert (task["owner_id"], task["owner_name"]) == (ALICE_ID, "alice")


def test_member_may_name_themselves(alice: httpx.Client) -> None:
    assert create_task(alice, user="alice")["owner_id"] == ALICE_ID


def test_created_task_settles_to_active(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice)
    fake.advance(SETTLE)
    assert alice.get(f"/api/v2/tasks/me/{task['id']}").json()["status"] == "active"


# names


def test_name_and_display_name_are_generated_from_the_input(alice: httpx.Client) -> None:
    task = create_task(alice, input="Fix the flaky test in CI")
    assert re.fullmatch(r"fix-the-flaky-test-in-ci-[0-9a-f]{4}", task["name"])
    assert task["display_name"] == "Fix the flaky test in CI"
    assert task["workspace_name"] == task["name"]


def test_long_inputs_are_cut_at_a_word(alice: httpx.Client) -> None:
    prompt = "please refactor the authentication module so that sessions survive a restart of the server"
    task = create_task(alice, input=prompt)
    assert re.fullmatch(r"please-refactor-the-[0-9a-f]{4}", task["name"])
    assert task["display_name"] == "Please refactor the authentication module so that sessions…"
    assert len(task["display_name"].encode()) <= 64


def test_an_empty_input_gets_a_random_name(alice: httpx.Client) -> None:
    task = create_task(alice, input="")
    assert re.fullmatch(r"[a-z]+-[a-z]+-[0-9a-f]{4}", task["name"])
    words = task["name"].split("-")[:2]
    assert task["display_name"] == " ".join(word.capitalize() for word in words)


def test_only_the_missing_one_is_generated(alice: httpx.Client) -> None:
    named = create_task(alice, name="given-name")
    assert (named["name"], named["display_name"]) == ("given-name", "Fix the flaky test")
    displayed = create_task(alice, display_name="  Given display  ")
    assert displayed["display_name"] == "Given display"
    assert displayed["name"].startswith("fix-the-flaky-test-")


def test_blank_display_name_is_generated(alice: httpx.Client) -> None:
    assert create_task(alice, display_name="   ")["display_name"] == "Fix the flaky test"


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("a" * 33, "must be <= 32 characters"),
        ("bad_name", "must be alphanumeric with hyphens"),
        ("-leading", "must be alphanumeric with hyphens"),
        ("trailing-", "must be alphanumeric with hyphens"),
        ("double--hyphen", "must be alphanumeric with hyphens"),
        ("with space", "must be alphanumeric with hyphens"),
        ("ünïcode", "must be alphanumeric with hyphens"),
        ("new", 'cannot use "new" as a name'),
        ("create", 'cannot use "create" as a name'),
    ],
)
def test_invalid_names(alice: httpx.Client, name: str, detail: str) -> None:
    response = post(alice, {"template_version_id": AI_VERSION_ID, "input": "x", "name": name})
    assert response.status_code == 400
    assert response.json() == {"message": BAD_NAME, "detail": detail}


@pytest.mark.parametrize("name", ["a" * 32, "A1-b2-C3", "New", "x"])
def test_valid_names(alice: httpx.Client, name: str) -> None:
    assert create_task(alice, name=name)["name"] == name


@pytest.mark.parametrize("display_name", ["x" * 65, "é" * 33, "  " + "y" * 65 + "  "])
def test_display_name_over_64_bytes(alice: httpx.Client, display_name: str) -> None:
    response = post(alice, {"template_version_id": AI_VERSION_ID, "input": "x", "display_name": display_name})
    assert response.status_code == 400
    assert response.json() == {"message": "Display name must be 64 characters or less."}


@pytest.mark.parametrize("display_name", ["x" * 64, "é" * 32, "  " + "y" * 64 + "  "])
def test_display_name_up_to_64_bytes(alice: httpx.Client, display_name: str) -> None:
    assert create_task(alice, display_name=display_name)["display_name"] == display_name.strip()


# conflicts and permissions


DUPLICATE = "This value is already in use and should be unique."


@pytest.mark.parametrize("name", ["fix-login-bug", "FIX-Login-Bug"])
def test_duplicate_name_is_409(alice: httpx.Client, name: str) -> None:
    response = post(alice, {"template_version_id": AI_VERSION_ID, "input": "x", "name": name})
    assert response.status_code == 409
    assert response.json() == {
        "message": f'Workspace "{name}" already exists.',
        "validations": [{"field": "name", "detail": DUPLICATE}],
    }


def test_names_are_unique_per_owner(bob: httpx.Client) -> None:
    assert create_task(bob, name="fix-login-bug")["owner_name"] == "bob"


def test_a_name_is_free_again_once_the_workspace_is_deleted(fake: FakeCoder, alice: httpx.Client) -> None:
    assert alice.delete("/api/v2/tasks/me/fix-login-bug").status_code == 202
    body = {"template_version_id": AI_VERSION_ID, "input": "x", "name": "fix-login-bug"}
    assert post(alice, body).status_code == 409  # the workspace is still being deleted
    fake.advance(SETTLE)
    assert post(alice, body).status_code == 201


@pytest.mark.parametrize("user", ["bob", BOB_ID])
def test_member_creating_for_another_user_is_403(alice: httpx.Client, user: str) -> None:
    response = post(alice, {"template_version_id": AI_VERSION_ID, "input": "x"}, user=user)
    assert response.status_code == 403
    assert response.json() == {"message": "Unauthorized to create workspace."}


@pytest.mark.parametrize("user", ["nobody", "00000000-0000-4000-8000-000000000000"])
def test_unknown_user(alice: httpx.Client, user: str) -> None:
    response = post(alice, {"template_version_id": AI_VERSION_ID, "input": "x"}, user=user)
    assert response.status_code == 400
    assert response.json() == {
        "message": '"user" must be an existing uuid or username.',
        "detail": f'queried user="{user}"',
    }


# template version


@pytest.mark.parametrize(
    "body",
    [
        {"input": "x"},
        {"template_version_id": "00000000-0000-0000-0000-000000000000", "input": "x"},
        {"template_version_id": "b3f1c1e0-1111-4222-8333-444455556666", "input": "x"},
    ],
    ids=["missing", "zero", "unknown"],
)
def test_template_version_not_found(alice: httpx.Client, body: dict[str, Any]) -> None:
    response = post(alice, body)
    assert response.status_code == 400
    assert response.json() == VERSION_NOT_FOUND


def test_template_version_of_another_organization(extra_fake: FakeCoder) -> None:
    body = {"template_version_id": ACME_VERSION_ID, "input": "x"}
    with extra_fake.client("alice") as alice:
        response = post(alice, body)
    assert response.status_code == 400
    assert response.json() == VERSION_NOT_FOUND
    with extra_fake.client("admin") as admin:  # owners see every organization
        assert post(admin, body).status_code == 201


@pytest.mark.parametrize("version_id", ["not-a-uuid", "", 42])
def test_template_version_that_is_not_a_uuid(alice: httpx.Client, version_id: object) -> None:
    response = post(alice, {"template_version_id": version_id, "input": "x"})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Request body must be valid JSON."
    assert body["detail"]
    assert [v["field"] for v in body["validations"]] == ["template_version_id"]


@pytest.mark.parametrize("version_id", [PLAIN_VERSION_ID, NULL_AI_TASK_ID])
def test_template_without_an_ai_task(extra_fake: FakeCoder, version_id: str) -> None:
    with extra_fake.client("alice") as alice:
        response = post(alice, {"template_version_id": version_id, "input": "x"})
    assert response.status_code == 400
    assert response.json() == {"message": 'Template does not have a valid "coder_ai_task" resource.'}


@pytest.mark.parametrize(
    ("version_id", "status", "message"),
    [
        (
            DEPRECATED_VERSION_ID,
            400,
            'Template "retired" has been deprecated, and cannot be used to create a new workspace.',
        ),
        (ARCHIVED_VERSION_ID, 500, "Archived template versions cannot be used to make a workspace."),
        (PENDING_IMPORT_ID, 406, "The provided template version is pending. Wait for it to complete importing!"),
        (RUNNING_IMPORT_ID, 406, "The provided template version is running. Wait for it to complete importing!"),
        (
            FAILED_IMPORT_ID,
            400,
            'The provided template version "v4" has failed to import: "". You cannot build workspaces with it!',
        ),
    ],
    ids=["deprecated", "archived", "import-pending", "import-running", "import-failed"],
)
def test_template_versions_that_cannot_be_built(
    extra_fake: FakeCoder, version_id: str, status: int, message: str
) -> None:
    with extra_fake.client("alice") as alice:
        response = post(alice, {"template_version_id": version_id, "input": "x"})
        assert alice.get("/api/v2/tasks").json()["count"] == 3  # nothing was created
    assert response.status_code == status
    assert response.json() == {"message": message}


# presets


def test_preset_is_used_for_the_builds(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice, template_version_preset_id=PRESET_ID)
    fake.advance(SETTLE)
    pause = alice.post(f"/api/v2/tasks/me/{task['id']}/pause")
    assert pause.status_code == 202
    assert pause.json()["workspace_build"]["template_version_preset_id"] == PRESET_ID


def test_no_preset(fake: FakeCoder, alice: httpx.Client) -> None:
    task = create_task(alice)
    fake.advance(SETTLE)
    pause = alice.post(f"/api/v2/tasks/me/{task['id']}/pause")
    assert pause.json()["workspace_build"]["template_version_preset_id"] is None


def test_preset_of_another_version(alice: httpx.Client) -> None:
    wrong = "b3f1c1e0-1111-4222-8333-444455556666"
    response = post(alice, {"template_version_id": AI_VERSION_ID, "input": "x", "template_version_preset_id": wrong})
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid template version preset.",
        "detail": f"Preset {wrong} does not belong to this version.",
    }


def test_the_name_conflict_is_found_before_the_preset(alice: httpx.Client) -> None:
    wrong = "b3f1c1e0-1111-4222-8333-444455556666"
    body = {"template_version_id": AI_VERSION_ID, "name": "fix-login-bug", "template_version_preset_id": wrong}
    assert post(alice, body).status_code == 409


# malformed bodies


@pytest.mark.parametrize("content", [b"{", b"", b"not json", b'{"template_version_id": }'])
def test_malformed_json(alice: httpx.Client, content: bytes) -> None:
    response = alice.post("/api/v2/tasks/me", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Request body must be valid JSON."
    assert body["detail"]
    assert "validations" not in body


@pytest.mark.parametrize("field", ["name", "display_name", "input", "template_version_preset_id"])
def test_wrongly_typed_fields_are_decode_errors(alice: httpx.Client, field: str) -> None:
    response = post(alice, {"template_version_id": AI_VERSION_ID, field: 5})
    assert response.status_code == 400
    assert response.json()["message"] == "Request body must be valid JSON."


def test_a_body_that_is_not_an_object(alice: httpx.Client) -> None:
    response = post(alice, [AI_VERSION_ID])
    assert response.status_code == 400
    assert response.json()["message"] == "Request body must be valid JSON."
