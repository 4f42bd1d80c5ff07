"""Issue 13 item 9: two vincristine drafts for the same day get a schedule card (schedules.json
schedule.vincristine.weekly check_other_drafts; seed Table 1 'weekly'), and an IV methotrexate
order in plain mg with no BSA gets a missing-data card instead of a silent pass (HDMTX-1)."""

from __future__ import annotations

import pytest


def child(fx, *extra, height=128.0):
    return [fx.patient(8), *([fx.quantity("29463-7", 26.0, "kg", fx.ORDER - fx.days(2))]),
            *([fx.quantity("8302-2", height, "cm", fx.ORDER - fx.days(2))] if height else []), fx.all_dx(), *extra]


@pytest.mark.parametrize("days_apart,expected", [(0, 1), (6, 1), (7, 0)])
def test_two_vincristine_drafts(run, fx, days_apart, expected):
    drafts = [fx.order("vincristine", 1.4, "mg", rid="v1"), fx.order("vincristine", 1.4, "mg", rid="v2", authored=fx.ORDER + fx.days(days_apart))]
    _, findings = run(child(fx), drafts, ["schedule"])
    cards = [f for f in findings if f.rule_id == "schedule.vincristine.weekly"]
    assert len(cards) == expected  # one card for the pair, naming both orders
    if cards:
        assert set(cards[0].orders) == {"MedicationRequest/v1", "MedicationRequest/v2"}


def test_order_select_names_only_the_selected_order(run, fx, kb, settings):
    from cdshooks.context.builder import build_context
    from cdshooks.rules.registry import run_rules

    ctx, _ = run(child(fx), [fx.order("vincristine", 1.4, "mg", rid="v1"), fx.order("vincristine", 1.4, "mg", rid="v2")], ["schedule"])
    selected = build_context({}, patient_id="p1", draft_orders={"resourceType": "Bundle", "entry": [{"resource": o.resource} for o in ctx.draft_orders]},
                             selections=["MedicationRequest/v2"], kb=kb, now=ctx.now)
    cards = [f for f in run_rules(selected, kb, settings, ["schedule"]) if f.rule_id == "schedule.vincristine.weekly"]
    assert [c.orders for c in cards] == [("MedicationRequest/v2",)]


def test_one_vincristine_draft_is_clean(run, fx):
    _, findings = run(child(fx), [fx.order("vincristine", 1.4, "mg")], ["schedule"])
    assert findings == []


def test_iv_methotrexate_in_mg_without_bsa_is_missing_data(run, fx):
    _, findings = run(child(fx, height=None), [fx.order("methotrexate-iv", 5000, "mg")], ["monitoring"])
    assert [(f.rule_id, f.indicator) for f in findings if f.rule_id.startswith(("missing-data.hdmtx", "monitoring.hdmtx"))] == [("missing-data.hdmtx-bsa", "warning")]


def test_iv_methotrexate_with_bsa_or_leucovorin_is_judged(run, fx):
    _, with_bsa = run(child(fx), [fx.order("methotrexate-iv", 5000, "mg")], ["monitoring"])  # 5200 mg/m2: HD, no leucovorin
    assert ("monitoring.hdmtx.no-leucovorin", "critical") in {(f.rule_id, f.indicator) for f in with_bsa}
    _, rescued = run(child(fx, height=None), [fx.order("methotrexate-iv", 5000, "mg"), fx.order("leucovorin", 15, "mg")], ["monitoring"])
    assert not any(f.rule_id.startswith(("missing-data.hdmtx", "monitoring.hdmtx")) for f in rescued)
    _, per_m2 = run(child(fx, height=None), [fx.order("methotrexate-iv", 5000, "mg/m2")], ["monitoring"])
    assert ("monitoring.hdmtx.no-leucovorin", "critical") in {(f.rule_id, f.indicator) for f in per_m2}
