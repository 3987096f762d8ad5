"""Finding the route a request's path names without trying every route before it.

Starlette's router tries its routes in turn, so a path far down the list (a task's `send` is the
fifth of 53) pays for every pattern before it. A path parameter never spans a `/`, so a route can
match only a path with as many slashes as its own, and a route whose last segment is literal
only a path that ends in that segment. The index tries just those routes, in the router's order;
when none of them matches in full, the router takes the request and answers as it always does
(its 404, a slash redirect), having found that nothing matches. A plain route (every route the
spec makes) is matched by its pattern alone, as Starlette would match it, without the copies
Starlette's `Route.matches` makes.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.convertors import PathConvertor, StringConvertor
from starlette.routing import BaseRoute, Match, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

from fakeserver.routing import OperationEndpoint, PathEndpoint

Shape = tuple[int, str | None]  # a path's slashes, and its last segment when that is literal
# A candidate, and the same route again when it is plain (below): its pattern alone decides.
Candidate = tuple[BaseRoute, Route | None]


class RouteTable:
    """Which of a router's routes could match a path, worked out once for a set of routes."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        shaped = [(route, route_shape(route)) for route in routes if not isinstance(route, WebSocketRoute)]
        self._by_count: dict[int, list[Candidate]] = {}
        self._by_last: dict[Shape, list[Candidate]] = {}
        for count, last in {shape for _, shape in shaped if shape is not None}:
            candidates = [candidate(route) for route, shape in shaped if _could_match(shape, count, last)]
            if last is None:
                self._by_count[count] = candidates
            else:
                self._by_last[count, last] = candidates
        self._anywhere = [candidate(route) for route, shape in shaped if shape is None]  # e.g. a Mount

    def candidates(self, path: str) -> Sequence[BaseRoute]:
        """The routes that could match `path`, in the router's order."""
        return [route for route, _ in self._candidates(path)]

    def find(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        """The first route that matches an HTTP request in full, and what it adds to the scope; None
        when none does. The request is a server's own: no root path, no path parameters yet."""
        path: str = scope["path"]
        for route, plain in self._candidates(path):
            if plain is not None:
                found = plain.path_regex.match(path)
                if found is not None:
                    return route, {"endpoint": plain.endpoint, "path_params": found.groupdict()}
                continue
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return route, child_scope
        return None

    def _candidates(self, path: str) -> list[Candidate]:
        count = path.count("/")
        found = self._by_last.get((count, path[path.rfind("/") + 1 :])) or self._by_count.get(count)
        return found if found is not None else self._anywhere


class RouteIndex:
    """An ASGI app in front of `router`: an HTTP request goes straight to the route it matches."""

    def __init__(self, router: Router, table: RouteTable) -> None:
        self.router = router
        self.table = table  # of the router's own routes

    def operation(self, scope: Scope) -> OperationEndpoint | None:
        """The operation of the spec that answers an HTTP request, if one does (its path and its
        method), the scope then holding what routing adds; None for any other request (a path no
        operation serves, a method it does not take): routed as usual, it gets its 404 or 405."""
        found = self._find(scope)
        if found is None:
            return None
        route, child_scope = found
        endpoint = route.app if isinstance(route, Route) else None
        operation = endpoint.methods.get(scope["method"]) if isinstance(endpoint, PathEndpoint) else None
        if operation is not None:
            scope.update(child_scope, router=self.router, route=route)  # what Starlette's router adds
        return operation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._find(scope) if scope["type"] == "http" else None
        if found is None:
            await self.router(scope, receive, send)
            return
        route, child_scope = found
        scope.update(child_scope, router=self.router, route=route)
        # A route of any method only awaits its app (Route.handle): awaited here, a frame fewer.
        answer = route.app if isinstance(route, Route) and route.methods is None else route.handle
        await answer(scope, receive, send)

    def _find(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        """The route a server's own HTTP request matches (none routed yet: no root path, no path
        parameters)."""
        if scope.get("root_path") or "path_params" in scope:
            return None
        return self.table.find(scope)


def candidate(route: BaseRoute) -> Candidate:
    """A plain route (any method, every parameter a string, the kind the spec's routes are) matches
    exactly when its pattern does, with the parameters as the pattern captured them: Starlette's
    `Route.matches` would convert each with the identity and copy them twice, on every request."""
    if not isinstance(route, Route) or route.methods is not None:
        return route, None
    plain = all(type(convertor) is StringConvertor for convertor in route.param_convertors.values())
    return route, route if plain else None


def route_shape(route: BaseRoute) -> Shape | None:
    """The only shape of path an HTTP route matches, or None when it could match paths of any."""
    if not isinstance(route, Route) or any(isinstance(c, PathConvertor) for c in route.param_convertors.values()):
        return None
    last = route.path[route.path.rfind("/") + 1 :]
    return route.path.count("/"), (None if "{" in last else last)


def _could_match(shape: Shape | None, count: int, last: str | None) -> bool:
    """Whether a route of `shape` could match a path of `count` slashes ending in `last` (in a
    segment no route names, when None)."""
    return shape is None or (shape[0] == count and shape[1] in (None, last))
