"""Issue 13 item 7: cumulative doxorubicin is 400 mg/m2 with previous or concomitant cardiotoxic
therapy such as cyclophosphamide (doxorubicin label, mims Rubicin text), and prior daunorubicin
counts at 0.6 doxorubicin-equivalents (Feijen 2019 JAMA Oncol Table 3). cumulative.json rows."""

from __future__ import annotations

import pytest
from support.rendered import with_text


def adult(fx, *extra):
    return [fx.patient(40, "male"), *fx.body(80.0, 175.0), fx.all_dx(), *extra]


def cum(findings):
    return [(f.rule_id, f.indicator) for f in findings if f.topic == "cumulative-dose"]


@pytest.mark.parametrize("prior,expected", [
    (340, [("cumulative.doxorubicin.cardiotoxic", "warning")]),  # 340 + 60 = 400: at the limit, not over
    (341, [("cumulative.doxorubicin.cardiotoxic", "critical")]),  # 401 > 400
])
def test_400_with_concomitant_cyclophosphamide(run, fx, prior, expected):
    history = [fx.given("doxorubicin", fx.ORDER - fx.days(30), prior, "mg/m2")]
    drafts = [fx.order("doxorubicin", 60, "mg/m2"), fx.order("cyclophosphamide", 600, "mg/m2")]
    _, findings = run(adult(fx, *history), drafts, ["cumulative-dose"])
    assert cum(findings) == expected


def test_previous_cyclophosphamide_counts_and_none_means_550(run, fx):
    history = [fx.given("doxorubicin", fx.ORDER - fx.days(30), 341, "mg/m2")]
    _, without = run(adult(fx, *history), [fx.order("doxorubicin", 60, "mg/m2")], ["cumulative-dose"])
    assert cum(without) == []  # 401 < 90% of 550: no card (false-alarm side)
    earlier = fx.given("cyclophosphamide", fx.ORDER - fx.days(90), 1000, "mg/m2")
    _, previous = run(adult(fx, *history, earlier), [fx.order("doxorubicin", 60, "mg/m2")], ["cumulative-dose"])
    assert cum(previous) == [("cumulative.doxorubicin.cardiotoxic", "critical")]
    (card,) = [with_text(f) for f in previous if f.topic == "cumulative-dose"]  # a Verdict: read the rendered card
    assert "cyclophosphamide given" in card.detail


@pytest.mark.parametrize("dauno,expected", [
    (700, []),  # 60 + 0.6 x 700 = 480 < 495 (90% of 550)
    (815, [("cumulative.doxorubicin.all", "warning")]),  # 60 + 489 = 549: approaching 550
    (900, [("cumulative.doxorubicin.all", "critical")]),  # 60 + 540 = 600 > 550
])
def test_prior_daunorubicin_counts_at_0_6(run, fx, dauno, expected):
    history = [fx.given("daunorubicin", fx.ORDER - fx.days(200), dauno, "mg/m2")]
    _, findings = run(adult(fx, *history), [fx.order("doxorubicin", 60, "mg/m2")], ["cumulative-dose"])
    assert cum(findings) == expected
