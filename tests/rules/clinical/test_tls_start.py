"""Issue 13 item 4: the TLS baseline reminder (TLS-1) belongs to the start of cytoreduction.

Source: monitoring.json monitoring.tls.baseline-labs (seed 'monitored for TLS'; clinical-rules §5.1):
phase unknown -> only a first cytoreductive course, and weekly oral methotrexate / daily
mercaptopurine (maintenance agents, seed) never start one; induction -> only with no cytoreductive
administration in the 7 days before the order (team convention, stated in the row).
"""

from __future__ import annotations

import pytest

WEEKLY = {"frequency": 1, "period": 1, "periodUnit": "wk"}
DAILY = {"frequency": 1, "period": 1, "periodUnit": "d"}
TLS = "monitoring.tls.baseline-labs"


def tls(findings) -> bool:
    return any(f.rule_id == TLS for f in findings)


@pytest.mark.parametrize("drug,dose,route,timing,expected", [
    ("methotrexate-oral", 20, "po", WEEKLY, False),
    ("mercaptopurine", 50, "po", DAILY, False),
    ("methotrexate-iv", 1000, "iv", None, True),  # IV methotrexate can start a course
    ("vincristine", 1.4, "iv", None, True),
])
def test_phase_unknown_maintenance_agents_do_not_start_cytoreduction(run, fx, drug, dose, route, timing, expected):
    _, findings = run([fx.patient(8), *fx.body(), fx.all_dx()], [fx.order(drug, dose, "mg", route, timing)], ["monitoring"])
    assert tls(findings) is expected


def test_maintenance_agent_with_an_inducing_agent_still_reminds(run, fx):
    drafts = [fx.order("methotrexate-oral", 20, "mg", "po", WEEKLY), fx.order("vincristine", 1.4, "mg")]
    _, findings = run([fx.patient(8), *fx.body(), fx.all_dx()], drafts, ["monitoring"])
    assert tls(findings)


@pytest.mark.parametrize("days_before,expected", [(7, False), (8, True)])
def test_induction_start_window(run, fx, days_before, expected):
    history = [fx.given("vincristine", fx.ORDER - fx.days(days_before), 1.4, "mg")]
    _, findings = run([fx.patient(8), *fx.body(), fx.all_dx(), fx.careplan("Induction"), *history], [fx.order("vincristine", 1.4, "mg")], ["monitoring"])
    assert tls(findings) is expected


def test_prior_maintenance_doses_do_not_count_as_a_started_course(run, fx):
    history = [fx.given("methotrexate-oral", fx.ORDER - fx.days(3), 20, "mg", "po")]
    _, findings = run([fx.patient(8), *fx.body(), fx.all_dx(), *history], [fx.order("vincristine", 1.4, "mg")], ["monitoring"])
    assert tls(findings)


def test_baseline_labs_present_gives_no_reminder(run, fx):
    labs = [fx.quantity(code, value, unit, fx.ORDER - fx.days(1)) for code, value, unit in
            (("3084-1", 4.0, "mg/dL"), ("2823-3", 4.0, "mmol/L"), ("2777-1", 4.0, "mg/dL"), ("17861-6", 9.4, "mg/dL"), ("2160-0", 0.4, "mg/dL"))]
    _, findings = run([fx.patient(8), *fx.body(), fx.all_dx(), *labs], [fx.order("vincristine", 1.4, "mg")], ["monitoring"])
    assert not tls(findings)
