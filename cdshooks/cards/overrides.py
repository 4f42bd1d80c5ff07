"""Override reasons: one vocabulary, one display per code, the defaults per card topic.

The 2.0 spec prescribes no vocabulary (`card.overrideReasons` is a list of Codings); ours lives
here only. Rules name codes (`Verdict.override`); a card whose rule names none gets its topic's
defaults. Codes are stable because feedback reports and /metrics group by them; a code that was
once issued and is no longer (ALIASES) is still counted as ours in feedback, under the code that
replaced it.
"""

from __future__ import annotations

import logging
from typing import Iterable

from ..rules.finding import Coding

OVERRIDE_SYSTEM = "urn:all-cds:override-reason"
log = logging.getLogger(__name__)

# code -> display. One display per code: the prescriber picks from these words.
REASONS: dict[str, str] = {
    "protocol-specified": "Specified by the treatment protocol",
    "dose-capped-per-protocol": "Dose capped as the protocol directs",
    "patient-specific-adjustment": "Patient-specific adjustment (documented)",
    "already-reduced": "Dose already reduced for this condition",
    "already-adjusted": "Dose or timing already adjusted for this interaction",
    "lab-not-current": "Lab value not current; newer result pending",
    "condition-resolved": "Recorded condition is no longer present",
    "benefit-outweighs-risk": "Benefit outweighs risk; will monitor",
    "not-applicable": "Does not apply to this patient",
    "patient-data-incorrect": "Patient data in the record is incorrect",
    "other": "Other reason (documented in the chart)",
}

# Codes issued by earlier versions -> the code that replaced them (same meaning).
ALIASES: dict[str, str] = {"protocol-specified-dose": "protocol-specified"}

DOSE = ("protocol-specified", "dose-capped-per-protocol", "patient-specific-adjustment", "other")
DOSE_REDUCTION = ("already-reduced", "lab-not-current", "protocol-specified", "other")
POPULATION = ("benefit-outweighs-risk", "condition-resolved", "patient-data-incorrect", "other")
PHARMACOGENOMICS = ("already-reduced", "protocol-specified", "other")
INTERACTION = ("protocol-specified", "already-adjusted", "benefit-outweighs-risk", "other")

TOPIC_DEFAULTS: dict[str, tuple[str, ...]] = {
    "dose": DOSE,
    "dose-limit": DOSE,
    "cumulative-dose": ("protocol-specified", "benefit-outweighs-risk", "patient-data-incorrect", "other"),
    "route": ("protocol-specified", "patient-data-incorrect", "other"),
    "schedule": ("protocol-specified", "patient-specific-adjustment", "other"),
    "interaction": INTERACTION,
    "population": POPULATION,
    "pharmacogenomics": PHARMACOGENOMICS,
    "regimen": ("protocol-specified", "not-applicable", "other"),
    "monitoring": ("not-applicable", "other"),
    "missing-data": ("patient-data-incorrect", "not-applicable", "other"),
    "risk-group": ("patient-data-incorrect", "other"),
}


def coding(code: str) -> Coding:
    """The Coding for one of our codes (KeyError for a code not in REASONS)."""
    return Coding(OVERRIDE_SYSTEM, code, REASONS[code])


def reasons_for(topic: str, codes: Iterable[str] = ()) -> tuple[Coding, ...]:
    """The override reasons a card offers: the rule's codes, else its topic's defaults.

    A code not in REASONS is left out and logged (tests/cards/test_templates.py keeps rules to known
    codes): a card is never lost for a wording slip."""
    out = []
    for code in tuple(codes) or TOPIC_DEFAULTS.get(topic, ()):
        if code in REASONS:
            out.append(coding(code))
        else:
            log.error("unknown override reason code %r (topic %s)", code, topic)
    return tuple(out)


def known_code(code: str) -> str | None:
    """Our code for a feedback reason (an alias maps to its replacement); None when not ours."""
    code = ALIASES.get(code, code)
    return code if code in REASONS else None


# Older name, read by callers that want a topic's default Codings.
DEFAULTS: dict[str, tuple[Coding, ...]] = {topic: reasons_for(topic) for topic in TOPIC_DEFAULTS}
