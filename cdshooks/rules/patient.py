"""The patient inputs every order-time card shows, once: age, weight, height, BSA with their dates.

Why in the engine's hands: each rule used to print its own patient lines, and a card built from two
helpers printed them twice. A verdict asks for them (`Verdict.patient=True`); `registry.run_rules`
adds `patient_inputs` to the card's inputs and `patient_facts` for the template, once.
"""

from __future__ import annotations

from typing import Any

from ..context.model import PatientContext


def patient_inputs(ctx: PatientContext) -> dict[str, Any]:
    """JSON-serializable inputs with their dates, for `extension.all-cds.inputs`."""
    out: dict[str, Any] = {"order_date": ctx.order_date.isoformat()}
    if ctx.age:
        out["age"] = {"years": ctx.age.years, "days": ctx.age.days, "at": ctx.age.at.isoformat()}
    if ctx.weight:
        out["weight"] = {"value": ctx.weight.value, "unit": "kg", "date": ctx.weight.date.isoformat(), "source": ctx.weight.source}
    if ctx.height:
        out["height"] = {"value": ctx.height.value, "unit": "cm", "date": ctx.height.date.isoformat(), "source": ctx.height.source}
    if ctx.bsa:
        out["bsa"] = {"value": round(ctx.bsa.value, 4), "unit": "m2", "formula": ctx.bsa.formula}
    return out


def patient_facts(ctx: PatientContext) -> dict[str, Any]:
    """What the patient block of a card shows (cards/templates/_base.md.j2 `patient_block`)."""
    out: dict[str, Any] = {"order_date": ctx.order_date}
    out["age"] = {"text": str(ctx.age), "at": ctx.age.at, "uncertain": ctx.age.uncertain} if ctx.age else None
    out["weight"] = ({"value": ctx.weight.value, "unit": "kg", "date": ctx.weight.date, "original": ctx.weight.original}
                     if ctx.weight else None)
    out["height"] = ({"value": ctx.height.value, "unit": "cm", "date": ctx.height.date, "original": ctx.height.original}
                     if ctx.height else None)
    out["bsa"] = {"value": ctx.bsa.value, "formula": ctx.bsa.formula} if ctx.bsa else None
    return out
