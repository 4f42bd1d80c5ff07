"""Thiopurine pharmacogenomics: TPMT / NUDT15 phenotype vs the ordered mercaptopurine dose.

Why: homozygous (poor-metabolizer) TPMT or NUDT15 patients get life-threatening myelosuppression
at standard thiopurine doses; the label says typically <=10% of the standard dose, CPIC says
30-80% for intermediate metabolizers. The worse of the two genes decides. A poor metabolizer
on a dose above 10% of the top of the standard range is critical (it cannot be a <=10% dose);
at or below it the card is a warning to confirm. No phenotype recorded -> an info soft rule
(`pharmacogenomics.SP-19.unknown`), because many centres test only on toxicity.
"""

from __future__ import annotations

from typing import Iterator

from ..context.model import PatientContext
from ..knowledge import Knowledge
from ..knowledge.populations import PharmacogenomicsRow, population_knowledge
from ._order_doses import normalize
from .finding import Coding, Finding
from .registry import RuleSettings, rule

_RANK = {"none": 0, "info": 1, "warning": 2, "critical": 3}
_OVERRIDES = (
    Coding("urn:all-cds:override-reason", "already-reduced", "Dose already reduced for TPMT/NUDT15 status"),
    Coding("urn:all-cds:override-reason", "protocol-specified", "Dose specified by the treatment protocol"),
)


@rule("pharmacogenomics")
def thiopurine_tpmt_nudt15(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
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
        base = dict(topic="pharmacogenomics", citation=row.citation, orders=(order.ref,) if order.is_draft else (), drug=drug,
                    override_reasons=_OVERRIDES)
        if not known:
            soft_id = f"{rid}.unknown"
            if not settings.soft_rule_enabled(soft_id, default=True):
                continue
            extra = f" Uninterpretable result: {'; '.join(odd)}." if odd else ""
            yield Finding(rule_id=soft_id, indicator="info", summary=f"{drug}: TPMT/NUDT15 status not recorded",
                          detail=f"No TPMT or NUDT15 phenotype found for **{drug}** ({order.ref}).{extra} "
                                 f"Poor metabolizers need <=10% of the standard dose; intermediate 30-80% (CPIC).\n\nSource: {row.citation}",
                          inputs={"tpmt_nudt15": None, "uninterpretable": odd}, **base)
            continue
        gene, lab = max(known, key=lambda kr: _RANK[row.phenotypes[kr[1].code_value]])
        status = lab.code_value
        severity = row.phenotypes[status]
        if severity == "none":
            continue
        lines = [f"**{drug}** ({order.ref}); {gene} = **{status}** ({lab.date}, {lab.source})."]
        lines += [f"- {k} = {r.code_value} ({r.date})" for k, r in known if k != gene]
        if status == "poor":
            thresholds = row.reduced_dose[drug]
            n = normalize(order, ctx, tuple(t.unit for t in thresholds), per_day=True)
            if isinstance(n, str):
                lines.append(f"- Could not compare with <=10% of the standard dose: {n}. Treated as not reduced.")
                reduced = False
            else:
                t = next(t for t in thresholds if t.unit == n.unit)
                reduced = n.value <= t.value + 1e-9
                lines.append(f"- Ordered {n.how} per day {'<=' if reduced else '>'} {t.value:g} {t.unit} ({t.basis}).")
            if reduced:
                severity = "warning"
            action = "<=10% of standard dose (poor metabolizer)"
        else:
            action = "reduce starting dose to 30-80% (intermediate metabolizer, CPIC)"
        yield Finding(rule_id=f"{rid}.{status}", indicator=severity, summary=f"{drug}: {gene.split('_')[0].upper()} {status} - {action}",
                      detail="\n".join(lines + ["", f"Source: {row.citation}"]),
                      inputs={"gene": gene, "phenotype": status, "date": str(lab.date), "others": {k: r.code_value for k, r in known}}, **base)
