"""Summary and detail of a card, written from its topic's template: the one place words are made.

Why templates: a rule says what it found (`rules.verdict.Verdict`); how a prescriber reads it -
drug first, the number that matters, the arithmetic, what to do - is wording, and wording changed
in one file per topic (`templates/<topic>.md.j2`), with one number format, one unit spelling, one
date format, one patient block and one clipper (`clip_summary`), all defined here.

A topic template defines, for each `message` a rule may name, two macros taking (card, facts):
`<message>_summary` and `<message>_detail` (dashes in the message become underscores).
`tests/cards/test_templates.py` renders every message of every fixture and checks both exist.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Iterable

import jinja2

from ..rules.finding import Finding
from ..rules.verdict import Amount
from .fastjinja import DICT_ATTRIBUTES, CardCodeGenerator, CardContext, plain_function
from .wording import LAB_NAMES

log = logging.getLogger(__name__)

SUMMARY_LIMIT = 139  # a card summary is "< 140 characters" (contract)
ELLIPSIS = "…"

UNIT_TEXT = {
    "ug/d": "µg/day", "[iU]": "IU", "{cells}": "cells", "mg/m2": "mg/m²", "[iU]/m2": "IU/m²", "ug/m2/d": "µg/m²/day",
    "ug": "µg", "mg/kg": "mg/kg", "m2": "m²", "ug/m2": "µg/m²", "mg/m2/d": "mg/m²/day", "mg/kg/d": "mg/kg/day",
    "mg/d": "mg/day", "10*6{cells}/kg": "×10⁶ cells/kg", "{cells}/kg": "cells/kg", "/uL": "/µL", "10*3/uL": "×10³/µL",
    "umol/L": "µmol/L", "mL/min/{1.73_m2}": "mL/min/1.73 m²", "mL/min": "mL/min", "{pill}": "tablet",
}


def clip_summary(text: str) -> str:
    """One line, < 140 characters, clipped at a word with one ellipsis (the only clipper)."""
    text = " ".join(str(text).split())
    if len(text) <= SUMMARY_LIMIT:
        return text
    cut = text[: SUMMARY_LIMIT - 1]
    if " " in cut[-20:]:
        cut = cut[: cut.rstrip().rfind(" ")]
    return cut.rstrip(" ,;:–-") + ELLIPSIS


def num(value: Any) -> str:
    """Numbers as a clinician writes them: 3 significant digits, thousands separators, 2.5 ×10^8."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    v = float(value)
    if abs(v) >= 1e5:
        exp = len(str(int(abs(v)))) - 1
        return f"{v / 10**exp:.3g} ×10^{exp}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def unit(code: Any) -> str:
    return UNIT_TEXT.get(str(code), str(code))


def qty(value: Any, unit_code: str | None = None) -> str:
    """'2.4 mg' from an Amount, a {value, unit} mapping, or a number and a unit."""
    if isinstance(value, Amount):
        value, unit_code = value.value, value.unit
    elif isinstance(value, dict) and "value" in value:
        value, unit_code = value["value"], value.get("unit", unit_code)
    text = num(value)
    return f"{text} {unit(unit_code)}" if unit_code else text


def day(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if value else "date not recorded"


def drug(drug_id: Any) -> str:
    """A knowledge drug id (a generic name, lower case) as the first word of a sentence."""
    text = str(drug_id or "").replace("-", " ").replace("_", " ")
    return text[:1].upper() + text[1:]


def lab(key: Any) -> str:
    return LAB_NAMES.get(str(key), str(key).replace("_", " "))


def and_list(items: Iterable[Any]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def pct(value: Any) -> str:
    return f"{num(abs(float(value)))}%" if isinstance(value, (int, float)) else str(value)


_ABSENT = object()


class _CardEnvironment(jinja2.Environment):
    """Jinja's environment with a short way to `f.name` on a facts dict.

    Jinja reads `x.name` as the attribute first, then the item; for a dict that costs a raised
    AttributeError per lookup (hundreds per response). A name a dict has no attribute for goes
    straight to the item here, with the same answer (an undefined when the key is missing); method
    names (`f.get`, `f.items`) still reach the method. Templates are compiled by
    `fastjinja.CardCodeGenerator`, which inlines the plain-dict case of this method."""

    code_generator_class = CardCodeGenerator

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        if type(obj) is Finding:
            # `card.message`, `card.drug`: a Finding's fields live in its instance dict and its class
            # defines no descriptor of those names, so the dict holds what getattr answers
            found = obj.__dict__.get(attribute, _ABSENT)
            if found is not _ABSENT:
                return found
        return super().getattr(obj, attribute)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = _CardEnvironment(
        loader=jinja2.PackageLoader("cdshooks.cards", "templates"),
        autoescape=False,  # Markdown, not HTML: the client renders it (the sandbox with raw HTML off)
        undefined=jinja2.StrictUndefined,  # a fact a template names but the rule did not give fails the test
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    env.filters.update(num=num, unit=unit, qty=qty, day=day, drug=drug, lab=lab, and_list=and_list, pct=pct)
    env.context_class = CardContext
    return env


@lru_cache(maxsize=None)
def _module(topic: str) -> Any:
    return environment().get_template(f"{topic}.md.j2").module


def _macro(topic: str, message: str, part: str) -> Any:
    return getattr(_module(topic), f"{message.replace('-', '_')}_{part}", None)


@lru_cache(maxsize=None)
def _renderer(topic: str, name: str, given: int) -> Any:
    """The function rendering macro `name` of a topic module from `given` positional arguments:
    the macro's compiled function when its call is plain (cards/fastjinja.py), else the macro;
    None when the topic has no such macro. Templates are loaded once: kept per process."""
    macro = getattr(_module(topic), name, None)
    return plain_function(macro, given) or macro


def has_message(topic: str, message: str) -> bool:
    try:
        return all(callable(_macro(topic, message, part)) for part in ("summary", "detail"))
    except jinja2.TemplateNotFound:
        return False


def _tidy(markdown: str) -> str:
    """Lines right-stripped, runs of blank lines made one, the whole stripped: `_tidy_lines`, at C speed.

    Why the same: the joined lines hold no line break of their own (splitlines took them all), so
    "\n\n\n" in the joined text is exactly two blank lines in a row, and folding it until none is
    left keeps one blank line of every run, as the loop does (tests/cards/test_fast_macros.py)."""
    joined = "\n".join(map(str.rstrip, markdown.strip().splitlines()))
    while "\n\n\n" in joined:
        joined = joined.replace("\n\n\n", "\n\n")
    return joined


def _tidy_lines(markdown: str) -> str:
    """`_tidy` line by line (its definition)."""
    lines = [line.rstrip() for line in markdown.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out)


def patient_block(patient: Any) -> str:
    return _tidy(str(_renderer("_base", "patient_block", 1)(patient)))


def soft_note(finding: Finding) -> str:
    return _tidy(str(_renderer("_base", "soft_note", 1)(finding)))


def body(finding: Finding) -> tuple[str, str]:
    """(summary, detail) from the template, without the patient block or the soft-rule note."""
    try:
        name = finding.message.replace("-", "_")
        summary = _renderer(finding.topic, f"{name}_summary", 2)
        detail = _renderer(finding.topic, f"{name}_detail", 2)
        if summary is None or detail is None:
            raise LookupError(f"no macro {finding.message}_summary/_detail in {finding.topic}.md.j2")
        return clip_summary(str(summary(finding, finding.facts))), _tidy(str(detail(finding, finding.facts)))
    except Exception:  # a wording bug must not cost the prescriber the finding (tests make this unreachable)
        log.exception("card template failed for rule %s message %s", finding.rule_id, finding.message)
        what = f"{drug(finding.drug)}: " if finding.drug else ""
        return clip_summary(f"{what}{finding.topic} finding - see the rule's source"), f"Rule `{finding.rule_id}` found a problem; its wording could not be rendered."


def render_text(finding: Finding) -> tuple[str, str]:
    """(summary, detail Markdown) of a card; the Sources section is added by `render`."""
    if not finding.message:  # older form: the rule wrote its own text
        return finding.summary, finding.detail
    summary, detail = body(finding)
    parts = [detail]
    if finding.patient is not None:
        parts.append(patient_block(finding.patient))
    if finding.soft:
        parts.append(soft_note(finding))
    return summary, "\n\n".join(p for p in parts if p)
