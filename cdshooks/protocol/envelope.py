"""Reading a CDS Hooks request body: size, content type, JSON (orjson), envelope schema.

Only the envelope is validated here (jsonschema, schema written from the 2.0.1 spec and kept in
`schemas/request.schema.json`). FHIR content is validated later, and only for the resources a
check reads (context.builder). Unknown fields are ignored, as the spec requires.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..errors import EnvelopeInvalid, MalformedJson, PayloadTooLarge, UnsupportedMediaType
from ..fetch.hook import HookRequest  # noqa: F401  (built here, defined below services)

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
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedJson(f"{what} must be a JSON object, got {type(body).__name__}")
    if json_depth(body) > MAX_JSON_DEPTH:
        raise MalformedJson(f"{what} nests JSON deeper than {MAX_JSON_DEPTH} levels")
    return body


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of parsed JSON, without recursion; stops counting just past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def validate(name: str, body: Any) -> None:
    error = best_match(validator(name).iter_errors(body))
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
