"""`jsondepth.deeper_than` (read off orjson's indented rendering) answers exactly what the
reference walk `envelope.json_depth` answers, on generated JSON and at the request limit."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdshooks.protocol.envelope import MAX_JSON_DEPTH, json_depth, parse_json_object
from cdshooks.protocol.jsondepth import deeper_than
from cdshooks.errors import MalformedJson

# Names and strings that look like indentation or structure once rendered.
TRICKY = st.sampled_from(["", "a", '"', '": ', "\n  ", "{}", "[]", "\\", 'x": {}', "\u2028", "  [", "é"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False),
                    TRICKY, st.text(max_size=5))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.one_of(TRICKY, st.text(max_size=4)), inner, max_size=3)),
                    max_leaves=40)


@settings(max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(JSON)
def test_agrees_with_the_walk_on_generated_json(value):
    depth = json_depth(value)
    for limit in range(1, 9):
        assert deeper_than(value, limit) == (depth > limit), (limit, depth)


def _nested(levels, innermost):
    value = innermost
    for n in range(levels):
        value = {"k": value} if n % 2 else [value]
    return value


@pytest.mark.parametrize("innermost", [1, "s", {}, [], {"a": 1}, [None]])
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
def test_agrees_at_the_request_limit(levels, innermost):
    value = {"hook": "order-sign", "context": _nested(levels, innermost)}
    assert deeper_than(value, MAX_JSON_DEPTH) == (json_depth(value) > MAX_JSON_DEPTH)


def test_what_orjson_will_not_render_is_walked():
    too_deep_for_orjson = _nested(400, 1)
    assert deeper_than(too_deep_for_orjson, MAX_JSON_DEPTH) and json_depth(too_deep_for_orjson) > MAX_JSON_DEPTH
    big = {"n": [2**70]}  # orjson parses big integers as floats; a caller may still pass one
    assert deeper_than(big, 1) and not deeper_than(big, 2)
    assert not deeper_than("scalar", 1) and not deeper_than({}, 1) and deeper_than({"a": {}}, 1)


def test_a_body_one_level_too_deep_is_refused_and_one_at_the_limit_is_not():
    at_limit = {"hook": "x", "a": _nested(MAX_JSON_DEPTH - 1, 1)}
    assert json_depth(at_limit) == MAX_JSON_DEPTH
    assert parse_json_object(orjson.dumps(at_limit), max_bytes=10**7) == at_limit
    too_deep = {"hook": "x", "a": _nested(MAX_JSON_DEPTH - 1, [])}
    with pytest.raises(MalformedJson, match="deeper than"):
        parse_json_object(orjson.dumps(too_deep), max_bytes=10**7)
