"""Reading a CDS Hooks request body: size, content type, JSON (orjson), envelope schema.

Only the envelope is validated here (jsonschema, schema written from the 2.0.1 spec and kept in
`schemas/request.schema.json`, compiled once), on a view of the body in which each prefetched
resource is reduced to its resourceType (`envelope_view`). FHIR content is validated later, and only for the resources a
check reads (context.builder). Unknown fields are ignored, as the spec requires.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..errors import EnvelopeInvalid, MalformedJson, PayloadTooLarge, UnsupportedMediaType
from ..fetch.hook import HookRequest  # noqa: F401  (built here, defined below services)
from .jsondepth import loads_within

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
# A CDS Hooks body is < 20 levels deep (prefetch -> Bundle -> entry -> resource -> dosage ...).
# Far deeper JSON is refused up front: schema validation and error formatting recurse per level.
MAX_JSON_DEPTH = 64


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check_content_type(content_type: str | None) -> None:
    mimetype = (content_type or "").split(";")[0].strip().lower()
    if mimetype not in ("application/json", "application/fhir+json", "application/json+fhir"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {mimetype or 'none'!r}"
        )


def parse_json_object(raw: bytes, *, max_bytes: int, what: str = "request body") -> dict[str, Any]:
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"{what} is {len(raw)} bytes; the limit is {max_bytes}")
    if not raw.strip():
        raise MalformedJson(f"{what} is empty")
    try:
        body, too_deep = loads_within(raw, MAX_JSON_DEPTH)  # = orjson.loads(raw), json_depth(body) > MAX_JSON_DEPTH (jsondepth.py)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedJson(f"{what} must be a JSON object, got {type(body).__name__}")
    if too_deep:
        raise MalformedJson(f"{what} nests JSON deeper than {MAX_JSON_DEPTH} levels")
    return body


def envelope_view(body: Any) -> Any:
    """`body` with every prefetched resource and every draft order resource reduced to its
    `resourceType`: the only member of theirs the request schema reads.

    Why: a chart of hundreds of resources made the schema walk cost twice the JSON parse, and a
    failing branch formatted the whole resource into its message. Validating this view gives the
    same verdict and the same error path (tests/protocol/test_envelope_view.py) and messages that
    never echo clinical content. Nothing is copied below the reduced level.
    """
    if type(body) is not dict:
        return body
    view = body
    prefetch = body.get("prefetch")
    if type(prefetch) is dict:
        view = dict(body)
        view["prefetch"] = {key: _stub(value) for key, value in prefetch.items()}
    context = body.get("context")
    orders = context.get("draftOrders") if type(context) is dict else None
    if type(orders) is dict and type(orders.get("entry")) is list:
        view = dict(view) if view is body else view
        view["context"] = dict(context)
        view["context"]["draftOrders"] = dict(orders)
        view["context"]["draftOrders"]["entry"] = [
            {**entry, "resource": _stub(entry["resource"])} if type(entry) is dict and "resource" in entry else entry
            for entry in orders["entry"]
        ]
    return view


def _stub(resource: Any) -> Any:
    if type(resource) is not dict:
        return resource
    return {"resourceType": resource["resourceType"]} if "resourceType" in resource else {}


@lru_cache(maxsize=None)
def compiled(name: str) -> Callable[[Any], Any]:
    """The schema compiled once to Python code (fastjsonschema), for the verdict on valid input.

    fastjsonschema speaks draft-07, so the one 2019-09+ keyword our schemas use is rewritten to
    its draft-07 twin (`dependentRequired` -> `dependencies`, same meaning for property lists);
    every other keyword they use means the same in both drafts. jsonschema (the reference
    validator) still decides and words every rejection (`validate`), and a test holds the two to
    the same verdict on every bad-input case."""
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return _by_hook(_null_last(_as_draft7(schema)))


def _by_hook(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """`schema` compiled, with an `allOf` of `if hook is X then ...` clauses chosen by a dict lookup.

    Why: fastjsonschema tests each `if` by raising and catching an exception that carries the
    whole schema as a dict literal built on the spot; the two clauses that do not apply to a
    call cost ~0.13 ms of the ~0.15 ms the compiled check took (issue 15). For an object the
    clause `{"if": {"properties": {"hook": {"const": X}}, "required": ["hook"]}, "then": T}` asks
    T exactly when the body has a "hook" equal to the string X (for anything else `if` holds and
    T, `properties` only, holds too, and the rest of the schema asks for an object anyway), so
    the same verdict is: the rest of the schema, then T of the body's hook, if any. A schema of
    any other shape is compiled whole."""
    thens: dict[str, Any] = {}
    for clause in schema.get("allOf") or ():
        hook = _hook_const(clause)
        if hook is None or hook in thens:
            return fastjsonschema.compile(schema)
        thens[hook] = clause["then"]
    if not thens:
        return fastjsonschema.compile(schema)
    defs = {key: schema[key] for key in ("$defs", "$schema") if key in schema}
    rest = fastjsonschema.compile({key: value for key, value in schema.items() if key != "allOf"})
    by_hook = {hook: fastjsonschema.compile({**then, **defs}) for hook, then in thens.items()}

    def validate_view(data: Any) -> Any:
        rest(data)
        hook = data.get("hook") if type(data) is dict else None
        check = by_hook.get(hook) if type(hook) is str else None
        if check is not None:
            check(data)
        return data

    return validate_view


def _hook_const(clause: Any) -> str | None:
    """X for a clause `{"if": {"properties": {"hook": {"const": X}}, "required": ["hook"]}, "then": {...}}`
    (X a string), else None."""
    if type(clause) is not dict or set(clause) != {"if", "then"} or type(clause["then"]) is not dict:
        return None
    condition = clause["if"]
    try:
        const = condition["properties"]["hook"]["const"]
    except (TypeError, KeyError):
        return None
    if type(const) is not str or condition != {"properties": {"hook": {"const": const}}, "required": ["hook"]}:
        return None
    return const


def _as_draft7(node: Any) -> Any:
    if isinstance(node, list):
        return [_as_draft7(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {("dependencies" if k == "dependentRequired" else k): _as_draft7(v) for k, v in node.items() if k != "$schema"}
    if "$schema" in node:
        out["$schema"] = "http://json-schema.org/draft-07/schema#"
    return out


_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})  # their values are JSON data, not schemas


def _null_last(node: Any) -> Any:
    """Every `anyOf` with its `{"type": "null"}` branches moved last (the verdict of anyOf does not
    depend on the order). Why: fastjsonschema tries the branches in order, each failure an
    exception with a formatted message, and a prefetched resource is seldom null: with null
    first, each of the ~8 prefetch values cost a raised and caught exception (~0.06 ms a call)."""
    if isinstance(node, list):
        return [_null_last(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: (v if k in _DATA_KEYWORDS else _null_last(v)) for k, v in node.items()}
    if type(out.get("anyOf")) is list:
        out["anyOf"] = sorted(out["anyOf"], key=lambda branch: branch == {"type": "null"})
    return out


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of parsed JSON, without recursion; stops counting just past `limit`.

    Level by level (breadth first) with exact type checks: parsed JSON holds only dicts and
    lists as containers, and this walk runs on every request body (~3x faster than a stack of
    (node, depth) pairs on a 600-resource chart)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return depth
        below = []
        for node in level:
            for child in (node.values() if isinstance(node, dict) else node):
                kind = type(child)
                if kind is dict or kind is list or isinstance(child, (dict, list)):
                    below.append(child)
        level = below
    return depth


def validate(name: str, body: Any) -> None:
    view = envelope_view(body) if name == "request" else body
    try:
        compiled(name)(view)
        return  # valid: the common case costs microseconds
    except fastjsonschema.JsonSchemaException:
        pass  # invalid (or unsure): the reference validator decides and says why
    error = best_match(validator(name).iter_errors(view))
    if error is not None:
        where = error.json_path if error.json_path != "$" else "request"
        raise EnvelopeInvalid(f"{where}: {error.message}", expression=[error.json_path])


def read_hook_request(body: dict[str, Any]) -> HookRequest:
    validate("request", body)
    context = body["context"]
    auth = body.get("fhirAuthorization") or {}
    return HookRequest(
        hook=body["hook"],
        hook_instance=body["hookInstance"],
        context=context,
        prefetch=body.get("prefetch"),
        fhir_server=(body.get("fhirServer") or None),
        access_token=auth.get("access_token"),
        patient_id=str(context.get("patientId", "")),
        user_id=str(context.get("userId", "")),
    )
