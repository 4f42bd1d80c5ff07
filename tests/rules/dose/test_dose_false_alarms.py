"""False-alarm guard: a clean, in-range order for every drug of seed Tables 1-2 yields no card of
topic dose, dose-limit, route, schedule (nor missing-data / cumulative-dose for a first course)."""

from __future__ import annotations

import pytest
from support.dose_orders import med, patient

from cdshooks.rules.registry import RuleSettings, iter_findings, run_rules
from cdshooks.rules.cumulative import cumulative_anthracycline
from cdshooks.rules.dose import dose_for_patient
from cdshooks.rules.route import route_allowed
from cdshooks.rules.schedule import schedule_pattern

CHILD = dict(years=8, weight=26, height=128)  # BSA 0.96 m2
ADULT = dict(years=40, weight=80, height=175)  # BSA 1.97 m2
WEEKLY = dict(frequency=1, period=1, period_unit="wk")

CLEAN = [
    (CHILD, med("clofarabine", 52, "mg/m2", code="QD", count=5)),
    (CHILD, med("cyclophosphamide", 12, "mg/kg")),
    (CHILD, med("cytarabine", 100, "mg/m2")),
    (CHILD, med("cytarabine", 30, "mg", route="intrathecal")),
    (CHILD, med("daunorubicin", 25, "mg/m2", **WEEKLY)),
    (ADULT, med("daunorubicin", 45, "mg/m2", code="QD", count=3)),
    (ADULT, med("doxorubicin", 60, "mg/m2")),
    (CHILD, med("mercaptopurine", 50, "mg", route="oral", code="QD")),
    (CHILD, med("methotrexate", 20, "mg/m2", route="oral", **WEEKLY)),
    (CHILD, med("methotrexate", 12, "mg", route="intrathecal")),
    (CHILD, med("nelarabine", 650, "mg/m2", code="QD", count=5)),
    (ADULT, med("nelarabine", 1500, "mg/m2", code="QOD", count=3)),
    (CHILD, med("pegaspargase", 2500, "[iU]/m2", route="intramuscular")),
    (ADULT, med("pegaspargase", 3944, "[iU]")),
    (CHILD, med("vincristine", 1.5, "mg/m2", **WEEKLY)),
    (ADULT, med("vincristine", 2, "mg", **WEEKLY)),
    (CHILD, med("blinatumomab", None, None, rate=(15, "ug/m2/d"))),
    (ADULT, med("blinatumomab", None, None, rate=(28, "ug/d"))),
    (ADULT, med("brexucabtagene-autoleucel", 8, "10*7{cells}")),
    (CHILD, med("dasatinib", 60, "mg", route="oral", code="QD")),
    (ADULT, med("dasatinib", 140, "mg", route="oral", code="QD")),
    (CHILD, med("imatinib", 340, "mg/m2", route="oral", code="QD")),
    (ADULT, med("imatinib", 600, "mg", route="oral", code="QD")),
    (ADULT, med("inotuzumab-ozogamicin", 0.8, "mg/m2")),
    (ADULT, med("ponatinib", 45, "mg", route="oral", code="QD")),
    (CHILD, med("rituximab", 375, "mg/m2")),
    (CHILD, med("tisagenlecleucel", 1.0, "10*8{cells}")),
    (CHILD, med("tocilizumab", 12, "mg/kg")),
    (ADULT, med("tocilizumab", 640, "mg")),
]


@pytest.mark.parametrize("who,order", CLEAN, ids=[f"{o.drug_ids[0]}-{o.dose.amount.value if o.dose.amount else o.dose.rate.value}" for _, o in CLEAN])
def test_clean_order_has_no_card(kb, who, order):
    ctx = patient(orders=[order], **who)
    fns = (dose_for_patient, route_allowed, schedule_pattern, cumulative_anthracycline)
    found = list(iter_findings(fns, ctx, kb, RuleSettings()))
    assert found == [], [(f.rule_id, f.indicator, f.summary) for f in found]


def test_registry_runs_these_families_and_stays_quiet_on_clean_orders(kb):
    ctx = patient(orders=[o for who, o in CLEAN if who is CHILD][:1], **CHILD)
    findings = run_rules(ctx, kb, RuleSettings(), ["dose", "route", "schedule", "cumulative-dose"])
    assert [f for f in findings if f.topic in ("dose", "dose-limit", "route", "schedule")] == []
