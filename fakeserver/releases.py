"""The Coder releases the fake can play, and what changed between them.

Every behaviour that differs between the releases the fake covers is one entry of `CHANGES`,
with the release it first appears in; code asks `release.has(CHANGE)` and nothing else.
docs/releases.md is generated from this table (`fakeserver releases`), and a test keeps the two
equal. Each entry was read from coderd's source at the release tags (`coderd/aitasks.go`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Final


@dataclass(frozen=True, order=True)
class Release:
    """A minor release of Coder, e.g. 2.31."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Release:
        """`2.31`, `v2.31` or `v2.31.9` (the patch is ignored: behaviour changes with minors)."""
        parts = text.strip().removeprefix("v").split(".")
        if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
            raise ValueError(f"not a Coder release: {text!r} (e.g. 2.31)")
        release = cls(int(parts[0]), int(parts[1]))
        if release not in RELEASES:
            known = ", ".join(str(r) for r in RELEASES)
            raise ValueError(f"the fake does not play Coder {release} (it plays {known})")
        return release

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def version(self) -> str:
        """What `X-Coder-Build-Version` and `/api/v2/buildinfo` say."""
        return f"v{self.major}.{self.minor}.0"

    @cached_property
    def version_header(self) -> bytes:
        """`version` as the header value, made once: every answer carries it."""
        return self.version.encode("ascii")

    def has(self, change: Change) -> bool:
        since = change.since  # compared as tuples: the dataclass's `>=` is one more Python call
        return (self.major, self.minor) >= (since.major, since.minor)


@dataclass(frozen=True)
class Change:
    name: str
    since: Release
    before: str
    after: str
    source: str


RELEASES: Final = tuple(Release(2, minor) for minor in range(31, 37))
LATEST: Final = RELEASES[-1]

SEND_WHILE_BUSY_CONFLICT: Final = Change(
    "send while the agent is busy",
    Release(2, 32),
    before="502 `Task app is not ready to accept input.` (detail `Status: running`)",
    after="409, same message and detail",
    source="coder/coder#23424",
)
FAILURE_SHOWN_AS_FAILED: Final = Change(
    "an app status `failure` in `current_state.state`",
    Release(2, 32),
    before="`failure`, as the agent reported it",
    after="`failed` (`appStatusStateToTaskState`)",
    source="coderd/aitasks.go at v2.32.0",
)
CHANGES: Final = (SEND_WHILE_BUSY_CONFLICT, FAILURE_SHOWN_AS_FAILED)


def markdown_table() -> str:
    """docs/releases.md's table of what each release does differently."""
    lines = [
        "| behaviour | before | from | after | source |",
        "|---|---|---|---|---|",
        *(f"| {c.name} | {c.before} | {c.since} | {c.after} | {c.source} |" for c in CHANGES),
    ]
    return "\n".join(lines) + "\n"
