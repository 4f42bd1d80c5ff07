"""Card and suggestion ids are random version-4 UUIDs in the canonical form (cards/render.py writes
them from random bytes, without `uuid.UUID`, for speed: issue 15)."""

from __future__ import annotations

import uuid

from cdshooks.cards.render import new_uuid


def test_new_uuid_is_a_canonical_random_v4_uuid() -> None:
    ids = [new_uuid() for _ in range(4000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
    random_positions = [i for i in range(36) if i not in (8, 13, 14, 18, 23)]  # dashes, the version digit
    for i in random_positions:
        expected = set("89ab") if i == 19 else set("0123456789abcdef")
        assert {text[i] for text in ids} == expected, i
