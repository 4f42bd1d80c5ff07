"""Order-time drug-drug interactions (knowledge/data/interactions.json, DDI-01..DDI-40).

One finding per *pair of medications* (a target order x any other draft order or active
medication): when several rule rows fire for the same pair (e.g. methotrexate + aspirin is both
an NSAID and a protein-bound drug) they merge into one card at the highest severity, listing
every rule. Severity depends on context exactly as clinical-rules.md §3.2 states (high-dose
methotrexate, dose already reduced, asparaginase given first). Intended combinations:
DDI-08 methotrexate + mercaptopurine is suppressed by default (soft toggle `interaction.DDI-08`),
DDI-30 pegaspargase + glucocorticoids is an info reminder. Unverified rows never exceed warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from ..context.model import MedicationOrder, PatientContext
from ..knowledge import Knowledge
from ..knowledge.interactions import Match, interaction_knowledge
from ._order_doses import is_high_dose_methotrexate, normalize
from ._stratify import latest_within
from .finding import Coding, Finding
from .registry import RuleSettings, rule

_RANK = {"suppress": -1, "info": 0, "warning": 1, "critical": 2}
_OVERRIDE = (
    Coding("urn:all-cds:override-reason", "protocol-specified", "Combination specified by the treatment protocol"),
    Coding("urn:all-cds:override-reason", "already-adjusted", "Dose or timing already adjusted for this interaction"),
    Coding("urn:all-cds:override-reason", "benefit-outweighs-risk", "Benefit outweighs risk; will monitor"),
)


@dataclass(frozen=True)
class _Hit:
    match: Match
    severity: str
    notes: tuple[str, ...]


def _qt_risk(ctx: PatientContext, params: Mapping[str, float]) -> tuple[bool, str]:
    """A recent prolonged QTc or low potassium (DDI-27): missing values are said, not assumed abnormal."""
    found, notes = [], []
    qtc = latest_within(ctx, "qtc", int(params["qtc_window_days"]))
    if qtc is not None and qtc.value is not None and qtc.unit == "ms":
        (found if qtc.value > params["qtc_above_ms"] else notes).append(f"QTc {qtc.value:g} ms on {qtc.date} ({qtc.source}; QTc LOINC UNVERIFIED)")
    else:
        notes.append(f"no QTc within {params['qtc_window_days']:g} days")
    k = latest_within(ctx, "potassium", int(params["electrolyte_window_days"]))
    if k is not None and k.value is not None:
        low = k.reference_low if k.reference_low is not None else params["potassium_below_mmol_l"]
        (found if k.value < low else notes).append(f"potassium {k.value:g} mmol/L on {k.date} ({k.source}; low below {low:g})")
    else:
        notes.append(f"no potassium within {params['electrolyte_window_days']:g} days")
    notes.append("magnesium not read (no verified LOINC code)")
    if found:
        return True, "QT risk: " + "; ".join(found)
    return False, "no recent prolonged QTc or low potassium: " + "; ".join(notes)


def _condition(cond: str, m: Match, agent_order: MedicationOrder, ctx: PatientContext, members: frozenset[str],
               params: Mapping[str, float] | None = None) -> tuple[bool, str]:
    """Evaluate a named context condition; unknown inputs resolve to the *safer* (true) side."""
    if cond == "qt-risk":
        return _qt_risk(ctx, params or {})
    if cond == "high-dose-methotrexate":
        hd, how = is_high_dose_methotrexate(agent_order, ctx)
        if hd is None:
            iv = agent_order.route is not None and agent_order.route.kind == "intravenous"
            return iv, f"could not tell whether methotrexate is high-dose ({how}); {'intravenous: treated as high-dose' if iv else 'treated as low-dose'}"
        return hd, f"methotrexate {'high-dose' if hd else 'not high-dose'}: {how}"
    if cond == "dose-not-reduced":
        return _dose_not_reduced(m, agent_order, ctx)
    if cond == "asparaginase-given-before-vincristine":
        day = agent_order.authored_on or ctx.order_date
        given = [a for a in ctx.administrations if set(a.drug_ids) & members and 0 <= (day - a.date).days <= 1]
        if given:
            return True, f"{given[0].drug_ids[0]} administered {given[0].date} ({given[0].ref}), within 24 h before vincristine"
        return False, "no asparaginase administration recorded in the day before the vincristine order"
    return False, f"unknown condition {cond}"


def _dose_not_reduced(m: Match, order: MedicationOrder, ctx: PatientContext) -> tuple[bool, str]:
    age = ctx.age.years if ctx.age else None
    usable = [t for t in m.rule.reduced_thresholds if t.min_age_years is None or (age is not None and age >= t.min_age_years)]
    if not usable:
        return True, "no applicable reduced-dose threshold: treated as not reduced"
    n = normalize(order, ctx, tuple(t.unit for t in usable), per_day=True)
    if isinstance(n, str):
        return True, f"could not confirm a dose reduction ({n}): treated as not reduced"
    t = next(t for t in usable if t.unit == n.unit)
    reduced = n.value <= t.value + 1e-9
    sign = "<=" if reduced else ">"
    return (not reduced), f"{m.agent} {n.how} per day {sign} {t.value:g} {t.unit} ({t.basis})"


def _evaluate(m: Match, agent_order: MedicationOrder, ctx: PatientContext, members: frozenset[str]) -> _Hit:
    severity = m.rule.member_severity.get(m.other, m.rule.severity)
    notes: list[str] = []
    for w in m.rule.when:
        if w.members is not None and m.other not in w.members:
            continue
        holds, note = _condition(w.condition, m, agent_order, ctx, members, w.params)
        notes.append(note)
        if holds:
            severity = w.severity
            break
    if not m.verified and severity == "critical":
        severity = "warning"
        notes.append("soft rule (UNVERIFIED source): capped at warning")
    return _Hit(m, severity, tuple(notes))


def _pairs(ctx: PatientContext) -> Iterator[tuple[MedicationOrder, MedicationOrder]]:
    seen: set[frozenset[str]] = set()
    others = ctx.all_medications()
    for target in ctx.targets:
        for other in others:
            key = frozenset((target.ref, other.ref))
            if other.ref == target.ref or key in seen:
                continue
            seen.add(key)
            yield target, other


@rule("interaction")
def drug_interactions(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
    """One finding per interacting pair (target order x other medication), merged across rules."""
    if not ctx.targets or "interactions" not in kb.tables:
        return
    ik = interaction_knowledge(kb)
    findings: dict[tuple[str, tuple[str, ...], str], Finding] = {}
    for a, b in _pairs(ctx):
        hits: list[_Hit] = []
        for first, second in ((a, b), (b, a)):
            for da in first.drug_ids:
                for db in second.drug_ids:
                    for m in ik.matches(da, db):
                        if m.rule.rule_id in settings.disabled_rules:
                            continue
                        if not settings.soft_rule_enabled(m.rule.rule_id, default=m.rule.default_enabled):
                            continue
                        hit = _evaluate(m, first, ctx, ik.members(m.rule))
                        if hit.severity != "suppress":
                            hits.append(hit)
        if hits:
            f = _finding(a, b, hits, ctx)
            key = (f.rule_id, f.orders, f.drug or "")
            if key not in findings or _RANK[f.indicator] > _RANK[findings[key].indicator]:
                findings[key] = f  # same rule, same draft orders, same agent: keep the most severe
    yield from findings.values()


def _order_of(hit: _Hit, a: MedicationOrder, b: MedicationOrder) -> tuple[MedicationOrder, MedicationOrder]:
    return (a, b) if hit.match.agent in a.drug_ids and hit.match.other in b.drug_ids else (b, a)


def _finding(a: MedicationOrder, b: MedicationOrder, hits: list[_Hit], ctx: PatientContext) -> Finding:
    hits.sort(key=lambda h: (-_RANK[h.severity], h.match.rule.id))
    top = hits[0]
    agent_order, other_order = _order_of(top, a, b)
    agent, other = top.match.agent, top.match.other
    rules = list(dict.fromkeys(h.match.rule.id for h in hits))
    summary = f"{agent} with {other}: {top.match.rule.action}"
    if len(summary) > 139:
        summary = summary[:136].rstrip() + "..."
    lines = [f"**{agent}** ({agent_order.ref}, {_state(agent_order)}) with **{other}** ({other_order.ref}, {_state(other_order)})", ""]
    for order in (agent_order, other_order):
        if order.identified_by == "name":
            lines.append(f"- {order.ref} ({order.display!r}) was identified by name only (no code): confirm the drug.")
    for h in hits:
        r = h.match.rule
        soft = " (soft rule, UNVERIFIED)" if not h.match.verified else ""
        lines.append(f"- **{r.id}** [{h.severity}]{soft}: {h.match.agent} + {h.match.other} via {', '.join(h.match.via)}.")
        lines.append(f"  - Mechanism: {r.mechanism}.")
        lines.append(f"  - Action: {r.action}.")
        lines += [f"  - {n}" for n in h.notes]
        lines.append(f"  - Source: {r.citation}; seed: {r.seed}.")
    citation = f"{top.match.rule.id}: {top.match.rule.citation}"
    if len(rules) > 1:
        citation += "; also " + ", ".join(rules[1:]) + " (see detail)"
    orders = tuple(o.ref for o in (a, b) if o.is_draft)
    return Finding(
        rule_id=top.match.rule.rule_id,
        topic="interaction",
        indicator=top.severity,
        summary=summary,
        detail="\n".join(lines),
        citation=citation,
        orders=orders,
        drug=agent,
        inputs={
            "pair": [agent_order.ref, other_order.ref],
            "drugs": [agent, other],
            "rules": rules,
            "identified_by": {agent_order.ref: agent_order.identified_by, other_order.ref: other_order.identified_by},
            "notes": [n for h in hits for n in h.notes],
        },
        override_reasons=_OVERRIDE,
    )


def _state(order: MedicationOrder) -> str:
    return "draft order" if order.is_draft else f"active medication, status {order.status or 'unknown'}"
