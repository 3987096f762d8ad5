"""fakeserver: an in-memory, stateful fake of the Coder Tasks HTTP API."""

from __future__ import annotations

__version__ = "0.1.0"
