"""Risk group (`risk-group` card, info): NCI/Rome, COG factors, CNS status, AIEOP-BFM MRD, adult.

One card per ALL patient, because the clinician reads the groups together; it states the group,
every input with its value and date, and every input that is missing ("COG group cannot be
assigned: no day-29 MRD recorded"). Silent for a patient without an ALL diagnosis fact. Rows used
are cited by id (risk.json); UNVERIFIED rows (adult WBC cut-offs) are soft: marked, switchable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterator

from ..context.model import PatientContext
from ..knowledge import Knowledge
from ..knowledge.risk import RiskKnowledge, Threshold, format_number, risk_view
from ._stratify import (
    CnsResult,
    NciResult,
    cns_status,
    coded,
    describe,
    has_all_diagnosis,
    lab_input,
    lineage,
    mrd_at,
    mrd_percent,
    nci_group,
    wbc_offset_text,
)
from .finding import Finding
from .registry import RuleSettings, rule

RULE_ID = "risk.group"
_FACT_NAMES = {"ph-positive": "BCR-ABL1 (Ph+)", "hypodiploid": "hypodiploidy", "kmt2a": "KMT2A-r", "etv6-runx1": "ETV6-RUNX1", "hyperdiploid": "hyperdiploidy", "testicular": "testicular disease"}


@dataclass
class _Section:
    """One system's part of the card: a summary phrase, detail lines, rows used, inputs."""

    title: str
    phrase: str | None = None
    lines: list[str] = field(default_factory=list)
    rows: list[Threshold] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)


def _nci_section(nci: NciResult, age_years: int | None) -> _Section:
    s = _Section("NCI/Rome", rows=list(nci.rows), inputs=dict(nci.inputs))
    if nci.group == "not-applicable":
        s.phrase = f"{nci.reasons[0]}: NCI risk not applicable" + (" (high-intensity therapy)" if nci.reasons[0].startswith("T") else "")
    elif nci.group == "infant":
        s.phrase = f"Infant ALL ({nci.reasons[0]}): NCI risk not applicable"
    elif nci.group == "high":
        s.phrase = "NCI high risk: " + " and ".join(nci.reasons)
    elif nci.group == "standard":
        s.phrase = "NCI standard risk"
    else:
        s.phrase = "NCI risk cannot be assigned"
    if nci.group in ("high", "standard") and not nci.lineage_recorded:
        s.phrase += " (if B-precursor)"
        s.lines.append("Lineage not recorded: NCI criteria apply to B-precursor ALL only.")
    age = nci.inputs.get("age_at_diagnosis")
    if age:
        s.lines.append(f"Age at diagnosis: {age['years']} y ({age['days']} d) on {age['at']}.")
    wbc = nci.inputs.get("wbc_at_diagnosis")
    if wbc:
        shown = f"{format_number(wbc['value'])} {wbc['unit']}" if wbc["value"] is not None else "unusable"
        offset = wbc_offset_text(date.fromisoformat(wbc["date"]), date.fromisoformat(nci.inputs["diagnosis_date"])) if nci.inputs.get("diagnosis_date") else ""
        s.lines.append(f"Presenting WBC (first WBC in the window around the diagnosis date, before cytoreductive therapy): {shown} on {wbc['date']}"
                       f"{' (' + offset + ')' if offset else ''} ({wbc['source']}).")
    s.lines.extend(f"Missing: {m}." for m in nci.missing)
    if nci.group is None and nci.missing:
        s.phrase += f": {nci.missing[0]}"
    return s


def _cog_section(ctx: PatientContext, rk: RiskKnowledge) -> _Section:
    s = _Section("COG (B-precursor factors)")
    factors: list[str] = []
    for row in rk.system("cog"):
        if row.input.startswith("fact:") and ctx.has_fact(row.input[5:]):
            fact = ctx.facts[row.input[5:]][0]
            factors.append(f"{_FACT_NAMES.get(row.input[5:], row.input[5:])} ({row.effect})")
            s.lines.append(f"{row.outcome} — {fact.source} [{row.id}]")
            s.rows.append(row)
            s.inputs.setdefault("factors", []).append({"fact": row.input[5:], "source": fact.source, "effect": row.effect})
    count_lab = ctx.lab("chromosome_count")
    if count_lab is not None and count_lab.value is not None:
        hypo, hyper_lo, hyper_hi = rk.criterion("COG-HYPODIPLOID"), rk.criterion("COG-HYPERDIPLOID-LOW"), rk.criterion("COG-HYPERDIPLOID-HIGH")
        s.inputs["chromosome_count"] = lab_input(count_lab)
        n = count_lab.value
        if hypo.holds(n):
            factors.append(f"{format_number(n)} chromosomes (extreme hypodiploidy)")
            s.lines.append(f"Modal chromosome number {describe(count_lab)}: {hypo.outcome} [{hypo.id}]")
            s.rows.append(hypo)
        elif hyper_lo.holds(n) and hyper_hi.holds(n):
            factors.append(f"{format_number(n)} chromosomes (high hyperdiploidy)")
            s.lines.append(f"Modal chromosome number {describe(count_lab)}: {hyper_lo.outcome} [{hyper_lo.id}]")
            s.rows.extend([hyper_lo, hyper_hi])
        else:
            s.lines.append(f"Modal chromosome number {describe(count_lab)}: no COG cytogenetic risk category.")
    mrd_row = rk.criterion("COG-MRD-D29")
    s.rows.append(mrd_row)
    mrd_lab = mrd_at(ctx, rk, "day29")
    mrd = mrd_percent(mrd_lab)
    verdict = coded(mrd_lab) if mrd is None and mrd_lab is not None and mrd_lab.code_value and mrd_lab.code_value.lower() not in rk.mrd_timepoints["day29"] else None
    if mrd_lab is not None and mrd is not None:
        positive = mrd_row.holds(mrd)
        s.inputs["mrd_day29"] = lab_input(mrd_lab, mrd, "%")
        s.lines.append(f"Day-29 MRD {describe(mrd_lab, mrd, '%')}: {'positive' if positive else 'negative'} (positive {mrd_row.text}) [{mrd_row.id}]")
        mrd_phrase = f"day-29 MRD {'positive' if positive else 'negative'} ({format_number(round(mrd, 4))}%)"
    elif verdict is not None:
        s.inputs["mrd_day29"] = lab_input(mrd_lab)
        s.lines.append(f"Day-29 MRD reported {verdict} on {mrd_lab.date.isoformat()} ({mrd_lab.source}) [{mrd_row.id}]")
        mrd_phrase = f"day-29 MRD {verdict}"
    else:
        why = "no day-29 MRD recorded" if mrd_lab is None else f"day-29 MRD {mrd_lab.source} has no usable value/unit"
        s.lines.append(f"Missing: {why} — COG group cannot be assigned.")
        s.phrase = f"COG group cannot be assigned: {why}"
        if factors:
            s.lines.append("Factors known so far: " + ", ".join(factors) + ".")
        return s
    s.phrase = "COG: " + ", ".join([mrd_phrase] + factors)
    return s


def _cns_section(cns: CnsResult, rk: RiskKnowledge) -> _Section:
    s = _Section("CNS status", rows=[rk.criterion("CNS-WBC"), rk.criterion("CNS-TLP")], inputs=dict(cns.inputs))
    s.lines.extend(cns.evidence)
    if cns.status is None:
        s.lines.extend(f"Missing: {m} — CNS status cannot be assigned." for m in cns.missing)
    else:
        s.lines.append(f"CNS status: **{cns.status}** (CSF WBC {rk.criterion('CNS-WBC').text} with blasts = CNS3; traumatic tap {rk.criterion('CNS-TLP').text} RBC).")
        if cns.status in ("CNS2", "CNS3", "TLP+"):
            s.phrase = cns.status
    s.inputs["cns_status"] = cns.status
    return s


def _bfm_section(ctx: PatientContext, rk: RiskKnowledge, lin: str | None) -> _Section:
    row, ppr_row = rk.criterion("BFM-MRD"), rk.criterion("BFM-PPR")
    s = _Section("AIEOP-BFM (MRD)", rows=[row])
    tp1_lab, tp2_lab = mrd_at(ctx, rk, "tp1"), mrd_at(ctx, rk, "tp2")
    tp1, tp2 = mrd_percent(tp1_lab), mrd_percent(tp2_lab)
    response = ctx.lab("prednisone_response")
    ppr = ctx.has_fact("prednisone-poor-response") or (response is not None and (response.code_value or "").lower() == "poor")
    for name, lab, val in (("TP1 (end induction, wk 5)", tp1_lab, tp1), ("TP2 (end consolidation, wk 12)", tp2_lab, tp2)):
        if lab is not None:
            s.inputs[name.split()[0].lower()] = lab_input(lab, val, "%" if val is not None else None)
            s.lines.append(f"{name} MRD {describe(lab, val, '%')}")
    if lin == "T" and ppr:
        s.rows.append(ppr_row)
        s.lines.append(f"T-ALL with poor prednisone response [{ppr_row.id}].")
        s.phrase = "BFM high risk (T-ALL, poor prednisone response)"
        return s
    if tp1_lab is None and tp2_lab is None:
        s.lines.append("No TP1/TP2 MRD recorded: BFM group not assessed.")
        return s
    if tp2 is None and _negative(tp2_lab, tp2, rk) and _negative(tp1_lab, tp1, rk):
        s.phrase = "BFM MRD-SR (negative at TP1 and TP2)"
        s.lines.append(row.outcome)
        return s
    if tp2 is None:
        s.lines.append("Missing: TP2 (week 12) MRD — BFM group cannot be assigned.")
        return s
    if row.holds(tp2):
        s.phrase = f"BFM MRD-HR (TP2 {format_number(round(tp2, 4))}% {row.text})"
    elif _negative(tp1_lab, tp1, rk) and _negative(tp2_lab, tp2, rk):
        s.phrase = "BFM MRD-SR (negative at TP1 and TP2)"
    elif tp1 is None and tp1_lab is None:
        s.lines.append("Missing: TP1 MRD — SR vs IR cannot be separated.")
        s.phrase = f"BFM not high risk (TP2 {format_number(round(tp2, 4))}% < 0.05%)"
    else:
        s.phrase = f"BFM MRD-IR (TP2 {format_number(round(tp2, 4))}% < 0.05%)"
    s.lines.append(row.outcome)
    return s


def _negative(lab, value: float | None, rk: RiskKnowledge) -> bool:
    """MRD negative = reported as 0 % or coded 'negative' (a timepoint label is not an answer)."""
    if lab is None:
        return False
    if value is not None:
        return value == 0
    timepoints = frozenset().union(*rk.mrd_timepoints.values())
    return (lab.code_value or "").lower() not in timepoints and coded(lab) == "negative"


def _adult_section(ctx: PatientContext, rk: RiskKnowledge, settings: RuleSettings, lin: str | None, wbc_input: dict | None) -> _Section:
    s = _Section("Adult (NCCN)", rows=[rk.criterion("ADULT-AGE")])
    poor: list[str] = []
    age = ctx.age_at_diagnosis
    soft = [r for r in (rk.criterion("ADULT-AGE-35"),) if settings.soft_rule_enabled(r.id)]
    for r in soft:
        if age is not None and r.holds(age.years):
            poor.append(f"age {r.text}*")
            s.rows.append(r)
    wbc_row = {"B-precursor": rk.criterion("ADULT-WBC-B"), "mature B": rk.criterion("ADULT-WBC-B"), "T": rk.criterion("ADULT-WBC-T")}.get(lin or "")
    if wbc_row is None:
        s.lines.append("Lineage not recorded: adult WBC cut-off (B > 30,000 / T > 100,000 per µL) not applied.")
    elif wbc_input is None or wbc_input.get("value") is None:
        s.lines.append("Missing: WBC at diagnosis — adult WBC risk not assessed.")
    elif settings.soft_rule_enabled(wbc_row.id):
        s.rows.append(wbc_row)
        if wbc_row.holds(wbc_input["value"]):
            poor.append(f"WBC {wbc_row.text}*")
    for key in ("ph-positive", "kmt2a", "hypodiploid"):
        if ctx.has_fact(key):
            poor.append(_FACT_NAMES[key])
    mrd_row = rk.criterion("ADULT-MRD")
    mrd_lab = mrd_at(ctx, rk, "post-induction")
    mrd = mrd_percent(mrd_lab)
    if mrd_lab is not None and mrd is not None:
        s.rows.append(mrd_row)
        s.inputs["mrd_post_induction"] = lab_input(mrd_lab, mrd, "%")
        s.lines.append(f"MRD after induction {describe(mrd_lab, mrd, '%')} [{mrd_row.id}]")
        if mrd_row.holds(mrd):
            poor.append("MRD-positive")
    else:
        s.lines.append("Missing: MRD after induction.")
    s.inputs["poor_risk_features"] = poor
    s.phrase = "Adult ALL: poor-risk " + ", ".join(poor) if poor else "Adult ALL: no poor-risk feature found"
    if any(p.endswith("*") for p in poor):
        s.lines.append("\\* UNVERIFIED threshold (NCCN, not confirmed): soft rule, switchable.")
    return s


def _summary(phrases: list[str]) -> str:
    text = ""
    for phrase in phrases:
        candidate = phrase if not text else f"{text}; {phrase}"
        if len(candidate) > 139:
            break
        text = candidate
    return text or phrases[0][:136] + "..."


@rule("risk-group")
def risk_group(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """NCI group from age and WBC at diagnosis, COG/BFM/adult factors, CNS status: one info card."""
    rk = risk_view(kb)
    if not has_all_diagnosis(ctx, rk):
        return
    lin = lineage(ctx, rk)
    nci = nci_group(ctx, kb)
    age = ctx.age_at_diagnosis
    adult = age is not None and rk.criterion("ADULT-AGE").holds(age.years)
    sections = [_nci_section(nci, age.years if age else None)]
    if lin != "T" and lin != "mature B" and not adult:
        sections.append(_cog_section(ctx, rk))
    sections.append(_cns_section(cns_status(ctx, kb), rk))
    if not adult:
        sections.append(_bfm_section(ctx, rk, lin))
    else:
        sections.append(_adult_section(ctx, rk, settings, lin, nci.inputs.get("wbc_at_diagnosis")))
    phrases = [s.phrase for s in sections if s.phrase]
    rows: list[Threshold] = []
    for s in sections:
        rows.extend(r for r in s.rows if r not in rows)
    detail = [f"**{s.title}**\n\n" + "\n".join(f"- {line}" for line in s.lines) for s in sections if s.lines]
    citation = "; ".join(f"{r.id}: {r.citation}" + (" (UNVERIFIED, soft)" if not r.verified else "") for r in rows)
    detail.append("Rows used: " + ", ".join(r.id for r in rows) + ". Risk groups support, not replace, the treating protocol.")
    yield Finding(
        rule_id=RULE_ID,
        topic="risk-group",
        indicator="info",
        summary=_summary(phrases),
        detail="\n\n".join(detail),
        citation=citation,
        inputs={"lineage": lin, **{s.title: s.inputs for s in sections}},
    )
