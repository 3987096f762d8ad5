"""GET /api/v2/tasks: the `q` filter, its 400s, ordering, count and who sees what."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import ALICE_ID, BOB_ID, ORG_ID, SETTLE, create_task

from fakeserver.fake import FakeCoder

ALICE_TASKS = ["broken-build", "write-docs", "fix-login-bug"]  # newest first
BOB_TASKS = ["lost-agent", "refactor-api", "add-dark-mode"]
ALL_TASKS = BOB_TASKS + ALICE_TASKS


def names(client: httpx.Client, q: str | None = None) -> list[str]:
    body = listing(client, q)
    return [task["name"] for task in body["tasks"]]


def listing(client: httpx.Client, q: str | None = None) -> dict[str, Any]:
    response = client.get("/api/v2/tasks", params={"q": q} if q is not None else None)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["count"] == len(body["tasks"])
    return body


def query_error(client: httpx.Client, q: str) -> list[dict[str, str]]:
    response = client.get("/api/v2/tasks", params={"q": q})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"] == "Invalid task search query."
    assert "detail" not in body
    validations: list[dict[str, str]] = body["validations"]
    return validations


# who sees what


def test_admin_sees_every_task_newest_first(admin: httpx.Client) -> None:
    body = listing(admin)
    assert [t["name"] for t in body["tasks"]] == ALL_TASKS
    assert body["count"] == 6
    created = [t["created_at"] for t in body["tasks"]]
    assert created == sorted(created, reverse=True)


def test_members_see_only_their_own_tasks(alice: httpx.Client, bob: httpx.Client) -> None:
    assert names(alice) == ALICE_TASKS
    assert names(bob) == BOB_TASKS


def test_a_member_filtering_by_another_owner_gets_an_empty_list(alice: httpx.Client) -> None:
    response = alice.get("/api/v2/tasks", params={"q": "owner:bob"})
    assert response.status_code == 200
    assert response.json() == {"tasks": [], "count": 0}


def test_empty_result_is_an_empty_array_not_null(tmp_path: Any) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("users:\n  - username: carol\n    tokens: [carol-token]\n")
    with FakeCoder([path]).client("carol") as carol:
        response = carol.get("/api/v2/tasks")
    assert response.status_code == 200
    assert response.text == '{"tasks":[],"count":0}\n'


def test_a_new_task_comes_first(fake: FakeCoder, alice: httpx.Client) -> None:
    fake.advance(60)
    created = create_task(alice, name="newest")
    body = listing(alice)
    assert [t["name"] for t in body["tasks"]] == ["newest", *ALICE_TASKS]
    assert body["tasks"][0] == created


def test_list_entries_are_the_same_as_get(alice: httpx.Client) -> None:
    for task in listing(alice)["tasks"]:
        assert alice.get(f"/api/v2/tasks/me/{task['id']}").json() == task


def test_deleted_tasks_are_not_listed(alice: httpx.Client) -> None:
    assert alice.delete("/api/v2/tasks/me/write-docs").status_code == 202
    assert names(alice) == ["broken-build", "fix-login-bug"]


# owner


@pytest.mark.parametrize(
    "q",
    ["owner:bob", "owner:BOB", "bob", "BOB", f"owner:{BOB_ID}", f"owner:{BOB_ID.upper()}", 'owner:"bob"'],
)
def test_owner_by_username_or_uuid(admin: httpx.Client, q: str) -> None:
    assert names(admin, q) == BOB_TASKS


def test_owner_me_is_the_caller(admin: httpx.Client, alice: httpx.Client) -> None:
    assert names(admin, "owner:me") == []
    assert names(alice, "owner:me") == ALICE_TASKS


def test_owner_uuid_is_taken_as_is(admin: httpx.Client) -> None:
    assert names(admin, "owner:00000000-0000-4000-8000-000000000000") == []


@pytest.mark.parametrize("q", ["", "   ", 'owner:""', 'status:""'])
def test_an_empty_query_or_value_means_no_filter(admin: httpx.Client, q: str) -> None:
    assert names(admin, q) == ALL_TASKS


def test_no_query_at_all_means_no_filter(admin: httpx.Client) -> None:
    assert names(admin) == ALL_TASKS


def test_unknown_owner_is_a_validation_error(admin: httpx.Client) -> None:
    assert query_error(admin, "owner:zed") == [
        {
            "field": "owner",
            "detail": 'Query param "owner" has invalid value: user "zed" either does not exist, '
            "or you are unauthorized to view them",
        }
    ]


def test_bare_words_are_joined_into_one_owner(admin: httpx.Client) -> None:
    assert query_error(admin, "alice bob") == [
        {
            "field": "owner",
            "detail": 'Query param "owner" has invalid value: user "alice bob" either does not exist, '
            "or you are unauthorized to view them",
        }
    ]


def test_repeated_keys_use_the_first_value(admin: httpx.Client) -> None:
    assert names(admin, "owner:alice owner:bob") == ALICE_TASKS


# organization


@pytest.mark.parametrize("q", ["organization:coder", "organization:CODER", f"organization:{ORG_ID}"])
def test_organization_by_name_or_uuid(admin: httpx.Client, q: str) -> None:
    assert names(admin, q) == ALL_TASKS


def test_organization_uuid_is_taken_as_is(admin: httpx.Client) -> None:
    assert names(admin, "organization:00000000-0000-4000-8000-000000000000") == []


def test_unknown_organization_is_a_validation_error(admin: httpx.Client) -> None:
    assert query_error(admin, "organization:acme") == [
        {
            "field": "organization",
            "detail": 'Query param "organization" has invalid value: organization "acme" either does not exist, '
            "or you are unauthorized to view it",
        }
    ]


# status


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", ["fix-login-bug"]),
        ("paused", ["write-docs"]),
        ("error", ["broken-build"]),
        ("pending", ["add-dark-mode"]),
        ("initializing", ["refactor-api"]),
        ("unknown", ["lost-agent"]),
        ("ACTIVE", ["fix-login-bug"]),
    ],
)
def test_status_filter(admin: httpx.Client, status: str, expected: list[str]) -> None:
    assert names(admin, f"status:{status}") == expected


def test_filters_combine(admin: httpx.Client) -> None:
    assert names(admin, "owner:alice status:paused") == ["write-docs"]
    assert names(admin, "owner:bob status:paused") == []
    assert names(admin, f"owner:{ALICE_ID} organization:coder status:active") == ["fix-login-bug"]


def test_status_follows_the_clock(fake: FakeCoder, admin: httpx.Client) -> None:
    create_task(admin, name="moves-on")
    assert set(names(admin, "status:pending")) == {"add-dark-mode", "moves-on"}
    fake.advance(30)
    assert names(admin, "status:pending") == ["add-dark-mode"]  # the built-in world holds it until someone acts
    assert "moves-on" in names(admin, "status:active")


def test_a_held_fixture_task_moves_once_someone_acts(fake: FakeCoder, admin: httpx.Client) -> None:
    fake.advance(30)
    assert names(admin, "status:initializing") == ["refactor-api"]
    fake.set_job("bob/add-dark-mode", "running")  # acting on it releases it
    fake.advance(30)
    assert "add-dark-mode" in names(admin, "status:active")
    assert names(admin, "status:initializing") == ["refactor-api"]


def test_invalid_status_is_our_deliberate_400(admin: httpx.Client) -> None:
    # The real server passes it to SQL and answers 500 (semantics §4.1); a 400 says what is wrong.
    assert query_error(admin, "status:running") == [
        {
            "field": "status",
            "detail": 'Query param "status" has invalid value: "running" is not a valid task status. '
            "Valid values: pending, initializing, active, paused, error, unknown",
        }
    ]


# syntax


@pytest.mark.parametrize(
    ("q", "detail"),
    [
        ("owner:", "Query element \"owner:\" cannot start or end with ':'"),
        (":alice", "Query element \":alice\" cannot start or end with ':'"),
        ("a:b:c", "Query element \"a:b:c\" can only contain 1 ':'"),
        ("OWNER:A:B", "Query element \"owner:a:b\" can only contain 1 ':'"),
    ],
)
def test_syntax_errors(admin: httpx.Client, q: str, detail: str) -> None:
    assert query_error(admin, q) == [{"field": "q", "detail": detail}]


def test_unknown_key(admin: httpx.Client) -> None:
    assert query_error(admin, "template:claude-code") == [
        {"field": "template", "detail": 'Query param "template" is not a valid query param'}
    ]


def test_every_problem_is_reported_at_once(admin: httpx.Client) -> None:
    assert [v["field"] for v in query_error(admin, "owner:zed status:nope foo:bar")] == ["owner", "status", "foo"]


def test_a_repeated_q_parameter_uses_the_first(admin: httpx.Client) -> None:
    response = admin.get("/api/v2/tasks?q=owner:alice&q=owner:bob")
    assert [task["name"] for task in response.json()["tasks"]] == ALICE_TASKS


# A list is assembled from each task's cached wire form (fakeserver/wire.py).


def test_a_list_is_the_same_bytes_as_encoding_it_afresh(admin: httpx.Client, fake: FakeCoder) -> None:
    fake.report_status("alice/fix-login-bug", "working", 'Quotes " \\ <tags> & ünïcode ✓ \u2028')
    response = admin.get("/api/v2/tasks")
    body = response.json()
    fresh = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    go_escaped = fresh.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    assert response.content == go_escaped.replace("\u2028", "\\u2028").encode() + b"\n"
    assert b"\\u003ctags\\u003e \\u0026 \xc3\xbcn\xc3\xafcode \xe2\x9c\x93 \\u2028" in response.content
    for task in body["tasks"]:
        one = admin.get(f"/api/v2/tasks/{task['owner_name']}/{task['id']}")
        assert one.json() == task
        assert one.content.rstrip(b"\n") in response.content  # the very fragment the list joins


def test_a_bad_task_in_a_list_still_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakeserver import serialize
    from fakeserver.validation import ResponseValidationError

    fresh = serialize._task_json

    def broken(world: Any, task: Any) -> dict[str, Any]:
        body = fresh(world, task)
        return {**body, "status": "sleeping"} if task.name == "write-docs" else body

    fake = FakeCoder()  # its tasks come encoded (pristine.py): the task is changed to be encoded again
    monkeypatch.setattr(serialize, "_task_json", broken)
    fake.report_status("alice/write-docs", "working", "Drafting")
    with fake.client("alice") as alice, pytest.raises(ResponseValidationError) as raised:
        alice.get("/api/v2/tasks")
    assert raised.value.location == "#/components/schemas/Task"
    assert "(at tasks/1/status)" in raised.value.reason


def test_a_changed_task_is_encoded_and_checked_again(alice: httpx.Client, fake: FakeCoder) -> None:
    before = listing(alice)["tasks"]
    fake.report_status("alice/fix-login-bug", "idle", "Done for now")
    after = {task["name"]: task for task in listing(alice)["tasks"]}
    assert after["fix-login-bug"]["current_state"]["message"] == "Done for now"
    assert [task["name"] for task in before] == list(after)


def test_a_long_list_is_sent_in_parts_with_the_same_bytes(fake: FakeCoder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A list past `SENT_IN_PARTS_BYTES` goes out a chunk at a time (a 100,000-task list is 95 MB): its
    bytes, length and journal entry are those of the list sent whole."""
    from fakeserver import responses
    from fakeserver.server import FakeServer

    with fake.client("admin") as admin:
        whole = admin.get("/api/v2/tasks")
    monkeypatch.setattr(responses, "SENT_IN_PARTS_BYTES", 1500)  # this world's list is ~6 KB: several chunks
    with FakeServer(fake) as server, httpx.Client(base_url=server.url, headers=admin.headers) as served:
        parted = served.get("/api/v2/tasks")
    with fake.client("admin") as admin:
        in_process = admin.get("/api/v2/tasks")
    assert len(whole.content) > 3 * 1500
    for answer in (parted, in_process):
        assert answer.status_code == 200
        assert answer.content == whole.content
        assert answer.headers["content-length"] == str(len(whole.content))
        assert answer.headers["content-type"] == whole.headers["content-type"]
    recorded = fake.requests("listTasks")
    assert [entry.response_bytes for entry in recorded] == [whole.content] * 3


def test_a_list_answered_again_shows_every_change_since(
    fake: FakeCoder, alice: httpx.Client, admin: httpx.Client
) -> None:
    """Lists are kept until something changes (world.listing_cache): each kind of change shows."""

    def statuses(client: httpx.Client, q: str | None = None) -> dict[str, str]:
        return {task["name"]: task["status"] for task in listing(client, q)["tasks"]}

    before = statuses(admin)
    assert statuses(admin) == before and statuses(alice, "status:active") == {"fix-login-bug": "active"}
    created = create_task(alice, name="kept-list")  # a new task
    assert statuses(admin)["kept-list"] == "pending" and "kept-list" in statuses(alice)
    fake.advance(SETTLE)  # steps that fall due as the clock moves
    assert statuses(admin)["kept-list"] == "active"
    assert alice.post("/api/v2/tasks/me/fix-login-bug/pause").status_code == 202  # a build
    assert "fix-login-bug" not in statuses(alice, "status:active")
    assert alice.delete(f"/api/v2/tasks/me/{created['id']}").status_code == 202  # a deletion
    assert "kept-list" not in statuses(admin)
