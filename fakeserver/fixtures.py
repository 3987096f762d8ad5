"""Fixture files: read and check them once, then build worlds from them as often as needed.

Reading parses the YAML, validates it against `fixture-schema.yaml` and keeps
the line of every value, so that any mistake, found now or while building,
is reported as `file:line: path: reason`. Building (`build_world`) turns the
checked documents into a fresh `World`; a reset is just another build.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

from fakeserver import yamlsafe
from fakeserver.safejson import without_lone_surrogates
from fakeserver.spec import FAST_YAML_LOADER
from fakeserver.timefmt import parse_time

FixturePath = tuple[str | int, ...]


class FixtureError(Exception):
    """A fixture file that cannot be served, with where and why; `problems` has every mistake
    found (the first is the one named by `line`, `path` and `reason`)."""

    def __init__(
        self, file: str, line: int | None, path: FixturePath, reason: str, more: Sequence[FixtureError] = ()
    ) -> None:
        self.file = file
        self.line = line
        self.path = path
        self.reason = reason
        self.problems: tuple[FixtureError, ...] = (self, *more)
        super().__init__(str(self))

    def describe(self) -> str:
        """This one mistake: `file:line: path: reason`."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {format_path(self.path) or '(document)'}: {self.reason}"

    def __str__(self) -> str:
        return "\n".join(problem.describe() for problem in self.problems)


def format_path(path: FixturePath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class Source:
    """Where one fixture document came from, and the line of each value in it.

    The lines are worked out from the text only when an error needs one: a world of 100,000
    tasks kept for its resets would otherwise keep a line for each of millions of values.
    """

    def __init__(self, file: str, text: str, lines: dict[FixturePath, int] | None = None) -> None:
        self.file = file
        self._text = text
        self._lines = lines

    @property
    def lines(self) -> dict[FixturePath, int]:
        if self._lines is None:
            node = yaml.compose(self._text, Loader=FAST_YAML_LOADER)  # the text parsed before: no error
            self._lines = {}
            if node is not None:
                _collect_lines(node, (), self._lines)
        return self._lines

    def error(self, path: FixturePath, reason: str) -> FixtureError:
        lines = self.lines
        for end in range(len(path), -1, -1):  # the deepest value that has a line
            line = lines.get(path[:end])
            if line is not None:
                return FixtureError(self.file, line, path, reason)
        return FixtureError(self.file, None, path, reason)


@dataclass(frozen=True)
class Entry:
    """One item of a section (a user, a task...), with its source and its path there."""

    data: dict[str, Any]
    source: Source
    path: FixturePath

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def error(self, reason: str, *subpath: str | int) -> FixtureError:
        return self.source.error(self.path + subpath, reason)


SECTIONS = ("organizations", "users", "templates", "tasks")
EMPTY_HINT = (
    "a fixture file has at least one section (settings, organizations, users, templates, agent, tasks); "
    "`{}` is an empty world"
)
MAX_REPORTED = 20  # mistakes listed at once


@dataclass(frozen=True)
class Fixtures:
    """One or more checked fixture documents, later ones adding to earlier ones."""

    files: tuple[str, ...]
    settings: dict[str, Any]
    organizations: tuple[Entry, ...] = ()
    users: tuple[Entry, ...] = ()
    templates: tuple[Entry, ...] = ()
    tasks: tuple[Entry, ...] = ()
    rules: tuple[Entry, ...] = ()
    documents: tuple[dict[str, Any], ...] = ()

    @property
    def clock_start(self) -> datetime | None:
        start = self.settings.get("clock_start")
        return parse_time(start) if start else None


@cache  # where the package is installed does not change while it runs
def default_fixture_path() -> Path:
    return Path(str(resources.files("fakeserver") / "fixtures" / "default.yaml"))


def load_fixtures(paths: Sequence[Path]) -> Fixtures:
    return combine([read_fixture_file(path) for path in paths])


def read_fixture_file(path: Path) -> tuple[dict[str, Any], Source]:
    try:
        stat = path.stat()
    except OSError as error:
        raise FixtureError(str(path), None, (), f"cannot read the file: {error.strerror}") from None
    return _read_cached(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)  # a few files and their recent versions; a reloaded file must not pile up
def _read_cached(path: Path, mtime_ns: int, size: int) -> tuple[dict[str, Any], Source]:
    """Files are parsed once per content version; a changed file is parsed again."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FixtureError(str(path), None, (), f"cannot read the file: {error}") from None
    return parse_fixture_text(text, str(path))


def parse_fixture_text(text: str, name: str) -> tuple[dict[str, Any], Source]:
    """Parse and validate one document (YAML, or JSON, which is YAML too)."""
    try:
        yamlsafe.check_shape(text)  # before anything recursive or expanding sees the document
        node = yaml.compose(text, Loader=FAST_YAML_LOADER)  # one parse: lines from the nodes, values built from them
        document = yaml.constructor.SafeConstructor().construct_document(node) if node is not None else None
    except yamlsafe.YAMLTooComplex as error:
        raise FixtureError(name, error.line, (), error.reason) from None
    except yaml.YAMLError as error:
        raise _syntax_error(text, name, error) from None
    except (ValueError, OverflowError) as error:  # a value YAML parses but Python cannot hold (5,000 digits)
        reason = str(error).split(";")[0]  # not Python's advice on raising its own limit
        raise FixtureError(name, None, (), f"a value cannot be read: {reason}") from None
    if "\\u" in text or "\\U" in text:  # only an escape can make an unpaired surrogate
        document = without_lone_surrogates(document)
    source = Source(name, text)
    if document is None:
        raise source.error((), f"the document is empty: {EMPTY_HINT}")
    if not isinstance(document, dict):
        raise source.error((), "a fixture file is a mapping of sections (settings, users, templates, tasks...)")
    errors = list(_schema().iter_errors(document))
    if errors:
        errors.sort(key=lambda e: source.lines.get(_error_path(e), 0))
        first, *rest = (source.error(_error_path(error), _reason(error)) for error in errors[:MAX_REPORTED])
        raise FixtureError(first.file, first.line, first.path, first.reason, rest)
    return compacted(document), source


def compacted(value: Any, shared: dict[int, Any] | None = None) -> Any:
    """A copy of a parsed document in memory of its own: strings, lists and mappings made anew.

    The document is kept for every reset, and as parsed its strings lie scattered among the
    parser's nodes and marks (four times its size, freed once the parse is done); the freed
    memory then cannot go back to the system around them (10,000 tasks: 4.9 KiB each, against
    1.7 copied). A subtree that aliases share is copied once and stays shared (a loop is refused
    before: yamlsafe).
    """
    shared = {} if shared is None else shared
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
    if not isinstance(value, dict | list):
        return value
    copy = shared.get(id(value))
    if copy is not None:
        return copy
    if isinstance(value, list):
        copy = [compacted(item, shared) for item in value]
    else:
        copy = {compacted(key, shared): compacted(item, shared) for key, item in value.items()}
    shared[id(value)] = copy
    return copy


FLOW_BRACKETS_REPARSED = 4 * yamlsafe.MAX_DEPTH


def _syntax_error(text: str, name: str, libyaml_error: yaml.YAMLError) -> FixtureError:
    """The pure-Python parser's account of a syntax error: the same words wherever libyaml is or is not.

    Its event stream, not its composer (which recurses), and only for a document with few flow
    brackets: the pure-Python scanner takes time quadratic in their nesting (seconds at 2,000).
    Else, and where it finds nothing wrong (an undefined alias, an unpaired surrogate escape),
    libyaml's own account.
    """
    if text.count("[") + text.count("{") > FLOW_BRACKETS_REPARSED:
        return _yaml_error(name, libyaml_error)
    try:
        for _ in yaml.parse(text, Loader=yaml.SafeLoader):
            pass
    except yaml.YAMLError as error:
        return _yaml_error(name, error)
    return _yaml_error(name, libyaml_error)


def _yaml_error(name: str, error: yaml.YAMLError) -> FixtureError:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    opened = getattr(error, "context_mark", None)
    context = getattr(error, "context", None)
    at_the_end = "stream end" in problem or "end of stream" in problem
    if opened is not None and context and at_the_end and (mark is None or opened.line != mark.line):
        what = context.removeprefix("while parsing ").removeprefix("while scanning ")  # "a flow sequence"
        reason = f"not valid YAML: {what} that starts on line {opened.line + 1} is never closed"
        return FixtureError(name, opened.line + 1, (), reason)  # an unclosed bracket or quote
    return FixtureError(name, mark.line + 1 if mark else None, (), f"not valid YAML: {problem}")


def _error_path(error: jsonschema_rs.ValidationError) -> FixturePath:
    """Where the mistake is: for an unknown key, the key itself (its line, not its mapping's)."""
    path: FixturePath = tuple(error.instance_path)
    if type(error.kind).__name__ == "AdditionalProperties":
        unexpected = error.kind.as_dict().get("unexpected", [])
        if unexpected:
            path = (*path, str(unexpected[0]))
    return path


def combine(documents: Iterable[tuple[dict[str, Any], Source]]) -> Fixtures:
    settings: dict[str, Any] = {}
    sections: dict[str, list[Entry]] = {name: [] for name in SECTIONS}
    rules: list[Entry] = []
    files: list[str] = []
    kept: list[dict[str, Any]] = []
    for document, source in documents:
        files.append(source.file)
        kept.append(document)
        for key, value in document.get("settings", {}).items():
            settings[key] = {**settings.get(key, {}), **value} if key == "timings" else value
        for name in SECTIONS:
            for index, item in enumerate(document.get(name, [])):
                sections[name].append(Entry(item, source, (name, index)))
        for index, rule in enumerate(document.get("agent", {}).get("rules", [])):
            rules.append(Entry(rule, source, ("agent", "rules", index)))
    return Fixtures(
        files=tuple(files),
        settings=settings,
        organizations=tuple(sections["organizations"]),
        users=tuple(sections["users"]),
        templates=tuple(sections["templates"]),
        tasks=tuple(sections["tasks"]),
        rules=tuple(rules),
        documents=tuple(kept),
    )


def _collect_lines(
    node: yaml.Node, path: FixturePath, lines: dict[FixturePath, int], seen: set[int] | None = None
) -> None:
    """The line of each path. An alias is the node it names, met again: it is not followed (a
    document with many is bounded, not small), so a path through it takes the line of the key
    that holds it."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _collect_lines(value_node, (*path, str(key_node.value)), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*path, index), lines, seen)


@cache
def _schema_document() -> dict[str, Any]:
    text = (resources.files("fakeserver") / "fixture-schema.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.load(text, Loader=FAST_YAML_LOADER)
    return document


@cache
def _schema() -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(_schema_document(), validate_formats=True)


def _known_keys(error: jsonschema_rs.ValidationError) -> list[str]:
    """The keys the schema allows where `error` found an unknown one."""
    node: Any = _schema_document()
    for part in list(error.schema_path)[:-1]:  # the last part is `additionalProperties`
        node = node[part] if isinstance(node, dict) else node[int(part)]
        while isinstance(node, dict) and "$ref" in node:
            node = _schema_document()["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return sorted(node.get("properties", {})) if isinstance(node, dict) else []


def _time_pattern() -> str:
    pattern: str = _schema_document()["$defs"]["time"]["pattern"]
    return pattern


def _reason(error: jsonschema_rs.ValidationError) -> str:
    kind = type(error.kind).__name__
    details = error.kind.as_dict()
    if kind == "AdditionalProperties":
        names = details.get("unexpected", [])
        unexpected = ", ".join(repr(name) for name in names)
        known = _known_keys(error)
        guesses = [f"{match!r} for {name!r}" for name in names for match in difflib.get_close_matches(name, known, n=1)]
        hint = f"; did you mean {', '.join(guesses)}?" if guesses else ""
        return f"unknown key{'s' if len(names) > 1 else ''} {unexpected}{hint} (known: {', '.join(known)})"
    if kind == "Required":
        return f"missing required key {details['property']!r}"
    if kind == "Format" and details.get("format") == "uuid":
        return f"malformed UUID {error.instance!r}"
    if kind == "Format" and details.get("format") == "date-time":
        return f"malformed time {error.instance!r} (use RFC 3339, e.g. 2026-01-05T09:00:00Z)"
    if kind == "Enum":  # every choice, not the validator's "or 4 other candidates"
        return f"{error.instance!r} is not one of: {', '.join(str(option) for option in details['options'])}"
    if kind == "Pattern" and details.get("pattern") == _time_pattern():
        return f"time {error.instance!r} is out of range: fixture times run from 1970 to 8999"
    if kind == "Pattern" or kind == "MaxLength":
        return f"{error.instance!r} is not a valid name (<= 32 letters, digits and single hyphens)"
    return error.message
