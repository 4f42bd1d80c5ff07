"""Order-time drug-drug interactions (knowledge/data/interactions.json, DDI-01..DDI-40).

One verdict per *pair of medications* (a target order x any other draft order or active
medication): when several rule rows fire for the same pair (e.g. methotrexate + aspirin is both
an NSAID and a protein-bound drug) they merge into one card at the highest severity, listing
every rule. Severity depends on context exactly as clinical-rules.md §3.2 states (high-dose
methotrexate, dose already reduced, asparaginase given first). Intended combinations:
DDI-08 methotrexate + mercaptopurine is suppressed by default (soft toggle `interaction.DDI-08`),
DDI-30 pegaspargase + glucocorticoids is an info reminder. Unverified rows never exceed warning:
each hit is ranked at its effective severity (so a verified hit can outrank a capped one), and
the card's row carries the top hit's status, so the engine adds the soft-rule note once.
Wording: cards/templates/interaction.md.j2 (condition facts are rendered there, no prose here).
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

from ..context.model import MedicationOrder, PatientContext
from ..knowledge import Knowledge
from ..knowledge.interactions import InteractionKnowledge, Match, interaction_knowledge
from ._order_doses import is_high_dose_methotrexate, normalize
from ._percall import all_medications, given_with
from ._stratify import latest_within
from .registry import RuleSettings, rule
from .verdict import Amount, RowRef, Verdict

_REF = attrgetter("ref")
_RANK = {"suppress": -1, "info": 0, "warning": 1, "critical": 2}
_ONE_DAY = timedelta(days=1)
class _Hit(NamedTuple):  # a tuple: several per pair on every request, read only here
    match: Match
    severity: str
    notes: tuple[str, ...]  # audit text for inputs.notes
    conditions: tuple[Mapping[str, Any], ...] = ()  # what the card shows about each condition read


@lru_cache(maxsize=256)
def _row_ref(rule_id: str, citation: str, status: str) -> RowRef:
    """The card's row for a rule row of interactions.json: knowledge only (immutable), one per row and status."""
    return RowRef(rule_id, citation, status)


def _qt_risk(ctx: PatientContext, params: Mapping[str, float]) -> tuple[bool, str, dict[str, Any]]:
    """A recent prolonged QTc or low potassium (DDI-27): missing values are said, not assumed abnormal."""
    found, notes = [], []
    fact: dict[str, Any] = {"cond": "qt-risk", "qtc": None, "qtc_above": params["qtc_above_ms"], "qtc_window": params["qtc_window_days"],
                            "potassium": None, "k_window": params["electrolyte_window_days"]}
    qtc = latest_within(ctx, "qtc", int(params["qtc_window_days"]))
    if qtc is not None and qtc.value is not None and qtc.unit == "ms":
        (found if qtc.value > params["qtc_above_ms"] else notes).append(f"QTc {qtc.value:g} ms on {qtc.date} ({qtc.source}; QTc LOINC UNVERIFIED)")
        fact["qtc"] = {"value": Amount(qtc.value, "ms"), "day": qtc.date, "high": qtc.value > params["qtc_above_ms"]}
    else:
        notes.append(f"no QTc within {params['qtc_window_days']:g} days")
    k = latest_within(ctx, "potassium", int(params["electrolyte_window_days"]))
    if k is not None and k.value is not None:
        low = k.reference_low if k.reference_low is not None else params["potassium_below_mmol_l"]
        (found if k.value < low else notes).append(f"potassium {k.value:g} mmol/L on {k.date} ({k.source}; low below {low:g})")
        fact["potassium"] = {"value": Amount(k.value, "mmol/L"), "day": k.date, "low_below": Amount(low, "mmol/L"), "low": k.value < low}
    else:
        notes.append(f"no potassium within {params['electrolyte_window_days']:g} days")
    notes.append("magnesium not read (no verified LOINC code)")
    fact["holds"] = bool(found)
    if found:
        return True, "QT risk: " + "; ".join(found), fact
    return False, "no recent prolonged QTc or low potassium: " + "; ".join(notes), fact


def _condition(cond: str, m: Match, agent_order: MedicationOrder, ctx: PatientContext, members: frozenset[str],
               params: Mapping[str, float] | None = None) -> tuple[bool, str, dict[str, Any]]:
    """Evaluate a named context condition; unknown inputs resolve to the *safer* (true) side.
    Returns (holds, audit note, facts for the card)."""
    if cond == "qt-risk":
        return _qt_risk(ctx, params or {})
    if cond == "high-dose-methotrexate":
        hd, how = is_high_dose_methotrexate(agent_order, ctx)
        if hd is None:
            iv = agent_order.route is not None and agent_order.route.kind == "intravenous"
            note = f"could not tell whether methotrexate is high-dose ({how}); {'intravenous: treated as high-dose' if iv else 'treated as low-dose'}"
            return iv, note, {"cond": cond, "holds": iv, "known": False, "iv": iv, "how": how}
        return hd, f"methotrexate {'high-dose' if hd else 'not high-dose'}: {how}", {"cond": cond, "holds": hd, "known": True, "how": how}
    if cond == "dose-not-reduced":
        return _dose_not_reduced(m, agent_order, ctx)
    if cond == "asparaginase-given-before-vincristine":
        day = agent_order.authored_on or ctx.order_date
        since = day - _ONE_DAY  # 0 <= (day - given).days <= 1, date arithmetic once
        given = [a for a in given_with(ctx, members) if since <= a.date <= day]
        if given:
            return True, f"{given[0].drug_ids[0]} administered {given[0].date} ({given[0].ref}), within 24 h before vincristine", \
                {"cond": cond, "holds": True, "drug": given[0].drug_ids[0], "day": given[0].date}
        return False, "no asparaginase administration recorded in the day before the vincristine order", {"cond": cond, "holds": False}
    return False, f"unknown condition {cond}", {"cond": "unknown", "holds": False, "name": cond}


def _dose_not_reduced(m: Match, order: MedicationOrder, ctx: PatientContext) -> tuple[bool, str, dict[str, Any]]:
    age = ctx.age.years if ctx.age else None
    fact: dict[str, Any] = {"cond": "dose-not-reduced", "agent": m.agent}
    usable = [t for t in m.rule.reduced_thresholds if t.min_age_years is None or (age is not None and age >= t.min_age_years)]
    if not usable:
        return True, "no applicable reduced-dose threshold: treated as not reduced", {**fact, "holds": True, "why": "no applicable reduced-dose threshold"}
    n = normalize(order, ctx, tuple(t.unit for t in usable), per_day=True)
    if isinstance(n, str):
        return True, f"could not confirm a dose reduction ({n}): treated as not reduced", {**fact, "holds": True, "why": n}
    t = next(t for t in usable if t.unit == n.unit)
    reduced = n.value <= t.value + 1e-9
    sign = "<=" if reduced else ">"
    return (not reduced), f"{m.agent} {n.how} per day {sign} {t.value:g} {t.unit} ({t.basis})", \
        {**fact, "holds": not reduced, "ordered": Amount(n.value, f"{n.unit}/d"), "how": n.how, "threshold": Amount(t.value, f"{t.unit}/d"), "basis": t.basis}


def _evaluate(m: Match, agent_order: MedicationOrder, ctx: PatientContext, members: frozenset[str]) -> _Hit:
    severity = m.rule.member_severity.get(m.other, m.rule.severity)
    notes: list[str] = []
    conditions: list[dict[str, Any]] = []
    for w in m.rule.when:
        if w.members is not None and m.other not in w.members:
            continue
        holds, note, fact = _condition(w.condition, m, agent_order, ctx, members, w.params)
        notes.append(note)
        conditions.append(fact)
        if holds:
            severity = w.severity
            break
    if not m.verified and severity == "critical":  # effective severity for ranking hits; the engine adds the soft note
        severity = "warning"
        notes.append("soft rule (UNVERIFIED source): capped at warning")
    return _Hit(m, severity, tuple(notes), tuple(conditions))


def _pairs(ctx: PatientContext) -> Iterator[tuple[MedicationOrder, MedicationOrder]]:
    """Each unordered pair of refs once (target first); an order never pairs with itself."""
    seen: set[tuple[str, str]] = set()
    others = all_medications(ctx)
    for target in ctx.targets:
        ref = target.ref
        for other in others:
            oref = other.ref
            if oref == ref:
                continue
            key = (ref, oref) if ref < oref else (oref, ref)
            if key in seen:
                continue
            seen.add(key)
            yield target, other


def candidate_pairs_reference(ctx: PatientContext, ik: InteractionKnowledge) -> list[tuple[MedicationOrder, MedicationOrder]]:
    """The pairs that can match a rule, in `_pairs` order: those where neither order's agents reach
    the other's drugs are left out. The definition `candidate_pairs` is tested against."""
    partners, nothing = ik.partners, frozenset[str]()
    reach = {id(o): nothing.union(*(partners.get(d, nothing) for d in o.drug_ids)) for o in (*ctx.targets, *all_medications(ctx))}
    return [(a, b) for a, b in _pairs(ctx) if not (reach[id(a)].isdisjoint(b.drug_ids) and reach[id(b)].isdisjoint(a.drug_ids))]


def candidate_pairs(ctx: PatientContext, ik: InteractionKnowledge) -> Iterable[tuple[MedicationOrder, MedicationOrder]]:
    """`candidate_pairs_reference`, without visiting the pairs that cannot match.

    A pair can match when a drug of one order is in the symmetric `reach` of a drug of the other.
    When every order has its own ref (the usual record), a pair left out cannot stand in `_pairs`'
    seen-set for another pair, so only candidates are keyed; otherwise the reference answers."""
    others = all_medications(ctx)
    targets = ctx.targets
    everyone = (*targets, *others)
    if len(set(map(_REF, everyone))) != len(set(map(id, everyone))):
        return candidate_pairs_reference(ctx, ik)
    reach, nothing = ik.reach, frozenset[str]()
    found: list[tuple[MedicationOrder, MedicationOrder]] = []
    seen: set[tuple[str, str]] = set()
    where: dict[str, list[int]] | None = None  # drug -> positions in `others` (ascending, once each) of the orders naming it
    for target in targets:
        ids = target.drug_ids
        # one drug (the usual order): its reach as it is; a combination: the union of its drugs' reach
        near = reach.get(ids[0], nothing) if len(ids) == 1 else nothing.union(*(reach.get(d, nothing) for d in ids))
        if not near:
            continue
        if where is None:
            where = {}
            for i, other in enumerate(others):
                for d in other.drug_ids:
                    at = where.get(d)
                    if at is None:
                        where[d] = [i]
                    elif at[-1] != i:
                        at.append(i)
        hit = where.keys() & near  # the others' drugs this target reaches
        if not hit:
            continue
        ref = target.ref
        # the others whose drugs meet `near`, in `others` order: `not near.isdisjoint(other.drug_ids)`
        for i in (where[next(iter(hit))] if len(hit) == 1 else sorted(set().union(*(where[d] for d in hit)))):
            other = others[i]
            oref = other.ref
            if oref == ref:
                continue
            key = (ref, oref) if ref < oref else (oref, ref)
            if key not in seen:
                seen.add(key)
                found.append((target, other))
    return found


@rule("interaction")
def drug_interactions(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    """One verdict per interacting pair (target order x other medication), merged across rules."""
    if not ctx.targets or "interactions" not in kb.tables:
        return
    ik = interaction_knowledge(kb)
    agents = ik.agents
    verdicts: dict[tuple[str, tuple[str, ...], str], Verdict] = {}
    for a, b in candidate_pairs(ctx, ik):
        hits: list[_Hit] = []
        for first, second in ((a, b), (b, a)):
            for da in first.drug_ids:
                if da not in agents:
                    continue
                for db in second.drug_ids:
                    for m in ik.matches(da, db):  # precomputed: () for most pairs
                        if m.rule.rule_id in settings.disabled_rules:
                            continue
                        if not settings.soft_rule_enabled(m.rule.rule_id, default=m.rule.default_enabled):
                            continue
                        hit = _evaluate(m, first, ctx, ik.members(m.rule))
                        if hit.severity != "suppress":
                            hits.append(hit)
        if hits:
            v = _verdict(a, b, hits)
            key = (v.row.id, v.orders, v.drug or "")
            if key not in verdicts or _RANK[v.indicator] > _RANK[verdicts[key].indicator]:
                verdicts[key] = v  # same rule, same draft orders, same agent: keep the most severe
    yield from verdicts.values()


def _order_of(hit: _Hit, a: MedicationOrder, b: MedicationOrder) -> tuple[MedicationOrder, MedicationOrder]:
    return (a, b) if hit.match.agent in a.drug_ids and hit.match.other in b.drug_ids else (b, a)


def _verdict(a: MedicationOrder, b: MedicationOrder, hits: list[_Hit]) -> Verdict:
    one = len(hits) == 1  # the usual pair: one rule row, nothing to rank or merge
    if not one:
        hits.sort(key=lambda h: (-_RANK[h.severity], h.match.rule.id))
    top = hits[0]
    agent_order, other_order = _order_of(top, a, b)
    agent, other = top.match.agent, top.match.other
    rules = [top.match.rule.id] if one else list(dict.fromkeys(h.match.rule.id for h in hits))
    citation = f"{top.match.rule.id}: {top.match.rule.citation}"
    if len(rules) > 1:
        citation += "; also " + ", ".join(rules[1:]) + " (see detail)"
    row = _row_ref(top.match.rule.rule_id, top.match.rule.citation, "verified" if top.match.verified else "unverified")
    facts = {
        "agent": agent, "other": other, "action": top.match.rule.action,
        "agent_order": _order_facts(agent_order), "other_order": _order_facts(other_order),
        "hits": [{"severity": h.severity, "soft": not h.match.verified, "agent": h.match.agent, "other": h.match.other,
                  "via": list(h.match.via), "mechanism": h.match.rule.mechanism, "action": h.match.rule.action,
                  "conditions": list(h.conditions)} for h in hits],
    }
    return Verdict(
        row=row, topic="interaction", indicator=top.severity, message="pair", drug=agent, citation=citation,
        orders=(a.ref, b.ref) if a.is_draft and b.is_draft else (a.ref,) if a.is_draft else (b.ref,) if b.is_draft else (), facts=facts,
        inputs={
            "pair": [agent_order.ref, other_order.ref],
            "drugs": [agent, other],
            "rules": rules,
            "identified_by": {agent_order.ref: agent_order.identified_by, other_order.ref: other_order.identified_by},
            "notes": list(top.notes) if one else [n for h in hits for n in h.notes],
        },
    )


def _order_facts(order: MedicationOrder) -> dict[str, Any]:
    return {"display": order.display, "draft": order.is_draft, "status": order.status, "by_name": order.identified_by == "name"}
