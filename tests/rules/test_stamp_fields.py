"""`registry.stamp` builds its Finding by filling the instance dict (no frozen `__init__`): the
result equals what `Finding(...)` makes from the same verdict, field by field, and is validated
the same way (an unknown topic or indicator, a missing citation still raise)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdshooks.context.model import Age, PatientContext
from cdshooks.rules.finding import INDICATORS, TOPICS, Finding, SuggestionSpec
from cdshooks.rules.patient import patient_facts, patient_inputs
from cdshooks.rules.registry import stamp
from cdshooks.rules.verdict import RowRef, Verdict

DAY = date(2026, 3, 1)
CTX = PatientContext(patient_id="p", order_date=DAY, now=datetime(2026, 3, 1, 12, tzinfo=timezone.utc),
                     age=Age(years=7, months=84, days=2600, at=DAY))


def reference_stamp(verdict: Verdict, ctx: PatientContext) -> Finding:
    """`stamp` as written with the constructor (round 4)."""
    row = verdict.row
    soft = row.status != "verified"
    indicator = "warning" if soft and verdict.indicator == "critical" else verdict.indicator
    rule_id = verdict.rule_id or row.id
    inputs = {**patient_inputs(ctx), **verdict.inputs} if verdict.patient else dict(verdict.inputs)
    if rule_id != row.id:
        inputs.setdefault("rule_row", row.id)
    return Finding(
        rule_id=rule_id, topic=verdict.topic, indicator=indicator, citation=verdict.citation or row.citation,
        orders=verdict.orders, inputs=inputs, drug=verdict.drug, suggestions=verdict.suggestions, links=verdict.links,
        message=verdict.message, facts=verdict.facts, patient=patient_facts(ctx) if verdict.patient else None,
        soft=soft, override=verdict.override,
    )


words = st.text("abcdef-.", min_size=1, max_size=8)
verdicts = st.builds(
    Verdict,
    row=st.builds(RowRef, words, st.text(min_size=0, max_size=10), st.sampled_from(["verified", "unverified"])),
    topic=st.sampled_from(sorted(TOPICS)), indicator=st.sampled_from(sorted(INDICATORS)), message=st.sampled_from(["pair", "lab-band", "x"]),
    drug=st.none() | words, orders=st.lists(words, max_size=2).map(tuple), facts=st.dictionaries(words, st.integers(), max_size=2),
    inputs=st.dictionaries(words, st.integers(), max_size=2), rule_id=st.none() | words, citation=st.none() | words,
    patient=st.booleans(), suggestions=st.lists(st.builds(SuggestionSpec, words), max_size=1).map(tuple),
    override=st.lists(words, max_size=2).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(verdict=verdicts)
def test_stamp_equals_the_constructor(verdict: Verdict) -> None:
    try:
        expected = reference_stamp(verdict, CTX)
    except ValueError as exc:  # e.g. no citation anywhere: stamp refuses it the same way
        with pytest.raises(ValueError, match=str(exc)):
            stamp(verdict, CTX)
        return
    found = stamp(verdict, CTX)
    assert found == expected
    assert list(vars(found)) == [f.name for f in dataclasses.fields(Finding)]  # every field, in order
    assert repr(found) == repr(expected) and hash(found.orders) == hash(expected.orders)
    assert dataclasses.replace(found) == expected  # still a dataclass instance in every way


def test_stamp_validates_as_the_constructor() -> None:
    bad = Verdict(row=RowRef("r.1", "", "verified"), topic="dose", indicator="warning", message="pair")
    with pytest.raises(ValueError, match="rule_id and a citation"):
        stamp(bad, CTX)
