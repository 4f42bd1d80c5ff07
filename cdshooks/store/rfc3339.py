"""RFC 3339 date-times (feedback `outcomeTimestamp`): parsed strictly, the calendar checked."""

from __future__ import annotations

import re
from datetime import datetime, timezone

# RFC 3339 section 5.6 date-time (feedback outcomeTimestamp); the calendar is checked on parse.
RFC3339_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 date-time into an aware UTC datetime; ValueError if it is not one."""
    match = RFC3339_DATE_TIME.match(value)
    if not match:
        raise ValueError(f"not an RFC 3339 date-time: {value[:40]!r}")
    fraction = match.group(7) or ""
    normalized = value[: match.start(7)] if fraction else value[: match.start(8)]
    normalized += fraction[:7]  # Python keeps microseconds: at most 6 digits after the dot
    offset = match.group(8)
    normalized += "+00:00" if offset in ("Z", "z") else offset
    parsed = datetime.fromisoformat(normalized.replace("t", "T", 1))
    return parsed.astimezone(timezone.utc)
