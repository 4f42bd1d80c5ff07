"""Cumulative anthracycline rules: T40, both sides of each limit, approaching (>=90%), soft equivalence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.dose_orders import ORDER_DATE, given, med, only, patient, run

from cdshooks.rules.cumulative import cumulative_anthracycline
from cdshooks.rules.registry import RuleSettings


def cum(ctx, kb, settings=None):
    return run(cumulative_anthracycline, ctx, kb, settings)


def prior_mg(ctx_bsa: float, per_m2_total: float, drug: str = "daunorubicin", parts: int = 3):
    each = per_m2_total * ctx_bsa / parts
    return [given(drug, ORDER_DATE - timedelta(days=30 * (i + 1)), each, "mg", n=i) for i in range(parts)]


def test_t40_child_over_300_is_critical(kb):
    base = patient(years=8, weight=26, height=128)
    ctx = patient(years=8, weight=26, height=128, orders=[med("daunorubicin", 25, "mg/m2")], administrations=prior_mg(base.bsa.value, 285))
    f = only(cum(ctx, kb))
    assert (f.rule_id, f.topic, f.indicator) == ("cumulative.daunorubicin.child", "cumulative-dose", "critical")
    # wording (issue 16): drug first, the total with this order and the limit in plain words
    assert f.summary.startswith("Daunorubicin lifetime total 310 mg/m² with this order exceeds the 300 mg/m² limit (child ≥2 y)")
    assert "current BSA" in f.detail and f.inputs["projected_total"] == pytest.approx(310, abs=0.01)


@pytest.mark.parametrize("prior,expected", [(244.9, []), (245, ["warning"]), (275, ["warning"]), (275.1, ["critical"])])
def test_child_limit_boundaries(kb, prior, expected):
    base = patient(years=8, weight=26, height=128)
    ctx = patient(years=8, weight=26, height=128, orders=[med("daunorubicin", 25, "mg/m2")], administrations=prior_mg(base.bsa.value, prior))
    # 270 = 90 % of 300 (warning from 270 inclusive); 300 exactly is not over
    assert [f.indicator for f in cum(ctx, kb)] == expected


def test_exactly_at_90_percent_warns(kb):
    ctx = patient(years=8, orders=[med("daunorubicin", 25, "mg/m2")], administrations=[given("daunorubicin", ORDER_DATE - timedelta(days=20), 245, "mg/m2")])
    assert only(cum(ctx, kb)).indicator == "warning"


def test_adult_550_and_chest_rt_400(kb):
    prior = [given("daunorubicin", ORDER_DATE - timedelta(days=40), 400, "mg/m2")]
    assert cum(patient(years=40, weight=80, height=175, orders=[med("daunorubicin", 45, "mg/m2")], administrations=prior), kb) == []
    f = only(cum(patient(years=40, weight=80, height=175, orders=[med("daunorubicin", 45, "mg/m2")], administrations=prior, facts=["mediastinal-radiation"]), kb))
    assert (f.rule_id, f.indicator) == ("cumulative.daunorubicin.adult-chest-rt", "critical")


def test_infant_limit_is_per_kg(kb):
    ctx = patient(years=1, weight=9, height=72, orders=[med("daunorubicin", 9, "mg")], administrations=[given("daunorubicin", ORDER_DATE - timedelta(days=7), 3 * 9, "mg", n=1)] * 1
                  + [given("daunorubicin", ORDER_DATE - timedelta(days=14), 63, "mg", n=2)])
    f = only(cum(ctx, kb))
    assert f.rule_id == "cumulative.daunorubicin.infant" and f.indicator == "critical" and "mg/kg" in f.summary


def test_unreadable_prior_dose_is_reported(kb):
    ctx = patient(years=8, orders=[med("daunorubicin", 25, "mg/m2")], administrations=[given("daunorubicin", ORDER_DATE - timedelta(days=7), None, None)])
    f = only(cum(ctx, kb))
    assert f.rule_id == "missing-data.cumulative-dose" and "lower bound" in f.summary


def test_cancelled_administrations_not_counted(kb):
    ctx = patient(years=8, orders=[med("daunorubicin", 25, "mg/m2")], administrations=[given("daunorubicin", ORDER_DATE - timedelta(days=7), 290, "mg/m2", status="entered-in-error")])
    assert cum(ctx, kb) == []


def test_missing_bsa_is_missing_data(kb):
    f = only(cum(patient(years=8, height=None, orders=[med("daunorubicin", 25, "mg")]), kb))
    assert f.rule_id == "missing-data.cumulative-dose"


def test_doxorubicin_counts_prior_daunorubicin_by_equivalence(kb):
    # issue 13 item 7: the doxorubicin label total includes prior anthracyclines; daunorubicin x 0.6 (Feijen 2019)
    prior = [given("daunorubicin", ORDER_DATE - timedelta(days=60), 600, "mg/m2", n=1), given("doxorubicin", ORDER_DATE - timedelta(days=30), 150, "mg/m2", n=2)]
    ctx = patient(years=40, weight=80, height=175, orders=[med("doxorubicin", 60, "mg/m2")], administrations=prior)
    f = only(cum(ctx, kb))  # 150+60 = 210 doxorubicin + 600 x 0.6 = 570 equivalents > 550: the label row, critical
    assert (f.rule_id, f.indicator) == ("cumulative.doxorubicin.all", "critical")
    off = RuleSettings(disabled_rules=frozenset({"cumulative.anthracycline.doxorubicin-equivalent"}))
    assert [x.rule_id for x in cum(ctx, kb, off)] == ["cumulative.doxorubicin.all"]


def test_daunorubicin_order_with_prior_doxorubicin_keeps_the_soft_equivalence_rule(kb):
    prior = [given("doxorubicin", ORDER_DATE - timedelta(days=30), 500, "mg/m2")]
    ctx = patient(years=40, weight=80, height=175, orders=[med("daunorubicin", 45, "mg/m2")], administrations=prior)
    f = only(cum(ctx, kb))  # daunorubicin alone 45 (fine); 500 + 45 x 0.6 = 527 >= 90% of 550: warning (soft)
    assert (f.rule_id, f.indicator) == ("cumulative.anthracycline.doxorubicin-equivalent", "warning")
    off = RuleSettings(disabled_rules=frozenset({"cumulative.anthracycline.doxorubicin-equivalent"}))
    assert cum(ctx, kb, off) == []
