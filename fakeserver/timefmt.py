"""Times on the wire: RFC 3339 in UTC with a `Z`, as Go's time.Time marshals them."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """Go's RFC3339Nano: the fraction of a second without trailing zeros, none when whole."""
    global _last_formatted
    last = _last_formatted  # read once: another thread may replace it meanwhile
    if last[0] is moment:
        return last[1]
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    text = utc.isoformat()[:-6]  # without its `+00:00`; the year has its 4 digits
    if moment.microsecond:
        text = text.rstrip("0")
    text += "Z"
    _last_formatted = (moment, text)
    return text


# The last moment formatted, and its text. A call of the API reads the clock once, so the times it
# writes are mostly one datetime: a new task's `created_at`, `updated_at` and the timestamp of its
# `current_state` are the same object, formatted once.
_last_formatted: tuple[datetime | None, str] = (None, "")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time; a value without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
