"""Contract conformance: Schemathesis against the fake, in-process and over HTTP.

The CI-sized run uses a fixed seed and example count; a longer one is
`FAKESERVER_FUZZ_EXAMPLES=500 python -m pytest tests/test_conformance.py -s`
(`-s` prints the report). The configuration itself lives in fakeserver/check.py,
shared with `fakeserver check`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from served import serve

from fakeserver.check import (
    CHECKS,
    PHASES,
    CheckOptions,
    in_process_target,
    load_schema,
    max_examples_from_env,
    run_check,
    schemathesis_settings,
    shared_settings,
    wfc_document,
    wfc_file,
)
from fakeserver.cli import main
from fakeserver.fake import FakeCoder
from fakeserver.spec import load_spec, spec_path

AI_VERSION_ID = "0ba39c92-1f1b-4c32-aa3e-9925d7713eb1"


def spec_operations() -> set[str]:
    """Every operation of the API spec, labelled as Schemathesis labels them ("GET /tasks")."""
    return {f"{op.method} {op.path}" for op in load_spec(spec_path("coder-tasks.yaml")).operations}


def test_the_fake_conforms_to_its_spec() -> None:
    """Every phase, every check, every operation: no failure.

    Which sequences the fuzzer tries varies with Schemathesis' and Hypothesis' releases and
    with Python's hash seed, so this asserts only what holds for any run: no failure, every
    phase sent requests and every operation was called. That each operation succeeds in a
    real chain is proved by the explicit lifecycle below.
    """
    report = run_check(CheckOptions(max_examples=max_examples_from_env()))
    print(report.render())
    assert report.options.phases == PHASES
    assert report.ok, report.render()
    assert not report.notes, report.notes  # no "no agent token" or "no peer token" caveat
    for phase in PHASES:
        assert report.requests[phase] > 0, phase
    assert {operation for (_, operation, _) in report.responses} == spec_operations()


def test_every_check_schemathesis_has_is_run() -> None:
    from schemathesis.checks import CHECKS as REGISTRY
    from schemathesis.checks import load_all_checks

    load_all_checks()
    assert set(CHECKS) == set(REGISTRY.get_all_names())


@pytest.fixture
def explicit() -> Iterator[tuple[FakeCoder, Any]]:
    """The fake and the Schemathesis schema of `fakeserver check`, for cases written by hand."""
    fake = FakeCoder()
    options = CheckOptions()
    target = in_process_target(fake, options)
    with wfc_file(wfc_document(target)) as wfc_path:
        yield fake, load_schema(options, target, wfc_path)


ALICE = {"Coder-Session-Token": "alice-token"}


def call(schema: Any, method: str, path: str, expected: int, body: Any = NOT_SET, **path_parameters: str) -> Any:
    """One request, checked by every check of the run; its status must be `expected`."""
    case = schema[path][method].Case(path_parameters=path_parameters, headers=ALICE, body=body)
    response = case.call_and_validate()
    assert response.status_code == expected, response.text
    return response


def test_a_task_lifecycle_driven_explicitly_passes_every_check(explicit: tuple[FakeCoder, Any]) -> None:
    """Each operation in a chain that reaches its success answer: create, get, send, logs, pause,
    input, resume, list, delete; every response passes every check."""
    fake, schema = explicit
    body = {"template_version_id": AI_VERSION_ID, "input": "Write the release notes"}
    task = call(schema, "POST", "/tasks/{user}", 201, body, user="me").json()
    ids = {"user": "me", "task": task["id"]}
    fake.advance(60)
    assert call(schema, "GET", "/tasks/{user}/{task}", 200, **ids).json()["status"] == "active"
    call(schema, "POST", "/tasks/{user}/{task}/send", 204, {"input": "Mention the new flag"}, **ids)
    fake.advance(10)
    assert call(schema, "GET", "/tasks/{user}/{task}/logs", 200, **ids).json()["logs"]
    call(schema, "POST", "/tasks/{user}/{task}/pause", 202, **ids)
    fake.advance(60)
    assert call(schema, "GET", "/tasks/{user}/{task}", 200, **ids).json()["status"] == "paused"
    call(schema, "PATCH", "/tasks/{user}/{task}/input", 204, {"input": "Write the release notes for 2.0"}, **ids)
    call(schema, "POST", "/tasks/{user}/{task}/resume", 202, **ids)
    listed = schema["/tasks"]["GET"].Case(headers=ALICE, query={"q": "owner:me"}).call_and_validate()
    assert task["id"] in {item["id"] for item in listed.json()["tasks"]}
    call(schema, "DELETE", "/tasks/{user}/{task}", 202, **ids)
    call(schema, "GET", "/tasks/{user}/{task}", 404, **ids)


def test_an_explicit_case_fails_when_the_server_misbehaves(explicit: tuple[FakeCoder, Any]) -> None:
    fake, schema = explicit
    fake.fault("listTasks", status=500)
    with pytest.raises(FailureGroup) as failed:
        schema["/tasks"]["GET"].Case(headers=ALICE).call_and_validate()
    assert [type(error).__name__ for error in failed.value.exceptions] == ["ServerError"]


def test_a_server_error_is_reported_as_a_failure() -> None:
    """The harness fails when the server misbehaves: here every list answers 500."""
    fake = FakeCoder()
    with fake.control_client() as control:
        added = control.post("/__fake__/faults", json={"operation_id": "listTasks", "status": 500})
        assert added.status_code == 201, added.text
    result = run_check(CheckOptions(max_examples=3, phases=("examples", "coverage")), fake=fake)
    assert not result.ok
    failed = {(finding.operation, finding.check) for finding in result.findings}
    assert ("GET /tasks", "not_a_server_error") in failed
    assert "FAILED" in result.render()


def test_a_response_that_breaks_the_schema_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakeserver.handlers import API_HANDLERS
    from fakeserver.routing import Call, Reply

    def get_task_without_status(call: Call) -> Reply:
        reply = original(call)
        if reply.status == 200:
            reply.body = {key: value for key, value in reply.body.value.items() if key != "status"}
        return reply

    original = API_HANDLERS["getTask"]
    monkeypatch.setitem(API_HANDLERS, "getTask", get_task_without_status)
    fake = FakeCoder(validate_responses=False)  # the fake's own guard would raise first
    result = run_check(CheckOptions(max_examples=5, phases=("examples", "fuzzing")), fake=fake)
    failed = {(finding.operation, finding.check) for finding in result.findings}
    assert ("GET /tasks/{user}/{task}", "response_schema_conformance") in failed


# The command.


def test_check_command_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--max-examples", "3", "--phases", "examples,coverage,stateful", "--seed", "7"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "fakeserver check: in-process fake" in out
    assert "seed 7" in out
    assert "OK: no failures" in out


def test_check_command_refuses_an_unknown_phase(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--phases", "examples,chaos"]) == 2
    assert "unknown phase(s): chaos" in capsys.readouterr().err


def test_check_command_refuses_a_schemathesis_older_than_declared(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from importlib import metadata

    from fakeserver import check

    monkeypatch.setattr(metadata, "version", lambda name: "4.20.0")  # what check.py reads
    assert main(["check", "--max-examples", "1"]) == 2
    err = capsys.readouterr().err
    assert "Schemathesis 4.20.0 is installed" in err
    requirement = check.schemathesis_requirement()
    assert requirement in err and ">=4." in requirement


def test_check_command_explains_how_to_install_schemathesis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "schemathesis", None)  # makes `import schemathesis` fail
    assert main(["check", "--max-examples", "1"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'fakeserver[test]'" in err


@pytest.fixture
def served() -> Iterator[str]:
    """`fakeserver serve` in a subprocess, with a manual clock: its URL."""
    with serve("--clock", "manual") as server:
        yield server.url


def agent_of_new_task(url: str) -> tuple[str, str, str]:
    """As the admin: a task, its first build run through the control plane's clock, and its agent."""
    admin = {"Coder-Session-Token": "admin-token"}
    created = httpx.post(f"{url}/api/v2/tasks/me", json={"template_version_id": AI_VERSION_ID}, headers=admin)
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    assert httpx.post(f"{url}/__fake__/clock/advance", json={"seconds": 60}).status_code == 200
    agent = httpx.get(f"{url}/__fake__/tasks/{task_id}/agent")
    assert agent.status_code == 200, agent.text
    return task_id, agent.json()["agent_token"], agent.json()["app_slug"]


def test_check_command_against_a_served_fake(served: str, capsys: pytest.CaptureFixture[str]) -> None:
    task_id, agent_token, app_slug = agent_of_new_task(served)
    argv = ["check", "--url", served, "--token", "alice-token", "--peer-token", "bob-token"]
    argv += ["--agent-token", agent_token, "--agent-task", task_id, "--agent-app", app_slug]
    argv += ["--template-version", AI_VERSION_ID, "--advance", "5", "--max-examples", "3"]
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"fakeserver check: {served}" in out
    assert "PATCH /workspaceagents/me/app-status" in out
    assert "OK: no failures" in out
    assert re.search(
        r"Note: the served fake's clock is now \d+ s ahead \(--advance 5 after each of \d+ requests\)", out
    )
    assert f"POST {served}/__fake__/reset" in out


def test_check_command_exits_non_zero_on_failures(served: str, capsys: pytest.CaptureFixture[str]) -> None:
    fault = httpx.post(f"{served}/__fake__/faults", json={"operation_id": "listTasks", "status": 500})
    assert fault.status_code == 201, fault.text
    code = main(["check", "--url", served, "--phases", "examples", "--max-examples", "2"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "GET /tasks" in out and "not_a_server_error" in out
    assert "FAILED" in out


REPO = Path(__file__).resolve().parent.parent


def test_the_schemathesis_cli_in_the_checkout_finds_no_failure(tmp_path: Path) -> None:
    """What a user runs by hand: the plain CLI, every check, reading the checkout's schemathesis.toml."""
    cli = Path(sys.executable).parent / "schemathesis"
    with serve("--clock", "real", "--speed", "50", cwd=tmp_path) as server:
        command = [str(cli), "run", "openapi/coder-tasks.yaml", "--url", f"{server.url}/api/v2", "--checks", "all"]
        done = subprocess.run(
            [*command, "--max-examples", "5", "--no-color"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Configuration:    " in done.stdout and "schemathesis.toml" in done.stdout
    assert "No issues found" in done.stdout


def test_fakeserver_check_starts_from_the_same_configuration() -> None:
    fake = FakeCoder()
    options = CheckOptions()
    settings = schemathesis_settings(options, in_process_target(fake, options), "auth.json")
    shared = shared_settings()
    assert settings["checks"] == shared["checks"]
    assert settings["parameters"].keys() >= shared["parameters"].keys()
    assert "headers" not in settings  # identities come from the WFC file
