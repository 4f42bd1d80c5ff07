"""`jsondepth.loads_within` (orjson's own depth limit on the body wrapped in arrays, else
`deeper_than`, read off the raw bytes) answers exactly what `orjson.loads` and the reference walk
`envelope.json_depth` answer on the parsed value: on generated JSON written in several ways
(escapes, indentation, brackets and quotes inside strings, duplicate member names), on fragments
that are not one JSON value or not JSON at all (same value or the same error), and at the
request limit."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdshooks.errors import MalformedJson
from cdshooks.protocol.envelope import MAX_JSON_DEPTH, json_depth, parse_json_object
from cdshooks.protocol.jsondepth import ORJSON_MAX_DEPTH, _loads_padded, _UNSURE, deeper_than, loads_within, text_depth

# Names and strings that look like structure, escapes or string ends once written.
TRICKY = st.sampled_from(["", "a", '"', '": ', "\n  ", "{}", "[]", "\\", '\\"', "\\\\", '"\\', 'x": {}', "\u2028",
                          "  [", "]", "}", "[iU]", '"]', '["', "é", "\t"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False),
                    TRICKY, st.text(max_size=5))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.one_of(TRICKY, st.text(max_size=4)), inner, max_size=3)),
                    max_leaves=40)
# The same value written the ways a client may write it.
WRITERS = [
    orjson.dumps,
    lambda v: orjson.dumps(v, option=orjson.OPT_INDENT_2),
    lambda v: json.dumps(v).encode(),  # ASCII only: \uXXXX escapes
    lambda v: json.dumps(v, ensure_ascii=False, indent="\t", separators=(" ,\r\n", " : ")).encode("utf-8"),
]
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def _verdicts_agree(raw: bytes) -> None:
    value = orjson.loads(raw)
    depth = json_depth(value)
    for limit in range(0, 9):
        assert deeper_than(raw, value, limit) == (depth > limit), (limit, depth, raw)
        assert loads_within(raw, limit) == (value, depth > limit), (limit, depth, raw)
        fast = _loads_padded(raw, limit)
        assert fast is _UNSURE or (fast == value and depth <= limit), (limit, depth, raw)


def _same_as_orjson(raw: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """`loads_within` returns what orjson.loads returns and the walk's verdict, or raises its exact error."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        with pytest.raises(orjson.JSONDecodeError) as caught:
            loads_within(raw, limit)
        assert str(caught.value) == str(exc)
        assert _loads_padded(raw, limit) is _UNSURE
        return
    assert loads_within(raw, limit) == (value, json_depth(value) > limit), raw


@SETTINGS
@given(JSON, st.sampled_from(range(len(WRITERS))))
def test_agrees_with_the_walk_on_generated_json(value, writer):
    raw = WRITERS[writer](value)
    _verdicts_agree(raw)
    assert text_depth(raw, 64) == json_depth(value)  # no duplicate names: the text is exactly as deep
    for limit in range(0, 9):  # ... so the fast way decides every case within the limit
        assert (_loads_padded(raw, limit) is _UNSURE) == (json_depth(value) > limit)


def _write_with_duplicates(draw, value) -> bytes:
    """`value` as JSON text in which objects may first hold a member that a later member of the same
    name overrides (the parse keeps the last): the text nests deeper than the parsed value."""
    if isinstance(value, list):
        return b"[" + b",".join(_write_with_duplicates(draw, v) for v in value) + b"]"
    if isinstance(value, dict):
        members = []
        for name, member in value.items():
            key = orjson.dumps(name)
            if draw(st.booleans()):
                members.append(key + b":" + orjson.dumps(draw(JSON)))  # overridden below
            members.append(key + b":" + _write_with_duplicates(draw, member))
        return b"{" + b",".join(members) + b"}"
    return orjson.dumps(value)


@SETTINGS
@given(st.data())
def test_agrees_with_the_walk_when_names_repeat(data):
    value = data.draw(st.dictionaries(st.text(max_size=2), JSON, min_size=1, max_size=3))
    raw = _write_with_duplicates(data.draw, value)
    assert orjson.loads(raw) == value
    _verdicts_agree(raw)


# Pieces of text that close, open or separate values: glued around written values they make
# fragments such as `1],[2` or `{}]` that a wrapper of arrays would otherwise accept.
JUNK = st.sampled_from([b"]", b"[", b",", b"],[", b"]]", b"[[", b"}", b"{", b":", b" ", b'"', b"\\", b"],", b",[", b"]}",
                        b"{\"a\":", b"", b"\n", b"1"])


@SETTINGS
@given(st.lists(st.one_of(JSON.map(orjson.dumps), JUNK), min_size=1, max_size=6), st.sampled_from([0, 1, 3, MAX_JSON_DEPTH]))
def test_fragments_give_orjsons_value_or_its_error(pieces, limit):
    _same_as_orjson(b"".join(pieces), limit)


@SETTINGS
@given(JSON.map(orjson.dumps), JSON.map(orjson.dumps), st.integers(0, 3), st.integers(0, 3), st.sampled_from([b",", b":", b""]),
       st.sampled_from([0, 2, MAX_JSON_DEPTH]))
def test_two_values_spliced_are_not_taken_for_one(first, second, closes, opens, between, limit):
    # `1],[2`, `{}]]:[[[]`...: valid inside enough wrapping arrays when closes == opens, never one value
    _same_as_orjson(first + b"]" * closes + between + b"[" * opens + second, limit)


@pytest.mark.parametrize("raw", [b"1],[2", b"{}],[{}", b"{}]", b"[{}", b"1]" + b"]" * 959 + b",[" + b"[" * 959 + b"2",
                                 b" [1] ", b"\t{}\r\n", b"[1,2]", b"\xef\xbb\xbf{}", b"{\"a\":1}garbage", b"\xff", b"nul"])
def test_not_one_value_goes_the_general_way(raw):
    _same_as_orjson(raw)


def test_orjson_limit_is_known_and_the_fast_way_is_on():
    assert ORJSON_MAX_DEPTH == 1024  # if a new orjson changes its limit, the fast way turns off: look at jsondepth.py
    body = {"hook": "order-sign", "prefetch": {"b": {"entry": [{"resource": {"code": {"coding": [{"unit": "[iU]"}]}}}] * 50}}}
    assert _loads_padded(orjson.dumps(body), MAX_JSON_DEPTH) == body


def test_a_discarded_duplicate_too_deep_is_not_refused():
    raw = b'{"a": ' + b"[" * 80 + b"]" * 80 + b', "a": 1}'
    assert text_depth(raw, MAX_JSON_DEPTH) > MAX_JSON_DEPTH
    assert parse_json_object(raw, max_bytes=10**7) == {"a": 1}


def _nested(levels, innermost):
    value = innermost
    for n in range(levels):
        value = {"k": value} if n % 2 else [value]
    return value


@pytest.mark.parametrize("innermost", [1, "s", "]]", "[[", {}, [], {"a": 1}, [None]])
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
def test_agrees_at_the_request_limit(levels, innermost):
    raw = orjson.dumps({"hook": "order-sign", "context": _nested(levels, innermost)})
    value = orjson.loads(raw)
    too_deep = json_depth(value) > MAX_JSON_DEPTH
    assert deeper_than(raw, value, MAX_JSON_DEPTH) == too_deep
    assert loads_within(raw, MAX_JSON_DEPTH) == (value, too_deep)
    assert (_loads_padded(raw, MAX_JSON_DEPTH) is _UNSURE) == too_deep


def test_strings_cannot_hide_nesting():
    # closing brackets in one string and opening ones in a later one around a deep value
    deep = _nested(MAX_JSON_DEPTH + 1, 1)
    raw = orjson.dumps(["]" * 70, deep, "[" * 70])
    assert deeper_than(raw, orjson.loads(raw), MAX_JSON_DEPTH)
    assert text_depth(b'"[[[\\"]]]"', 5) == 0 and text_depth(b"7", 5) == 0
    assert text_depth(b"[]", 5) == 1 and text_depth(b' { "a" : [ { } ] } ', 5) == 3


def test_a_body_one_level_too_deep_is_refused_and_one_at_the_limit_is_not():
    at_limit = {"hook": "x", "a": _nested(MAX_JSON_DEPTH - 1, 1)}
    assert json_depth(at_limit) == MAX_JSON_DEPTH
    assert parse_json_object(orjson.dumps(at_limit), max_bytes=10**7) == at_limit
    too_deep = {"hook": "x", "a": _nested(MAX_JSON_DEPTH - 1, [])}
    with pytest.raises(MalformedJson, match="deeper than"):
        parse_json_object(orjson.dumps(too_deep), max_bytes=10**7)
