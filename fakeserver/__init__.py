"""fakeserver: an in-memory, stateful fake of the Coder Tasks HTTP API."""

from __future__ import annotations

from fakeserver.fake import FakeCoder
from fakeserver.fixtures import FixtureError
from fakeserver.validation import ResponseValidationError

__all__ = ["FakeCoder", "FixtureError", "ResponseValidationError", "__version__"]

__version__ = "0.1.0"
