"""The card-count discipline checker (tests/support/card_counts.py) finds what it should, and only that."""

from __future__ import annotations

from support.card_counts import count_problems


def card(topic: str, indicator: str, rule: str) -> dict:
    return {"indicator": indicator, "source": {"topic": {"code": topic}}, "extension": {"all-cds": {"ruleId": rule}}, "summary": rule}


def test_one_risk_card_and_one_monitoring_info_card_per_topic() -> None:
    assert count_problems([card("risk-group", "info", "risk.group")], order_hook=False) == []
    assert len(count_problems([card("risk-group", "info", "risk.group")] * 2, order_hook=False)) == 1
    crs = card("monitoring", "info", "monitoring.crs")
    assert count_problems([crs, card("monitoring", "info", "monitoring.tls.rasburicase-g6pd-unknown")], order_hook=False) == []
    (problem,) = count_problems([crs, crs], order_hook=False)
    assert "'crs'" in problem
    warnings = [card("monitoring", "warning", "monitoring.crs.active")] * 2  # findings may repeat per order
    assert count_problems(warnings, order_hook=True) == []


def test_info_cards_never_outnumber_findings_on_order_hooks() -> None:
    info = [card("regimen", "info", "regimen.a"), card("interaction", "info", "interaction.b")]
    one_warning = [card("dose", "warning", "dose.x")]
    assert len(count_problems(info + one_warning, order_hook=True)) == 1
    assert count_problems(info + one_warning * 2, order_hook=True) == []
    assert count_problems(info, order_hook=True) == []  # no findings: the context cards are all there is
    assert count_problems(info + one_warning, order_hook=False) == []  # patient-view: context is the point
