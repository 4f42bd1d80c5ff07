"""Finding -> card: the contract's fields, uuids everywhere, summary < 140, spec logical model."""

from __future__ import annotations

from cdshooks.cards import render_cards
from cdshooks.rules.finding import ActionSpec, Finding, SuggestionSpec
from support.spec_models import load_model, validate


def _finding(**kw):
    values = dict(
        rule_id="route.vincristine.iv-only",
        topic="route",
        indicator="critical",
        summary="vincristine by intrathecal route: fatal. " * 6,
        detail="Ordered route: intrathecal.",
        citation="Vincristine label, boxed warning",
        orders=("MedicationRequest/mr-1",),
        inputs={"route": "intrathecal"},
        drug="vincristine",
        suggestions=(
            SuggestionSpec(
                label="Cancel this order",
                actions=(ActionSpec(type="delete", description="Remove the intrathecal vincristine order", resource_id="MedicationRequest/mr-1"),),
            ),
        ),
    )
    values.update(kw)
    return Finding(**values)


def test_card_has_contract_fields_and_validates_against_the_logical_model(spec_dir):
    cards = render_cards([_finding(), _finding(rule_id="x.info", topic="risk-group", indicator="info", suggestions=())], service_title="ALL", knowledge_version="2026.1.0")
    assert validate({"cards": cards}, load_model(spec_dir, "CDSHooksResponse")) == []
    card = cards[0]
    assert len(card["summary"]) < 140 and card["summary"].endswith("…")
    assert card["source"]["topic"] == {"system": "urn:all-cds:card-topic", "code": "route", "display": "Route"}
    assert "2026.1.0" in card["source"]["label"]
    ext = card["extension"]["all-cds"]
    assert ext["ruleId"] == "route.vincristine.iv-only" and ext["orders"] == ["MedicationRequest/mr-1"]
    assert ext["inputs"] == {"route": "intrathecal"} and ext["citation"]
    assert card["selectionBehavior"] == "at-most-one"
    assert card["suggestions"][0]["uuid"] and card["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/mr-1"
    assert all(r["display"] for r in card["overrideReasons"])
    assert "overrideReasons" not in cards[1]  # info cards need no override
    assert cards[0]["uuid"] != cards[1]["uuid"]


def test_unknown_topic_or_indicator_is_a_programming_error():
    import pytest

    with pytest.raises(ValueError):
        _finding(topic="dosage")
    with pytest.raises(ValueError):
        _finding(indicator="hard-stop")
