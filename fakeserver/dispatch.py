"""Finding the route a request's path names without trying every route before it.

Starlette's router tries its routes in turn, so a path far down the list (a task's `send` is the
fifth of 53) pays for every pattern before it. A path parameter never spans a `/`, so a route can
match only a path with as many slashes as its own, and a route whose last segment is literal
only a path that ends in that segment. The index tries just those routes, in the router's order;
when none of them matches in full, the router takes the request and answers as it always does
(its 404, a slash redirect), having found that nothing matches.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.convertors import PathConvertor
from starlette.routing import BaseRoute, Match, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

Shape = tuple[int, str | None]  # a path's slashes, and its last segment when that is literal


class RouteTable:
    """Which of a router's routes could match a path, worked out once for a set of routes."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        shaped = [(route, route_shape(route)) for route in routes if not isinstance(route, WebSocketRoute)]
        self._by_count: dict[int, list[BaseRoute]] = {}
        self._by_last: dict[Shape, list[BaseRoute]] = {}
        for count, last in {shape for _, shape in shaped if shape is not None}:
            candidates = [route for route, shape in shaped if _could_match(shape, count, last)]
            if last is None:
                self._by_count[count] = candidates
            else:
                self._by_last[count, last] = candidates
        self._anywhere = [route for route, shape in shaped if shape is None]  # e.g. a Mount

    def candidates(self, path: str) -> Sequence[BaseRoute]:
        """The routes that could match `path`, in the router's order."""
        count = path.count("/")
        found = self._by_last.get((count, path[path.rfind("/") + 1 :])) or self._by_count.get(count)
        return found if found is not None else self._anywhere


class RouteIndex:
    """An ASGI app in front of `router`: an HTTP request goes straight to the route it matches."""

    def __init__(self, router: Router, table: RouteTable) -> None:
        self.router = router
        self.table = table  # of the router's own routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            for route in self.table.candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope["router"] = self.router
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.router(scope, receive, send)


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
