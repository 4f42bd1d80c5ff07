"""What a rule yields: a Verdict - facts and the knowledge row they come from, no words.

Why facts and not text: a phrase, a number format or the "unverified source" policy used to be
fixed in ten rule modules. A rule now says WHAT it found (the row, the indicator it asks for, the
order and drug, what was found and what was expected, the computation steps, the inputs with their
dates) and names a `message` - a template of its topic in `cards/templates/<topic>.md.j2`. The
engine (`registry.run_rules`) stamps the rule id and citation from the row, caps an unverified row
at `warning` once, and adds the patient inputs once; `cards/` writes summary and detail.

    yield Verdict(row=spec, topic="route", indicator="critical", message="forbidden",
                  drug="vincristine", orders=(order.ref,),
                  facts={"route": "intrathecal", "allowed": ["intravenous"]},
                  inputs={"route": "intrathecal"}, patient=True)

`facts` may hold numbers, strings, dates, lists, dicts and the `Step` / `Amount` records below;
the template formats them (one number format, one unit spelling). `inputs` is the JSON the card's
`extension.all-cds.inputs` carries (goldens pin numbers there), so it must be JSON-serialisable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Protocol, runtime_checkable

from .finding import INDICATORS, TOPICS, LinkSpec, SuggestionSpec

STATUSES = ("verified", "unverified")


@runtime_checkable
class Row(Protocol):
    """What every typed knowledge row exposes to the engine (dose, route, population, ... rows)."""

    @property
    def id(self) -> str: ...

    @property
    def citation(self) -> str: ...

    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class RowRef:
    """A row for knowledge that is not one typed row: a rule combining rows, or a team convention."""

    id: str
    citation: str
    status: str = "verified"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"{self.id}: unknown status {self.status!r}")


@dataclass(frozen=True)
class Amount:
    """A number with its UCUM unit, for templates (`{{ a | qty }}` -> "2.4 mg", "1.5 mg/m²")."""

    value: float
    unit: str


@dataclass(frozen=True)
class Step:
    """One line of the arithmetic a prescriber can re-do: "BSA 0.82 m² × 1.5 mg/m² = 1.23 mg"."""

    label: str  # what the line computes, e.g. "expected dose", "BSA (Mosteller)"
    value: Any  # an Amount, a number, or a short text the template prints as is
    how: str = ""  # the arithmetic or where the value came from


_NOT_GIVEN: Any = object()  # `facts`/`inputs` not passed: a new dict each, as `field(default_factory=dict)`
_TOPICS, _INDICATORS = frozenset(TOPICS), frozenset(INDICATORS)
_MESSAGES: set[str] = set()  # messages already found to name a macro (a macro name is text of the code, not data)


@dataclass(frozen=True, init=False)
class Verdict:
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

    # Why a written `__init__`: the frozen dataclass one sets each of the 14 fields through
    # `object.__setattr__` and then validates (~5 µs; a verdict per card, ten and more per call).
    # This one fills the instance dict at once, in field order, and validates the same way (the
    # same messages, in the same order). tests/rules/test_verdict_init.py holds the dataclass as it
    # was and compares both on generated arguments; the guard below keeps the field list in step.
    def __init__(
        self, row: Row, topic: str, indicator: str, message: str, drug: str | None = None, orders: tuple[str, ...] = (),
        facts: Mapping[str, Any] = _NOT_GIVEN, inputs: Mapping[str, Any] = _NOT_GIVEN, rule_id: str | None = None,
        citation: str | None = None, patient: bool = False, suggestions: tuple[SuggestionSpec, ...] = (),
        override: tuple[str, ...] = (), links: tuple[LinkSpec, ...] = (),
    ) -> None:
        self.__dict__.update({
            "row": row, "topic": topic, "indicator": indicator, "message": message, "drug": drug, "orders": orders,
            "facts": {} if facts is _NOT_GIVEN else facts, "inputs": {} if inputs is _NOT_GIVEN else inputs,
            "rule_id": rule_id, "citation": citation, "patient": patient, "suggestions": suggestions, "override": override,
            "links": links,
        })
        try:
            known = topic in _TOPICS and indicator in _INDICATORS and message in _MESSAGES
        except TypeError:  # an unhashable value: the checks below say what is wrong with it
            known = False
        if not known:
            self.__post_init__()
            _MESSAGES.add(message)  # a str now: it passed isidentifier

    def __post_init__(self) -> None:
        if self.topic not in TOPICS:
            raise ValueError(f"{self.message}: unknown topic {self.topic!r}")
        if self.indicator not in INDICATORS:
            raise ValueError(f"{self.message}: unknown indicator {self.indicator!r}")
        if not self.message.replace("-", "_").isidentifier():
            raise ValueError(f"message {self.message!r} must name a template macro")


_VERDICT_FIELDS = ("row", "topic", "indicator", "message", "drug", "orders", "facts", "inputs", "rule_id", "citation", "patient",
                   "suggestions", "override", "links")
if _VERDICT_FIELDS != tuple(f.name for f in fields(Verdict)):  # pragma: no cover - a field added to Verdict
    raise TypeError("rules.verdict.Verdict: its fields changed; update the fields __init__ writes")
