"""POST /cds-services/{id}/feedback: validate the CDS Hooks 2.0 body and store each item.

Why validate strictly: feedback is the evidence we use to judge whether a rule helps or is
ignored. A malformed item stored silently would bias the override rates the safety review reads,
so a bad body is refused with a 400 naming the field, and nothing of it is stored (one transaction).
The spec leaves the response undefined; we answer 200 with ``{}`` (the sandbox ignores it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from ..cards.overrides import OVERRIDE_SYSTEM, known_code
from ..errors import EnvelopeInvalid
from ..store import parse_rfc3339
from . import metrics

if TYPE_CHECKING:
    from ..store import Store
    from .auth import Caller

SCHEMA_PATH = Path(__file__).parent / "schemas" / "feedback.schema.json"
FEEDBACK_SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
Draft202012Validator.check_schema(FEEDBACK_SCHEMA)
_VALIDATOR = Draft202012Validator(FEEDBACK_SCHEMA)


def _where(error: ValidationError) -> str:
    """JSONPath-like location of the offending member, e.g. ``feedback[0].outcomeTimestamp``."""
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    if error.validator == "required":
        missing = next((name for name in error.validator_value if name not in (error.instance or {})), None)
        if missing:
            path += f".{missing}"
    return path.replace("$.", "", 1) if path != "$" else "$"


def validate_feedback(body: Any) -> list[dict]:
    """Return the feedback items of a valid body; raise EnvelopeInvalid naming the first bad field."""
    error = best_match(_VALIDATOR.iter_errors(body))
    if error is not None:
        where = _where(error)
        raise EnvelopeInvalid(f"feedback body invalid at {where}: {error.message[:200]}", expression=[where])
    items: list[dict] = body["feedback"]
    for n, item in enumerate(items):
        try:
            parse_rfc3339(item["outcomeTimestamp"])
        except ValueError:
            where = f"feedback[{n}].outcomeTimestamp"
            raise EnvelopeInvalid(f"feedback body invalid at {where}: not a real date-time", expression=[where]) from None
    return items


def handle_feedback(store: "Store", service_id: str, body: Any, caller: "Caller") -> dict:
    """Validate, then store every item in one committed transaction; ``{}`` is the 200 body."""
    items = validate_feedback(body)
    store.record_feedback(service_id=service_id, items=items, caller=caller)
    count_outcomes(store, service_id, items, caller)
    return {}


def reason_label(item: dict) -> str:
    """The override reason as a bounded metrics label: our codes by name, anything else lumped."""
    coding = (item.get("overrideReason") or {}).get("reason") or {}
    code = coding.get("code")
    if not code:
        return "none"
    if coding.get("system") == OVERRIDE_SYSTEM and isinstance(code, str) and known_code(code):
        return known_code(code)
    return "unlisted"


def count_outcomes(store: "Store", service_id: str, items: list[dict], caller: "Caller") -> None:
    """/metrics: cdshooks_feedback_total{service, rule, outcome, reason} (after the items are stored)."""
    rules = store.card_rules(service_id, (str(i["card"]) for i in items), caller)
    for item in items:
        rule = rules.get(str(item["card"]), "(unissued)")
        metrics.FEEDBACK.labels(service_id, rule, item["outcome"], reason_label(item)).inc()
