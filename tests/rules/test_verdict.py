"""The engine stamps a verdict once: rule id and citation from the row, the unverified cap, patient inputs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cdshooks.cards.text import render_text
from cdshooks.context.builder import build_context
from cdshooks.knowledge import default_knowledge
from cdshooks.rules.registry import stamp
from cdshooks.rules.verdict import RowRef, Verdict

NOW = datetime(2026, 11, 2, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ctx():
    patient = {"resourceType": "Patient", "id": "p", "birthDate": "2019-05-01"}
    weight = {"resourceType": "Observation", "id": "w", "status": "final", "subject": {"reference": "Patient/p"},
              "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "effectiveDateTime": "2026-10-30",
              "valueQuantity": {"value": 20, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}
    prefetch = {"patient": patient, "observations": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": weight}]}}
    return build_context(prefetch, patient_id="p", draft_orders=None, selections=None, kb=default_knowledge(), now=NOW)


def _verdict(status: str, indicator: str = "critical", **kw) -> Verdict:
    row = RowRef("route.vincristine.iv-only", "Vincristine label boxed warning", status)
    return Verdict(row=row, topic="route", indicator=indicator, message="not-allowed", drug="vincristine", orders=("MedicationRequest/m",),
                   facts={"route": "intrathecal", "sent": None, "implied_by": None, "allowed": ["intravenous"], "label": "IV only",
                          "display": "vincristine 1 mg/mL"}, **kw)


def test_unverified_row_is_capped_once_and_marked_soft(ctx) -> None:
    hard, soft = stamp(_verdict("verified"), ctx), stamp(_verdict("unverified"), ctx)
    assert (hard.indicator, hard.soft) == ("critical", False)
    assert (soft.indicator, soft.soft) == ("warning", True)
    assert stamp(_verdict("unverified", indicator="info"), ctx).indicator == "info"
    assert "Soft rule" in render_text(soft)[1] and "Soft rule" not in render_text(hard)[1]


def test_provenance_comes_from_the_row(ctx) -> None:
    f = stamp(_verdict("verified", rule_id="route.vincristine.iv-only.text"), ctx)
    assert f.rule_id == "route.vincristine.iv-only.text" and f.citation == "Vincristine label boxed warning"
    assert f.inputs["rule_row"] == "route.vincristine.iv-only"
    assert stamp(_verdict("verified", citation="other source"), ctx).citation == "other source"


def test_patient_inputs_added_once_when_asked(ctx) -> None:
    without, with_ = stamp(_verdict("verified"), ctx), stamp(_verdict("verified", patient=True, inputs={"route": "intrathecal"}), ctx)
    assert "weight" not in without.inputs and without.patient is None
    assert with_.inputs["weight"]["value"] == 20 and with_.inputs["route"] == "intrathecal"
    detail = render_text(with_)[1]
    assert detail.count("- Weight:") == 1 and "20 kg on 2026-10-30" in detail


def test_verdict_rejects_a_message_that_cannot_name_a_macro() -> None:
    with pytest.raises(ValueError):
        Verdict(row=RowRef("x", "y"), topic="route", indicator="info", message="not a macro")
    with pytest.raises(ValueError):
        RowRef("x", "y", "draft")


def test_rules_run_in_a_fixed_order_whatever_the_import_order() -> None:
    """The lead finding of a merged missing-data card follows the engine's order, so it is fixed."""
    from cdshooks.rules.registry import _REGISTRY, FAMILIES, registered_rules

    specs = registered_rules()
    assert [(FAMILIES.index(s.family), s.name) for s in specs] == sorted((FAMILIES.index(s.family), s.name) for s in specs)
    _REGISTRY.reverse()  # as if the modules had been imported the other way round
    try:
        assert registered_rules() == specs
    finally:
        _REGISTRY.reverse()
