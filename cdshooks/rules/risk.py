"""Risk group (`risk-group` card, info): NCI/Rome, COG factors, CNS status, AIEOP-BFM MRD, adult.

One card per ALL patient, because the clinician reads the groups together; it states the group,
every input with its value and date, and every input that is missing ("COG group cannot be
assigned: no day-29 MRD recorded"). Silent for a patient without an ALL diagnosis fact. The rows
used are cited by id in the card's citation (risk.json), never in its text: the template
(cards/templates/risk-group.md.j2) writes the criteria in clinical words. UNVERIFIED rows (adult
WBC cut-offs) are soft: marked in the card, switchable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterator

from ..context.model import PatientContext
from ..knowledge import Knowledge
from ..knowledge.risk import RiskKnowledge, Threshold, risk_view
from ._stratify import (
    CnsResult,
    NciResult,
    cns_status,
    coded,
    has_all_diagnosis,
    lab_fact,
    lab_input,
    lineage,
    mrd_at,
    mrd_percent,
    nci_group,
)
from .registry import RuleSettings, rule
from .verdict import RowRef, Verdict

RULE_ID = "risk.group"


@dataclass
class _Section:
    """One system's part of the card: its facts (what the template shows), rows used, inputs."""

    title: str  # the inputs key (goldens and the audit read inputs by it)
    kind: str  # nci | cog | cns | bfm | adult: the template's section macro
    facts: dict[str, Any] = field(default_factory=dict)
    rows: list[Threshold] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)


def _nci_section(nci: NciResult, rk: RiskKnowledge) -> _Section:
    s = _Section("NCI/Rome", "nci", rows=list(nci.rows), inputs=dict(nci.inputs))
    wbc = nci.inputs.get("wbc_at_diagnosis")
    dx = nci.inputs.get("diagnosis_date")
    offset = None
    if wbc and dx:
        offset = (date.fromisoformat(wbc["date"]) - date.fromisoformat(dx)).days
    s.facts = {
        "group": nci.group, "reasons": list(nci.reasons), "missing": list(nci.missing), "lineage_recorded": nci.lineage_recorded,
        "age": nci.inputs.get("age_at_diagnosis"),
        "wbc": {"value": wbc["value"], "unit": wbc["unit"], "date": wbc["date"], "offset_days": offset} if wbc else None,
        "criteria": {"age": rk.criterion("NCI-3-age").text, "wbc": rk.criterion("NCI-3-wbc").text, "infant": rk.criterion("NCI-1").text, "infant_days": rk.criterion("NCI-1").value,
                     "before": rk.criterion("NCI-WBC-WINDOW-BEFORE").value, "after": rk.criterion("NCI-WBC-WINDOW").value},
    }
    return s


def _cog_section(ctx: PatientContext, rk: RiskKnowledge) -> _Section:
    s = _Section("COG (B-precursor factors)", "cog")
    factors: list[dict[str, Any]] = []
    for row in rk.system("cog"):
        if row.input.startswith("fact:") and ctx.has_fact(row.input[5:]):
            fact = ctx.facts[row.input[5:]][0]
            factors.append({"fact": row.input[5:], "effect": row.effect, "outcome": row.outcome})
            s.rows.append(row)
            s.inputs.setdefault("factors", []).append({"fact": row.input[5:], "source": fact.source, "effect": row.effect})
    chromosomes = None
    count_lab = ctx.lab("chromosome_count")
    if count_lab is not None and count_lab.value is not None:
        hypo, hyper_lo, hyper_hi = rk.criterion("COG-HYPODIPLOID"), rk.criterion("COG-HYPERDIPLOID-LOW"), rk.criterion("COG-HYPERDIPLOID-HIGH")
        s.inputs["chromosome_count"] = lab_input(count_lab)
        n = count_lab.value
        chromosomes = {"reading": lab_fact(count_lab), "count": n, "category": None, "outcome": None,
                       "limits": {"hypo": hypo.value, "hyper_low": hyper_lo.value, "hyper_high": hyper_hi.value}}
        if hypo.holds(n):
            chromosomes.update(category="extreme hypodiploidy", outcome=hypo.outcome)
            s.rows.append(hypo)
        elif hyper_lo.holds(n) and hyper_hi.holds(n):
            chromosomes.update(category="high hyperdiploidy", outcome=hyper_lo.outcome)
            s.rows.extend([hyper_lo, hyper_hi])
    mrd_row = rk.criterion("COG-MRD-D29")
    s.rows.append(mrd_row)
    mrd_lab = mrd_at(ctx, rk, "day29")
    mrd = mrd_percent(mrd_lab)
    verdict = coded(mrd_lab) if mrd is None and mrd_lab is not None and mrd_lab.code_value and mrd_lab.code_value.lower() not in rk.mrd_timepoints["day29"] else None
    facts: dict[str, Any] = {"factors": factors, "chromosomes": chromosomes, "threshold": mrd_row.text, "mrd": None, "mrd_answer": None, "missing": None}
    if mrd_lab is not None and mrd is not None:
        s.inputs["mrd_day29"] = lab_input(mrd_lab, mrd, "%")
        facts["mrd"] = {"reading": lab_fact(mrd_lab, mrd, "%"), "positive": mrd_row.holds(mrd)}
    elif verdict is not None:
        s.inputs["mrd_day29"] = lab_input(mrd_lab)
        facts["mrd_answer"] = {"answer": verdict, "date": mrd_lab.date}  # type: ignore[union-attr]
    else:
        facts["missing"] = "no day-29 MRD recorded" if mrd_lab is None else "day-29 MRD has no usable value/unit"
    s.facts = facts
    return s


def _cns_section(cns: CnsResult, rk: RiskKnowledge) -> _Section:
    s = _Section("CNS status", "cns", rows=[rk.criterion("CNS-WBC"), rk.criterion("CNS-TLP")], inputs=dict(cns.inputs))
    s.facts = {"status": cns.status, "evidence": list(cns.evidence), "missing": list(cns.missing),
               "wbc_threshold": rk.criterion("CNS-WBC").text, "rbc_threshold": rk.criterion("CNS-TLP").text}
    s.inputs["cns_status"] = cns.status
    return s


def _bfm_section(ctx: PatientContext, rk: RiskKnowledge, lin: str | None) -> _Section:
    row, ppr_row = rk.criterion("BFM-MRD"), rk.criterion("BFM-PPR")
    s = _Section("AIEOP-BFM (MRD)", "bfm", rows=[row])
    tp1_lab, tp2_lab = mrd_at(ctx, rk, "tp1"), mrd_at(ctx, rk, "tp2")
    tp1, tp2 = mrd_percent(tp1_lab), mrd_percent(tp2_lab)
    response = ctx.lab("prednisone_response")
    ppr = ctx.has_fact("prednisone-poor-response") or (response is not None and (response.code_value or "").lower() == "poor")
    readings = {}
    for name, lab, val in (("tp1", tp1_lab, tp1), ("tp2", tp2_lab, tp2)):
        if lab is not None:
            s.inputs[name] = lab_input(lab, val, "%" if val is not None else None)
            readings[name] = lab_fact(lab, val, "%" if val is not None else None)
    s.facts = {"tp1": readings.get("tp1"), "tp2": readings.get("tp2"), "tp2_value": round(tp2, 4) if tp2 is not None else None,
               "threshold": row.text, "group": None, "missing": None}
    if lin == "T" and ppr:
        s.rows.append(ppr_row)
        s.facts["group"] = "HR-PPR"
    elif tp1_lab is None and tp2_lab is None:
        s.facts["missing"] = "no-mrd"
    elif tp2 is None and _negative(tp2_lab, tp2, rk) and _negative(tp1_lab, tp1, rk):
        s.facts["group"] = "SR"
    elif tp2 is None:
        s.facts["missing"] = "tp2"
    elif row.holds(tp2):
        s.facts["group"] = "HR"
    elif _negative(tp1_lab, tp1, rk) and _negative(tp2_lab, tp2, rk):
        s.facts["group"] = "SR"
    elif tp1 is None and tp1_lab is None:
        s.facts.update(group="not-HR", missing="tp1")
    else:
        s.facts["group"] = "IR"
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
    s = _Section("Adult (NCCN)", "adult", rows=[rk.criterion("ADULT-AGE")])
    poor: list[str] = []  # inputs: the poor-risk features as before ("age > 35 y*": * = UNVERIFIED threshold)
    features: list[dict[str, Any]] = []  # facts: {kind: age|wbc|fact|mrd, text?, fact?, soft}
    age = ctx.age_at_diagnosis
    for r in (rk.criterion("ADULT-AGE-35"),):
        if settings.soft_rule_enabled(r.id) and age is not None and r.holds(age.years):
            poor.append(f"age {r.text}*")
            features.append({"kind": "age", "text": r.text, "soft": True})
            s.rows.append(r)
    wbc_row = {"B-precursor": rk.criterion("ADULT-WBC-B"), "mature B": rk.criterion("ADULT-WBC-B"), "T": rk.criterion("ADULT-WBC-T")}.get(lin or "")
    wbc_note = None
    if wbc_row is None:
        wbc_note = "no-lineage"
    elif wbc_input is None or wbc_input.get("value") is None:
        wbc_note = "no-wbc"
    elif settings.soft_rule_enabled(wbc_row.id):
        s.rows.append(wbc_row)
        if wbc_row.holds(wbc_input["value"]):
            poor.append(f"WBC {wbc_row.text}*")
            features.append({"kind": "wbc", "text": wbc_row.text, "soft": True})
    for key in ("ph-positive", "kmt2a", "hypodiploid"):
        if ctx.has_fact(key):
            poor.append({"ph-positive": "BCR-ABL1 (Ph+)", "kmt2a": "KMT2A-r", "hypodiploid": "hypodiploidy"}[key])
            features.append({"kind": "fact", "fact": key, "soft": False})
    mrd_row = rk.criterion("ADULT-MRD")
    mrd_lab = mrd_at(ctx, rk, "post-induction")
    mrd = mrd_percent(mrd_lab)
    mrd_fact = None
    if mrd_lab is not None and mrd is not None:
        s.rows.append(mrd_row)
        s.inputs["mrd_post_induction"] = lab_input(mrd_lab, mrd, "%")
        mrd_fact = {"reading": lab_fact(mrd_lab, mrd, "%"), "positive": mrd_row.holds(mrd), "threshold": mrd_row.text}
        if mrd_row.holds(mrd):
            poor.append("MRD-positive")
            features.append({"kind": "mrd", "soft": False})
    s.inputs["poor_risk_features"] = poor
    s.facts = {"features": features, "wbc_note": wbc_note, "mrd": mrd_fact,
               "wbc_cutoffs": {"B": rk.criterion("ADULT-WBC-B").text, "T": rk.criterion("ADULT-WBC-T").text}}
    return s


@rule("risk-group")
def risk_group(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """NCI group from age and WBC at diagnosis, COG/BFM/adult factors, CNS status: one info card."""
    rk = risk_view(kb)
    if not has_all_diagnosis(ctx, rk):
        return
    lin = lineage(ctx, rk)
    nci = nci_group(ctx, kb)
    age = ctx.age_at_diagnosis
    adult = age is not None and rk.criterion("ADULT-AGE").holds(age.years)
    sections = [_nci_section(nci, rk)]
    if lin != "T" and lin != "mature B" and not adult:
        sections.append(_cog_section(ctx, rk))
    sections.append(_cns_section(cns_status(ctx, kb), rk))
    if not adult:
        sections.append(_bfm_section(ctx, rk, lin))
    else:
        sections.append(_adult_section(ctx, rk, settings, lin, nci.inputs.get("wbc_at_diagnosis")))
    rows: list[Threshold] = []
    for s in sections:
        rows.extend(r for r in s.rows if r not in rows)
    # each row's source in public words, its id in a parenthesis the card's Rule basis leaves out (the
    # extension's citation keeps it, so a golden's clinicalRules and the audit still find NCI-3 ...)
    citation = "; ".join(f"{r.citation} (clinical-rules.md row {r.id})" + (" (UNVERIFIED, soft)" if not r.verified else "") for r in rows)
    yield Verdict(
        row=RowRef(RULE_ID, citation), topic="risk-group", indicator="info", message="groups",
        facts={"lineage": lin, "sections": [{"kind": s.kind, **s.facts} for s in sections]},
        inputs={"lineage": lin, **{s.title: s.inputs for s in sections}},
    )
