"""handle_feedback: the 2.0 body is validated field by field; a valid body is stored whole,
an invalid one is refused (400 naming the field) and nothing of it is stored."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from cdshooks.errors import EnvelopeInvalid
from cdshooks.protocol.auth import Caller
from cdshooks.protocol.feedback import FEEDBACK_SCHEMA, SCHEMA_PATH, handle_feedback
from cdshooks.store import Store
from cdshooks.store.tables import feedback

CALLER = Caller("https://ehr.example.org", None, "j")
GOOD = {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"}


def count(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(feedback)).scalar_one()


def test_schema_file_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(FEEDBACK_SCHEMA)
    assert json.loads(SCHEMA_PATH.read_text()) == FEEDBACK_SCHEMA
    assert SCHEMA_PATH.name == "feedback.schema.json"


@pytest.mark.parametrize("name", ["feedback-accepted", "feedback-overridden", "feedback-overridden-with-reason"])
def test_spec_examples_are_accepted_and_stored(name: str, spec_dir: Path, store: Store) -> None:
    body = json.loads((spec_dir / "examples" / "spec-2.0.1" / f"{name}.json").read_text())
    assert handle_feedback(store, "all-order-sign", body, CALLER) == {}
    assert count(store) == len(body["feedback"]) == 1


def test_sandbox_shaped_feedback_is_accepted(store: Store) -> None:
    """The Sandbox sends a reason Coding without display and no userComment, several items per body."""
    body = {"feedback": [
        {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00.123Z",
         "overrideReason": {"reason": {"code": "x", "system": "urn:all-cds:override-reason"}}},
        {"card": "c2", "outcome": "accepted", "acceptedSuggestions": [{"id": "s"}],
         "outcomeTimestamp": "2026-03-01T10:00:01.000Z", "extension": {"com.example": {"a": 1}}},
    ]}
    assert handle_feedback(store, "all-order-select", body, CALLER) == {}
    assert count(store) == 2


def _with(**changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return {"feedback": [item]}


@pytest.mark.parametrize(
    "body,field",
    [
        ([], "$"),
        ({}, "feedback"),
        ({"feedback": []}, "feedback"),
        ({"feedback": {"card": "c1"}}, "feedback"),
        (_with(card=None), "feedback[0].card"),
        (_with(card=""), "feedback[0].card"),
        (_with(card=7), "feedback[0].card"),
        (_with(outcome=None), "feedback[0].outcome"),
        (_with(outcome="ignored"), "feedback[0].outcome"),
        (_with(outcome="accepted"), "feedback[0].acceptedSuggestions"),
        (_with(outcome="accepted", acceptedSuggestions=[]), "feedback[0].acceptedSuggestions"),
        (_with(outcome="accepted", acceptedSuggestions=[{}]), "feedback[0].acceptedSuggestions[0].id"),
        (_with(outcomeTimestamp=None), "feedback[0].outcomeTimestamp"),
        (_with(outcomeTimestamp="2026-03-01"), "feedback[0].outcomeTimestamp"),
        (_with(outcomeTimestamp="2026-03-01T10:00:00"), "feedback[0].outcomeTimestamp"),
        (_with(outcomeTimestamp="2026-02-30T10:00:00Z"), "feedback[0].outcomeTimestamp"),
        (_with(overrideReason={}), "feedback[0].overrideReason"),
        (_with(overrideReason={"reason": {"code": "x"}}), "feedback[0].overrideReason.reason.system"),
        (_with(overrideReason={"reason": {"system": "urn:x"}}), "feedback[0].overrideReason.reason.code"),
        (_with(overrideReason={"userComment": ""}), "feedback[0].overrideReason.userComment"),
        (_with(extension="x"), "feedback[0].extension"),
    ],
)
def test_invalid_bodies_name_the_field_and_store_nothing(body: Any, field: str, sqlite_store: Store) -> None:
    with pytest.raises(EnvelopeInvalid) as info:
        handle_feedback(sqlite_store, "all-order-sign", body, CALLER)
    assert info.value.status == 400
    assert info.value.expression == [field]
    assert field in info.value.message
    assert count(sqlite_store) == 0


def test_one_bad_item_rejects_the_whole_body(sqlite_store: Store) -> None:
    body = {"feedback": [GOOD, {**GOOD, "outcome": "maybe"}]}
    with pytest.raises(EnvelopeInvalid, match=r"feedback\[1\]\.outcome"):
        handle_feedback(sqlite_store, "all-order-sign", body, CALLER)
    assert count(sqlite_store) == 0


def test_accepted_with_suggestions_passes_the_conditional(sqlite_store: Store) -> None:
    handle_feedback(sqlite_store, "s", _with(outcome="accepted", acceptedSuggestions=[{"id": "a"}]), CALLER)
    assert count(sqlite_store) == 1
