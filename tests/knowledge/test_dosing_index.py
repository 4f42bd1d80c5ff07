"""DosingView's per-drug lookups (built once at load) answer exactly what the filters over the rows did."""

from __future__ import annotations

from cdshooks.knowledge import load_knowledge
from cdshooks.knowledge.dosing import dosing_view
from cdshooks.knowledge.interactions import known_drug_ids

KB = load_knowledge()
VIEW = dosing_view(KB)


def test_every_lookup_equals_its_filter() -> None:
    tables = (VIEW.dose_rules, VIEW.label_limits, VIEW.route_rules, VIEW.route_notes, VIEW.schedule_rules, VIEW.cumulative_rules)
    named = {r.drug for rows in tables for r in rows}
    drugs = sorted(named | set(known_drug_ids(KB) or ()) | {"", "anthracycline", "not-a-drug", "Vincristine"})
    assert len(named) > 10
    for drug in drugs:
        assert VIEW.doses_for(drug) == tuple(r for r in VIEW.dose_rules if r.drug == drug), drug
        assert VIEW.limits_for(drug) == tuple(r for r in VIEW.label_limits if r.drug == drug), drug
        assert VIEW.route_for(drug) is next((r for r in VIEW.route_rules if r.drug == drug), None), drug
        assert VIEW.route_notes_for(drug) == tuple(r for r in VIEW.route_notes if r.drug == drug), drug
        assert VIEW.schedules_for(drug) == tuple(r for r in VIEW.schedule_rules if r.drug == drug), drug
        assert VIEW.cumulative_for(drug) == tuple(r for r in VIEW.cumulative_rules if r.drug == drug), drug
    assert sum(len(VIEW.doses_for(d)) for d in named) == len(VIEW.dose_rules)  # every row reachable
