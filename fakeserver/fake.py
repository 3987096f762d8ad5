"""`FakeCoder`: one fake Coder deployment — its world, its clock and its ASGI app."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fakeserver import lifecycle
from fakeserver.builder import build_world
from fakeserver.clock import ClockMode
from fakeserver.fixtures import Fixtures, default_fixture_path, load_fixtures
from fakeserver.world import World

if TYPE_CHECKING:
    import httpx
    from starlette.applications import Starlette


class FakeCoder:
    """A fake Coder with its own world: nothing is shared with any other instance.

    >>> fake = FakeCoder()                      # the default world, a manual clock
    >>> alice = fake.client("alice")            # an in-process httpx client
    >>> alice.get("/api/v2/tasks").json()["count"]
    """

    def __init__(
        self,
        fixtures: Sequence[str | Path] = (),
        *,
        clock: ClockMode = "manual",
        speed: float = 1.0,
        validate_responses: bool = True,
    ) -> None:
        from fakeserver.app import build_app  # the app needs this class's instances, not the module

        self.fixture_paths = [Path(p) for p in fixtures] or [default_fixture_path()]
        self.fixtures: Fixtures = load_fixtures(self.fixture_paths)
        self.clock_mode: ClockMode = clock
        self.speed = speed
        self.validate_responses = validate_responses
        self.lock = threading.RLock()  # requests and direct calls may come from different threads
        self.world: World = build_world(self.fixtures, clock, speed)
        self.app: Starlette = build_app(self)

    def reset(self) -> World:
        """Back to the loaded fixtures (not to empty); the clock keeps its mode and speed."""
        with self.lock:
            clock = self.world.clock
            self.world = build_world(self.fixtures, clock.mode, clock.speed)
            return self.world

    def advance(self, seconds: float) -> int:
        """Move the clock forward, applying every transition that falls due; returns how many."""
        with self.lock:
            return lifecycle.advance(self.world, seconds)

    def token(self, username: str) -> str:
        user = self.world.user_by_name(username)
        if user is None or not user.tokens:
            raise KeyError(f"no user {username!r} with a token")
        return user.tokens[0]

    def client(self, user: str | None = None) -> httpx.Client:
        """An httpx client talking to this fake in-process (no socket), signed in as `user` or anonymous.

        A response that breaks the spec raises `ResponseValidationError` here, in the caller.
        """
        import httpx

        from fakeserver.transport import SyncASGITransport

        return httpx.Client(
            transport=SyncASGITransport(self.app), base_url="http://fakeserver", headers=self._auth_headers(user)
        )

    def async_client(self, user: str | None = None) -> httpx.AsyncClient:
        """The same as `client()`, for async tests."""
        import httpx

        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://fakeserver", headers=self._auth_headers(user)
        )

    def _auth_headers(self, user: str | None) -> dict[str, str]:
        return {"Coder-Session-Token": self.token(user)} if user else {}
