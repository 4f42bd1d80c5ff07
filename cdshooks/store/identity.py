"""Who called, as the store records it on audit, feedback and replay rows.

Defined in the store (the bottom layer) and produced by protocol.auth from a verified JWT, so the
import runs one way: protocol.auth -> store (never back).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """Who called, as proven by the JWT (all None when auth is disabled)."""

    iss: str | None
    tenant: str | None
    jti: str | None


ANONYMOUS = Caller(None, None, None)
