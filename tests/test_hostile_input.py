"""Hostile input is normal input: whatever a client or a fixture sends gets a 4xx with a clear
message, and nothing it sends breaks the fake for the next request.

Each case checks the answer, then that the world still serves everyone (`still_serves`).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from conftest import ACTIVE_ID, AI_VERSION_ID, JSON_TYPE
from hypothesis import given, settings
from hypothesis import strategies as st

from fakeserver import safejson
from fakeserver.fake import FakeCoder
from fakeserver.fixtures import FixtureError

CREATE = "/api/v2/tasks/me"


def still_serves(fake: FakeCoder) -> None:
    """Every reader of the world answers, and a reset, export → load → export round trip works."""
    with fake.client("alice") as alice, fake.control_client() as control:
        assert alice.get("/api/v2/tasks").status_code == 200
        assert control.get("/__fake__/state").status_code == 200
        assert control.get("/__fake__/state", params={"format": "yaml"}).status_code == 200
        assert control.get("/__fake__/requests").status_code == 200
        exported = fake.export_yaml()
        fake.load_text(exported)
        assert fake.export_yaml() == exported
        assert control.post("/__fake__/reset").status_code == 200


def create_body(extra: bytes = b"", input_text: bytes = b'"Fix it"') -> bytes:
    return b'{"template_version_id":"%s","input":%s%s}' % (AI_VERSION_ID.encode(), input_text, extra)


# Request bodies.


def test_invalid_utf8_in_a_string_becomes_the_replacement_character_as_in_go(
    fake: FakeCoder, alice: httpx.Client
) -> None:
    response = alice.post(CREATE, content=create_body(input_text=b'"Fix \xed\xa0\x80 it"'))
    assert response.status_code == 201, response.text
    assert response.json()["initial_prompt"] == "Fix \ufffd\ufffd\ufffd it"
    still_serves(fake)


def test_an_escaped_lone_surrogate_becomes_the_replacement_character(fake: FakeCoder, alice: httpx.Client) -> None:
    response = alice.post(CREATE, content=create_body(input_text=b'"Fix \\ud800 it"'))
    assert response.status_code == 201, response.text
    assert response.json()["initial_prompt"] == "Fix \ufffd it"
    still_serves(fake)


@pytest.mark.parametrize("depth", [65, 300, 5_000, 100_000])
def test_a_deeply_nested_body_is_refused(fake: FakeCoder, alice: httpx.Client, depth: int) -> None:
    response = alice.post(CREATE, content=create_body(b',"extra":' + b"[" * depth + b"]" * depth))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == JSON_TYPE
    assert response.json()["message"] == "Request body must be valid JSON."
    assert "nested deeper than 64 levels" in response.json()["detail"]
    still_serves(fake)


def test_an_unclosed_deep_root_is_refused(fake: FakeCoder, alice: httpx.Client) -> None:
    assert alice.post(CREATE, content=b"[" * 100_000).status_code == 400
    still_serves(fake)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (b"9" * 5_000, "out of range"),
        (b"9" * 30, "overflows a 64-bit integer"),
        (b"-" + b"9" * 20, "overflows a 64-bit integer"),
        (b"1e400", "out of range"),
        (b"NaN", "no NaN or Infinity"),
        (b"-Infinity", "no NaN or Infinity"),
    ],
)
def test_numbers_go_cannot_hold_are_refused(fake: FakeCoder, alice: httpx.Client, number: bytes, reason: str) -> None:
    response = alice.post(CREATE, content=create_body(b',"n":' + number))
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    still_serves(fake)


def test_control_plane_numbers_are_bounded(fake: FakeCoder, control: httpx.Client) -> None:
    seed = control.post("/__fake__/faults", content=b'{"operation_id":"listTasks","status":500,"seed":%s}' % b"9" * 40)
    assert seed.status_code == 400, seed.text
    for seconds in (b"1e400", b"NaN", b"1e15"):
        assert control.post("/__fake__/clock/advance", content=b'{"seconds":%s}' % seconds).status_code == 400
    still_serves(fake)


def test_the_journal_reads_back_whatever_was_sent(fake: FakeCoder, alice: httpx.Client) -> None:
    """Poisonous bodies are journaled as sent; listing the journal still works."""
    alice.post(CREATE, content=b"[" * 5_000)
    alice.post(CREATE, content=b'{"input":"\\ud800"}')
    alice.post(CREATE, content=b'{"input":"\xff\xfe"}')
    with fake.control_client() as control:
        listed = control.get("/__fake__/requests")
    assert listed.status_code == 200, listed.text
    bodies = [entry["body"] for entry in listed.json()["requests"]]
    assert bodies[0] == "[" * 5_000  # not JSON the fake accepts: kept as text
    assert bodies[1] == {"input": "\ufffd"}
    assert bodies[2] == {"input": "\ufffd\ufffd"}
    still_serves(fake)


def test_a_body_is_not_read_for_a_caller_who_is_refused(fake: FakeCoder, anonymous: httpx.Client) -> None:
    response = anonymous.post(CREATE, content=create_body())
    assert response.status_code == 401
    assert [entry.body for entry in fake.requests()] == [None]


def test_a_body_is_not_kept_for_an_operation_that_takes_none(fake: FakeCoder, alice: httpx.Client) -> None:
    assert alice.request("GET", "/api/v2/tasks", content=b'{"ignored": true}').status_code == 200
    assert [entry.body for entry in fake.requests()] == [None]


def test_a_body_larger_than_the_fake_reads_is_refused(fake: FakeCoder, alice: httpx.Client) -> None:
    response = alice.post(CREATE, content=create_body(input_text=b'"' + b"x" * (4 * 1024 * 1024) + b'"'))
    assert response.status_code == 413, response.text
    assert response.json() == {
        "message": "Request body too large.",
        "detail": "The fake reads at most 4194304 bytes of a request body.",
    }
    assert alice.post(CREATE, content=create_body(input_text=b'"' + b"x" * 1_000_000 + b'"')).status_code == 201
    still_serves(fake)


def test_coderds_own_cap_keeps_its_400_and_its_order(fake: FakeCoder, admin: httpx.Client) -> None:
    """The snapshot upload's 64 KiB cap is coderd's: 400 after the task is resolved, not 413."""
    snapshot = "/api/v2/workspaceagents/me/tasks/{task}/log-snapshot?format=agentapi"
    agent = fake.agent("alice/fix-login-bug")
    headers = {"Coder-Session-Token": agent["agent_token"]}
    big = b'{"messages":[],"pad":"' + b"x" * 70_000 + b'"}'
    with fake.client() as client:
        missing = client.post(
            snapshot.format(task="00000000-0000-4000-8000-000000000000"), content=big, headers=headers
        )
        assert missing.status_code == 404, missing.text
        over = client.post(snapshot.format(task=ACTIVE_ID), content=big, headers=headers)
        assert over.status_code == 400, over.text
        assert over.json()["message"] == "Failed to decode request payload."


# Fixture documents, through PUT /__fake__/state and from Python.

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def put_state(client: httpx.Client, text: str) -> httpx.Response:
    return client.put("/__fake__/state", content=text.encode(), headers={"Content-Type": "application/yaml"})


def test_a_yaml_alias_bomb_is_refused_at_once(fake: FakeCoder, control: httpx.Client) -> None:
    started = time.perf_counter()
    response = put_state(control, BILLION_LAUGHS)
    assert time.perf_counter() - started < 5  # without the bound: about a minute and 9 GB
    assert response.status_code == 400, response.text
    assert "aliases expand to more than 1,000,000 nodes" in response.json()["detail"]
    still_serves(fake)


def test_aliases_within_the_bound_still_load(fake: FakeCoder) -> None:
    fake.load_text("users:\n  - &member {username: carol}\n  - {<<: *member, username: dave}\n")
    assert sorted(user.username for user in fake.world.users.values()) == ["carol", "dave"]


def test_an_alias_inside_the_block_it_names_is_refused_with_its_line(fake: FakeCoder, control: httpx.Client) -> None:
    """YAML lets a block hold an alias of itself; no JSON can hold the loop (the world could not be
    exported), so the document is refused where the alias stands."""
    text = (
        "tasks:\n"
        "  - owner: alice\n"
        "    prompt: hi\n"
        "    status: paused\n"
        "    snapshot: {format: agentapi, payload: &loop {messages: [], again: *loop}}\n"
    )
    response = put_state(control, text)
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == (
        "line 5: (document): the alias *loop stands inside the block it names: a fixture cannot loop"
    )
    still_serves(fake)
    assert control.get("/__fake__/state").status_code == 200  # the world it kept exports


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000,
        "a: " + "[" * 1_000 + "]" * 1_000,
        "users:\n" + "  " * 0 + "".join("  " * i + "- \n" for i in range(200)),
        '{"world": ' + "[" * 100_000,
    ],
)
def test_deeply_nested_fixture_documents_are_refused(fake: FakeCoder, control: httpx.Client, text: str) -> None:
    response = put_state(control, text)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "Invalid fixture document."
    still_serves(fake)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("settings: {seed: " + "9" * 5_000 + "}", "a value cannot be read"),
        ("settings: {seed: " + "9" * 30 + "}", "is greater than the maximum of 9223372036854775807"),
        ("settings: {clock_start: '9999-12-31T23:59:59Z'}", "out of range: fixture times run from 1970 to 8999"),
        ("settings: {clock_start: '0001-01-01T00:00:00Z'}", "out of range: fixture times run from 1970 to 8999"),
        ("settings: {timings: {job_pending: 1.0e+300}}", "is greater than the maximum of 31536000"),
        ('users: [{username: x}]\nagent: {rules: [{match: "("}]}', "invalid regular expression '('"),
        ('users: [{username: x, name: "\\ud800"}]', "not valid YAML"),
    ],
)
def test_fixture_values_that_could_break_a_later_request_are_refused(
    fake: FakeCoder, control: httpx.Client, text: str, reason: str
) -> None:
    response = put_state(control, text)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"], response.json()
    with pytest.raises(FixtureError) as raised:
        fake.load_text(text)
    assert reason in str(raised.value)
    still_serves(fake)


def test_a_task_time_at_the_end_of_the_range_loads_and_runs(fake: FakeCoder) -> None:
    """The latest allowed times, with the longest timings, still move through every step."""
    document = fake.export()
    document["settings"]["clock_start"] = "8999-12-31T00:00:00Z"
    document["settings"]["timings"] = {name: 31_536_000 for name in document["settings"]["timings"]}
    for task in document["tasks"]:
        task["created_at"] = "8999-12-31T23:59:59Z"
    fake.load_text(json.dumps(document))
    fake.advance(86_399)  # to the last second of 8999: every step now falls due in 9000
    still_serves(fake)


def test_a_catastrophic_agent_rule_cannot_stall_the_server(fake: FakeCoder) -> None:
    document = fake.export()
    document["agent"] = {"rules": [{"match": "^(a+)+$", "reply": "matched"}]}
    fake.load_text(json.dumps(document))
    with fake.client("alice") as alice:
        task = alice.post(CREATE, json={"template_version_id": AI_VERSION_ID, "input": "a" * 50_000 + "b"})
        started = time.perf_counter()
        fake.advance(30)  # the agent reads the prompt and matches it against the rule
        assert time.perf_counter() - started < 2
        assert alice.get(f"{CREATE}/{task.json()['id']}").json()["status"] == "active"


# The clock.


def test_the_clock_cannot_move_past_its_end(fake: FakeCoder, control: httpx.Client) -> None:
    fake.load_text("settings: {clock_start: '8999-12-31T00:00:00Z'}\nusers: [{username: alice}]")
    response = control.post("/__fake__/clock/advance", json={"seconds": 31_536_000})
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "Invalid clock move."
    assert "cannot move past 9000-01-01T00:00:00Z" in response.json()["detail"]
    with pytest.raises(ValueError, match="cannot move past"):
        fake.advance(1e300)
    assert control.post("/__fake__/clock/advance", json={"seconds": 3600}).status_code == 200
    assert control.get("/__fake__/clock").json()["now"] == "8999-12-31T01:00:00Z"


def test_safejson_refuses_depth_without_recursing() -> None:
    with pytest.raises(safejson.BadJSON, match="nested deeper"):
        safejson.loads(b"[" * 1_000_000)
    assert safejson.loads(b'["[[[[", "\\"[[["]') == ["[[[[", '"[[[']


# Bytes a client may send: JSON of every kind (numbers at and past int64, floats past float64,
# escapes with lone surrogates) and bytes that are not JSON or not UTF-8.
JSON_TEXT = st.recursive(
    st.sampled_from(["null", "true", "false"])
    | st.integers(-(2**70), 2**70).map(str)
    | st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "1E2", "-0", "0.1", "1" * 25, "-" + "9" * 19])
    | st.text().map(lambda text: json.dumps(text, ensure_ascii=True))
    | st.sampled_from(['"\\ud800"', '"\\udfff x"', '"\\ud83d\\ude00"', '"\\u003c"']),
    lambda children: (
        st.lists(children, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
        | st.dictionaries(st.text(max_size=3).map(json.dumps), children, max_size=3).map(
            lambda pairs: "{" + ",".join(f"{key}:{value}" for key, value in pairs.items()) + "}"
        )
    ),
    max_leaves=8,
)


def _outcome(raw: bytes, decode: Any) -> Any:
    try:
        return ("value", repr(decode(raw)))  # repr: 1 and 1.0 differ, as do -0.0 and 0.0
    except safejson.BadJSON as error:
        return ("refused", str(error))


@settings(max_examples=400, deadline=None)
@given(text=JSON_TEXT, noise=st.sampled_from([b"", b"\xff", b" ", b",", b"\xef\xbb\xbf"]))
def test_safejson_decodes_as_the_exact_decoder_does(text: str, noise: bytes) -> None:
    """`loads` takes orjson's path where it can: it answers what the standard library's decoder,
    with Go's rules, answers for the same bytes (the refusals' words aside, which may differ)."""
    for raw in (text.encode("utf-8", "surrogatepass"), text.encode("utf-8", "surrogatepass") + noise):
        fast, exact = _outcome(raw, safejson.loads), _outcome(raw, safejson._decoded)
        assert fast[0] == exact[0], (raw, fast, exact)
        if fast[0] == "value":
            assert fast == exact, raw


# Tokens given twice.


@pytest.mark.parametrize(
    ("where", "request_options"),
    [
        ("query", {"params": [("coder_session_token", "alice-token"), ("coder_session_token", "bob-token")]}),
        ("cookie", {"headers": {"Cookie": "coder_session_token=alice-token; coder_session_token=bob-token"}}),
        (
            "cookie headers",
            {
                "headers": [
                    ("Cookie", "coder_session_token=alice-token"),
                    ("Cookie", "x=1; coder_session_token=bob-token"),
                ]
            },
        ),
    ],
)
def test_the_first_of_two_tokens_counts_as_in_go(
    fake: FakeCoder, anonymous: httpx.Client, where: str, request_options: dict[str, object]
) -> None:
    response = anonymous.get("/api/v2/tasks", **request_options)  # type: ignore[arg-type]
    assert response.status_code == 200, (where, response.text)
    assert {task["owner_name"] for task in response.json()["tasks"]} == {"alice"}
