"""PopulationKnowledge.population_rows_for (built once at load) answers exactly what the filter
special_populations ran over every row did: the population-family rows naming any of the drugs,
in file order (the order decides which card comes first)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from cdshooks.knowledge import load_knowledge
from cdshooks.knowledge.interactions import known_drug_ids
from cdshooks.knowledge.populations import population_knowledge

KB = load_knowledge()
PK = population_knowledge(KB)
NAMED = sorted({d for r in PK.rows for d in r.drugs})
DRUGS = sorted(set(NAMED) | set(known_drug_ids(KB) or ()) | {"", "not-a-drug", "Vincristine"})


def reference(drugs: list[str]) -> tuple:
    wanted = set(drugs)
    return tuple(r for r in PK.rows if r.family == "population" and not wanted.isdisjoint(r.drugs))


def test_rows_of_one_drug_equal_the_filter() -> None:
    assert len(NAMED) > 10 and any(r.family != "population" for r in PK.rows)  # the family filter is exercised
    for drug in DRUGS:
        assert PK.population_rows_for([drug]) == reference([drug]), drug
    assert PK.population_rows_for([]) == ()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(DRUGS), max_size=8))
def test_rows_of_several_drugs_equal_the_filter(drugs: list[str]) -> None:
    found = PK.population_rows_for(drugs)
    assert found == reference(drugs)
    assert all(a is b for a, b in zip(found, reference(drugs)))  # the same row objects
