"""Across rule families, one clinical finding yields one card (contract: no duplicate cards).

Each case runs every family through the real engine and asserts the exact set of rule ids, so a
second family starting to report the same fact (e.g. CAR-T label age from dose, regimen and
population) fails here.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from cdshooks.context.model import (
    Age, Bsa, Dose, LabResult, Measurement, MedicationOrder, PatientContext, Quantity, Route, Timing,
)
from cdshooks.knowledge import load_knowledge
from cdshooks.rules.registry import FAMILIES, RuleSettings, run_rules

OD = date(2026, 11, 2)


def _ctx(years, kg, cm, order, labs=None, days=None):
    w = Measurement(kg, "kg", OD, "Observation/w", f"{kg} kg")
    h = Measurement(cm, "cm", OD, "Observation/h", f"{cm} cm")
    return PatientContext(
        patient_id="p", order_date=OD, now=datetime(2026, 11, 2, tzinfo=timezone.utc),
        age=Age(years, years * 12, days or years * 365 + years // 4, OD), sex="female",
        weight=w, height=h, bsa=Bsa((kg * cm / 3600) ** 0.5, "Mosteller", w, h),
        labs=labs or {}, draft_orders=(order,), targets=(order,), phase="consolidation",
    )


def _order(drug, value, unit, route="intravenous", timing=(1, 1, "wk")):
    return MedicationOrder(
        ref="MedicationRequest/o1", resource={"resourceType": "MedicationRequest", "id": "o1", "status": "draft", "intent": "order"},
        drug_ids=(drug,), identified_by="rxnorm-ingredient", display=drug, status="draft", intent="order", authored_on=OD,
        dose=Dose(quantity=Quantity(value, unit)), route=Route(route),
        timing=Timing(frequency=timing[0], period=timing[1], period_unit=timing[2]), is_draft=True,
    )


BILI_4X = {"bilirubin_total": (LabResult("bilirubin_total", OD, "Observation/b", 4.0, "mg/dL", reference_high=1.0),)}

CASES = [
    ("car-t-label-age", _ctx(26, 70, 175, _order("tisagenlecleucel", 1.0e8, "{cells}", timing=(1, 1, "d"))),
     {"population.SP-20", "monitoring.crs"}),
    ("pegaspargase-bilirubin-4x-uln", _ctx(10, 30, 135, _order("pegaspargase", 2650, "[iU]", "intramuscular", (1, 14, "d")), BILI_4X),
     {"population.SP-06.bilirubin.hold"}),
    ("leucovorin-intrathecal", _ctx(10, 30, 135, _order("leucovorin", 15, "mg", "intrathecal", (1, 6, "h"))),
     {"route.leucovorin.never-intrathecal"}),
]


@pytest.mark.parametrize("name, ctx, expected", CASES, ids=[c[0] for c in CASES])
def test_one_card_per_clinical_finding(name, ctx, expected):
    findings = run_rules(ctx, load_knowledge(), RuleSettings(), FAMILIES)
    rule_ids = [f.rule_id for f in findings if f.topic != "missing-data"]
    assert set(rule_ids) == expected
    assert len(rule_ids) == len(set(rule_ids))
