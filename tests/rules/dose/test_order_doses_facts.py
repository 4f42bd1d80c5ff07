"""rules/_order_doses.py gives facts (amount as written, doses per day, each weight/BSA step) that
the dose template writes as one line of arithmetic; the older `how` text stays the same numbers."""

from __future__ import annotations

import pytest
from support.dose_orders import med, patient

from cdshooks.cards.text import environment
from cdshooks.rules._order_doses import high_dose_methotrexate, is_high_dose_methotrexate, normalize
from cdshooks.rules.verdict import Amount


def _line(n) -> str:
    return str(environment().get_template("dose.md.j2").module.normalized(n.facts()))


def test_per_kg_order_to_mg_names_the_weight_and_its_date():
    ctx = patient(years=8, weight=20, height=115, orders=[med("mercaptopurine", 2.5, "mg/kg")])
    n = normalize(ctx.targets[0], ctx, ("mg",))
    assert n.value == pytest.approx(50.0) and n.written == Amount(2.5, "mg/kg")
    assert [(s["op"], s["what"], s["size"]) for s in n.steps] == [("×", "weight", Amount(20.0, "kg"))]
    line = _line(n)
    assert line.startswith("2.5 mg/kg × 20 kg (weight on ") and line.endswith(" = 50 mg"), line


def test_mg_order_to_per_m2_divides_by_the_bsa_with_its_formula():
    ctx = patient(years=8, weight=20, height=115, orders=[med("methotrexate", 4000, "mg")])
    n = normalize(ctx.targets[0], ctx, ("mg/m2",))
    assert n.value == pytest.approx(4000 / ctx.bsa.value)
    assert _line(n) == f"4,000 mg / {ctx.bsa.value:.3g} m² (BSA, {ctx.bsa.formula} formula) = {4000 / ctx.bsa.value:,.0f} mg/m²"


def test_high_dose_methotrexate_facts_agree_with_the_older_text_form():
    ctx = patient(years=8, weight=20, height=115, orders=[med("methotrexate", 4000, "mg")])
    high, facts = high_dose_methotrexate(ctx.targets[0], ctx)
    assert high is True and facts["by"] == "dose" and facts["threshold"] == Amount(500.0, "mg/m2")
    assert is_high_dose_methotrexate(ctx.targets[0], ctx)[0] is True
    no_bsa = patient(years=8, weight=None, height=None, orders=[med("methotrexate", 4000, "mg")])
    high, facts = high_dose_methotrexate(no_bsa.targets[0], no_bsa)
    assert high is None and facts["reason"] == "cannot convert the ordered dose: no current BSA"
    assert is_high_dose_methotrexate(no_bsa.targets[0], no_bsa) == (None, facts["reason"])
