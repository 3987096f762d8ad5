"""Times on the wire: RFC 3339 in UTC with a `Z`, as Go's time.Time marshals them."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """Go's RFC3339Nano: the fraction of a second without trailing zeros, none when whole."""
    text = moment.astimezone(UTC).isoformat()[:-6]  # without its `+00:00`; the year has its 4 digits
    if moment.microsecond:
        text = text.rstrip("0")
    return text + "Z"


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time; a value without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
