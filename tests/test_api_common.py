"""What every endpoint shares (§1): auth, both route trees, routing errors, the envelope, and the spec
that drives it all (its validity, handler binding and response validation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import ACTIVE_ID, AI_VERSION_ID, ERROR_ID, JSON_TYPE, PAUSED_ID, PENDING_ID, UNKNOWN_ID
from openapi_spec_validator import validate

from fakeserver.app import API_SPEC, CONTROL_SPEC, bound_operations
from fakeserver.fake import FakeCoder
from fakeserver.fixtures import default_fixture_path
from fakeserver.handlers import API_HANDLERS
from fakeserver.routing import Call, Reply, check_bindings
from fakeserver.spec import SpecError, load_spec, spec_path
from fakeserver.validation import ResponseValidationError

REAL_GET_TASK = API_HANDLERS["getTask"]
SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."
SPEC_FILES = sorted((Path(__file__).parent.parent / "openapi").glob("*.yaml"))

# One request of each operation, as alice: (method, path under the tree, JSON body)
REQUESTS = [
    ("GET", "/tasks", None),
    ("GET", "/tasks?q=status:active", None),
    ("GET", "/tasks?q=owner:nobody", None),
    ("POST", "/tasks/me", {"template_version_id": AI_VERSION_ID, "input": "Write a changelog"}),
    ("POST", "/tasks/me", {"template_version_id": AI_VERSION_ID, "name": "new"}),
    ("GET", f"/tasks/me/{ACTIVE_ID}", None),
    ("GET", "/tasks/alice/write-docs", None),
    ("GET", "/tasks/nobody/write-docs", None),
    ("PATCH", f"/tasks/me/{PAUSED_ID}/input", {"input": "Write shorter docs."}),
    ("PATCH", f"/tasks/me/{ACTIVE_ID}/input", {"input": "Write shorter docs."}),
    ("POST", f"/tasks/me/{ACTIVE_ID}/send", {"input": "Thanks!"}),
    ("POST", f"/tasks/me/{ERROR_ID}/send", {"input": "Thanks!"}),
    ("GET", f"/tasks/me/{ACTIVE_ID}/logs", None),
    ("GET", f"/tasks/me/{PAUSED_ID}/logs", None),
    ("GET", f"/tasks/me/{ERROR_ID}/logs", None),
    ("POST", f"/tasks/me/{ACTIVE_ID}/pause", None),
    ("POST", f"/tasks/me/{PAUSED_ID}/resume", None),
    ("POST", f"/tasks/me/{ACTIVE_ID}/resume", None),
    ("DELETE", f"/tasks/me/{ERROR_ID}", None),
    ("DELETE", f"/tasks/me/{PENDING_ID}", None),
]


# authentication


def test_missing_token_is_401(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/v2/tasks")
    assert response.status_code == 401
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json() == {
        "message": SIGNED_OUT,
        "detail": 'Cookie "coder_session_token" or query parameter must be provided.',
    }


@pytest.mark.parametrize("token", ["nope", "alice-token ", "ALICE-TOKEN"])
def test_unknown_token_is_401(anonymous: httpx.Client, token: str) -> None:
    response = anonymous.get("/api/v2/tasks", headers={"Coder-Session-Token": token})
    assert response.status_code == 401
    assert response.json() == {"message": SIGNED_OUT, "detail": "API key is invalid."}


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_every_operation_needs_a_token(anonymous: httpx.Client, method: str, path: str, body: Any) -> None:
    response = anonymous.request(method, "/api/v2" + path, json=body)
    assert response.status_code == 401
    assert response.json()["message"] == SIGNED_OUT


def test_cookie_token_is_accepted(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/v2/tasks", headers={"Cookie": "coder_session_token=alice-token"})
    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_query_parameter_token_is_accepted(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/v2/tasks", params={"coder_session_token": "bob-token"})
    assert response.status_code == 200
    assert {task["owner_name"] for task in response.json()["tasks"]} == {"bob"}


def test_header_token_wins_over_the_cookie(anonymous: httpx.Client) -> None:
    headers = {"Coder-Session-Token": "alice-token", "Cookie": "coder_session_token=bob-token"}
    tasks = anonymous.get("/api/v2/tasks", headers=headers).json()["tasks"]
    assert {task["owner_name"] for task in tasks} == {"alice"}


def test_suspended_user_is_401(tmp_path: Path) -> None:
    path = tmp_path / "suspended.yaml"
    path.write_text("users:\n  - username: sam\n    status: suspended\n    tokens: [sam-token]\n")
    with FakeCoder([default_fixture_path(), path]).client("sam") as sam:
        response = sam.get("/api/v2/tasks")
    assert response.status_code == 401
    assert response.json() == {
        "message": 'User is not active (status = "suspended"). Contact an admin to reactivate your account.'
    }


# the two route trees


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_both_trees_answer_the_same(method: str, path: str, body: Any) -> None:
    answers = []
    for tree in ("/api/v2", "/api/experimental"):
        with FakeCoder().client("alice") as alice:  # a fresh world each: some requests change it
            response = alice.request(method, tree + path, json=body)
        answers.append((response.status_code, response.headers.get("content-type"), response.content))
    assert answers[0] == answers[1]


def test_the_experimental_tree_shares_the_world(alice: httpx.Client) -> None:
    created = alice.post("/api/experimental/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "x"})
    assert created.status_code == 201
    assert alice.get(f"/api/v2/tasks/me/{created.json()['id']}").json() == created.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/workspaceagents/me/tasks/{PAUSED_ID}/log-snapshot?format=agentapi"),
        ("PATCH", "/workspaceagents/me/app-status"),
    ],
)
def test_agent_routes_exist_only_under_v2(fake: FakeCoder, method: str, path: str) -> None:
    with fake.client() as client:
        experimental = client.request(method, "/api/experimental" + path, json={"messages": []})
        v2 = client.request(method, "/api/v2" + path, json={"messages": []})
    assert experimental.status_code == 404
    assert experimental.json() == {"message": "Route not found."}
    assert v2.status_code == 401  # it exists: it wants an agent token


# routing errors


@pytest.mark.parametrize(
    "path",
    ["/api/v2/nothing", "/api/v2/tasks/me/x/y/z", "/api/v3/tasks", "/", "/api/v2/tasks/me/x/unpause", "/api/v2"],
)
def test_unknown_route_is_404(alice: httpx.Client, path: str) -> None:
    response = alice.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == JSON_TYPE
    assert response.text == '{"message":"Route not found."}\n'


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v2/tasks", "GET, HEAD"),
        ("DELETE", "/api/v2/tasks/me", "POST"),
        ("PATCH", f"/api/v2/tasks/me/{ACTIVE_ID}", "DELETE, GET, HEAD"),
        ("GET", f"/api/v2/tasks/me/{ACTIVE_ID}/send", "POST"),
        ("POST", f"/api/experimental/tasks/me/{ACTIVE_ID}/logs", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_with_allow(alice: httpx.Client, method: str, path: str, allow: str) -> None:
    response = alice.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/__fake__/dashboard/no-such-file.js", 404),
        ("GET", "/__fake__/no-such-action", 404),
        ("POST", "/__fake__/", 405),
        ("DELETE", "/__fake__/dashboard/app.js", 405),
    ],
)
def test_dashboard_errors_are_in_coders_envelope_too(fake: FakeCoder, method: str, path: str, status: int) -> None:
    """The dashboard's own routes (a page and static files) answer their errors as the API does."""
    with fake.client() as client:
        response = client.request(method, path, json={})
    assert response.status_code == status
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json()["message"] == ("Method not allowed." if status == 405 else "Route not found.")
    if status == 405:  # as the API's 405, in one order (Starlette's own comes in a set's order)
        assert response.headers["allow"] == "GET, HEAD"


# the envelope and content type


@pytest.mark.parametrize("user", ["alice", "bob", "admin"])
def test_every_json_answer_is_utf8_json_and_errors_carry_no_empty_fields(user: str) -> None:
    fake = FakeCoder()
    answers = []
    with fake.client(user) as client:
        for method, path, body in REQUESTS:
            answers.append(client.request(method, "/api/v2" + path, json=body))
        fake.advance(30)
        for method, path, body in REQUESTS:
            answers.append(client.request(method, "/api/v2" + path.replace("/me/", "/alice/"), json=body))
        answers.append(client.post("/api/v2/tasks/me", content=b"{"))
        answers.append(client.get(f"/api/v2/tasks/me/{UNKNOWN_ID}/logs"))
    errors = 0
    for response in answers:
        if not response.content:
            assert response.status_code in (202, 204)
            continue
        assert response.headers["content-type"] == JSON_TYPE
        if response.status_code >= 400:
            errors += 1
            assert_envelope(response.json())
    assert errors >= 10


def assert_envelope(body: dict[str, Any]) -> None:
    assert set(body) <= {"message", "detail", "validations"}
    assert isinstance(body["message"], str)
    assert body["message"]
    if "detail" in body:
        assert body["detail"]
    if "validations" in body:
        assert body["validations"]
        for validation in body["validations"]:
            assert set(validation) == {"field", "detail"}
            assert validation["field"]
            assert validation["detail"]


def test_non_ascii_is_sent_as_utf8(alice: httpx.Client) -> None:
    response = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Réparer ünïcode ✓"})
    assert response.headers["content-type"] == JSON_TYPE
    assert "Réparer ünïcode ✓".encode() in response.content
    assert response.json()["display_name"] == "Réparer ünïcode ✓"


# the spec


@pytest.mark.parametrize("path", SPEC_FILES, ids=[path.name for path in SPEC_FILES])
def test_spec_is_valid_openapi(path: Path) -> None:
    validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_both_specs_are_checked() -> None:
    assert {API_SPEC, CONTROL_SPEC} <= {path.name for path in SPEC_FILES}


def test_the_packaged_spec_is_the_checked_out_one() -> None:
    packaged = spec_path(API_SPEC).read_text(encoding="utf-8")
    assert packaged == (Path(__file__).parent.parent / "openapi" / API_SPEC).read_text(encoding="utf-8")


def test_a_missing_handler_stops_start_up() -> None:
    handlers = {name: handler for name, handler in API_HANDLERS.items() if name != "getTask"}
    with pytest.raises(SpecError, match=r"^operations without a handler: getTask$"):
        check_bindings(load_spec(spec_path(API_SPEC)), handlers)
    with pytest.raises(SpecError, match="getTask"):
        bound_operations(API_SPEC, handlers)


def test_an_extra_handler_stops_start_up() -> None:
    handlers = {**API_HANDLERS, "frobnicateTask": API_HANDLERS["getTask"]}
    with pytest.raises(SpecError, match=r"^handlers naming no operation: frobnicateTask$"):
        check_bindings(load_spec(spec_path(API_SPEC)), handlers)


def test_both_problems_are_reported_together() -> None:
    handlers = {name: h for name, h in API_HANDLERS.items() if name not in ("pauseTask", "resumeTask")}
    handlers["pauseTasks"] = API_HANDLERS["pauseTask"]
    with pytest.raises(SpecError) as raised:
        check_bindings(load_spec(spec_path(API_SPEC)), handlers)
    assert str(raised.value) == (
        "operations without a handler: pauseTask, resumeTask; handlers naming no operation: pauseTasks"
    )


def test_the_real_handlers_bind() -> None:
    operations = bound_operations(API_SPEC, API_HANDLERS)
    assert set(operations) == set(API_HANDLERS)
    assert len(operations) == 27


def test_a_missing_handler_stops_the_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(API_HANDLERS, "sendTaskInput")
    with pytest.raises(SpecError, match="sendTaskInput"):
        FakeCoder()


# response validation


def bad_task(call: Call) -> Reply:
    """The real answer with one field broken."""
    reply = REAL_GET_TASK(call)
    return Reply(reply.status, {**reply.body.value, "status": "sleeping"})  # a task's cached Wire


def teapot(call: Call) -> Reply:
    return Reply(418, {"message": "I'm a teapot."})


def extra_field(call: Call) -> Reply:
    return Reply(404, {"message": "Not found.", "hint": "not in codersdk.Response"})


@pytest.mark.parametrize(
    ("handler", "status", "reason"),
    [
        (bad_task, 200, '"sleeping" is not one of'),
        (teapot, 418, "status is not declared"),
        (extra_field, 404, "'hint'"),
    ],
)
def test_a_response_that_breaks_the_spec_raises(
    monkeypatch: pytest.MonkeyPatch, handler: Any, status: int, reason: str
) -> None:
    monkeypatch.setitem(API_HANDLERS, "getTask", handler)
    with FakeCoder().client("alice") as alice, pytest.raises(ResponseValidationError) as raised:
        alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}")
    error = raised.value
    assert (error.operation_id, error.status) == ("getTask", status)
    assert str(error).startswith(f"getTask answered {status}, which breaks the spec")
    assert reason in str(error)


def test_a_body_where_none_is_declared_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(API_HANDLERS, "deleteTask", lambda call: Reply(202, {"message": "Deleted."}))
    with FakeCoder().client("alice") as alice, pytest.raises(ResponseValidationError) as raised:
        alice.delete(f"/api/v2/tasks/me/{ACTIVE_ID}")
    assert (raised.value.operation_id, raised.value.status) == ("deleteTask", 202)


def test_an_answer_without_a_body_keeps_its_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(API_HANDLERS, "deleteTask", lambda call: Reply(202, None, {"X-Deleted-By": "fake"}))
    with FakeCoder().client("alice") as alice:
        response = alice.delete(f"/api/v2/tasks/me/{ACTIVE_ID}")
    assert response.status_code == 202
    assert response.headers["x-deleted-by"] == "fake"


def test_validate_responses_false_turns_the_check_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(API_HANDLERS, "getTask", bad_task)
    with FakeCoder(validate_responses=False).client("alice") as alice:
        response = alice.get(f"/api/v2/tasks/me/{ACTIVE_ID}")
    assert response.status_code == 200
    assert response.json()["status"] == "sleeping"


def test_the_real_handlers_pass_response_validation_through_a_whole_story(fake: FakeCoder) -> None:
    with fake.client("alice") as alice:
        created = alice.post("/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID, "input": "Go"}).json()
        for _ in range(40):
            fake.advance(0.25)
            for method, suffix in (("GET", ""), ("GET", "/logs")):
                alice.request(method, f"/api/v2/tasks/me/{created['id']}{suffix}")
        assert alice.post(f"/api/v2/tasks/me/{created['id']}/pause").status_code == 202
        for _ in range(20):
            fake.advance(0.25)
            alice.get(f"/api/v2/tasks/me/{created['id']}")
            alice.get(f"/api/v2/tasks/me/{created['id']}/logs")
        assert alice.post(f"/api/v2/tasks/me/{created['id']}/resume").status_code == 202
        assert alice.delete(f"/api/v2/tasks/me/{created['id']}").status_code == 409


def test_every_schema_of_the_spec_compiles() -> None:
    """Validators are compiled when an operation is first called: a schema that cannot compile
    must still be caught here, not by the first client that calls it."""
    from fakeserver.validation import compile_schema

    spec = load_spec(spec_path(API_SPEC))
    components = spec.document["components"]
    schemas = [
        *(schema for op in spec.operations for schema in op.responses.values() if schema is not None),
        *(parameter.schema for op in spec.operations for parameter in op.parameters),
        *(op.request_body.schema for op in spec.operations if op.request_body is not None),
    ]
    assert len(schemas) > 100
    for schema in schemas:
        compile_schema(schema, components)
