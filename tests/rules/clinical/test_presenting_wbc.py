"""Issue 13 item 3: the presenting WBC is the first WBC in a window around the diagnosis date
(7 d before to 7 d after: risk.json NCI-WBC-WINDOW-BEFORE / NCI-WBC-WINDOW, team convention,
UNVERIFIED) and not after the first cytoreductive administration; the risk card shows its date."""

from __future__ import annotations

import pytest


def risk(run, fx, *extra, wbcs=()):
    dx = fx.ORDER - fx.days(10)
    resources = [fx.patient(5), *fx.body(18.0, 110.0), fx.all_dx(onset=dx), *extra, *[fx.wbc(v, dx + fx.days(d)) for d, v in wbcs]]
    _, findings = run(resources, families=["risk-group"])
    (card,) = findings
    return card


@pytest.mark.parametrize("offset,expected", [(-7, "NCI high risk"), (-8, "NCI risk cannot be assigned"), (7, "NCI high risk"), (8, "NCI risk cannot be assigned")])
def test_window_edges_before_and_after_diagnosis(run, fx, offset, expected):
    card = risk(run, fx, wbcs=[(offset, 60000)])
    assert card.summary.startswith(expected), card.summary


def test_cbc_two_days_before_diagnosis_is_used_and_dated(run, fx):
    card = risk(run, fx, wbcs=[(-2, 60000), (1, 20000)])
    assert card.summary.startswith("NCI high risk: WBC")
    assert "2 d before diagnosis" in card.detail
    assert card.inputs["NCI/Rome"]["wbc_at_diagnosis"]["value"] == 60000


def test_wbc_after_the_first_cytoreductive_dose_is_not_the_presenting_wbc(run, fx):
    dx = fx.ORDER - fx.days(10)
    dose = fx.given("prednisone", dx + fx.days(1), 40, "mg", "po")
    card = risk(run, fx, dose, wbcs=[(3, 60000)])
    assert card.summary.startswith("NCI risk cannot be assigned")
    assert "after the first cytoreductive administration" in card.detail
    same_day = risk(run, fx, fx.given("prednisone", dx + fx.days(3), 40, "mg", "po"), wbcs=[(3, 60000)])
    assert same_day.summary.startswith("NCI high risk")  # dates only: a same-day CBC counts as pre-treatment
