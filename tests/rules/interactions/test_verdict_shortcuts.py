"""Round 7 shortcuts of the interaction rule make what the code made before (issue 15):
`_verdict` skips ranking and merging for a pair with one hit, and `candidate_pairs` takes a
one-drug order's reach as it is. The interaction rule is run on every fixture chart with
`_verdict` as it was (kept here verbatim) and as it is: the same verdicts, in the same order."""

from __future__ import annotations

from typing import Any

import pytest

from cdshooks.context.model import MedicationOrder
from cdshooks.rules import interactions as I
from cdshooks.rules._percall import per_call
from cdshooks.rules.verdict import Verdict

from support.fixture_contexts import fixture_rule_calls


def old_verdict(a: MedicationOrder, b: MedicationOrder, hits: list[Any]) -> Verdict:  # rules/interactions.py before round 7
    hits.sort(key=lambda h: (-I._RANK[h.severity], h.match.rule.id))
    top = hits[0]
    agent_order, other_order = I._order_of(top, a, b)
    agent, other = top.match.agent, top.match.other
    rules = list(dict.fromkeys(h.match.rule.id for h in hits))
    citation = f"{top.match.rule.id}: {top.match.rule.citation}"
    if len(rules) > 1:
        citation += "; also " + ", ".join(rules[1:]) + " (see detail)"
    row = I._row_ref(top.match.rule.rule_id, top.match.rule.citation, "verified" if top.match.verified else "unverified")
    facts = {
        "agent": agent, "other": other, "action": top.match.rule.action,
        "agent_order": I._order_facts(agent_order), "other_order": I._order_facts(other_order),
        "hits": [{"severity": h.severity, "soft": not h.match.verified, "agent": h.match.agent, "other": h.match.other,
                  "via": list(h.match.via), "mechanism": h.match.rule.mechanism, "action": h.match.rule.action,
                  "conditions": list(h.conditions)} for h in hits],
    }
    return Verdict(
        row=row, topic="interaction", indicator=top.severity, message="pair", drug=agent, citation=citation,
        orders=tuple(o.ref for o in (a, b) if o.is_draft), facts=facts,
        inputs={
            "pair": [agent_order.ref, other_order.ref],
            "drugs": [agent, other],
            "rules": rules,
            "identified_by": {agent_order.ref: agent_order.identified_by, other_order.ref: other_order.identified_by},
            "notes": [n for h in hits for n in h.notes],
        },
    )


def test_interaction_verdicts_are_those_of_the_old_code_on_every_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [c for c in fixture_rule_calls() if c.ctx.targets and "interaction" in c.families]
    assert len(calls) > 20
    merged = single = 0
    for call in calls:
        with per_call():
            new = list(I.drug_interactions(call.ctx, call.kb, call.settings))
        with monkeypatch.context() as mp, per_call():
            mp.setattr(I, "_verdict", old_verdict)
            old = list(I.drug_interactions(call.ctx, call.kb, call.settings))
        assert new == old, call.name
        assert [v.orders for v in new] == [v.orders for v in old] and [type(v.orders) for v in new] == [tuple] * len(new)
        merged += sum(len(v.facts["hits"]) > 1 for v in new)
        single += sum(len(v.facts["hits"]) == 1 for v in new)
    assert merged and single  # both paths ran
