"""Is a parsed JSON body nested deeper than the limit? Read off orjson's indented rendering.

Why not walk the parsed objects (`envelope.json_depth`): that walk visits every value of a
600-resource chart in Python and cost more than parsing the body. orjson renders the same value
with two spaces per nesting level (OPT_INDENT_2) at C speed, and nesting can then be found with a
substring search: JSON strings never hold a raw newline, so "\\n" followed by spaces is always
indentation.

In that rendering an element inside k containers starts its line with 2k spaces, a non-empty
container puts its members on the lines below (one level deeper), and an empty one is written
`{}` / `[]` on its own line. So the depth exceeds `limit` exactly when some line is indented
2*limit + 2 spaces or more (an element inside limit + 1 containers), or a line indented exactly
2*limit holds an empty container (the one container at that level). Whatever orjson will not
render (nesting past its recursion limit, integers past 64 bits) is walked as before.
tests/protocol/test_json_depth.py holds this to `json_depth` on generated values.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import orjson

# One JSON string (a member name), as orjson writes it, then ": ".
_NAME = rb'"(?:[^"\\]|\\.)*": '


def deeper_than(value: Any, limit: int) -> bool:
    """`json_depth(value) > limit` for parsed JSON (dicts, lists, strings, numbers, booleans, None)."""
    if limit < 1 or (type(value) is not dict and type(value) is not list):
        return _walked_deeper_than(value, limit)
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except TypeError:  # orjson.JSONEncodeError: too deep for orjson, a big integer, a non-JSON value
        return _walked_deeper_than(value, limit)
    below, at = _needles(limit)
    if below in text:
        return True
    return at[0] in text and at[1].search(text) is not None


@lru_cache(maxsize=8)
def _needles(limit: int) -> tuple[bytes, tuple[bytes, re.Pattern[bytes]]]:
    """(indent of a line inside limit + 1 containers, (indent of one inside limit, an empty
    container at exactly that indent)), built once per limit."""
    spaces = b" " * (2 * limit)
    return b"\n" + spaces + b"  ", (b"\n" + spaces, re.compile(rb"\n" + spaces + rb"(?:" + _NAME + rb")?(?:\{\}|\[\])"))


def _walked_deeper_than(value: Any, limit: int) -> bool:
    from .envelope import json_depth  # the reference walk; imported here because envelope imports this module

    return json_depth(value, limit) > limit
