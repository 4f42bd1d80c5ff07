"""Issue 13 item 6: cyclophosphamide 40-50 mg/kg is a COURSE divided over 2-5 days (seed Table 1):
the course total (administrations in the 5-day window + drafts) is checked against 50 mg/kg, a
single dose only against that course maximum (dosing.json dose.cyclophosphamide.divided-course)."""

from __future__ import annotations

import pytest


def child(fx, *extra):
    return [fx.patient(8), *fx.body(26.0, 128.0), fx.all_dx(), *extra]  # BSA 0.9615 m2


def dose_cards(findings):
    return [(f.rule_id, f.indicator) for f in findings if f.topic in ("dose", "dose-limit") and f.rule_id.startswith(("dose.", "dose-limit."))]


def test_1000_mg_m2_single_protocol_dose_is_not_flagged(run, fx):
    _, findings = run(child(fx), [fx.order("cyclophosphamide", 1000, "mg/m2")], ["dose"])
    assert dose_cards(findings) == []  # 961.5 mg = 37 mg/kg: inside 8-50 mg/kg


@pytest.mark.parametrize("mg,expected", [
    (1300, []),  # 50 mg/kg x 26 kg: the course maximum
    (1430, []),  # +10%: inside the dose tolerance
    (1450, [("dose.cyclophosphamide.divided-course", "warning")]),  # +11.5% above the course maximum (soft row: warning)
])
def test_single_dose_flagged_only_above_the_course_maximum(run, fx, mg, expected):
    _, findings = run(child(fx), [fx.order("cyclophosphamide", mg, "mg")], ["dose"])
    assert dose_cards(findings) == expected


@pytest.mark.parametrize("prior_mg,expected", [
    (1040, []),  # 1040 + 260 = 1300 mg = 50 mg/kg: at the maximum
    (1066, [("dose.cyclophosphamide.course-total", "warning")]),  # 1326 mg = 51 mg/kg > 50
])
def test_course_total_from_administrations_plus_draft(run, fx, prior_mg, expected):
    history = [fx.given("cyclophosphamide", fx.ORDER - fx.days(1), prior_mg / 2, "mg"), fx.given("cyclophosphamide", fx.ORDER - fx.days(2), prior_mg / 2, "mg")]
    _, findings = run(child(fx, *history), [fx.order("cyclophosphamide", 260, "mg")], ["dose"])
    assert dose_cards(findings) == expected


def test_doses_outside_the_5_day_window_start_a_new_course(run, fx):
    history = [fx.given("cyclophosphamide", fx.ORDER - fx.days(5), 1200, "mg")]  # day -5: outside days -4..0
    _, findings = run(child(fx, *history), [fx.order("cyclophosphamide", 260, "mg")], ["dose"])
    assert dose_cards(findings) == []
    inside = [fx.given("cyclophosphamide", fx.ORDER - fx.days(4), 1200, "mg")]
    _, findings = run(child(fx, *inside), [fx.order("cyclophosphamide", 260, "mg")], ["dose"])
    assert dose_cards(findings) == [("dose.cyclophosphamide.course-total", "warning")]


def test_planned_doses_of_a_draft_count(run, fx):
    drafts = [fx.order("cyclophosphamide", 300, "mg", "iv", {"frequency": 2, "period": 1, "periodUnit": "d", "count": 6})]  # 1800 mg
    _, findings = run(child(fx), drafts, ["dose"])
    assert ("dose.cyclophosphamide.course-total", "warning") in dose_cards(findings)
