"""Is a resource already what `read.conform` would make of it? A check that copies nothing.

Why: `conform` (context/read.py) is the one defensive pass every resource goes through; it
builds a checked deep copy. Almost every resource an EHR sends is already conformant, and
copying hundreds of them cost more than parsing the JSON. `conformant(resource)` walks the same
table with the same rules and answers True only when `conform(resource)` would return an equal
resource with nothing dropped, so `fhir.entries` can keep the resource as sent and call `conform`
only for the rest. tests/context/test_conformant.py holds the two to that on every fixture, the
benchmark charts and hostile variants.
"""

from __future__ import annotations

from collections.abc import Mapping  # not typing's: isinstance on those is ~5x slower
from typing import Any

from .read import MALFORMED, MAX_DEPTH, MAX_MAGNITUDE, RESOURCE, SCHEMA, B, N, S, finite_number

# SCHEMA with each kind parsed once: S, N or B as they are, "obj:X" -> (False, X), "list:X" -> (True, X).
_Kind = Any
_TABLES: dict[str, dict[str, _Kind]] = {
    dtype: {key: kind if kind in (S, N, B) else (kind.startswith("list:"), kind.partition(":")[2]) for key, kind in table.items()}
    for dtype, table in SCHEMA.items()
}
_NO_TABLE: dict[str, _Kind] = {}


def conformant(resource: Any) -> bool:
    """True when `read.conform(resource) == resource` and it records no problem."""
    if type(resource) is not dict or type(resource.get("resourceType")) is not str or MALFORMED in resource:
        return False
    return _element(resource, resource["resourceType"], 0, _NO_KEYS)


def settled(resource: Any, list_keys: frozenset[str]) -> bool:
    """`conformant(resource)`, and no object in it holds an object under one of `list_keys`:
    what `fhir.normalize` would wrap in a list.

    Why: every resource `conform` keeps as sent is then normalized, a second walk of all of it
    that almost never changes anything; this answers both in the one walk. May say False where
    normalize would change nothing (a caller then conforms and normalizes, as before), never
    True where it would change something (tests/context/test_conformant.py)."""
    if type(resource) is not dict or type(resource.get("resourceType")) is not str or MALFORMED in resource:
        return False
    return _element(resource, resource["resourceType"], 0, list_keys)


_NO_KEYS: frozenset[str] = frozenset()


def _flat(obj: Mapping[str, Any], list_keys: frozenset[str]) -> bool:
    """No member of `obj` named in `list_keys` is an object."""
    for key, value in obj.items():
        if type(value) is dict and key in list_keys:
            return False
    return True


def _element(obj: Mapping[str, Any], dtype: str, depth: int, list_keys: frozenset[str]) -> bool:
    """Every member of an object of datatype `dtype` at `depth` keeps its value (as `conform`'s
    `element`: kinds from SCHEMA, nothing null, nothing deeper than MAX_DEPTH). Leaves, by far
    the most values, are judged inline, without a call each."""
    table = _TABLES.get(dtype, _NO_TABLE)
    depth += 1  # the members' depth
    if depth > MAX_DEPTH:
        return not obj  # an empty object has no value to drop
    for key, value in obj.items():
        t = type(value)
        kind = table.get(key)
        if t is str:
            if kind is None or kind is S:
                continue
            return False  # a string where a number, boolean, object or array belongs
        if t is dict and key in list_keys:
            return False  # an object where normalize wants an array (settled only: conformant passes no keys)
        if kind is None:  # unjudged: kept as sent, only cut below MAX_DEPTH (and nulls dropped)
            if t is int or t is float or t is bool:
                continue
            if not _unjudged((value,), depth, list_keys):  # an object or array (a null, or a non-JSON value, is dropped)
                return False
        elif kind is N:
            if not ((t is int or t is float) and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE):  # finite and plausible
                return False
        elif kind is B:
            if t is not bool:
                return False
        elif kind is S:
            return False
        elif kind[0]:  # an array
            if t is not list:
                return False  # a single object would be wrapped, anything else dropped
            if value and depth >= MAX_DEPTH:
                return False  # its items are too deep
            sub = kind[1]
            if sub is S or sub == S:
                for item in value:
                    if type(item) is not str:
                        return False
            else:
                for item in value:
                    if type(item) is not dict or not _object(item, sub, depth + 1, list_keys):
                        return False
        elif t is not dict or not _object(value, kind[1], depth, list_keys):
            return False
    return True


def _object(value: dict[str, Any], dtype: str, depth: int, list_keys: frozenset[str]) -> bool:
    if dtype == RESOURCE:  # a contained resource: its own resourceType picks its table
        rtype = value.get("resourceType")
        if type(rtype) is not str:
            return False
        dtype = rtype
    return _element(value, dtype, depth, list_keys)


def _unjudged(values: Any, depth: int, list_keys: frozenset[str]) -> bool:
    """Every value of an element we do not read is kept as sent: no null, nothing deeper than
    MAX_DEPTH (`depth` is theirs)."""
    if depth > MAX_DEPTH:
        return not values
    for v in values:
        t = type(v)
        if t is str or t is int or t is float or t is bool:
            continue
        if t is dict:
            if (list_keys and not _flat(v, list_keys)) or not _unjudged(v.values(), depth + 1, list_keys):
                return False
        elif t is list:
            if not _unjudged(v, depth + 1, list_keys):
                return False
        else:
            return False
    return True


# -- one element at a time: for readers that check only what they read ---------------------------
# Each says whether an element a reader reads is already of its FHIR JSON kind, so reading it as
# sent gives what reading it after `conform` gives (None, an absent element, reads the same both
# ways). Readers with such a check: observations.clean_observation, administrations.plain_administration.

def str_ok(value: Any) -> bool:
    return value is None or type(value) is str


def num_ok(value: Any) -> bool:
    return value is None or ((type(value) is int or type(value) is float) and finite_number(value) is not None)


def concept_ok(concept: Any) -> bool:
    """A CodeableConcept: text and every coding's system, code and display strings (or absent)."""
    if concept is None:
        return True
    if type(concept) is not dict:
        return False
    text, coding = concept.get("text"), concept.get("coding")
    if not (text is None or type(text) is str):
        return False
    if coding is None:
        return True
    if type(coding) is dict:
        return _coding_ok(coding)
    if type(coding) is not list:
        return False
    for c in coding:
        if type(c) is not dict or not _coding_ok(c):
            return False
    return True


def _coding_ok(c: dict[str, Any]) -> bool:
    system, code, display = c.get("system"), c.get("code"), c.get("display")
    return (system is None or type(system) is str) and (code is None or type(code) is str) and (display is None or type(display) is str)


def quantity_ok(q: Any) -> bool:
    return q is None or (type(q) is dict and num_ok(q.get("value")) and str_ok(q.get("comparator"))
                         and str_ok(q.get("unit")) and str_ok(q.get("system")) and str_ok(q.get("code")))


def items_ok(value: Any, ok: Any) -> bool:
    if value is None:
        return True
    if type(value) is dict:
        return bool(ok(value))
    return type(value) is list and all(type(v) is dict and ok(v) for v in value)
