"""Thiopurine pharmacogenomics: TPMT / NUDT15 phenotype vs the ordered mercaptopurine dose.

Why: homozygous (poor-metabolizer) TPMT or NUDT15 patients get life-threatening myelosuppression
at standard thiopurine doses; the label says typically <=10% of the standard dose, CPIC says
30-80% for intermediate metabolizers. The worse of the two genes decides. A poor metabolizer
on a dose above 10% of the top of the standard range is critical (it cannot be a <=10% dose);
at or below it the card is a warning to confirm. No phenotype recorded -> an info soft rule
(`pharmacogenomics.SP-19.unknown`), because many centres test only on toxicity.
Wording: cards/templates/pharmacogenomics.md.j2.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..context.model import PatientContext
from ..knowledge import Knowledge
from ..knowledge.populations import PharmacogenomicsRow, population_knowledge
from ._order_doses import normalize
from .registry import RuleSettings, rule
from .verdict import Amount, Verdict

_RANK = {"none": 0, "info": 1, "warning": 2, "critical": 3}
_OVERRIDE = ("already-reduced", "protocol-specified", "other")


def _gene(lab_key: str) -> str:
    return lab_key.split("_")[0].upper()  # "tpmt_phenotype" -> "TPMT"


@rule("pharmacogenomics")
def thiopurine_tpmt_nudt15(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Verdict]:
    if not ctx.targets or "populations" not in kb.tables:
        return
    row = population_knowledge(kb).row("SP-19")
    assert isinstance(row, PharmacogenomicsRow)
    rid = "pharmacogenomics.SP-19"
    if rid in settings.disabled_rules:
        return
    for order in ctx.targets:
        drug = next((d for d in order.drug_ids if d in row.drugs), None)
        if drug is None:
            continue
        results = [(k, ctx.lab(k)) for k in row.labs]
        known = [(k, r) for k, r in results if r is not None and r.code_value in row.phenotypes]
        odd = [f"{k} = {r.code_value!r} ({r.source})" for k, r in results if r is not None and r.code_value not in row.phenotypes]
        base: dict[str, Any] = dict(row=row, topic="pharmacogenomics", drug=drug, orders=(order.ref,) if order.is_draft else (),
                                    override=_OVERRIDE)
        if not known:
            soft_id = f"{rid}.unknown"
            if not settings.soft_rule_enabled(soft_id, default=True):
                continue
            yield Verdict(**base, rule_id=soft_id, indicator="info", message="status-unknown",
                          facts={"uninterpretable": [{"gene": _gene(k), "value": r.code_value, "date": r.date}
                                                     for k, r in results if r is not None and r.code_value not in row.phenotypes]},
                          inputs={"tpmt_nudt15": None, "uninterpretable": odd})
            continue
        gene, lab = max(known, key=lambda kr: _RANK[row.phenotypes[kr[1].code_value]])
        status = lab.code_value
        severity = row.phenotypes[status]
        if severity == "none":
            continue
        facts: dict[str, Any] = {"gene": _gene(gene), "phenotype": status, "date": lab.date,
                                 "others": [{"gene": _gene(k), "phenotype": r.code_value, "date": r.date} for k, r in known if k != gene]}
        if status == "poor":
            thresholds = row.reduced_dose[drug]
            n = normalize(order, ctx, tuple(t.unit for t in thresholds), per_day=True)
            if isinstance(n, str):
                facts.update(compared=False, why=n)
                reduced = False
            else:
                t = next(t for t in thresholds if t.unit == n.unit)
                reduced = n.value <= t.value + 1e-9
                facts.update(compared=True, ordered=Amount(n.value, f"{n.unit}/d"), how=n.how,
                             threshold=Amount(t.value, f"{t.unit}/d"), basis=t.basis)
            facts["reduced"] = reduced
            if reduced:
                severity = "warning"
        yield Verdict(**base, rule_id=f"{rid}.{status}", indicator=severity, message="poor" if status == "poor" else "intermediate", facts=facts,
                      inputs={"gene": gene, "phenotype": status, "date": str(lab.date), "others": {k: r.code_value for k, r in known}})
