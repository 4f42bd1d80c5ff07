"""Is a request body nested deeper than the limit? Decided while orjson parses it, or off its raw bytes.

`loads_within(raw, limit)` is `(orjson.loads(raw), json_depth(value) > limit)` in one parse.

The fast way (`_loads_padded`): orjson refuses any document nested deeper than `ORJSON_MAX_DEPTH`
(1024, checked once at import: `_orjson_max_depth`; if the installed orjson does not behave so,
the fast way is off). Parse `raw` wrapped in `ORJSON_MAX_DEPTH - limit` arrays: if orjson accepts
that, nothing in `raw`'s value is deeper than `limit`; and if the wrappers come back as a chain
of one-element arrays, `raw` was one JSON value and the innermost element is exactly what
`orjson.loads(raw)` returns (the wrappers' closing brackets are then the last ones of the text,
so nothing of `raw` closes a wrapper or adds an element beside it: `1],[2` gives a two-element
wrapper and is sent the general way). The cost over a plain parse is the 960 empty levels, the
copy and the unwrapping: ~0.1 ms on the 364 KB order-sign, where reading the depth off the
bytes (below) cost 0.6-0.9 ms (issue 15). Whatever else happens (orjson refuses the wrapped
text, too deep or invalid, or the chain is broken) goes the general way, which parses `raw`
itself, so every error is orjson's own message on the body as sent.

The general way (`deeper_than`) reads the depth off the raw bytes orjson accepted. Why not walk
the parsed objects (`envelope.json_depth`, the reference) or re-render them: the walk visits
every value of a 600-resource chart in Python, and re-rendering it with indentation allocated
and scanned a copy 1.6x the body's size, ~2 ms per call. Here only C-speed bytes operations
run, over the text orjson has just parsed, so it is valid JSON:

1. escapes: outside strings there is no backslash; inside, every backslash starts an escape,
   so deleting each `\\\\` pair left to right, then each `\\"`, leaves every remaining `"` a
   string delimiter (skipped when the body holds no backslash, the common case);
2. keep only `"`, `[`, `]`, `{`, `}` (one `bytes.translate`), and write `{}` as `[]`: in a
   well-formed text brackets match by nesting, so one kind of bracket nests the same way;
3. drop the strings: delimiters now alternate open/close, so deleting each `""` (an empty string,
   or a close and the next open with nothing structural between: two strings merged) keeps that
   alternation, and the few strings left (those holding a bracket, e.g. UCUM `[iU]`) are cut out
   as every second piece of a split on `"`;
4. the brackets left are the structure: each pass deleting every `[]` removes exactly the
   containers with no container inside, so the number of passes until nothing is left is the
   nesting depth as `json_depth` counts it (0 for a scalar, 1 for `{}` or `[1]`).

The text can only be deeper than the parsed value (a duplicate member name keeps one value in the
parse and both in the text), so a text deeper than the limit is confirmed on the parsed value by
the reference walk: the verdict is exactly `json_depth(value) > limit`.
tests/protocol/test_json_depth.py holds both ways to the walk's answer and to each other on
generated JSON, broken JSON and fragments that are not one value.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

_BRACKETS_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'"[]{}')
_UNSURE = object()  # `_loads_padded` could not decide: take the general way


def _orjson_max_depth() -> int:
    """1024 if orjson accepts 1024 nested arrays and refuses 1025 (orjson 3.x), else 0 (fast way off)."""
    def accepted(levels: int) -> bool:
        try:
            orjson.loads(b"[" * levels + b"]" * levels)
        except orjson.JSONDecodeError:
            return False
        return True

    return 1024 if accepted(1024) and not accepted(1025) else 0


ORJSON_MAX_DEPTH = _orjson_max_depth()


def loads_within(raw: bytes, limit: int) -> tuple[Any, bool]:
    """`(orjson.loads(raw), json_depth(value) > limit)`; raises what `orjson.loads(raw)` raises."""
    value = _loads_padded(raw, limit)
    if value is not _UNSURE:
        return value, False
    value = orjson.loads(raw)
    return value, deeper_than(raw, value, limit)


@lru_cache(maxsize=8)
def _padding(limit: int) -> tuple[bytes, bytes, range]:
    levels = ORJSON_MAX_DEPTH - limit
    return b"[" * levels, b"]" * levels, range(levels)


def _loads_padded(raw: bytes, limit: int) -> Any:
    """`orjson.loads(raw)` if orjson shows it is at most `limit` deep (module docstring), else `_UNSURE`."""
    if type(raw) is not bytes or not 0 <= limit < ORJSON_MAX_DEPTH:
        return _UNSURE
    opening, closing, levels = _padding(limit)
    try:
        value = orjson.loads(b"".join((opening, raw, closing)))
    except orjson.JSONDecodeError:
        return _UNSURE
    try:  # the text opens with the wrappers, so each level is an array (the first element of the one
        for _ in levels:  # around it); unpacking checks it holds nothing else, at C speed
            (value,) = value
    except (ValueError, TypeError):
        return _UNSURE
    return value


def text_depth(raw: bytes, limit: int) -> int:
    """Nesting depth of the valid JSON text `raw`; stops counting just past `limit` (steps 1-4 above)."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = raw.translate(_BRACKETS_AS_SQUARE, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])
    depth = 0
    while skeleton and depth <= limit:
        depth += 1
        skeleton = skeleton.replace(b"[]", b"")
    return depth


def deeper_than(raw: bytes, value: Any, limit: int) -> bool:
    """`json_depth(value) > limit`, where `value` is what orjson parsed from the bytes `raw`."""
    if text_depth(raw, limit) <= limit:
        return False
    from .envelope import json_depth  # the reference walk; imported here because envelope imports this module

    return json_depth(value, limit) > limit
