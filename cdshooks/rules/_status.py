"""Is the patient CURRENTLY pregnant or breastfeeding? (issue 13 items 1 and 14)

Why a module of its own: "ever pregnant" gave a critical methotrexate card for a pregnancy 400 days
ago followed by a negative test 3 days ago. Here the latest status decides within the currency
window of populations.json `status_currency` (a stated team convention): a later negative status
overrides an older positive status or an older active Condition; a Condition counts only while its
clinicalStatus is "active"; administrative gender plays no part. A status read from free text
(breastfeeding has no verified negative answer code) says so (`Status.text`).

A Status carries facts (kind of record, code, date, the free text read); `source` is the audit
string the card keeps in `inputs.source`; the wording is in cards/templates/population.md.j2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..context.model import LabResult, PatientContext
from ..knowledge import Knowledge
from ..knowledge.populations import population_knowledge


@dataclass(frozen=True)
class Status:
    """Current pregnancy/breastfeeding evidence ("current") or an old positive to confirm ("stale")."""

    state: str  # "current" | "stale"
    source: str  # audit text for inputs: the record, its code and date
    record: str = ""  # "Condition" | "Observation" (the resource type that says so)
    code: str = ""  # "system|code" of a Condition or fact; "" for a status Observation
    day: date | None = None  # onset/recorded date of a Condition, date of a status Observation
    text: str | None = None  # the Observation text a status was read from (no verified coded answer)
    current_days: int | None = None  # stale: the currency window no status falls into


def status_evidence(ctx: PatientContext, kb: Knowledge, fact_key: str) -> Status | None:
    """The LATEST status decides (populations.json status_currency): an active Condition, or a
    positive status Observation within the currency window, unless a later negative status exists.
    Administrative gender plays no part (it neither creates nor suppresses pregnancy)."""
    cur = population_knowledge(kb).status_currency.get(fact_key)
    if cur is None:
        fact = next(iter(ctx.facts.get(fact_key) or ()), None)
        return Status("current", f"{fact.source} ({fact.code})", fact.source.split("/")[0], fact.code, fact.onset or fact.recorded) if fact else None
    statuses = [lab for lab in ctx.labs.get(cur["lab"]) or () if lab.code_value in ("positive", "negative") and lab.date <= ctx.order_date]
    negatives = [lab.date for lab in statuses if lab.code_value == "negative"]
    last_negative = max(negatives) if negatives else None

    def overridden(day: date | None) -> bool:
        return day is not None and last_negative is not None and last_negative > day

    for f in ctx.facts.get(fact_key) or ():
        if not f.source.startswith("Condition/") or f.clinical_status != "active":
            continue  # Observation-derived facts are read below from the status series; Conditions count only while active
        day = f.onset or f.recorded
        if not overridden(day):
            return Status("current", f"{f.source} ({f.code}, clinicalStatus active{', onset ' + str(day) if day else ''})", "Condition", f.code, day)
    for lab in sorted(statuses, key=lambda r: r.date, reverse=True):
        if lab.code_value == "negative":
            return None  # the latest status is negative: it overrides every older positive
        age = (ctx.order_date - lab.date).days
        how, text = _read_how(lab)
        if age <= cur["current_days"]:
            return Status("current", f"{lab.source} positive on {lab.date}{how}", "Observation", "", lab.date, text)
        if age <= cur["stale_positive_lookback_days"]:
            return Status("stale", f"{lab.source} positive on {lab.date}{how}", "Observation", "", lab.date, text, cur["current_days"])
        return None
    return None


def _read_how(lab: LabResult) -> tuple[str, str | None]:
    """When a status was read from free text (no verified answer code), e.g. breastfeeding: audit note and the text."""
    if lab.value_source != "text":
        return "", None
    return f" (read from the Observation's text '{lab.code_value}': no verified coded answer for this status)", str(lab.code_value)
