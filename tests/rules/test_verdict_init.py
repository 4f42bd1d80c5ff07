"""`Verdict`'s written `__init__` (round 7) makes what the frozen dataclass `__init__` made: the
dataclass as it was is kept here verbatim, and both are built from the same generated arguments
(keywords and positions, valid and invalid): same fields in the same order, same repr, equal,
the same ValueError for a bad topic, indicator or message, a new dict for each omitted facts or
inputs, still frozen, and `dataclasses.replace` still works."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdshooks.rules.finding import INDICATORS, TOPICS, LinkSpec, SuggestionSpec
from cdshooks.rules.verdict import Row, RowRef, Verdict


@dataclass(frozen=True)
class OldVerdict:  # cdshooks/rules/verdict.py Verdict before round 7, verbatim
    row: Row
    topic: str
    indicator: str  # what the rule asks for; the engine caps it at "warning" for an unverified row
    message: str  # macro name in cards/templates/<topic>.md.j2 (summary and detail)
    drug: str | None = None  # knowledge drug id (a generic name)
    orders: tuple[str, ...] = ()  # "MedicationRequest/<id>" this verdict concerns
    facts: Mapping[str, Any] = field(default_factory=dict)  # what the template shows
    inputs: Mapping[str, Any] = field(default_factory=dict)  # JSON for extension.all-cds.inputs
    rule_id: str | None = None  # default: row.id (a row may yield several ids: "SP-19.poor")
    citation: str | None = None  # default: row.citation
    patient: bool = False  # show (and put in inputs) the patient's age, weight, height, BSA
    suggestions: tuple[SuggestionSpec, ...] = ()
    override: tuple[str, ...] = ()  # override reason codes (cards/overrides.py); () = the topic's
    links: tuple[LinkSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.topic not in TOPICS:
            raise ValueError(f"{self.message}: unknown topic {self.topic!r}")
        if self.indicator not in INDICATORS:
            raise ValueError(f"{self.message}: unknown indicator {self.indicator!r}")
        if not self.message.replace("-", "_").isidentifier():
            raise ValueError(f"message {self.message!r} must name a template macro")


NAMES = [f.name for f in dataclasses.fields(OldVerdict)]
words = st.text("abcdef-._ ", min_size=0, max_size=8)
odd = st.none() | st.integers() | st.lists(st.integers(), max_size=1)  # not a string: still judged the same way
arguments = st.fixed_dictionaries(
    {"row": st.builds(RowRef, words, words, st.sampled_from(["verified", "unverified"])),
     "topic": st.sampled_from(sorted(TOPICS)) | words | odd, "indicator": st.sampled_from(sorted(INDICATORS)) | words | odd,
     "message": st.sampled_from(["pair", "lab-band", "off-range", "x"]) | words | odd},
    optional={"drug": st.none() | words, "orders": st.lists(words, max_size=2).map(tuple),
              "facts": st.dictionaries(words, st.integers(), max_size=2), "inputs": st.dictionaries(words, st.integers(), max_size=2),
              "rule_id": st.none() | words, "citation": st.none() | words, "patient": st.booleans(),
              "suggestions": st.lists(st.builds(SuggestionSpec, words), max_size=1).map(tuple),
              "override": st.lists(words, max_size=2).map(tuple), "links": st.lists(st.builds(LinkSpec, words, words), max_size=1).map(tuple)},
)


def _build(cls: type, kwargs: dict[str, Any], positional: int) -> Any:
    names = NAMES[:positional]
    if any(n not in kwargs for n in names):
        return cls(**kwargs)
    return cls(*(kwargs[n] for n in names), **{k: v for k, v in kwargs.items() if k not in names})


@settings(max_examples=200, deadline=None)
@given(kwargs=arguments, positional=st.integers(0, len(NAMES)))
def test_init_makes_what_the_dataclass_made(kwargs: dict[str, Any], positional: int) -> None:
    try:
        old = _build(OldVerdict, kwargs, positional)
    except (ValueError, AttributeError, TypeError) as exc:
        with pytest.raises(type(exc)) as raised:
            _build(Verdict, kwargs, positional)
        assert str(raised.value) == str(exc)
        return
    new = _build(Verdict, kwargs, positional)
    assert list(vars(new)) == NAMES  # every field, in field order
    assert [getattr(new, n) for n in NAMES] == [getattr(old, n) for n in NAMES]
    assert repr(new) == repr(old).replace("OldVerdict(", "Verdict(", 1)
    assert new == _build(Verdict, kwargs, positional) and new != old  # eq as a dataclass: by class and fields
    assert dataclasses.replace(new) == new and dataclasses.replace(new, drug="x").drug == "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.topic = "dose"  # type: ignore[misc]


def test_omitted_facts_and_inputs_are_new_dicts_each() -> None:
    row = RowRef("r.1", "c")
    a, b = Verdict(row, "dose", "warning", "off-range"), Verdict(row=row, topic="dose", indicator="warning", message="off-range")
    assert a.facts == {} and a.inputs == {} and a.facts is not b.facts and a.inputs is not b.inputs and a.facts is not a.inputs


def test_a_bad_message_is_refused_every_time() -> None:
    """The checks' memo holds only messages that passed: a bad one is refused on every call."""
    row = RowRef("r.1", "c")
    for _ in range(2):
        with pytest.raises(ValueError, match="must name a template macro"):
            Verdict(row, "dose", "warning", "not a macro")
    with pytest.raises(ValueError, match="unknown topic"):  # a known message does not skip the topic check
        Verdict(row, "nope", "warning", "off-range")
