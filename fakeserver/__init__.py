"""fakeserver: an in-memory, stateful fake of the Coder Tasks HTTP API."""

from __future__ import annotations

from fakeserver.clock import ClockRangeError
from fakeserver.errors import BuildAlreadyActive, Conflict, FakeError, Invalid, NotFound
from fakeserver.fake import FakeCoder
from fakeserver.fixtures import FixtureError
from fakeserver.server import FakeServer, FakeServerError
from fakeserver.spec import SpecError
from fakeserver.validation import ResponseValidationError

# What users may import: the fake, the server that serves it from a thread, and the errors a
# Python caller can catch. Transports come from `FakeCoder.transport()` / `async_transport()`;
# the pytest plugin's fixtures and helpers are documented in docs/pytest-plugin.md.
__all__ = [
    "BuildAlreadyActive",
    "ClockRangeError",
    "Conflict",
    "FakeCoder",
    "FakeError",
    "FakeServer",
    "FakeServerError",
    "FixtureError",
    "Invalid",
    "NotFound",
    "ResponseValidationError",
    "SpecError",
    "__version__",
]

__version__ = "0.1.0"
