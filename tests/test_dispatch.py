"""The route index (dispatch.py) finds the very route Starlette's router would, trying fewer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from fakeserver.app import shared_route_table, shared_routes
from fakeserver.fake import FakeCoder
from fakeserver.handlers import API_HANDLERS
from fakeserver.handlers.control import HANDLERS as CONTROL_HANDLERS

HANDLERS = (tuple(API_HANDLERS.items()), tuple(CONTROL_HANDLERS.items()))
ROUTES = shared_routes(*HANDLERS)
TABLE = shared_route_table(*HANDLERS)
ROUTE_PATHS = [path for route in ROUTES if (path := getattr(route, "path", None))]
# every segment any route names, literal or a parameter's place, and some no route names
SEGMENTS = sorted({segment for path in ROUTE_PATHS for segment in path.split("/")} | {"", "me", "x", "%2F", "send."})


def request_scope(path: str, method: str) -> Scope:
    return {"type": "http", "path": path, "root_path": "", "method": method}


def first_full_match(routes: list[BaseRoute] | tuple[BaseRoute, ...], path: str, method: str) -> BaseRoute | None:
    scope = request_scope(path, method)
    return next((route for route in routes if route.matches(scope)[0] is Match.FULL), None)


def assert_found_as_the_router_would(path: str, method: str) -> None:
    """The table's own match: the route Starlette's router picks, and the very scope it adds."""
    scope = request_scope(path, method)
    expected = None
    for route in ROUTES:
        match, child_scope = route.matches(scope)
        if match is Match.FULL:
            expected = (route, child_scope)
            break
    found = TABLE.find(scope)
    if expected is None:
        assert found is None, path
    else:
        assert found is not None and found[0] is expected[0] and found[1] == expected[1], path


def path_like_routes() -> st.SearchStrategy[str]:
    """A route's path with each parameter filled by a segment (another route's literal among them),
    or with a segment added, dropped or changed; or a path made of segments at random."""
    segment = st.sampled_from(SEGMENTS).map(lambda s: "alice" if s.startswith("{") else s)

    @st.composite
    def from_a_route(draw: st.DrawFn) -> str:
        parts = draw(st.sampled_from(ROUTE_PATHS)).split("/")
        parts = [draw(segment) if part.startswith("{") else part for part in parts]
        change = draw(st.sampled_from(["none", "add", "drop", "replace"]))
        index = draw(st.integers(min_value=1, max_value=len(parts) - 1))
        if change == "add":
            parts.insert(index, draw(segment))
        elif change == "drop" and len(parts) > 2:
            del parts[index]
        elif change == "replace":
            parts[index] = draw(segment)
        return "/".join(parts)

    at_random = st.lists(segment, min_size=1, max_size=8).map(lambda parts: "/" + "/".join(parts))
    return from_a_route() | at_random


@given(path_like_routes(), st.sampled_from(["GET", "POST", "DELETE"]))
def test_the_index_finds_the_route_the_router_would(path: str, method: str) -> None:
    expected = first_full_match(ROUTES, path, method)
    found = first_full_match(list(TABLE.candidates(path)), path, method)
    assert found is expected
    assert_found_as_the_router_would(path, method)


def every_route_path_filled() -> list[str]:
    """Each route's path with one parameter filled by each segment any route names (the others by
    a plain value), and with a segment added after it: the paths where routes could be confused."""
    paths = []
    for route_path in ROUTE_PATHS:
        parts = [("alice" if part.startswith("{") else part) for part in route_path.split("/")]
        places = [index for index, part in enumerate(route_path.split("/")) if part.startswith("{")]
        for index in places or [len(parts) - 1]:
            for segment in SEGMENTS:
                filled = [*parts[:index], segment, *parts[index + 1 :]]
                paths += ["/".join(filled), "/".join([*filled, segment])]
    return paths


def test_the_index_finds_the_route_the_router_would_for_every_route() -> None:
    for path in every_route_path_filled():
        expected = first_full_match(ROUTES, path, "GET")
        assert first_full_match(list(TABLE.candidates(path)), path, "GET") is expected, path
        assert_found_as_the_router_would(path, "GET")


def test_each_route_is_the_first_candidate_for_its_own_paths() -> None:
    """A task's `send` is tried first, not after the four task routes before it."""
    send = TABLE.candidates("/api/v2/tasks/me/some-task/send")
    assert getattr(send[0], "path", None) == "/api/v2/tasks/{user}/{task}/send"
    one = TABLE.candidates("/api/v2/tasks/me/some-task")
    assert getattr(one[0], "path", None) == "/api/v2/tasks/{user}/{task}"


def test_what_the_index_does_not_match_the_router_still_answers(fake: FakeCoder) -> None:
    """Unknown paths, a trailing slash, another method, the dashboard: the router's answers."""
    with fake.client("alice") as alice:
        assert alice.get("/api/v2/nothing/here").json() == {"message": "Route not found."}
        assert alice.get("/api/v2/tasks/me/a/b/c/d").status_code == 404
        assert alice.delete("/api/v2/tasks").status_code == 405
        redirected = alice.get("/api/v2/tasks/", follow_redirects=False)
        assert redirected.status_code == 307 and redirected.headers["location"].endswith("/api/v2/tasks")
        assert alice.get("/__fake__/").status_code == 200
        assert alice.get("/__fake__/dashboard/no-such-file.js").status_code == 404
        assert alice.get("/api/v2/tasks").status_code == 200
