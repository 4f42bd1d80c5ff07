"""Order-verification scenarios (issue 17; rules/verification.py, knowledge/data/verification.json).

Goldens are written from the rows, by hand:
- IT-01: intrathecal methotrexate by age - <1 y 6 mg, 1 y 8 mg, 2 y 10 mg, 3-8 y 12 mg, >=9 y 12-15 mg,
  +-5%; unverified row, so a warning either side.
- VER-WT-01: weight changed by more than 5% (child) / 10% (adult) since the weight on or before the
  last administration of the same drug: warning.
- VER-DC-01: dose per kg/m2 changed by more than 10% from the last administration (same route):
  info for a reduction or a rise within the dose rule, warning for a rise above it.
- VER-VINCA-01: a vinca alkaloid ordered by IV push / syringe: route warning.
- VER-VINCA-02: a vinca alkaloid and an intrathecal order signed together: one route info card.
Each has a clean counterpart that must give no card of the checked topics.
"""

from __future__ import annotations

from datetime import timedelta

from fixture_model import DAILY, ONCE, ORDER, Order, Scenario, born, card

CHILD = dict(birth=born(8), weight=(26.0, "kg"), height=(128.0, "cm"))  # BSA 0.9615 m2
LAST = ORDER - timedelta(days=21)  # the previous dose

SCENARIOS: list[Scenario] = [
    Scenario("verify.it-methotrexate.age-2y-12mg", "intrathecal methotrexate 12 mg at 2 y 100 d (band: 10 mg)", "verification.json IT-01",
             birth=born(2, 100), weight=(12.5, "kg"), height=(88.0, "cm"), orders=[Order("methotrexate-it", 12.0, "mg", "it", ONCE)],
             sign=[card("dose", "warning", "methotrexate", "IT-01")]),
    Scenario("verify.it-methotrexate.age-6y-12mg-correct", "intrathecal methotrexate 12 mg at 6 y (band: 12 mg)", "verification.json IT-01",
             birth=born(6), weight=(20.0, "kg"), height=(115.0, "cm"), orders=[Order("methotrexate-it", 12.0, "mg", "it", ONCE)], sign=[]),
    Scenario("verify.weight-change.child-6pct", "child 24.5 kg at the last vincristine dose, 26 kg now (+6.1% > 5%)", "verification.json VER-WT-01",
             **CHILD, past_weights=[(LAST - timedelta(days=1), 24.5)], administrations=[("vincristine", LAST, 1.4, "mg", "iv")],
             orders=[Order("vincristine", 1.4, "mg", "iv", ONCE)], sign=[card("dose", "warning", "vincristine", "VER-WT-01")]),
    Scenario("verify.weight-change.child-same-weight", "child 26 kg at the last vincristine dose and now", "verification.json VER-WT-01 (clean)",
             **CHILD, past_weights=[(LAST - timedelta(days=1), 26.0)], administrations=[("vincristine", LAST, 1.4, "mg", "iv")],
             orders=[Order("vincristine", 1.4, "mg", "iv", ONCE)], sign=[]),
    Scenario("verify.dose-change.mercaptopurine-up-20pct", "mercaptopurine 50 -> 60 mg daily (+20%, 2.31 mg/kg within 1.5-2.5 mg/kg)",
             "verification.json VER-DC-01", **CHILD, phase="Maintenance", past_weights=[(LAST - timedelta(days=1), 26.0)],
             administrations=[("mercaptopurine", LAST, 50.0, "mg", "po")],
             orders=[Order("mercaptopurine", 60.0, "mg", "po", DAILY)], sign=[card("dose", "info", "mercaptopurine", "VER-DC-01")]),
    Scenario("verify.dose-change.mercaptopurine-unchanged", "mercaptopurine 50 mg daily again", "verification.json VER-DC-01 (clean)",
             **CHILD, phase="Maintenance", past_weights=[(LAST - timedelta(days=1), 26.0)],
             administrations=[("mercaptopurine", LAST, 50.0, "mg", "po")], orders=[Order("mercaptopurine", 50.0, "mg", "po", DAILY)], sign=[]),
    Scenario("verify.vinca.iv-push", "vincristine 1.4 mg ordered as IV push", "verification.json VER-VINCA-01 (ISMP BP1)",
             **CHILD, orders=[Order("vincristine", 1.4, "mg", "iv", ONCE, method="IV push")], sign=[card("route", "warning", "vincristine", "VER-VINCA-01")]),
    Scenario("verify.vinca.minibag-correct", "vincristine 1.4 mg infused from a 25 mL minibag", "verification.json VER-VINCA-01 (clean)",
             **CHILD, orders=[Order("vincristine", 1.4, "mg", "iv", ONCE, method="Infusion", text="1.4 mg in 25 mL sodium chloride 0.9% minibag over 10 min")],
             sign=[]),
    Scenario("verify.vinca-and-it.together", "vincristine IV and intrathecal methotrexate signed together", "verification.json VER-VINCA-02",
             **CHILD, orders=[Order("vincristine", 1.4, "mg", "iv", ONCE), Order("methotrexate-it", 12.0, "mg", "it", ONCE)],
             sign=[card("route", "info", "vincristine", "VER-VINCA-02")]),
]
