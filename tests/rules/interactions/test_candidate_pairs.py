"""`rules.interactions.candidate_pairs` (visits only pairs whose drugs reach each other) yields
exactly the pairs, in the same order, of `candidate_pairs_reference` (every pair of `_pairs`,
then the reach filter): same orders objects, so the same verdicts in the same order."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdshooks.knowledge import load_knowledge
from cdshooks.knowledge.interactions import interaction_knowledge
from cdshooks.rules.interactions import candidate_pairs, candidate_pairs_reference

from ddi_factory import make_ctx, order

IK = interaction_knowledge(load_knowledge())
AGENTS = sorted(IK.agents)
NAMED = sorted(set(AGENTS) | {d for r in IK.rules for d in r.drugs} | {"acetaminophen", "unknown-drug"})

drugs = st.lists(st.sampled_from(NAMED), max_size=3).map(tuple)
refs = st.integers(0, 12).map(lambda i: f"MedicationRequest/m{i}")  # small range: duplicated refs happen


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(targets=st.lists(st.tuples(refs, drugs), max_size=5), active=st.lists(st.tuples(refs, drugs), max_size=8))
def test_candidate_pairs_equal_the_filtered_scan(targets, active) -> None:
    ctx = make_ctx(targets=[order(r, *d) for r, d in targets], active=[order(r, *d, draft=False) for r, d in active])
    fast, reference = list(candidate_pairs(ctx, IK)), candidate_pairs_reference(ctx, IK)
    assert [(id(a), id(b)) for a, b in fast] == [(id(a), id(b)) for a, b in reference]


def test_unique_refs_take_the_fast_path_and_find_the_pair() -> None:
    ctx = make_ctx(targets=[order("MedicationRequest/a", "methotrexate"), order("MedicationRequest/b", "vincristine")],
                   active=[order("MedicationRequest/c", "ibuprofen", draft=False), order("MedicationRequest/d", "acetaminophen", draft=False)])
    fast = [(a.ref, b.ref) for a, b in candidate_pairs(ctx, IK)]
    assert ("MedicationRequest/a", "MedicationRequest/c") in fast
    assert fast == [(a.ref, b.ref) for a, b in candidate_pairs_reference(ctx, IK)]
