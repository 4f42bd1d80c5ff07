"""MedicationRequest / MedicationStatement / MedicationAdministration -> drug ids, dose, route, timing.

Identification order (the first that yields a known drug wins, and `identified_by` says which):
  1. an RxNorm ingredient code (IN/MIN) in medicationCodeableConcept or Medication.code
  2. a verified RxNorm product code (SCD/SBD) there
  3. RxNorm codes of `Medication.ingredient` (contained, included in the Bundle, or referenced)
  4. a name or brand in the text (`identified_by="name"`)
Then a look-alike guard: if the text names a `distinct_from` look-alike of the identified drug
(e.g. code says vincristine, text says Marqibo / liposomal), the look-alike wins and the order
carries a problem saying so - liposomal vincristine, Erwinia asparaginase and calaspargase never
resolve to vincristine or pegaspargase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping, Sequence

from ..knowledge.codes import SNOMED, CodeTable
from ..knowledge.drugs import RXNORM, DrugTable
from .fhir import codings, concept_texts, number, parse_date, ref, ucum_code, validate
from .model import Administration, Dose, MedicationOrder, Quantity, Route, Timing

INACTIVE_REQUEST = frozenset({"cancelled", "completed", "entered-in-error", "stopped", "revoked"})
INACTIVE_STATEMENT = frozenset({"completed", "entered-in-error", "stopped", "not-taken"})
GIVEN = frozenset({"completed", "in-progress"})


@dataclass(frozen=True)
class Identification:
    drug_ids: tuple[str, ...]
    identified_by: str | None
    display: str
    problems: tuple[str, ...] = ()


def _index_medications(resources: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {f"Medication/{r.get('id')}": r for r in resources if r.get("resourceType") == "Medication"}


def _medication(resource: Mapping[str, Any], included: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    reference = resource.get("medicationReference")
    if not isinstance(reference, Mapping):
        return None
    target = reference.get("reference")
    if not isinstance(target, str):
        return None
    if target.startswith("#"):
        for contained in resource.get("contained") or []:
            if isinstance(contained, Mapping) and contained.get("resourceType") == "Medication" and contained.get("id") == target[1:]:
                return contained
        return None
    key = "/".join(target.rstrip("/").split("/")[-2:])
    return included.get(key)


def _rxnorm(concept: Any, drugs: DrugTable, kind: str) -> tuple[str, ...]:
    ids: list[str] = []
    for c in codings(concept):
        code = c.get("code")
        if c.get("system") == RXNORM and isinstance(code, str) and drugs.rxnorm_kind(code) == kind:
            ids += [d for d in drugs.by_rxnorm(code) if d not in ids]
    return tuple(ids)


def identify(resource: Mapping[str, Any], drugs: DrugTable, included: Mapping[str, Mapping[str, Any]]) -> Identification:
    concept = resource.get("medicationCodeableConcept")
    med = _medication(resource, included)
    concepts = [concept] + ([med.get("code")] if med else [])
    texts = [t for c in concepts for t in concept_texts(c)]
    ingredient_concepts = [i.get("itemCodeableConcept") for i in (med.get("ingredient") or []) if isinstance(i, Mapping)] if med else []
    texts += [t for c in ingredient_concepts for t in concept_texts(c)]
    display = texts[0] if texts else "(unnamed medication)"
    ids: tuple[str, ...] = ()
    how: str | None = None
    for kind, label in (("ingredient", "rxnorm-ingredient"), ("product", "rxnorm-product")):
        ids = tuple(dict.fromkeys(d for c in concepts for d in _rxnorm(c, drugs, kind)))
        if ids:
            how = label
            break
    if not ids and ingredient_concepts:
        ids = tuple(dict.fromkeys(d for c in ingredient_concepts for kind in ("ingredient", "product") for d in _rxnorm(c, drugs, kind)))
        how = "medication-ingredient" if ids else None
    if not ids:
        for text in texts:
            ids = drugs.by_name(text).drug_ids
            if ids:
                how = "name"
                break
    if not ids:
        return Identification((), None, display, ("medication not identified (no known RxNorm code or drug name)",))
    problems: list[str] = []
    joined = " | ".join(texts)
    guarded: list[str] = []
    for drug_id in ids:
        other = drugs.look_alike_in_text(drug_id, joined)
        if other and how != "name":
            problems.append(f"coded as {drug_id} but the text names {other}; treated as {other} (look-alike guard)")
            guarded.append(other)
            how = "name"
        else:
            guarded.append(drug_id)
    return Identification(tuple(dict.fromkeys(guarded)), how, display, tuple(problems))


# -- dose, route, timing ---------------------------------------------------------------

def quantity(q: Any, what: str, problems: list[str]) -> Quantity | None:
    if not isinstance(q, Mapping):
        return None
    value = number(q.get("value"))
    if value is None:
        problems.append(f"{what} has no numeric value")
        return None
    code, why = ucum_code(q)
    if code is None:
        problems.append(f"{what} not usable: {why}")
        return None
    comparator = q.get("comparator") if isinstance(q.get("comparator"), str) else None
    text = q.get("unit") if isinstance(q.get("unit"), str) else None
    return Quantity(value, code, comparator, text)


def dose_of(dosage: Mapping[str, Any] | None, problems: list[str]) -> Dose | None:
    if not isinstance(dosage, Mapping):
        return None
    dar = dosage.get("doseAndRate") or []
    if isinstance(dar, Mapping):
        dar = [dar]
    first = dar[0] if dar and isinstance(dar[0], Mapping) else {}
    rng = first.get("doseRange") if isinstance(first.get("doseRange"), Mapping) else {}
    dose = Dose(
        quantity=quantity(first.get("doseQuantity"), "doseQuantity", problems),
        low=quantity(rng.get("low"), "doseRange.low", problems),
        high=quantity(rng.get("high"), "doseRange.high", problems),
        rate=quantity(first.get("rateQuantity"), "rateQuantity", problems),
    )
    if first.get("rateRatio") is not None or first.get("rateRange") is not None:
        problems.append("rateRatio/rateRange is not read; only rateQuantity is checked")
    return dose if any((dose.quantity, dose.low, dose.high, dose.rate)) else None


def route_of(concept: Any, codes: CodeTable) -> Route | None:
    if not isinstance(concept, Mapping):
        return None
    kinds: list[str] = []
    sent: str | None = None
    for c in codings(concept):
        system, code = c.get("system"), c.get("code")
        sent = sent or (f"{system}|{code}" if code else None)
        if system == SNOMED and code in codes.routes:
            kinds.append(codes.routes[code])
        elif system != SNOMED and isinstance(code, str) and code.strip().lower() in codes.route_text:
            kinds.append(codes.route_text[code.strip().lower()])
    texts = concept_texts(concept)
    if not kinds:
        kinds += [codes.route_text[t.strip().lower()] for t in texts if t.strip().lower() in codes.route_text]
    distinct = set(kinds)
    kind = kinds[0] if len(distinct) == 1 else None  # conflicting or unknown -> not recognized
    return Route(kind, sent, texts[0] if texts else None)


def timing_of(timing: Any) -> Timing | None:
    if not isinstance(timing, Mapping):
        return None
    rep = timing.get("repeat") if isinstance(timing.get("repeat"), Mapping) else {}
    bounds = rep.get("boundsPeriod") if isinstance(rep.get("boundsPeriod"), Mapping) else {}
    code = timing.get("code") if isinstance(timing.get("code"), Mapping) else {}
    code_value = next((c.get("code") for c in codings(code) if c.get("code")), None) or code.get("text")

    def _int(v: Any) -> int | None:
        n = number(v)
        return int(n) if n is not None else None

    return Timing(
        frequency=_int(rep.get("frequency")), period=number(rep.get("period")), period_unit=rep.get("periodUnit"),
        count=_int(rep.get("count")), duration=number(rep.get("duration")), duration_unit=rep.get("durationUnit"),
        day_of_week=tuple(d for d in rep.get("dayOfWeek") or [] if isinstance(d, str)),
        code=code_value, text=code.get("text"),
        bounds_start=parse_date(bounds.get("start")), bounds_end=parse_date(bounds.get("end")),
    )


def _first_dosage(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    return None


def read_order(resource: Mapping[str, Any], drugs: DrugTable, codes: CodeTable,
               included: Mapping[str, Mapping[str, Any]], *, is_draft: bool) -> MedicationOrder:
    """One MedicationRequest or MedicationStatement; never raises, problems say what was unreadable."""
    problems: list[str] = list(validate(resource))
    ident = identify(resource, drugs, included)
    problems += ident.problems
    field = "dosageInstruction" if resource.get("resourceType") == "MedicationRequest" else "dosage"
    dosage = _first_dosage(resource.get(field))
    authored = parse_date(resource.get("authoredOn") or resource.get("dateAsserted"))
    return MedicationOrder(
        ref=ref(resource),
        resource=resource,
        drug_ids=ident.drug_ids,
        identified_by=ident.identified_by,
        display=ident.display,
        status=resource.get("status") if isinstance(resource.get("status"), str) else None,
        intent=resource.get("intent") if isinstance(resource.get("intent"), str) else None,
        authored_on=authored,
        dose=dose_of(dosage, problems),
        route=route_of(dosage.get("route"), codes) if dosage else None,
        timing=timing_of(dosage.get("timing")) if dosage else None,
        dosage_text=dosage.get("text") if dosage and isinstance(dosage.get("text"), str) else None,
        is_draft=is_draft,
        problems=tuple(problems),
    )


def read_administration(resource: Mapping[str, Any], drugs: DrugTable, codes: CodeTable,
                        included: Mapping[str, Mapping[str, Any]]) -> Administration | None:
    """A given dose (completed / in-progress) of a known drug, dated; else None."""
    if resource.get("status") not in GIVEN:
        return None
    period = resource.get("effectivePeriod") if isinstance(resource.get("effectivePeriod"), Mapping) else {}
    when = parse_date(resource.get("effectiveDateTime")) or parse_date(period.get("start"))
    ident = identify(resource, drugs, included)
    if when is None or not ident.drug_ids:
        return None
    dosage = resource.get("dosage") if isinstance(resource.get("dosage"), Mapping) else {}
    problems: list[str] = []
    return Administration(
        ref=ref(resource), drug_ids=ident.drug_ids, date=when,
        dose=quantity(dosage.get("dose"), "dosage.dose", problems),
        route=route_of(dosage.get("route"), codes), status=resource.get("status"),
    )


def included_medications(*bundles: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for resources in bundles:
        out.update(_index_medications(resources))
    return out


def order_date_of(targets: Sequence[MedicationOrder], fallback: date) -> date:
    dates = [o.authored_on for o in targets if o.authored_on]
    return min(dates) if dates else fallback
