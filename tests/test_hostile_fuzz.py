"""Hostile input, fuzzed: every operation of both specs, API and control plane, gets bodies,
path values, query strings and tokens built to break parsers, and must answer with a declared
status below 500 (its response is checked against the spec by the fake itself). After each
request the world must still read, export, load back and list its journal.

`FAKESERVER_HOSTILE_EXAMPLES=2000 python -m pytest tests/test_hostile_fuzz.py` runs longer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeserver.fake import FakeCoder
from fakeserver.fixtures import default_fixture_path
from fakeserver.spec import Operation, load_spec, spec_path

EXAMPLES = int(os.environ.get("FAKESERVER_HOSTILE_EXAMPLES", "40"))
TOKENS = ["alice-token", "admin-token", "bob-token", "", "nope", "a" * 5_000]
# Statuses a request can earn from the world rather than from its own bytes: a task whose agent
# is disconnected answers send and live logs with 502, as coderd does.
WORLD_STATUSES = {502}

OPERATIONS = [
    *load_spec(spec_path("coder-tasks.yaml")).operations,
    *load_spec(spec_path("control.yaml")).operations,
]


def operation_id(operation: Operation) -> str:
    return operation.operation_id


# Values that have broken JSON, YAML and time parsers before, written as raw JSON text.
HOSTILE_LITERALS = [
    "9" * 5_000,
    "9" * 30,
    "-" + "9" * 20,
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"9999-12-31T23:59:59.999999999Z"',
    '"0001-01-01T00:00:00Z"',
    '"10000-01-01T00:00:00Z"',
    '"(a+)+$"',
    '"("',
    "[" * 100 + "]" * 100,
    "[" * 5_000,
    '{"a":' * 80 + "1" + "}" * 80,
    '""',
    "null",
    "true",
    "-0",
    "1.7976931348623157e308",
    "31536000",
    "31536001",
]
RAW_BYTES = [b"\xed\xa0\x80", b"\xff\xfe", b"\xc0\xaf", b"\x00", b"\xef\xbb\xbf"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def hostile_bodies(draw: st.DrawFn, operation: Operation) -> bytes:
    """A body: raw bytes, a JSON value, or the operation's own fields with hostile values."""
    kind = draw(st.sampled_from(["bytes", "json", "fields", "fields", "yaml"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "yaml":
        return draw(st.sampled_from(YAML_DOCUMENTS)).encode()
    fields = body_fields(operation) or ["input"]
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=len(fields), unique=True))
    members = [f"{json.dumps(name)}:{draw(hostile_json_text())}" for name in chosen]
    text = ("{" + ",".join(members) + "}").encode()
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(RAW_BYTES)) + text[at:]
    return text


@st.composite
def hostile_json_text(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(HOSTILE_LITERALS))
    return json.dumps(draw(json_values))


YAML_DOCUMENTS = [
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
    "a: " + "[" * 10_000,
    "settings: {seed: " + "9" * 5_000 + "}",
    "settings: {clock_start: '9999-12-31T23:59:59Z'}",
    "settings: {timings: {job_pending: .inf}}",
    "agent: {rules: [{match: '('}]}",
    'users: [{username: x, name: "\\ud800"}]',
    "users: *nope",
    "{}",
    "",
    "- a\n- b",
    "users: [{username: alice, tokens: [alice-token]}]\ntasks: [{owner: ghost}]",
]


def body_fields(operation: Operation) -> list[str]:
    body = operation.request_body
    if body is None or not body.is_json:
        return []
    schema = body.schema
    if "$ref" in schema:
        document = load_spec(spec_path("coder-tasks.yaml")).document
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"].get(name, {})
    return sorted(schema.get("properties", {}))


path_values = st.one_of(
    st.sampled_from(["me", "alice", "alice/fix-login-bug", "11111111-1111-4111-8111-111111111111", "fix-login-bug"]),
    st.text(st.characters(codec="utf-8"), max_size=40).map(lambda text: quote(text, safe="")),
    st.sampled_from(["%ED%A0%80", "%FF", "%00", "..%2F..%2F", "%2F", "{" * 50, "9" * 400, "%25"]),
)
query_pairs = st.lists(
    st.tuples(
        st.sampled_from(["q", "format", "since", "limit", "id", "operation", "coder_session_token", "x"]),
        st.one_of(
            st.text(st.characters(codec="utf-8"), max_size=30),
            st.sampled_from(["status:active", 'owner:"', "owner:" + "a" * 5_000, "9" * 400, "-1", "yaml", "agentapi"]),
        ),
    ),
    max_size=3,
)


def request_path(operation: Operation, draw: Callable[[st.SearchStrategy[str]], str]) -> str:
    path = operation.full_paths[0]
    for parameter in operation.parameters:
        if parameter.location == "path":
            path = path.replace("{" + parameter.name + "}", draw(path_values))
    return path


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCoder]:
    """One fake for every example; a `wait` the fuzzer asks for ends at once (its timeout is real time)."""
    from fakeserver.handlers import control

    original = control._wait

    def short_wait(call: Any, ref: str, status: str | None, state: str | None, timeout: float) -> Any:
        return original(call, ref, status, state, min(timeout, 0.01))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(control, "_wait", short_wait)
        yield FakeCoder()


@pytest.fixture(scope="module")
def client(fake: FakeCoder) -> Iterator[httpx.Client]:
    with fake.client() as client:
        yield client


def world_still_reads(fake: FakeCoder, changed: bool) -> None:
    """What a poisoned record used to break: reading, exporting and loading the world, the journal.
    (The YAML export, ten times slower, only after a request that changed something.)"""
    json.dumps(fake.state(), ensure_ascii=False).encode("utf-8")
    exported = json.dumps(fake.export(), ensure_ascii=False)
    fake.load_text(exported)
    assert json.dumps(fake.export(), ensure_ascii=False) == exported
    if changed:
        fake.export_yaml().encode("utf-8")
    for entry in fake.requests():
        json.dumps(entry.to_json(), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("operation", OPERATIONS, ids=operation_id)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(data=st.data())
def test_hostile_requests_get_a_declared_answer_below_500(
    fake: FakeCoder, client: httpx.Client, operation: Operation, data: st.DataObject
) -> None:
    fake.load(default_fixture_path())  # not reset(): a PUT /__fake__/state may have replaced the fixtures
    fake.clear_faults()
    path = request_path(operation, data.draw)
    query = data.draw(query_pairs)
    body = data.draw(hostile_bodies(operation)) if data.draw(st.booleans()) or operation.request_body else b""
    headers = {"Coder-Session-Token": data.draw(st.sampled_from(TOKENS))}
    headers["Content-Type"] = data.draw(st.sampled_from(["application/json", "application/yaml", "text/plain"]))
    if data.draw(st.booleans()):
        headers["Cookie"] = data.draw(st.sampled_from(["coder_session_token=bob-token; coder_session_token=x", "=;;="]))
    response = client.request(operation.method, path, params=tuple(query), content=body, headers=headers)
    assert response.status_code < 500 or response.status_code in WORLD_STATUSES, (path, body[:200], response.text)
    if response.status_code >= 400:
        assert "message" in response.json(), response.text
    world_still_reads(fake, changed=operation.method != "GET" and response.status_code < 300)
