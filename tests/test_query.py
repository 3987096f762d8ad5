from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakeserver.errors import Validation
from fakeserver.gotext import go_quote
from fakeserver.query import (
    TASK_STATUSES,
    QueryError,
    TaskFilter,
    TemplateFilter,
    parse_task_filter,
    parse_template_filter,
    split_terms,
)

ME_ID = "11111111-1111-1111-1111-111111111111"
ALICE_ID = "22222222-2222-2222-2222-222222222222"
ALICE_SMITH_ID = "33333333-3333-3333-3333-333333333333"
ACME_ID = "44444444-4444-4444-4444-444444444444"
SOME_UUID = "9b2c7e1a-3f4d-4e5a-8b6c-7d8e9f0a1b2c"

USERS = {"alice": ALICE_ID, "alice smith": ALICE_SMITH_ID}
ORGANIZATIONS = {"acme": ACME_ID}

VALID_STATUSES = "pending, initializing, active, paused, error, unknown"


def parse(query: str) -> TaskFilter:
    return parse_task_filter(query, me=ME_ID, find_user_id=USERS.get, find_org_id=ORGANIZATIONS.get)


def validations_of(query: str) -> list[Validation]:
    with pytest.raises(QueryError) as raised:
        parse(query)
    return raised.value.validations


def unknown_user(name: str) -> Validation:
    detail = (
        f'Query param "owner" has invalid value: user "{name}" '
        "either does not exist, or you are unauthorized to view them"
    )
    return Validation("owner", detail)


def unknown_organization(name: str) -> Validation:
    detail = (
        f'Query param "organization" has invalid value: organization "{name}" '
        "either does not exist, or you are unauthorized to view it"
    )
    return Validation("organization", detail)


def invalid_status(value: str) -> Validation:
    detail = (
        f'Query param "status" has invalid value: "{value}" is not a valid task status. Valid values: {VALID_STATUSES}'
    )
    return Validation("status", detail)


def unknown_key(key: str) -> Validation:
    return Validation(key, f'Query param "{key}" is not a valid query param')


# --- no filter ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", " ", "    "])
def test_empty_query_has_no_filters(query: str) -> None:
    assert parse(query) == TaskFilter()


@pytest.mark.parametrize("query", ['owner:""', 'organization:""', 'status:""', 'owner:"" status:""'])
def test_empty_value_means_no_filter(query: str) -> None:
    assert parse(query) == TaskFilter()


def test_empty_first_value_wins_over_a_later_one() -> None:
    assert parse('owner:"" owner:nobody') == TaskFilter()


# --- syntax --------------------------------------------------------------------------------------


def test_query_is_lowercased() -> None:
    assert split_terms("OWNER:Alice STATUS:Active") == {"owner": ["alice"], "status": ["active"]}
    assert parse("OWNER:Alice") == TaskFilter(owner_id=ALICE_ID)


def test_quoted_value_keeps_its_spaces_and_loses_its_quotes() -> None:
    assert split_terms('owner:"alice smith"') == {"owner": ["alice smith"]}
    assert parse('owner:"alice smith"') == TaskFilter(owner_id=ALICE_SMITH_ID)


def test_quoted_bare_term_loses_its_quotes() -> None:
    assert split_terms('"a b"') == {"owner": ["a b"]}
    assert parse('"alice smith"') == TaskFilter(owner_id=ALICE_SMITH_ID)


def test_colon_inside_quotes_does_not_split() -> None:
    assert split_terms('owner:"a:b"') == {"owner": ["a:b"]}


def test_repeated_spaces_are_skipped() -> None:
    assert split_terms("  status:active    owner:alice  ") == {"status": ["active"], "owner": ["alice"]}


def test_bare_word_is_an_owner() -> None:
    assert split_terms("alice") == {"owner": ["alice"]}
    assert parse("alice") == TaskFilter(owner_id=ALICE_ID)


def test_bare_words_are_joined_into_one_owner() -> None:
    assert split_terms("alice  status:active smith") == {"status": ["active"], "owner": ["alice smith"]}
    assert parse("alice smith") == TaskFilter(owner_id=ALICE_SMITH_ID)


def test_repeated_key_keeps_every_value_in_order() -> None:
    assert split_terms("status:paused status:active") == {"status": ["paused", "active"]}


@pytest.mark.parametrize("element", [":alice", "owner:", ":", "a:b:"])
def test_element_cannot_start_or_end_with_colon(element: str) -> None:
    detail = f"Query element \"{element}\" cannot start or end with ':'"
    assert validations_of(f"status:active {element}") == [Validation("q", detail)]


def test_element_with_two_colons_is_rejected() -> None:
    assert validations_of("a:b:c") == [Validation("q", "Query element \"a:b:c\" can only contain 1 ':'")]


def test_syntax_pass_stops_at_the_first_bad_element() -> None:
    assert validations_of("a:b:c owner: bogus:key") == [
        Validation("q", "Query element \"a:b:c\" can only contain 1 ':'")
    ]


def test_adjacent_colons_count_as_one_like_go_fields_func() -> None:
    assert split_terms("owner::alice") == {"owner": ["alice"]}


def test_element_in_detail_is_go_quoted() -> None:
    detail = 'Query element "owner:\\"a b\\":" cannot start or end with \':\''
    assert validations_of('owner:"a b":') == [Validation("q", detail)]


def test_split_terms_raises_query_error_itself() -> None:
    with pytest.raises(QueryError) as raised:
        split_terms("x:")
    assert raised.value.validations == [Validation("q", "Query element \"x:\" cannot start or end with ':'")]


# --- owner ---------------------------------------------------------------------------------------


def test_owner_me_is_the_caller() -> None:
    assert parse("owner:me") == TaskFilter(owner_id=ME_ID)
    assert parse("ME") == TaskFilter(owner_id=ME_ID)


def test_owner_uuid_is_taken_as_is_without_lookup() -> None:
    assert parse(f"owner:{SOME_UUID}") == TaskFilter(owner_id=SOME_UUID)


@pytest.mark.parametrize(
    "spelling",
    [
        SOME_UUID.upper(),
        SOME_UUID.replace("-", ""),
        "{" + SOME_UUID + "}",
        '"urn:uuid:' + SOME_UUID + '"',
    ],
)
def test_owner_uuid_forms_accepted_by_go_are_normalised(spelling: str) -> None:
    assert parse(f"owner:{spelling}") == TaskFilter(owner_id=SOME_UUID)


@pytest.mark.parametrize("spelling", ["0x" + SOME_UUID.replace("-", "")[2:], SOME_UUID.replace("-", "_")])
def test_owner_uuid_forms_only_python_accepts_are_usernames(spelling: str) -> None:
    assert validations_of(f"owner:{spelling}") == [unknown_user(spelling)]


def test_owner_unknown_username() -> None:
    assert validations_of("owner:bob") == [unknown_user("bob")]


def test_owner_unknown_username_is_go_quoted() -> None:
    assert validations_of('owner:"b\\o"') == [unknown_user("b\\\\o")]


def test_a_comma_stays_in_its_value_as_coderds_split_on_spaces_keeps_it() -> None:
    # `owner:alice, status:active` (terms joined with ", "): coderd's searchTerms splits on
    # spaces and then on ':', so the owner it looks up is "alice,"
    assert validations_of("owner:alice, status:active") == [unknown_user("alice,")]
    assert validations_of("status:active, owner:alice") == [invalid_status("active,")]


# --- organization --------------------------------------------------------------------------------


def test_organization_by_name() -> None:
    assert parse("organization:ACME") == TaskFilter(organization_id=ACME_ID)


def test_organization_by_uuid_is_taken_as_is_and_normalised() -> None:
    assert parse(f"organization:{SOME_UUID.upper()}") == TaskFilter(organization_id=SOME_UUID)


def test_organization_unknown() -> None:
    assert validations_of("organization:globex") == [unknown_organization("globex")]


# --- status --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", TASK_STATUSES)
def test_every_task_status_is_accepted(status: str) -> None:
    assert parse(f"status:{status}") == TaskFilter(status=status)


def test_status_invalid() -> None:
    assert validations_of("status:running") == [invalid_status("running")]


# --- other keys and combinations -----------------------------------------------------------------


def test_unknown_key() -> None:
    assert validations_of("template:docker") == [unknown_key("template")]


def test_unknown_key_is_rejected_even_when_empty() -> None:
    assert validations_of('template:""') == [unknown_key("template")]


def test_repeated_key_first_value_wins() -> None:
    assert parse("status:paused status:bogus owner:alice owner:bob") == TaskFilter(owner_id=ALICE_ID, status="paused")


def test_all_filters_together() -> None:
    query = f"status:active organization:acme owner:{SOME_UUID}"
    assert parse(query) == TaskFilter(owner_id=SOME_UUID, organization_id=ACME_ID, status="active")


def test_all_errors_are_collected_in_field_order() -> None:
    query = "zeta:1 status:running alpha:2 organization:globex bob"
    assert validations_of(query) == [
        unknown_user("bob"),
        unknown_organization("globex"),
        invalid_status("running"),
        unknown_key("zeta"),
        unknown_key("alpha"),
    ]


def test_query_error_message_lists_the_details() -> None:
    with pytest.raises(QueryError, match="is not a valid query param"):
        parse("template:docker")


# --- Go %q ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\tnew\nline", '"tab\\tnew\\nline"'),
        ("\x00\x7f", '"\\x00\\x7f"'),
        ("héllo ✓", '"héllo ✓"'),
        ("\u00a0\u200b", '"\\u00a0\\u200b"'),
        ("\U000e0001", '"\\U000e0001"'),
    ],
)
def test_go_quote_matches_go_percent_q(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


# --- property ------------------------------------------------------------------------------------

QUERY_ALPHABET = ' :"\\abcdeflmnoprstuvwxyzAEMO-0123456789{}\t'


def outcome_of(query: str) -> TaskFilter | list[Validation]:
    try:
        return parse(query)
    except QueryError as error:
        return error.validations


@given(st.one_of(st.text(), st.text(alphabet=QUERY_ALPHABET)))
def test_any_text_gives_a_filter_or_validations(query: str) -> None:
    outcome = outcome_of(query)
    if not isinstance(outcome, TaskFilter):
        assert outcome
        assert all(isinstance(validation, Validation) for validation in outcome)


# The `q` of GET /api/v2/templates (searchquery.Templates).


def template_filter(query: str) -> TemplateFilter:
    return parse_template_filter(query, me=ME_ID, find_org_id=lambda name: ACME_ID if name == "acme" else None)


def template_errors(query: str) -> list[Validation]:
    with pytest.raises(QueryError) as raised:
        template_filter(query)
    return raised.value.validations


def test_an_empty_template_query_filters_nothing() -> None:
    assert template_filter("  ") == TemplateFilter()


def test_bare_words_search_template_display_names_lowered_and_joined() -> None:
    assert template_filter("Claude  Code") == TemplateFilter(fuzzy_display_name="claude code")


@pytest.mark.parametrize(
    ("spelling", "value"),
    [("1", True), ("t", True), ("TRUE", True), ("True", True), ("0", False), ("f", False), ("False", False)],
)
def test_template_booleans_are_go_booleans_of_the_lowered_query(spelling: str, value: bool) -> None:
    assert template_filter(f"has-ai-task:{spelling}").has_ai_task is value
    assert template_filter(f"deprecated:{spelling}").deprecated is value


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8))
def test_any_other_boolean_is_refused_with_strconvs_words(word: str) -> None:
    if word in ("t", "f", "true", "false"):
        return
    assert template_errors(f"has-ai-task:{word}") == [
        Validation(
            "has-ai-task",
            f'Query param "has-ai-task" must be a valid boolean: strconv.ParseBool: parsing "{word}": invalid syntax',
        )
    ]


def test_template_keys_resolve_and_author_me_is_the_caller() -> None:
    parsed = template_filter(f'organization:acme exact_name:"x" ids:{ALICE_ID},{ACME_ID} author:me')
    assert parsed == TemplateFilter(
        organization_id=ACME_ID, exact_name="x", ids=(ALICE_ID, ACME_ID), author_id=ME_ID, author_username=""
    )


def test_every_template_query_problem_is_reported_at_once() -> None:
    assert template_errors("deleted:x name:a name:b flavour:mint") == [
        Validation(
            "deleted", 'Query param "deleted" must be a valid boolean: strconv.ParseBool: parsing "x": invalid syntax'
        ),
        Validation(
            "name",
            'Query param "name" provided more than once, found 2 times. Only provide 1 instance of this query param.',
        ),
        Validation("flavour", '"flavour" is not a valid query param'),
    ]
