"""Hostile request bodies for property-based tests: fixture requests mutated at random JSON paths.

A mutation replaces the value at one path with a value of another JSON kind, an extreme number, a
wrong resource, or an array nested ~1000 deep (spliced in as text, because neither json nor
orjson serialises that depth). Used by tests/protocol/test_mutated_requests.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_REQUESTS = sorted(ROOT.glob("fhir_fixtures/*/request-*.json"))
DEEP = "__i11_deep_nesting__"
DEEP_JSON = "[" * 990 + "1" + "]" * 990

EXTREMES: list[Any] = [
    1e308, -1e308, 2**63 - 1, -(2**63), 10**30, 0, -1, -1.2, 1e-300, "NaN", "Infinity", "-1", "",
    "1e308", "2026-13-45", "x" * 3000, True, False, None, [], {}, [None], [1, "a", {}], {"a": [1]},
    DEEP, {"resourceType": "Observation", "id": "o", "status": "final"},
    {"resourceType": "OperationOutcome", "issue": []}, {"resourceType": "Bundle", "entry": 1},
]

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
replacement = st.one_of(st.sampled_from(EXTREMES), json_value)


def paths(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for n, value in enumerate(obj):
            yield from paths(value, prefix + (n,))


def put(obj: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        obj = obj[part]
    obj[path[-1]] = value


@st.composite
def mutated_request(draw: st.DrawFn, max_mutations: int = 3) -> tuple[str, str, list[tuple]]:
    """(service id, raw JSON body, mutated paths) from one fixture request."""
    path = draw(st.sampled_from(FIXTURE_REQUESTS))
    body = json.loads(path.read_text(encoding="utf-8"))
    service = "all-order-sign" if "order-sign" in path.name else "all-patient-view"
    done: list[tuple] = []
    for _ in range(draw(st.integers(1, max_mutations))):
        candidates = [p for p in paths(body) if len(p) >= 2]
        # bias towards FHIR content (context.draftOrders, prefetch), where the readers live
        fhir = [p for p in candidates if p[0] == "prefetch" or (len(p) > 2 and p[1] == "draftOrders")]
        where = draw(st.sampled_from(fhir or candidates))
        put(body, where, copy.deepcopy(draw(replacement)))  # never let a later mutation edit EXTREMES
        done.append(where)
    raw = json.dumps(body).replace(json.dumps(DEEP), DEEP_JSON)
    return service, raw, done
