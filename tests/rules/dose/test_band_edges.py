"""Every band edge of the dosing knowledge has a test on each side (issue 12).

`EDGES` is written by hand from the dosing tables (seed Tables 1-2, the labels, clinical-rules
§2): for each cut-off, the branch rows that apply just below it, exactly on it, and just above it.
`test_every_knowledge_band_edge_is_listed` reads the edges out of knowledge/data/dosing.json and
fails for an edge EDGES does not cover, so a new band row cannot ship untested. The probes run the
real band matching of the knowledge (Bound.contains); the dasatinib 30 kg edge additionally runs
the real dose rule on each side.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.dose_orders import med, patient, run

from cdshooks.knowledge.dosing import dosing_view
from cdshooks.rules.dose import dose_for_patient

Probe = dict[float, set[str]]
# (drug, variable, edge) -> (the other band variables held fixed, {probe value: rows that apply})
# Ages are completed years at the order date (age 21 = 21 y 0 d .. 21 y 364 d).
EDGES: dict[tuple[str, str, float], tuple[dict[str, float], Probe]] = {
    ("daunorubicin", "age_years", 2): ({"bsa_m2": 0.8}, {1: {"child-under-2"}, 2: {"pediatric-bsa"}, 3: {"pediatric-bsa"}}),
    ("daunorubicin", "age_years", 18): ({"bsa_m2": 1.8}, {17: {"pediatric-bsa"}, 18: {"adult"}, 19: {"adult"}}),
    ("daunorubicin", "bsa_m2", 0.5): ({"age_years": 5}, {0.49: {"child-small-bsa"}, 0.5: {"pediatric-bsa"}, 0.51: {"pediatric-bsa"}}),
    # pediatric (<=21 y) and adult (>=16 y) schedules overlap on 16-21 y: both are acceptable there
    ("nelarabine", "age_years", 16): ({}, {15: {"pediatric"}, 16: {"pediatric", "adult"}, 17: {"pediatric", "adult"}}),
    ("nelarabine", "age_years", 21): ({}, {20: {"pediatric", "adult"}, 21: {"pediatric", "adult"}, 22: {"adult"}}),
    ("pegaspargase", "age_years", 21): ({}, {20: {"age-21-or-under"}, 21: {"age-21-or-under"}, 22: {"over-21"}}),
    ("vincristine", "weight_kg", 10): ({"age_years": 1}, {9.9: {"pediatric-weight"}, 10.0: {"pediatric-weight"}, 10.1: {"pediatric-bsa"}}),
    ("vincristine", "age_years", 18): ({"weight_kg": 60}, {17: {"pediatric-bsa"}, 18: {"adult-bsa"}, 19: {"adult-bsa"}}),
    ("blinatumomab", "weight_kg", 45): ({}, {44.9: {"bsa-step1", "bsa"}, 45.0: {"fixed-step1", "fixed"}, 45.1: {"fixed-step1", "fixed"}}),
    ("dasatinib", "age_years", 18): ({"weight_kg": 50}, {17: {"pediatric-45kg"}, 18: {"adult"}, 19: {"adult"}}),
    ("dasatinib", "weight_kg", 10): ({"age_years": 3}, {9.9: set(), 10.0: {"pediatric-10-20kg"}, 10.1: {"pediatric-10-20kg"}}),
    ("dasatinib", "weight_kg", 20): ({"age_years": 6}, {19.9: {"pediatric-10-20kg"}, 20.0: {"pediatric-20-30kg"}, 20.1: {"pediatric-20-30kg"}}),
    ("dasatinib", "weight_kg", 30): ({"age_years": 9}, {29.9: {"pediatric-20-30kg"}, 30.0: {"pediatric-30-45kg"}, 30.1: {"pediatric-30-45kg"}}),
    ("dasatinib", "weight_kg", 45): ({"age_years": 14}, {44.9: {"pediatric-30-45kg"}, 45.0: {"pediatric-45kg"}, 45.1: {"pediatric-45kg"}}),
    ("imatinib", "age_years", 18): ({}, {17: {"pediatric-bsa"}, 18: {"adult"}, 19: {"adult"}}),
    ("tisagenlecleucel", "weight_kg", 50): ({}, {49.9: {"weight"}, 50.0: {"weight"}, 50.1: {"total"}}),
    ("tocilizumab", "weight_kg", 30): ({}, {29.9: {"under-30kg"}, 30.0: {"30kg-or-more"}, 30.1: {"30kg-or-more"}}),
}
# label limits: (limit id, variable, edge) -> (fixed variables, {probe: limit violated?})
LIMIT_EDGES: dict[tuple[str, str, float], tuple[dict[str, float], dict[float, bool]]] = {
    ("dose.dasatinib.under-10kg", "weight_kg", 10): ({"age_years": 1}, {9.9: True, 10.0: False, 10.1: False}),
    ("dose.dasatinib.under-10kg", "age_years", 18): ({"weight_kg": 9.5}, {17: True, 18: False, 19: False}),
}


def knowledge_edges(kb: Any) -> tuple[set[tuple[str, str, float]], set[tuple[str, str, float]]]:
    view = dosing_view(kb)
    rows = {(r.drug, b.variable, e) for r in view.dose_rules for b in r.bands.bounds for e in (b.min, b.max) if e is not None}
    limits = {(lim.id, b.variable, e) for lim in view.label_limits for bands in (lim.applies, lim.allowed)
              for b in bands.bounds for e in (b.min, b.max) if e is not None}
    return rows, limits


def test_every_knowledge_band_edge_is_listed(kb) -> None:
    rows, limits = knowledge_edges(kb)
    untested = sorted(rows - set(EDGES)) + sorted(limits - set(LIMIT_EDGES))
    assert not untested, f"band edges in knowledge/data/dosing.json without an edge test here: {untested}"
    assert not set(EDGES) - rows and not set(LIMIT_EDGES) - limits, "EDGES lists an edge the knowledge no longer has"
    for (_, _, edge), (_, probes) in {**EDGES, **LIMIT_EDGES}.items():
        assert min(probes) < edge == sorted(probes)[1] < max(probes), f"edge {edge}: need probes below, on and above it"


@pytest.mark.parametrize("key", sorted(EDGES), ids=lambda k: f"{k[0]}-{k[1]}-{k[2]:g}")
def test_rows_on_each_side_of_the_edge(kb, key) -> None:
    drug, variable, _ = key
    fixed, probes = EDGES[key]
    rows = [r for r in dosing_view(kb).dose_rules if r.drug == drug]
    for value, expected in probes.items():
        values = {"age_years": 8.0, "weight_kg": 26.0, "bsa_m2": 0.96, **fixed, variable: value}
        got = {r.id.removeprefix(f"dose.{drug}.") for r in rows if r.bands.match(values) is True}
        assert got == expected, f"{drug} {variable}={value}: rows {sorted(got)}, expected {sorted(expected)}"


@pytest.mark.parametrize("key", sorted(LIMIT_EDGES), ids=lambda k: f"{k[0]}-{k[1]}-{k[2]:g}")
def test_label_limits_on_each_side_of_the_edge(kb, key) -> None:
    limit_id, variable, _ = key
    fixed, probes = LIMIT_EDGES[key]
    lim = next(lim for lim in dosing_view(kb).label_limits if lim.id == limit_id)
    for value, violated in probes.items():
        values = {"age_years": 8.0, "weight_kg": 26.0, "bsa_m2": 0.96, **fixed, variable: value}
        assert (lim.applies.match(values) is True and lim.allowed.match(values) is False) is violated, (variable, value)


def test_dasatinib_30kg_edge_through_the_dose_rule(kb) -> None:
    """Sprycel pediatric table: 20 to <30 kg 60 mg, 30 to <45 kg 70 mg once daily."""

    def cards(weight: float, mg: float) -> list:
        ctx = patient(years=9, weight=weight, height=130, orders=[med("dasatinib", mg, "mg", route="oral", frequency=1, period=1, period_unit="d")])
        return [f for f in run(dose_for_patient, ctx, kb) if f.topic in ("dose", "dose-limit")]

    assert cards(29.9, 60) == [] and cards(30.0, 70) == []  # each side's own dose: clean
    below, above = cards(29.9, 70), cards(30.0, 60)  # the neighbour's dose: named with this side's branch
    assert [f.inputs["rule_row"] for f in below] == ["dose.dasatinib.pediatric-20-30kg"], below
    assert [f.inputs["rule_row"] for f in above] == ["dose.dasatinib.pediatric-30-45kg"], above
    assert below[0].indicator == above[0].indicator == "warning"  # right for the bordering band: never critical
