"""Route and schedule rules: T13, T21, T24 and the §7 regression cases, both sides of each interval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.dose_orders import ORDER_DATE, given, med, only, patient, run

from cdshooks.context.model import Route
from cdshooks.rules.registry import RuleSettings
from cdshooks.rules.route import route_allowed
from cdshooks.rules.schedule import schedule_pattern


def route(ctx, kb, settings=None):
    return run(route_allowed, ctx, kb, settings)


def sched(ctx, kb):
    return run(schedule_pattern, ctx, kb)


# --- route -----------------------------------------------------------------------------------

def test_t13_intrathecal_vincristine_is_critical_and_not_auto_corrected(kb):
    f = only(route(patient(years=6, weight=20, height=115, orders=[med("vincristine", 1.5, "mg/m2", route="intrathecal")]), kb))
    assert (f.rule_id, f.topic, f.indicator) == ("route.vincristine.iv-only", "route", "critical")
    assert "fatal if given by other routes" in f.summary and "vincristine" in f.summary.lower()
    assert [a.type for s in f.suggestions for a in s.actions] == ["delete"]


def test_iv_vincristine_clean(kb):
    assert route(patient(orders=[med("vincristine", 1.5, "mg/m2")]), kb) == []


@pytest.mark.parametrize("drug,bad,indicator", [
    ("leucovorin", "intrathecal", "critical"),
    ("leucovorin", "subcutaneous", "warning"),
    ("nelarabine", "oral", "critical"),
    ("daunorubicin", "intramuscular", "critical"),
    ("doxorubicin", "intramuscular", "warning"),
    ("mercaptopurine", "intravenous", "warning"),
    ("vincristine-liposomal", "intrathecal", "warning"),  # unverified soft rule: never critical
])
def test_forbidden_routes(kb, drug, bad, indicator):
    f = only(route(patient(orders=[med(drug, 1, "mg", route=bad)]), kb))
    assert f.indicator == indicator and f.drug == drug


def test_missing_and_unrecognized_route_is_missing_data(kb):
    f = only(route(patient(orders=[med("vincristine", 1.5, "mg", route=None)]), kb))
    assert (f.rule_id, f.topic) == ("missing-data.route", "missing-data") and "no route" in f.summary
    o = med("vincristine", 1.5, "mg")
    o = o.__class__(**{**o.__dict__, "route": Route(None, "urn:x|99", "into the vein-ish")})
    assert "not recognized" in only(route(patient(orders=[o]), kb)).summary


def test_unrestricted_drug_without_route_is_silent(kb):
    assert route(patient(orders=[med("dexamethasone", 6, "mg", route=None)]), kb) == []


def test_cytarabine_it_preservative_note_is_off_by_default(kb):
    ctx = patient(orders=[med("cytarabine", 30, "mg", route="intrathecal")])
    assert route(ctx, kb) == []
    on = RuleSettings(enabled_soft_rules=frozenset({"route.cytarabine.intrathecal-preservative-free"}))
    assert only(route(ctx, kb, on)).indicator == "info"


# --- schedule --------------------------------------------------------------------------------

def test_t21_daily_oral_methotrexate_is_critical(kb):
    ctx = patient(years=12, phase="maintenance", orders=[med("methotrexate", 20, "mg/m2", route="oral", frequency=1, period=1, period_unit="d")])
    f = only(sched(ctx, kb))
    assert (f.rule_id, f.indicator) == ("schedule.methotrexate.oral-weekly", "critical")
    assert f.summary.startswith("Methotrexate oral ordered daily") and "once weekly" in f.summary and "weekly, not daily" in f.detail


@pytest.mark.parametrize("kwargs,flagged", [
    (dict(frequency=1, period=1, period_unit="wk"), False),
    (dict(frequency=1, period=7, period_unit="d"), False),
    (dict(frequency=1, period=6, period_unit="d"), True),
    (dict(code="QD"), True),
    (dict(code="BID"), True),
])
def test_methotrexate_interval_boundary(kb, kwargs, flagged):
    ctx = patient(orders=[med("methotrexate", 20, "mg/m2", route="oral", **kwargs)])
    assert bool(sched(ctx, kb)) is flagged


def test_oral_methotrexate_without_timing_is_missing_data_but_it_mtx_is_not(kb):
    f = only(sched(patient(orders=[med("methotrexate", 20, "mg/m2", route="oral")]), kb))
    assert f.rule_id == "missing-data.schedule"
    assert sched(patient(orders=[med("methotrexate", 12, "mg", route="intrathecal", code="QD")]), kb) == []


def test_mercaptopurine_twice_daily_warns_once_daily_clean(kb):
    assert only(sched(patient(orders=[med("mercaptopurine", 25, "mg", route="oral", code="BID")]), kb)).indicator == "warning"
    assert sched(patient(orders=[med("mercaptopurine", 50, "mg", route="oral", code="QD")]), kb) == []


@pytest.mark.parametrize("days_ago,flagged", [(10, True), (13, True), (14, False)])
def test_t24_pegaspargase_14_day_interval(kb, days_ago, flagged):
    ctx = patient(years=10, orders=[med("pegaspargase", 2500, "[iU]/m2")], administrations=[given("pegaspargase", ORDER_DATE - timedelta(days=days_ago), 2500, "[iU]/m2")])
    found = sched(ctx, kb)
    assert bool(found) is flagged
    if flagged:
        assert found[0].indicator == "critical" and "no more frequently than every 14 days" in found[0].summary


def test_pegaspargase_second_draft_order_within_14_days(kb):
    other = med("pegaspargase", 2500, "[iU]/m2", ref="MedicationRequest/o2", start=ORDER_DATE + timedelta(days=7))
    f = only(sched(patient(orders=[med("pegaspargase", 2500, "[iU]/m2")], others=[other]), kb))
    assert f.indicator == "critical" and "7 days apart" in f.summary and f.inputs["other_order"] == "MedicationRequest/o2"
    assert "MedicationRequest/" not in f.summary + f.detail  # the other order by its name, the reference in inputs
    later = med("pegaspargase", 2500, "[iU]/m2", ref="MedicationRequest/o2", start=ORDER_DATE + timedelta(days=14))
    assert sched(patient(orders=[med("pegaspargase", 2500, "[iU]/m2")], others=[later]), kb) == []


def test_clofarabine_day_6_critical_day_5_clean(kb):
    five_prior = [given("clofarabine", ORDER_DATE - timedelta(days=d), 52, "mg/m2", n=d) for d in range(1, 6)]
    f = only(sched(patient(orders=[med("clofarabine", 52, "mg/m2", code="QD")], administrations=five_prior), kb))
    assert f.indicator == "critical" and "day 6" in f.summary
    assert sched(patient(orders=[med("clofarabine", 52, "mg/m2", code="QD")], administrations=five_prior[:4]), kb) == []
    assert only(sched(patient(orders=[med("clofarabine", 52, "mg/m2", code="QD", count=6)]), kb)).indicator == "critical"
    assert sched(patient(orders=[med("clofarabine", 52, "mg/m2", code="QD", count=5)]), kb) == []


def test_nelarabine_adult_daily_critical_peds_daily_clean(kb):
    adult = patient(years=30, weight=70, height=175, orders=[med("nelarabine", 1500, "mg/m2", code="QD", count=5)])
    assert only(sched(adult, kb)).rule_id == "schedule.nelarabine.adult-days-1-3-5"
    assert sched(patient(years=30, weight=70, height=175, orders=[med("nelarabine", 1500, "mg/m2", code="QOD", count=3)]), kb) == []
    assert sched(patient(years=18, weight=60, height=170, orders=[med("nelarabine", 650, "mg/m2", code="QD", count=5)]), kb) == []
    assert only(sched(patient(years=18, weight=60, height=170, orders=[med("nelarabine", 1500, "mg/m2", code="QD")]), kb)).indicator == "critical"


def test_nelarabine_pediatric_overdose_daily_is_not_an_adult_schedule(kb):
    # 8 y on 750 mg/m2 daily: a pediatric dose 15% high (the dose rule's card), not the adult regimen.
    assert sched(patient(years=8, weight=26, height=128, orders=[med("nelarabine", 750, "mg/m2", code="QD", count=5)]), kb) == []
    # Below 16 y even an adult-sized daily dose is the dose rule's overdose, not a schedule card.
    assert sched(patient(years=15, weight=50, height=160, orders=[med("nelarabine", 1500, "mg/m2", code="QD", count=5)]), kb) == []
    # From 16 y an adult-sized daily dose is the adult regimen given daily.
    assert only(sched(patient(years=16, weight=60, height=170, orders=[med("nelarabine", 1500, "mg/m2", code="QD", count=5)]), kb)).indicator == "critical"


@pytest.mark.parametrize("days_ago,flagged", [(6, True), (7, False)])
def test_vincristine_weekly(kb, days_ago, flagged):
    ctx = patient(orders=[med("vincristine", 1.5, "mg/m2")], administrations=[given("vincristine", ORDER_DATE - timedelta(days=days_ago), 1.5, "mg")])
    found = sched(ctx, kb)
    assert [f.indicator for f in found] == (["warning"] if flagged else [])
