"""Times on the wire: RFC 3339 strings in UTC with whole seconds, as metav1.Time writes them."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: float | datetime) -> str:
    """Writes Unix seconds (or an aware datetime) as e.g. "2026-11-30T05:58:28Z"."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("a naive datetime has no time zone: pass an aware one or Unix seconds")
        when = moment.astimezone(UTC)
    else:
        when = datetime.fromtimestamp(moment, UTC)
    return when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    """Reads an RFC 3339 time ("...Z" or with an offset) back into Unix seconds."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset")
    return when.timestamp()
