"""`fakeserver check`: Schemathesis against the Coder Tasks spec, in-process or over HTTP.

One configuration serves the test suite (tests/test_conformance.py) and the command
line: every phase (examples, coverage, fuzzing, stateful) and every check Schemathesis
has, a fixed seed and derandomized generation, so that a run is repeatable.

Who calls what:
- user operations run as a member (`--token`, alice in the built-in world); a second
  member (`--peer-token`, bob) is the peer of Schemathesis' object-level authorization
  check, which replays the first member's reads as the second;
- the agent operations (log-snapshot upload, app-status) run with an agent token. In
  process, `run_check` creates a task owned by an owner-role user, lets it become
  active and takes its agent's token from the control plane: the members cannot see
  that task, so the fuzzer cannot pause or delete it and the token stays valid. Over
  HTTP, pass `--agent-token` and `--agent-task`; without them the agent operations
  are exercised for authentication only (every identity gets 401).

Time: the stateful phase chains create → get → send → pause → input → resume → delete
through the spec's links, and those steps are only accepted once builds have run. In
process, the fake's manual clock is moved `advance` seconds (default 5) after every
request; over HTTP, `--advance` posts to the fake's /__fake__/clock/advance, or the
server runs a real clock (`fakeserver serve --speed 50`).

Schemathesis is a test extra: it is imported only when a check runs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import tomllib
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from fakeserver.fake import FakeCoder

PHASES: Final = ("examples", "coverage", "fuzzing", "stateful")
CHECKS: Final = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
)

DEFAULT_MAX_EXAMPLES: Final = 25
DEFAULT_MAX_STEPS: Final = 20
DEFAULT_SEED: Final = 0
IN_PROCESS_ADVANCE: Final = 5.0  # seconds per request: each step of a chain finds the previous one settled
FUZZ_EXAMPLES_ENV: Final = "FAKESERVER_FUZZ_EXAMPLES"
SHARED_CONFIG: Final = "schemathesis.toml"  # a link to the checkout's schemathesis.toml
SCHEMATHESIS: Final = "schemathesis"

USER_HEADER: Final = "Coder-Session-Token"
BASE_PATH: Final = "/api/v2"
IN_PROCESS_HOST: Final = "http://testserver"  # the host Schemathesis' ASGI client sends
AGENT_SETTLE: Final = 60.0  # seconds of fake time for a new task's first build, agent and app


class SchemathesisMissingError(RuntimeError):
    """Schemathesis is not installed, or is older than the release this module is written for."""

    def __init__(self, found: str | None = None) -> None:
        requirement = schemathesis_requirement()
        problem = (
            "needs Schemathesis" if found is None else f"needs {requirement}, but Schemathesis {found} is installed"
        )
        super().__init__(
            f"fakeserver check {problem}; it is a test extra of fakeserver.\n"
            f"Install it with:  pip install 'fakeserver[test]'   (or: pip install '{requirement}')"
        )


def schemathesis_requirement() -> str:
    """The Schemathesis requirement of fakeserver's test extra, as installed (one source: pyproject.toml)."""
    try:
        declared = metadata.requires("fakeserver") or []
    except metadata.PackageNotFoundError:
        declared = []
    for requirement in declared:
        if requirement.startswith(SCHEMATHESIS):
            return requirement.split(";", 1)[0].replace(" ", "")
    return SCHEMATHESIS


def import_schemathesis() -> Any:
    """The schemathesis module, if it is installed and at least the floor that fakeserver declares."""
    try:
        import schemathesis
    except ImportError as error:
        raise SchemathesisMissingError() from error
    found = metadata.version(SCHEMATHESIS)
    floor = _floor(schemathesis_requirement())
    if floor is not None and _release(found) < floor:
        raise SchemathesisMissingError(found)
    return schemathesis


def _floor(requirement: str) -> tuple[int, ...] | None:
    match = re.search(r">=\s*([0-9][0-9.]*)", requirement)
    return _release(match.group(1)) if match else None


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version ("4.32.2rc1" -> (4, 32, 2)), enough to compare against a floor."""
    return tuple(int(part) for part in re.findall(r"[0-9]+", version.split("+", 1)[0])[:3])


@dataclass(frozen=True)
class CheckOptions:
    url: str | None = None  # None: an in-process fake with the built-in world
    token: str = "alice-token"
    peer_token: str | None = "bob-token"
    agent_token: str | None = None
    agent_task: str | None = None  # the task the agent's workspace runs
    agent_app: str | None = None  # the slug of that task's app
    template_version: str | None = None  # a template version with a coder_ai_task, for create
    max_examples: int = DEFAULT_MAX_EXAMPLES
    max_steps: int = DEFAULT_MAX_STEPS
    phases: tuple[str, ...] = PHASES
    seed: int = DEFAULT_SEED
    advance: float | None = None  # None: IN_PROCESS_ADVANCE in process, nothing over HTTP

    def __post_init__(self) -> None:
        unknown = sorted(set(self.phases) - set(PHASES))
        if unknown:
            raise ValueError(f"unknown phase(s): {', '.join(unknown)} (phases: {', '.join(PHASES)})")
        if self.max_examples < 1:
            raise ValueError("max_examples must be at least 1")
        if self.advance is not None and self.advance < 0:
            raise ValueError("advance must not be negative")


def max_examples_from_env(default: int = DEFAULT_MAX_EXAMPLES) -> int:
    """The example count of a longer run: FAKESERVER_FUZZ_EXAMPLES=500 python -m pytest tests/test_conformance.py."""
    value = os.environ.get(FUZZ_EXAMPLES_ENV, "").strip()
    return int(value) if value else default


@dataclass(frozen=True)
class Finding:
    """One check that failed, with what reproduces it."""

    phase: str
    operation: str
    check: str
    title: str
    message: str
    status: int | None
    reproduce: str

    def render(self) -> str:
        status = f" → {self.status}" if self.status is not None else ""
        lines = [f"[{self.phase}] {self.operation}{status}: {self.check}: {self.title}"]
        lines += [f"    {line}" for line in self.message.strip().splitlines()]
        lines += [f"    {line}" for line in self.reproduce.strip().splitlines()]
        return "\n".join(lines)


@dataclass
class CheckReport:
    target: str
    options: CheckOptions
    requests: Counter[str] = field(default_factory=Counter)  # phase -> requests sent
    responses: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (phase, operation, status)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    longest_chain: list[str] = field(default_factory=list)  # the deepest stateful sequence, by operation
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings and not self.errors

    def statuses(self, operation: str, phase: str | None = None) -> Counter[int]:
        """How often `operation` ("POST /tasks/{user}") answered each status (in `phase`, or in all)."""
        counts: Counter[int] = Counter()
        for (seen_phase, seen_operation, status), count in self.responses.items():
            if seen_operation == operation and phase in (None, seen_phase):
                counts[status] += count
        return counts

    def render(self) -> str:
        options = self.options
        lines = [
            f"fakeserver check: {self.target}",
            f"  phases: {', '.join(options.phases)}; checks: all {len(CHECKS)}; "
            f"max examples {options.max_examples}, stateful steps {options.max_steps}, seed {options.seed}",
            "  requests: "
            + ", ".join(f"{phase} {self.requests[phase]}" for phase in options.phases)
            + f" (total {sum(self.requests.values())}) in {self.elapsed:.1f}s",
        ]
        lines += ["", "Responses by operation:"]
        for operation in sorted({operation for _, operation, _ in self.responses}):
            counts = self.statuses(operation)
            lines.append(f"  {operation:<45} " + " ".join(f"{s}x{n}" for s, n in sorted(counts.items())))
        if self.longest_chain:
            lines += ["", f"Deepest stateful sequence ({len(self.longest_chain)} requests):"]
            lines += [f"  {' → '.join(self.longest_chain)}"]
        for note in self.notes:
            lines += ["", f"Note: {note}"]
        for error in self.errors:
            lines += ["", f"ERROR: {error}"]
        if self.findings:
            lines += ["", f"{len(self.findings)} failure(s):"]
            for finding in self.findings:
                lines += ["", finding.render()]
        lines += [
            "",
            "OK: no failures" if self.ok else f"FAILED: {len(self.findings)} failure(s), {len(self.errors)} error(s)",
        ]
        return "\n".join(lines)


# The target: who is called, as whom, and how time passes.


@dataclass(frozen=True)
class Identity:
    name: str
    token: str


@dataclass
class Target:
    label: str
    base_url: str
    app: Any | None  # the ASGI app, in process
    users: list[Identity]
    agent: Identity | None
    agent_task: str | None
    agent_app: str | None
    template_version: str | None
    advance: Callable[[], None] | None
    presets: tuple[str, ...] = ()


def in_process_target(fake: FakeCoder, options: CheckOptions) -> Target:
    users = [Identity("member", options.token)]
    if options.peer_token:
        users.append(Identity("peer", options.peer_token))
    agent = AgentAccess(options.agent_task, options.agent_token, options.agent_app)
    if agent.token is None:
        agent = bootstrap_agent(fake)
    seconds = IN_PROCESS_ADVANCE if options.advance is None else options.advance
    version = options.template_version or ai_template_version(fake)
    return Target(
        label="in-process fake",
        base_url=IN_PROCESS_HOST + BASE_PATH,
        app=fake.app,
        users=users,
        agent=Identity("agent", agent.token) if agent.token else None,
        agent_task=agent.task,
        agent_app=agent.app,
        template_version=version,
        advance=(lambda: advance_fake_clock(fake, seconds)) if seconds else None,
        presets=tuple(sorted(p.id for p in fake.world.presets.values() if p.template_version_id == version)),
    )


def http_target(url: str, options: CheckOptions) -> Target:
    root = root_url(url)
    users = [Identity("member", options.token)]
    if options.peer_token:
        users.append(Identity("peer", options.peer_token))
    seconds = options.advance or 0.0
    return Target(
        label=root,
        base_url=root + BASE_PATH,
        app=None,
        users=users,
        agent=Identity("agent", options.agent_token) if options.agent_token else None,
        agent_task=options.agent_task,
        agent_app=options.agent_app,
        template_version=options.template_version,
        advance=(lambda: advance_remote_clock(root, seconds)) if seconds else None,
    )


def ai_template_version(fake: FakeCoder) -> str | None:
    versions = sorted(fake.world.versions.values(), key=lambda version: version.id)
    return next((version.id for version in versions if version.has_ai_task and not version.archived), None)


@dataclass(frozen=True)
class AgentAccess:
    task: str | None = None
    token: str | None = None
    app: str | None = None


def bootstrap_agent(fake: FakeCoder) -> AgentAccess:
    """A task of an owner-role user, active, and its agent's token: out of the members' reach."""
    owner = next((user for user in fake.world.users.values() if user.is_owner and user.tokens), None)
    version = ai_template_version(fake)
    if owner is None or version is None:
        return AgentAccess()
    with fake.client(owner.username) as client:
        body = {"template_version_id": version, "input": "Report status as the conformance run's agent"}
        created = client.post(f"{BASE_PATH}/tasks/me", json=body)
        if created.status_code != 201:
            return AgentAccess()
        task_id = str(created.json()["id"])
        fake.advance(AGENT_SETTLE)
        agent = client.get(f"/__fake__/tasks/{task_id}/agent")
        if agent.status_code != 200:
            return AgentAccess()
        info = agent.json()
        return AgentAccess(task_id, str(info["agent_token"]), str(info["app_slug"]))


def advance_fake_clock(fake: FakeCoder, seconds: float) -> None:
    fake.advance(seconds)


def advance_remote_clock(root: str, seconds: float) -> None:
    request = urllib.request.Request(
        f"{root}/__fake__/clock/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


# The Schemathesis configuration.


def wfc_document(target: Target) -> dict[str, Any]:
    """Web Fuzzing Commons auth: Schemathesis tries the identities in order for each operation
    and keeps the first that is let in, so user operations run as the member and the agent
    operations as the agent."""
    identities = [*target.users, *([target.agent] if target.agent else [])]
    return {
        "auth": [
            {"name": identity.name, "fixedHeaders": [{"name": USER_HEADER, "value": identity.token}]}
            for identity in identities
        ]
    }


def shared_settings() -> dict[str, Any]:
    """schemathesis.toml, the configuration that the Schemathesis CLI run in the checkout reads too."""
    settings: dict[str, Any] = tomllib.loads(resources.files("fakeserver").joinpath(SHARED_CONFIG).read_text("utf-8"))
    return settings


def schemathesis_settings(options: CheckOptions, target: Target, wfc_path: str) -> dict[str, Any]:
    """The whole run as Schemathesis configuration: schemathesis.toml, with this run's identities,
    sizes and phases, and the values of the world it runs against in place of the built-in world's."""
    settings = shared_settings()
    settings.pop("headers", None)  # the built-in member's token: identities come from the WFC file instead
    settings["seed"] = options.seed
    settings["generation"]["max-examples"] = options.max_examples
    phases = settings.setdefault("phases", {})
    for phase in PHASES:
        phases.setdefault(phase, {})["enabled"] = phase in options.phases
    phases["stateful"]["max-steps"] = options.max_steps
    wfc: dict[str, Any] = {"path": wfc_path}
    if len(target.users) > 1:
        wfc["peers"] = [identity.name for identity in target.users]
    settings["auth"] = {"wfc": wfc}
    dictionaries: dict[str, Any] = settings["dictionaries"]
    parameters: dict[str, Any] = settings["parameters"]
    known = {"versions": [target.template_version] if target.template_version else [], "presets": list(target.presets)}
    for name, values in known.items():
        if values:
            dictionaries[name] = {"values": values}
        else:
            dictionaries.pop(name)
            parameters.pop(next(key for key, value in parameters.items() if value["dictionary"] == name))
    probability = parameters["path.user"]["probability"]
    operations: list[dict[str, Any]] = list(settings.get("operations", []))
    if target.agent_task:
        # The agent may act on its own task only; any other id is 404.
        dictionaries["agent-task"] = {"values": [target.agent_task]}
        operations.append(
            {
                "include-operation-id": "uploadTaskLogSnapshot",
                "parameters": {"path.task": {"dictionary": "agent-task", "probability": probability}},
            }
        )
    if target.agent_app:
        dictionaries["agent-app"] = {"values": [target.agent_app]}
        parameters["body.app_slug"] = {"dictionary": "agent-app", "probability": probability}
    settings["operations"] = operations
    return settings


def load_schema(options: CheckOptions, target: Target, wfc_path: str) -> Any:
    schemathesis = import_schemathesis()
    from schemathesis.config import SchemathesisConfig

    from fakeserver.spec import load_spec, spec_path

    config = SchemathesisConfig.from_dict(schemathesis_settings(options, target, wfc_path))
    schema = schemathesis.openapi.from_dict(load_spec(spec_path("coder-tasks.yaml")).document, config=config)
    if target.app is not None:
        schema.app = target.app
    schema.config.base_url = target.base_url
    advance = target.advance
    if advance is not None:

        def after_call(context: Any, case: Any, response: Any) -> None:
            advance()

        schema.hooks.register_hook_with_name(after_call, "after_call")
    return schema


# Running and reporting.


def run_check(options: CheckOptions, *, fake: FakeCoder | None = None) -> CheckReport:
    """Run Schemathesis against `options.url`, or in process against `fake` (a new built-in world if None)."""
    started = time.monotonic()
    if options.url is None:
        from fakeserver.fake import FakeCoder

        fake = fake if fake is not None else FakeCoder()
        target = in_process_target(fake, options)
    else:
        target = http_target(options.url, options)
    report = CheckReport(target=target.label, options=options)
    if target.agent is None:
        report.notes.append(
            "no agent token: the agent operations (log-snapshot, app-status) are exercised for authentication "
            "only; pass --agent-token and --agent-task to test them fully"
        )
    if len(target.users) < 2:
        report.notes.append("no peer token: object_level_authorization has no second member to replay reads as")
    with wfc_file(wfc_document(target)) as wfc_path:
        schema = load_schema(options, target, wfc_path)
        collect(schema, report)
    if options.url is not None and target.advance is not None:
        moved = sum(report.requests.values()) * (options.advance or 0.0)
        report.notes.append(
            f"the served fake's clock is now {moved:g} s ahead (--advance {options.advance:g} after each of "
            f"{sum(report.requests.values())} requests); a clock never moves back: POST {root_url(options.url)}"
            "/__fake__/reset (Content-Type: application/json) starts its world over"
        )
    report.elapsed = time.monotonic() - started
    return report


def root_url(url: str) -> str:
    root = url.rstrip("/")
    return root[: -len(BASE_PATH)] if root.endswith(BASE_PATH) else root


@contextmanager
def wfc_file(document: dict[str, Any]) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="fakeserver-check-") as directory:
        path = Path(directory) / "auth.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        yield str(path)


def collect(schema: Any, report: CheckReport) -> None:
    from schemathesis.engine import Status, events, from_schema

    seen: set[tuple[str, str, str, str]] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            phase = str(event.phase.value)
            record_scenario(phase, event.recorder, report, seen, Status.FAILURE)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception}")


def record_scenario(phase: str, recorder: Any, report: CheckReport, seen: set[Any], failure: Any) -> None:
    for case_id, interaction in recorder.interactions.items():
        node = recorder.cases.get(case_id)
        if interaction.response is None or node is None:
            continue
        operation = str(node.value.operation.label)
        report.requests[phase] += 1
        report.responses[(phase, operation, int(interaction.response.status_code))] += 1
    if phase == "stateful":
        chain = longest_chain(recorder)
        if len(chain) > len(report.longest_chain):
            report.longest_chain = chain
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != failure or check.failure_info is None:
                continue
            info = check.failure_info
            node = recorder.cases.get(case_id)
            operation = str(node.value.operation.label) if node is not None else recorder.label
            key = (operation, check.name, info.failure.title, info.failure.message)
            if key in seen:
                continue
            seen.add(key)
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            report.findings.append(
                Finding(
                    phase=phase,
                    operation=operation,
                    check=check.name,
                    title=str(info.failure.title),
                    message=str(info.failure.message),
                    status=int(response.status_code) if response is not None else None,
                    reproduce="\n".join(step.curl for step in info.steps) or str(info.code_sample),
                )
            )


def longest_chain(recorder: Any) -> list[str]:
    """The operations of the longest parent → child sequence the stateful phase ran."""
    best: list[str] = []
    for case_id in recorder.interactions:
        chain: list[str] = []
        current: str | None = case_id
        while current is not None and current in recorder.cases:
            node = recorder.cases[current]
            if current in recorder.interactions:
                chain.append(f"{node.value.method} {node.value.operation.path}")
            current = node.parent_id
        if len(chain) > len(best):
            best = chain[::-1]
    return best
