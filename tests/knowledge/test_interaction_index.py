"""The precomputed interaction index answers exactly what the linear scan over interactions.json does.

`InteractionKnowledge.matches` reads a table built once at load; `scan` is the reference it was
built from. Equality is checked for every (agent, other) the knowledge names, for every drug id of
drugs.json in both roles, and for hypothesis-drawn ids (known, unknown, near-miss spellings).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdshooks.knowledge import load_knowledge
from cdshooks.knowledge.interactions import InteractionKnowledge, interaction_knowledge, known_drug_ids

KB = load_knowledge()
IK: InteractionKnowledge = interaction_knowledge(KB)
NAMED = sorted({d for r in IK.rules for d in r.agents | r.drugs} | {m for c in IK.classes.values() for m in c.members})
DRUG_IDS = sorted((known_drug_ids(KB) or frozenset()) | set(NAMED))


def test_index_equals_scan_for_every_known_drug_pair() -> None:
    agents = sorted({a for r in IK.rules for a in r.agents})
    assert agents and len(DRUG_IDS) > len(agents)
    nonempty = 0
    for agent in DRUG_IDS:  # every id as the agent, not only the rules' agents: a non-agent matches nothing
        for other in DRUG_IDS:
            expected = tuple(IK.scan(agent, other))
            assert IK.matches(agent, other) == expected, (agent, other)
            nonempty += bool(expected)
    # the index is not trivially empty: every rule is reached through at least one pair
    assert nonempty >= len(IK.rules)
    reached = {m.rule.id for a in agents for o in NAMED for m in IK.matches(a, o)}
    assert reached == {r.id for r in IK.rules}


def test_members_is_the_union_of_named_drugs_and_classes() -> None:
    for rule in IK.rules:
        expected = set(rule.drugs).union(*(IK.classes[c].members for c in rule.classes))
        assert IK.members(rule) == expected, rule.id


def test_agents_are_every_rules_agents() -> None:
    assert IK.agents == frozenset(a for r in IK.rules for a in r.agents)


def test_partners_are_exactly_the_others_an_agent_matches() -> None:
    for agent in DRUG_IDS:
        assert IK.partners.get(agent, frozenset()) == {o for o in DRUG_IDS if IK.scan(agent, o)}, agent
    assert set(IK.partners) == IK.agents  # every agent interacts with something


def test_a_match_keeps_its_via_and_verification() -> None:
    """Spot check on a row with a class: methotrexate + ibuprofen goes through the NSAID class."""
    found = IK.matches("methotrexate", "ibuprofen")
    assert found and all(m.agent == "methotrexate" and m.other == "ibuprofen" and m.via for m in found)
    hit = {m.rule.id for m in found}
    assert [m.rule.id for m in found] == [r.id for r in IK.rules if r.id in hit]  # rule order
    assert any(m.via != ("named in the rule",) for m in found)  # reached through a class


ids = st.sampled_from(DRUG_IDS)
near = ids.map(lambda d: d.upper()) | ids.map(lambda d: d + " ") | ids.map(lambda d: d[:-1])
drug = ids | near | st.text(min_size=0, max_size=12)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent=drug, other=drug)
def test_index_equals_scan_for_drawn_ids(agent: Any, other: Any) -> None:
    assert IK.matches(agent, other) == tuple(IK.scan(agent, other))


def test_reach_is_every_drug_matched_in_either_role() -> None:
    for drug in DRUG_IDS:
        expected = {o for o in DRUG_IDS if IK.scan(drug, o) or IK.scan(o, drug)}
        assert IK.reach.get(drug, frozenset()) == expected, drug
