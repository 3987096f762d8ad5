"""The `q` search parameter of `GET /api/v2/tasks`.

Mirrors coderd/searchquery/search.go (`Tasks`, `searchTerms`) and the error wording of
coderd/httpapi/queryparams.go, so a client sees the same filters and the same
`validations` as against a real Coder deployment:

    owner:alice organization:acme status:active

Parsing happens in two passes. `split_terms` is the syntax pass: it turns the text into
`key -> values` and stops at the first malformed element. `parse_task_filter` then resolves
each known key and collects every problem it finds, so one bad request reports all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from fakeserver.errors import Validation
from fakeserver.gotext import GoBoolError, go_quote, parse_go_bool
from fakeserver.models import TASK_STATUSES as MODEL_TASK_STATUSES
from fakeserver.uuids import parse_uuid, uuid_error

TASK_STATUSES: Final[tuple[str, ...]] = MODEL_TASK_STATUSES

# Words without a `key:` are a search for this key, as in the real server.
DEFAULT_KEY: Final = "owner"
ME: Final = "me"


class QueryError(Exception):
    """The query cannot be used; `validations` become the 400 response's `validations`."""

    def __init__(self, validations: list[Validation]) -> None:
        super().__init__("; ".join(validation.detail for validation in validations))
        self.validations = validations


class _InvalidValueError(Exception):
    """A value of a known key that does not resolve; `reason` ends the validation detail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TaskFilter:
    """What to filter tasks by; `None` means no filter on that field."""

    owner_id: str | None = None
    organization_id: str | None = None
    status: str | None = None


NO_FILTER = TaskFilter()


def split_terms(query: str, default_key: str = DEFAULT_KEY) -> dict[str, list[str]]:
    """Syntax pass: raises QueryError; returns key -> values in order of appearance (bare words
    under `default_key`)."""
    terms: dict[str, list[str]] = {}
    # Quotes are kept in this first split so the second split, on ':', still sees them.
    tokens = _split_outside_quotes(_go_lower(query), " ")
    for element in _group_tokens(tokens):
        key, value = _key_and_value(element, default_key)
        terms.setdefault(key, []).append(value)
    return terms


def parse_task_filter(
    query: str,
    *,
    me: str,
    find_user_id: Callable[[str], str | None],
    find_org_id: Callable[[str], str | None],
) -> TaskFilter:
    """Raises QueryError with all validation errors found."""
    if not query.strip():
        return NO_FILTER  # the common case; one object, so a listing cache's key compares by identity
    terms = split_terms(query)
    errors: list[Validation] = []

    def owner_id(value: str) -> str:
        return _resolve_owner(value, me, find_user_id)

    def organization_id(value: str) -> str:
        return _resolve_organization(value, find_org_id)

    task_filter = TaskFilter(
        owner_id=_parse_param(terms, "owner", owner_id, errors),
        organization_id=_parse_param(terms, "organization", organization_id, errors),
        status=_parse_param(terms, "status", _validate_status, errors),
    )
    errors.extend(_unknown_keys(terms, known=("owner", "organization", "status")))
    if errors:
        raise QueryError(errors)
    return task_filter


@dataclass(frozen=True)
class TemplateFilter:
    """coderd's GetTemplatesWithFilterParams: empty strings and `None` filter nothing."""

    deleted: bool = False
    organization_id: str | None = None
    exact_name: str = ""
    exact_display_name: str = ""
    fuzzy_name: str = ""
    fuzzy_display_name: str = ""
    ids: tuple[str, ...] = ()
    deprecated: bool | None = None
    has_ai_task: bool | None = None
    author_id: str | None = None
    author_username: str = ""
    has_external_agent: bool | None = None


TEMPLATE_DEFAULT_KEY: Final = "display_name"


def parse_template_filter(query: str, *, me: str, find_org_id: Callable[[str], str | None]) -> TemplateFilter:
    """The `q` of `GET /api/v2/templates` (searchquery.Templates); raises QueryError with every
    problem found, in the order coderd's parser meets them."""
    if not query.strip():
        return TemplateFilter()
    terms = split_terms(query, TEMPLATE_DEFAULT_KEY)
    parser = _SingleValues(terms)

    def organization_id(value: str) -> str:
        return _resolve_organization(value, find_org_id)

    deleted = parser.boolean("deleted")
    template_filter = TemplateFilter(
        deleted=bool(deleted),
        organization_id=parser.custom("organization", organization_id),
        exact_name=parser.text("exact_name"),
        exact_display_name=parser.text("exact_display_name"),
        fuzzy_name=parser.text("name"),
        fuzzy_display_name=parser.text("display_name"),
        ids=parser.uuids("ids"),
        deprecated=parser.boolean("deprecated"),
        has_ai_task=parser.boolean("has-ai-task"),
        author_id=parser.uuid("author_id"),
        author_username=parser.text("author"),
        has_external_agent=parser.boolean("has_external_agent"),
    )
    if template_filter.author_username == ME:
        template_filter = replace(template_filter, author_id=me, author_username="")
    errors = parser.errors + [
        Validation(key, f"{go_quote(key)} is not a valid query param") for key in terms if key not in parser.parsed
    ]
    if errors:
        raise QueryError(errors)
    return template_filter


class _SingleValues:
    """coderd's QueryParamParser over the terms of a query: each key at most once, each error kept."""

    def __init__(self, terms: dict[str, list[str]]) -> None:
        self.terms = terms
        self.parsed: set[str] = set()
        self.errors: list[Validation] = []

    def _value(self, key: str) -> str:
        self.parsed.add(key)
        values = self.terms.get(key, [])
        if len(values) > 1:
            self.errors.append(
                Validation(
                    key,
                    f"Query param {go_quote(key)} provided more than once, found {len(values)} times. "
                    "Only provide 1 instance of this query param.",
                )
            )
            return ""
        return values[0] if values else ""

    def text(self, key: str) -> str:
        return self._value(key)

    def boolean(self, key: str) -> bool | None:
        value = self._value(key)
        if not value:
            return None
        try:
            return parse_go_bool(value)
        except GoBoolError as error:
            self.errors.append(Validation(key, f"Query param {go_quote(key)} must be a valid boolean: {error}"))
            return None

    def uuid(self, key: str) -> str | None:
        value = self._value(key)
        if not value:
            return None
        parsed = parse_uuid(value)
        if parsed is None:
            self.errors.append(Validation(key, f"Query param {go_quote(key)} must be a valid uuid"))
        return parsed

    def uuids(self, key: str) -> tuple[str, ...]:
        self.parsed.add(key)
        items = [item.strip() for value in self.terms.get(key, []) for item in value.split(",")]
        if not items or items == [""]:
            return ()
        problems = [uuid_error(item) for item in items if parse_uuid(item) is None]
        if problems:
            detail = "\n".join(problems)
            self.errors.append(Validation(key, f"Query param {go_quote(key)} has invalid values: {detail}"))
            return ()
        return tuple(parse_uuid(item) or "" for item in items)

    def custom(self, key: str, resolve: Callable[[str], str]) -> str | None:
        value = self._value(key)
        if not value:
            return None
        try:
            return resolve(value)
        except _InvalidValueError as invalid:
            self.errors.append(Validation(key, f"Query param {go_quote(key)} has invalid value: {invalid.reason}"))
            return None


def _go_lower(text: str) -> str:
    # Go's strings.ToLower maps rune by rune; str.lower() also applies context (final sigma)
    # and one-to-many mappings (U+0130 -> "i" + U+0307), whose first code point is Go's answer.
    return "".join(char.lower()[0] for char in text)


def _split_outside_quotes(text: str, delimiter: str) -> list[str]:
    """Go's `splitQueryParameterByDelimiter`: a `strings.FieldsFunc` that ignores quoted delimiters.

    Like FieldsFunc, empty fields are dropped, so `a  b` and `a::b` both give two parts.
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == delimiter and not quoted:
            if current:
                parts.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        parts.append("".join(current))
    return parts


def _group_tokens(tokens: list[str]) -> list[str]:
    """Go's `processTokens`: keep `key:value` tokens apart, join the rest into one search term.

    Joining is what lets `alice smith` mean one owner rather than two. Go tests for ':' anywhere,
    even inside quotes, so `"a:b"` stays a token of its own.
    """
    elements = [token for token in tokens if ":" in token]
    bare_words = [token for token in tokens if ":" not in token]
    if bare_words:
        elements.append(" ".join(bare_words))
    return elements


def _key_and_value(element: str, default_key: str) -> tuple[str, str]:
    if element.startswith(":") or element.endswith(":"):
        raise _syntax_error(f"Query element {go_quote(element)} cannot start or end with ':'")
    parts = [part.strip('"') for part in _split_outside_quotes(element, ":")]
    if len(parts) == 1:
        # Go hands the untrimmed element (quotes kept) to the default key; we deliberately use
        # the trimmed part so that `"alice smith"` searches for `alice smith`.
        return default_key, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise _syntax_error(f"Query element {go_quote(element)} can only contain 1 ':'")


def _syntax_error(detail: str) -> QueryError:
    return QueryError([Validation("q", detail)])


def _parse_param(
    terms: dict[str, list[str]],
    key: str,
    resolve: Callable[[str], str],
    errors: list[Validation],
) -> str | None:
    """Go's `httpapi.ParseCustom`: the first value wins, and an empty one means no filter."""
    values = terms.get(key)
    if not values or values[0] == "":
        return None
    try:
        return resolve(values[0])
    except _InvalidValueError as invalid:
        errors.append(Validation(key, f"Query param {go_quote(key)} has invalid value: {invalid.reason}"))
        return None


def _unknown_keys(terms: dict[str, list[str]], *, known: tuple[str, ...]) -> list[Validation]:
    # Go walks a map here, so its order is random; order of appearance keeps responses stable.
    return [
        Validation(key, f"Query param {go_quote(key)} is not a valid query param") for key in terms if key not in known
    ]


def _resolve_owner(value: str, me: str, find_user_id: Callable[[str], str | None]) -> str:
    if value == ME:
        return me
    # A UUID is taken on trust, without checking that such a user exists, as the server does.
    user_id = parse_uuid(value)
    if user_id is None:
        user_id = find_user_id(value)
    if user_id is None:
        raise _InvalidValueError(f"user {go_quote(value)} either does not exist, or you are unauthorized to view them")
    return user_id


def _resolve_organization(value: str, find_org_id: Callable[[str], str | None]) -> str:
    organization_id = parse_uuid(value)
    if organization_id is None:
        organization_id = find_org_id(value)
    if organization_id is None:
        raise _InvalidValueError(
            f"organization {go_quote(value)} either does not exist, or you are unauthorized to view it"
        )
    return organization_id


def _validate_status(value: str) -> str:
    # The real server passes any status through to SQL and fails with a 500; a 400 is more useful.
    if value not in TASK_STATUSES:
        valid_values = ", ".join(TASK_STATUSES)
        raise _InvalidValueError(f"{go_quote(value)} is not a valid task status. Valid values: {valid_values}")
    return value
