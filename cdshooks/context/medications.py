"""MedicationRequest / MedicationStatement -> drug ids, dose, route, timing (administrations: administrations.py).

Identification order (the first that yields a known drug wins, and `identified_by` says which):
  1. an RxNorm ingredient code (IN/MIN) in medicationCodeableConcept or Medication.code
  2. a verified RxNorm product code (SCD/SBD) there
  3. RxNorm codes of `Medication.ingredient` (the Medication contained, in any prefetch Bundle or
     the draftOrders Bundle, or fetched as Medication/{id} by fetch.prefetch)
  4. a name or brand in `text`, `coding.display`, `medicationReference.display` or the Medication's
     texts (`identified_by="name"`), product names included ("mercaptopurine 50 MG Oral Tablet")
A referenced Medication that could not be had is kept in `unresolved_medication` so the order
gets a missing-data card instead of silence (rules/orders.py).

Product (strength and dose form, knowledge/products.py): the verified product row of the code,
else Medication.ingredient.strength / Medication.form, else the parsed product name. A dose in
tablets ({pill}, {tbl}, TAB ...) or mL becomes an amount through that strength
(`derive_amount`: "1 {pill} × 50 mg/tablet = 50 mg"), and with no route on the order the dose form
implies one (an oral tablet is oral; an injection is parenteral, route unknown).
Then a look-alike guard: if the text names a `distinct_from` look-alike of the identified drug
(e.g. code says vincristine, text says Marqibo / liposomal), the look-alike wins and the order
carries a problem saying so - liposomal vincristine, Erwinia asparaginase and calaspargase never
resolve to vincristine or pegaspargase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence  # not typing's: isinstance on those is ~5x slower
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import orjson

from ..knowledge.codes import SNOMED, CodeTable
from ..knowledge.drugs import RXNORM, DrugTable
from ..knowledge.products import Product
from .doses import dose_of, product_of
from .fhir import codings, concept_texts, is_object, number, parse_date, ref, validate
from .memo import order_readings
from .model import MedicationOrder, Route, Timing

INACTIVE_REQUEST = frozenset({"cancelled", "completed", "entered-in-error", "stopped", "revoked"})
INACTIVE_STATEMENT = frozenset({"completed", "entered-in-error", "stopped", "not-taken"})


@dataclass(frozen=True)
class Identification:
    drug_ids: tuple[str, ...]
    identified_by: str | None
    display: str
    problems: tuple[str, ...] = ()
    product: Product | None = None
    unresolved: str | None = None  # "Medication/x" referenced but not had


def _items(value: Any) -> list[Any]:
    """A FHIR 0..* element as a list: a single object wrapped, any other JSON kind empty (never raises)."""
    if isinstance(value, list):
        return value
    return [value] if is_object(value) else []


def _index_medications(resources: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {f"Medication/{r.get('id')}": r for r in resources if is_object(r) and r.get("resourceType") == "Medication"}


def medication_reference(resource: Mapping[str, Any]) -> str | None:
    """'Medication/x' (or '#x' for a contained one) the order points at, if any."""
    reference = resource.get("medicationReference")
    target = reference.get("reference") if is_object(reference) else None
    if not isinstance(target, str) or not target.strip():
        return None
    if target.startswith("#"):
        return target
    parts = target.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Medication" and parts[-1]:
        return f"Medication/{parts[-1]}"
    return None


def _medication(resource: Mapping[str, Any], included: Mapping[str, Mapping[str, Any]], target: str | None) -> Mapping[str, Any] | None:
    """The Medication `target` (`medication_reference(resource)`) names: contained, or among `included`."""
    if target is None:
        return None
    if target.startswith("#"):
        for contained in _items(resource.get("contained")):
            if is_object(contained) and contained.get("resourceType") == "Medication" and contained.get("id") == target[1:]:
                return contained
        return None
    return included.get(target)


def _rxnorm(concept: Any, drugs: DrugTable, kind: str) -> tuple[tuple[str, ...], str | None]:
    """(drug ids, the first matching code) for RxNorm codes of one kind in a CodeableConcept."""
    ids: list[str] = []
    first: str | None = None
    for c in codings(concept):
        code = c.get("code")
        if c.get("system") == RXNORM and isinstance(code, str) and drugs.rxnorm_kind(code) == kind:
            ids += [d for d in drugs.by_rxnorm(code) if d not in ids]
            first = first or code.strip()
    return tuple(ids), first


def _reference_display(resource: Mapping[str, Any]) -> list[str]:
    reference = resource.get("medicationReference")
    display = reference.get("display") if is_object(reference) else None
    return [display] if isinstance(display, str) and display.strip() else []


def identify(resource: Mapping[str, Any], drugs: DrugTable, included: Mapping[str, Mapping[str, Any]]) -> Identification:
    """Drug ids from everything the order carries, strongest evidence first (module docstring)."""
    concept = resource.get("medicationCodeableConcept")
    target = medication_reference(resource)
    med = _medication(resource, included, target)
    unresolved = target if target and med is None else None
    concepts = [concept] + ([med.get("code")] if med else [])
    texts = [t for c in concepts for t in concept_texts(c)] + _reference_display(resource)
    ingredients = [i for i in _items(med.get("ingredient")) if is_object(i)] if med else []
    ingredient_concepts = [i.get("itemCodeableConcept") for i in ingredients]
    texts += [t for c in ingredient_concepts for t in concept_texts(c)]
    display = texts[0] if texts else "(unnamed medication)"
    ids: tuple[str, ...] = ()
    how: str | None = None
    product_code: str | None = None
    for kind, label in (("ingredient", "rxnorm-ingredient"), ("product", "rxnorm-product")):
        found = [_rxnorm(c, drugs, kind) for c in concepts]
        ids = tuple(dict.fromkeys(d for f, _ in found for d in f))
        if ids:
            how = label
            product_code = next((code for _, code in found if code), None) if kind == "product" else None
            break
    if not ids and ingredient_concepts:
        ids = tuple(dict.fromkeys(d for c in ingredient_concepts for kind in ("ingredient", "product") for d in _rxnorm(c, drugs, kind)[0]))
        how = "medication-ingredient" if ids else None
    if not ids:
        for text in texts:
            ids = drugs.by_name(text).drug_ids
            if ids:
                how = "name"
                break
    if not ids:
        why = (f"the referenced {unresolved} could not be obtained (not contained, not sent, not fetchable)"
               if unresolved else "medication not identified (no known RxNorm code or drug name)")
        return Identification((), None, display, (why,), unresolved=unresolved)
    problems: list[str] = []
    joined = " | ".join(texts)
    guarded: list[str] = []
    for drug_id in ids:
        other = drugs.look_alike_in_text(drug_id, joined)
        if other and how != "name":
            problems.append(f"coded as {drug_id} but the text names {other}; treated as {other} (look-alike guard)")
            guarded.append(other)
            how = "name"
            product_code = None  # the product row belongs to the look-alike's code, not to what is given
        else:
            guarded.append(drug_id)
    product = product_of(drugs, product_code, med, ingredients, texts) if len(guarded) == 1 else None
    return Identification(tuple(dict.fromkeys(guarded)), how, display, tuple(problems), product, unresolved)


# -- route, timing ----------------------------------------------------------------------

def route_of(concept: Any, codes: CodeTable) -> Route | None:
    if not is_object(concept):
        return None
    kinds: list[str] = []
    sent: str | None = None
    for c in codings(concept):
        system, code = c.get("system"), c.get("code")
        sent = sent or (f"{system}|{code}" if code else None)
        if system == SNOMED and isinstance(code, str) and code in codes.routes:  # a code of another JSON kind matches nothing
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
    if not is_object(timing):
        return None
    rep = timing.get("repeat") if is_object(timing.get("repeat")) else {}
    bounds = rep.get("boundsPeriod") if is_object(rep.get("boundsPeriod")) else {}
    code = timing.get("code") if is_object(timing.get("code")) else {}
    code_value = next((c.get("code") for c in codings(code) if c.get("code")), None) or code.get("text")
    return Timing(
        frequency=_int(rep.get("frequency")), period=number(rep.get("period")), period_unit=rep.get("periodUnit"),
        count=_int(rep.get("count")), duration=number(rep.get("duration")), duration_unit=rep.get("durationUnit"),
        day_of_week=tuple(d for d in _items(rep.get("dayOfWeek")) if isinstance(d, str)),
        code=code_value, text=code.get("text"),
        bounds_start=parse_date(bounds.get("start")), bounds_end=parse_date(bounds.get("end")),
    )


def _int(value: Any) -> int | None:
    n = number(value)
    return int(n) if n is not None else None


def _first_dosage(value: Any) -> Mapping[str, Any] | None:
    if is_object(value):
        return value
    if isinstance(value, list) and value and is_object(value[0]):
        return value[0]
    return None


def implied_route(product: Product | None) -> Route | None:
    """No route on the order: what the dose form says (oral tablet -> oral; injection -> parenteral)."""
    form = product.dose_form if product else None
    if form is None:
        return None
    if form.route:
        return Route(form.route, implied_by=f"dose form '{form.name}'")
    if form.parenteral:
        return Route(None, implied_by=f"dose form '{form.name}'", parenteral=True)
    return None


def _as_needed(dosage: Mapping[str, Any]) -> bool:
    return dosage.get("asNeededBoolean") is True or is_object(dosage.get("asNeededCodeableConcept"))


class OrderMemo:
    """Routes and timings one request's readers have already read, by the content they depend on.

    Why: a chart's orders and administrations spell the same few route concepts and schedules
    again and again; `route_of` and `timing_of` are pure in that content. Keyed by its JSON bytes
    (`_content_key`), so equal content shares an answer and different content never does. One per
    request (build_context makes it; administrations.ReadMemo extends it): nothing outlives the
    request. Results are immutable and handed out as they are.
    """

    def __init__(self) -> None:
        self._routes: dict[bytes, Route | None] = {}
        self._timings: dict[bytes, Timing | None] = {}
        self._idents: dict[bytes, Identification] = {}

    def identify(self, resource: Mapping[str, Any], drugs: DrugTable, included: Mapping[str, Mapping[str, Any]]) -> Identification:
        """`identify(resource, ...)`, shared by resources that name their drug only by
        medicationCodeableConcept (nothing else it reads is there): a draft order and the past
        administrations of its drug spell the same concept."""
        if "medicationReference" in resource:
            return identify(resource, drugs, included)
        key = _content_key(resource.get("medicationCodeableConcept"))
        if key is None:
            return identify(resource, drugs, included)
        found = self._idents.get(key)
        if found is None:
            found = self._idents[key] = identify(resource, drugs, included)
        return found

    def route(self, concept: Any, codes: CodeTable) -> Route | None:
        """`route_of(concept, codes)`, once per distinct concept."""
        key = _content_key(concept)
        if key is None:
            return route_of(concept, codes)
        if key not in self._routes:
            self._routes[key] = route_of(concept, codes)
        return self._routes[key]

    def timing(self, timing: Any) -> Timing | None:
        """`timing_of(timing)`, once per distinct Timing."""
        key = _content_key(timing)
        if key is None:
            return timing_of(timing)
        if key not in self._timings:
            self._timings[key] = timing_of(timing)
        return self._timings[key]


def _content_key(value: Any) -> bytes | None:
    """The JSON bytes of `value`, or None when it is not plain JSON (then nothing is shared).

    None too when the bytes hold a null anywhere: orjson writes NaN and Infinity as null, so a
    `code: NaN` (which `route_of` spells "system|nan") and a `code: null` would share one key.
    A null is never valid FHIR, so this costs nothing on what an EHR sends."""
    try:
        key = orjson.dumps(value)
    except TypeError:
        return None
    return None if b"null" in key else key


def read_order(resource: Mapping[str, Any], drugs: DrugTable, codes: CodeTable,
               included: Mapping[str, Mapping[str, Any]], *, is_draft: bool, memo: OrderMemo | None = None) -> MedicationOrder:
    """One MedicationRequest or MedicationStatement; never raises, problems say what was unreadable.
    `memo` (one per request) shares route and timing readings between orders of equal content;
    with a memo, a whole order of the same content read before (this request or an earlier one:
    `memo.order_readings`) is handed out again with this `resource` in it. An order with a
    medicationReference depends on Medications outside it and is always read."""
    if memo is not None and "medicationReference" not in resource:
        key = order_readings.key(resource, _DRAFT if is_draft else _ACTIVE)
        if key is not None:
            table = order_readings.table(drugs, codes)
            found = table.get(key)
            if found is None:
                found = _read_order(resource, drugs, codes, included, is_draft=is_draft, memo=memo)
                order_readings.put(table, key, _with_resource(found, None))
                return found
            return _with_resource(found, resource)
    return _read_order(resource, drugs, codes, included, is_draft=is_draft, memo=memo)


_DRAFT, _ACTIVE = b"draft", b"active"


def _with_resource(order: MedicationOrder, resource: Any) -> MedicationOrder:
    """`replace(order, resource=resource)`, without `replace`'s field-by-field rebuild."""
    copy = object.__new__(MedicationOrder)
    fields = copy.__dict__
    fields.update(order.__dict__)
    fields["resource"] = resource
    return copy


def _read_order(resource: Mapping[str, Any], drugs: DrugTable, codes: CodeTable,
                included: Mapping[str, Mapping[str, Any]], *, is_draft: bool, memo: OrderMemo | None) -> MedicationOrder:
    problems: list[str] = list(validate(resource))
    ident = memo.identify(resource, drugs, included) if memo is not None else identify(resource, drugs, included)
    problems += ident.problems
    field = "dosageInstruction" if resource.get("resourceType") == "MedicationRequest" else "dosage"
    dosage = _first_dosage(resource.get(field))
    authored = parse_date(resource.get("authoredOn") or resource.get("dateAsserted"))
    if dosage and memo is not None:
        route, timing = memo.route(dosage.get("route"), codes), memo.timing(dosage.get("timing"))
    else:
        route = route_of(dosage.get("route"), codes) if dosage else None
        timing = timing_of(dosage.get("timing")) if dosage else None
    if route is None:
        route = implied_route(ident.product)
    if dosage and _as_needed(dosage):
        timing = replace(timing or Timing(), as_needed=True)
    return MedicationOrder(
        ref=ref(resource),
        resource=resource,
        drug_ids=ident.drug_ids,
        identified_by=ident.identified_by,
        display=ident.display,
        status=resource.get("status") if isinstance(resource.get("status"), str) else None,
        intent=resource.get("intent") if isinstance(resource.get("intent"), str) else None,
        authored_on=authored,
        dose=dose_of(dosage, problems, ident.product),
        route=route,
        timing=timing,
        dosage_text=dosage.get("text") if dosage and isinstance(dosage.get("text"), str) else None,
        is_draft=is_draft,
        problems=tuple(problems),
        product=ident.product,
        unresolved_medication=ident.unresolved,
        has_dosage=dosage is not None,
    )


def included_medications(*bundles: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for resources in bundles:
        out.update(_index_medications(resources))
    return out


def order_date_of(targets: Sequence[MedicationOrder], fallback: date) -> date:
    dates = [o.authored_on for o in targets if o.authored_on]
    return min(dates) if dates else fallback
