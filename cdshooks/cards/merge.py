"""One finding, one card - unless one summary can name every problem of the same order.

Several rule families may each find that the same order cannot be checked (no weight for the
dose, no bilirubin for the hepatic rule). Whether they share a card is a wording decision, so it is
made here, on the summaries the templates write: problems share a card only when the joined
summary, naming each of them, stays under 140 characters; otherwise each keeps its own card
(never "(+2 more)"). The merged card shows the patient block once.
"""

from __future__ import annotations

from ..rules.finding import SEVERITY_RANK, Finding
from .text import ELLIPSIS, SUMMARY_LIMIT, body, patient_block, soft_note



def merge_missing_data(findings: list[Finding]) -> list[Finding]:
    groups: dict[tuple[str, ...], list[Finding]] = {}
    out: list[Finding] = []
    for f in findings:
        if f.topic == "missing-data" and f.rule_id != "missing-data.prefetch" and f.orders:
            groups.setdefault(f.orders, []).append(f)
        else:
            out.append(f)
    for orders, group in groups.items():
        texts = [_text(f) for f in group] if len(group) > 1 else []
        summary = _joined_summary(group, [t[0] for t in texts]) if texts else None
        if summary is None:
            out.extend(group)
            continue
        out.append(_merged(group, orders, summary, [t[1] for t in texts]))
    out.sort(key=lambda f: SEVERITY_RANK[f.indicator])  # stable: the engine's order within a severity
    return out


def _text(f: Finding) -> tuple[str, str]:
    """(summary, detail) of one member: its template rendered once, for the decision and the card."""
    return body(f) if f.message else (f.summary, f.detail)


def _joined_summary(group: list[Finding], texts: list[str]) -> str | None:
    """'Drug: a; b' naming every problem, when that fits; None when it does not (keep separate cards)."""
    drugs = {f.drug for f in group}
    if any(t.endswith(ELLIPSIS) for t in texts):
        return None  # a clipped summary already does not name its whole problem
    lead_drug = group[0].drug if len(drugs) == 1 and group[0].drug else None
    parts = []
    for text in texts:
        for prefix in ([f"{lead_drug}: ", f"{lead_drug[:1].upper()}{lead_drug[1:]}: "] if lead_drug else []):
            if text.startswith(prefix):
                text = text[len(prefix):]
                break
        parts.append(text)
    lead = texts[0].split(": ", 1)[0] + ": " if lead_drug and ": " in texts[0] else ""
    joined = lead + "; ".join(dict.fromkeys(parts))
    return joined if len(joined) <= SUMMARY_LIMIT else None


def _merged(group: list[Finding], orders: tuple[str, ...], summary: str, details: list[str]) -> Finding:
    worst = min(group, key=lambda f: SEVERITY_RANK[f.indicator])
    patient = next((f.patient for f in group if f.patient is not None), None)
    detail = "\n\n---\n\n".join(details)
    if patient is not None:
        detail += "\n\n" + patient_block(patient)
    if any(f.soft for f in group):
        detail += "\n\n" + soft_note(worst)
    inputs: dict = {}
    for f in group:
        inputs.update(f.inputs)
    return Finding(
        rule_id=worst.rule_id, topic="missing-data", indicator=worst.indicator, summary=summary, detail=detail,
        citation="; ".join(dict.fromkeys(f.citation for f in group)), orders=orders,
        inputs={**inputs, "mergedRuleIds": [f.rule_id for f in group]}, drug=worst.drug,
    )
