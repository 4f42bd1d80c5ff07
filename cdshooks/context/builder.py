"""Resolved prefetch + draft orders -> the immutable PatientContext the rules read.

    build_context(prefetch, patient_id=..., draft_orders=..., selections=..., kb=..., now=...)

Prefetch keys (each a resource, a searchset Bundle, or None/missing): patient, conditions,
bodyMeasurements, observations, medicationRequests, medicationStatements,
medicationAdministrations, carePlans. Nothing here raises on bad clinical data: unusable values
become `DataGap`s, unreadable draft orders keep their `problems`, so every rule can say
"cannot check" instead of staying silent.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from collections.abc import Mapping, Sequence  # not typing's: isinstance on those is ~5x slower
from typing import Any

from ..knowledge import Knowledge
from ..knowledge.codes import CodeTable, codes_view
from ..knowledge.drugs import drugs_view, padded_words
from ..knowledge.regimen_templates import template_library
from .fhir import codings, concept_texts, conformed, normalize, parse_date, parse_partial_date, raw_entries, ref, settled_flags, validate
from .administrations import ReadMemo, read_administrations
from .medications import INACTIVE_REQUEST, INACTIVE_STATEMENT, included_medications, order_date_of, read_order
from .memo import chart_readings, given_lists, given_readings, settled_lists
from .model import Age, ClinicalFact, DataGap, MedicationOrder, PatientContext
from .observations import ObservationReading, mosteller, read_observations
from .plan import read_plan
from .read import conform

INACTIVE_CLINICAL = frozenset({"inactive", "resolved"})
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})


# -- age -------------------------------------------------------------------------------

def age_at(birth: date, at: date, *, uncertain: bool = False) -> Age:
    """Completed years and months and total days of life at `at`.

    A 29 February birthday is reached on 1 March in common years (completed-years comparison
    of (month, day) tuples), i.e. the child is counted younger for one day - never older.
    """
    years = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    months = (at.year - birth.year) * 12 + (at.month - birth.month) - (at.day < birth.day)
    return Age(years=max(years, 0), months=max(months, 0), days=(at - birth).days, at=at, uncertain=uncertain)


def birth_date_of(patient: Mapping[str, Any] | None) -> tuple[date | None, bool, str | None]:
    """(birth date, uncertain, gap reason). A partial birthDate uses the latest possible day
    (the youngest possible age) and is flagged uncertain so rules near an age boundary can say so."""
    if not patient:
        return None, False, "no Patient resource"
    raw = patient.get("birthDate")
    parts = parse_partial_date(raw)
    if parts is None:
        return None, False, "Patient has no birthDate"
    year, month, day = parts
    try:
        if month is None:
            return date(year, 12, 31), True, f"birthDate is partial ({raw}); age computed from {year}-12-31 (youngest possible)"
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return date(year, month, last), True, f"birthDate is partial ({raw}); age computed from the last day of that month (youngest possible)"
        return date(year, month, day), False, None
    except ValueError:
        return None, False, "Patient birthDate is not a valid date"


# -- conditions and phase ------------------------------------------------------------

def _status_code(concept: Any) -> str | None:
    for c in codings(concept):
        if isinstance(c.get("code"), str):
            return c["code"]
    return None


def read_conditions(conditions: Sequence[Mapping[str, Any]], codes: CodeTable) -> list[ClinicalFact]:
    facts: list[ClinicalFact] = []
    for cond in conditions:
        if cond.get("resourceType") != "Condition":
            continue
        if _status_code(cond.get("clinicalStatus")) in INACTIVE_CLINICAL:
            continue
        if _status_code(cond.get("verificationStatus")) in EXCLUDED_VERIFICATION:
            continue
        matched = [(c, codes.condition_keys(c.get("system"), c.get("code"))) for c in codings(cond.get("code"))]
        matched = [(c, keys) for c, keys in matched if keys]
        if not matched or validate(cond):
            continue
        period = cond.get("onsetPeriod") if isinstance(cond.get("onsetPeriod"), Mapping) else {}
        onset = parse_date(cond.get("onsetDateTime")) or parse_date(period.get("start"))
        recorded = parse_date(cond.get("recordedDate"))
        clinical = _status_code(cond.get("clinicalStatus"))
        seen: set[str] = set()
        for coding, keys in matched:
            for key in keys:
                if key not in seen:
                    seen.add(key)
                    facts.append(ClinicalFact(key, ref(cond), f"{coding['system']}|{coding['code']}", onset, recorded, clinical))
    return facts


def careplan_text(cp: Mapping[str, Any]) -> str:
    """Title, description and category texts of a CarePlan, as sent (the phase and any protocol name)."""
    texts = [cp.get("title"), cp.get("description")] + [t for c in cp.get("category") or [] for t in concept_texts(c)]
    return " ".join(t for t in texts if isinstance(t, str))


def read_phase(careplans: Sequence[Mapping[str, Any]], codes: CodeTable) -> tuple[str | None, str | None]:
    """Treatment phase from the newest active CarePlan whose text names one; else (None, None)."""
    def start(cp: Mapping[str, Any]) -> date:
        period = cp.get("period") if isinstance(cp.get("period"), Mapping) else {}
        return parse_date(period.get("start")) or parse_date(cp.get("created")) or date.min

    plans = [cp for cp in careplans if cp.get("resourceType") == "CarePlan" and cp.get("status") in (None, "active", "on-hold")]
    for cp in sorted(plans, key=start, reverse=True):
        text = padded_words(careplan_text(cp))
        for phase, patterns in codes.phases:
            if any(f" {' '.join(re.findall(r'[a-z0-9]+', p))} " in text for p in patterns):
                return phase, ref(cp)
    return None, None


# -- the builder -------------------------------------------------------------------------

def _medications_in(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Medication resources among a prefetch value's, as `entries` gives them, without
    conforming (copying) the hundreds of other resources a chart carries to find them."""
    return [normalize(m) for r in resources if r.get("resourceType") == "Medication" and (m := conform(r)) is not None]


def _conformed(resources: Sequence[Any]) -> list[dict[str, Any]]:
    """`fhir.conformed(resources)`; which of them are kept as sent (`settled`, a walk of each) is
    remembered for a list re-sent with the same content (memo.ChartReadings)."""
    flags = settled_lists.read((resources,), b"settled", lambda: settled_flags(resources), _same)
    return conformed(resources, flags)


def _same(reading: Any) -> Any:
    """An immutable reading, as another request is given it (memo.ChartReadings)."""
    return reading


def build_context(
    prefetch: Mapping[str, Any],
    *,
    patient_id: str,
    draft_orders: Mapping[str, Any] | None,
    selections: Sequence[str] | None,
    kb: Knowledge,
    now: datetime,
    missing_prefetch: frozenset[str] = frozenset(),
    medications: Mapping[str, Mapping[str, Any]] | None = None,
) -> PatientContext:
    """`medications`: Medication resources fetched by reference ('Medication/x' -> resource)."""
    drugs, codes = drugs_view(kb), codes_view(kb)
    # every prefetch Bundle listed once; each reader below takes its resources from these lists
    sent = {key: raw_entries(value) for key, value in prefetch.items()}

    def _resources(key: str) -> list[dict[str, Any]]:
        return _conformed(sent.get(key, ()))

    gaps: list[DataGap] = [DataGap(f"prefetch:{k}", f"prefetch {k!r} could not be obtained") for k in sorted(missing_prefetch)]

    # orders first: the order date drives every window
    drafts_raw = _conformed(raw_entries(draft_orders)) if draft_orders else []
    requests = _resources("medicationRequests")
    statements = _resources("medicationStatements")
    # a Medication may come in any prefetch Bundle (not only the _include of active orders), in the
    # draftOrders Bundle, or fetched by reference (fetch.prefetch.fetch_medications)
    included = included_medications(drafts_raw, *(_medications_in(v) for v in sent.values()))
    included.update({k: normalize(dict(v)) for k, v in (medications or {}).items() if isinstance(v, Mapping) and v.get("resourceType") == "Medication"})
    # this request's readings shared by content (routes, schedules); what administrations give is
    # kept between requests too, per knowledge views (memo.given_readings)
    memo = ReadMemo(given_readings.table(drugs, codes))
    drafts = tuple(
        read_order(r, drugs, codes, included, is_draft=True, memo=memo)
        for r in drafts_raw if r.get("resourceType") == "MedicationRequest"
    )
    if selections is None:
        targets = drafts
    else:
        wanted = set(selections)
        targets = tuple(o for o in drafts if o.ref in wanted)
    for order in drafts:
        if not order.drug_ids:
            gaps.append(DataGap(f"order:{order.ref}", f"{order.ref}: medication not identified", source=order.ref))
    order_date = order_date_of(targets or drafts, now.date())
    upper = max(order_date, now.date())

    draft_refs = {o.ref for o in drafts}
    active: list[MedicationOrder] = []
    for r in requests + statements:
        inactive = INACTIVE_REQUEST if r.get("resourceType") == "MedicationRequest" else INACTIVE_STATEMENT
        if r.get("resourceType") not in ("MedicationRequest", "MedicationStatement") or r.get("status") in inactive:
            continue
        if ref(r) in draft_refs:
            continue
        order = read_order(r, drugs, codes, included, is_draft=False, memo=memo)
        if order.drug_ids:
            active.append(order)
    # a chart re-sent with the same administrations (and Medications) gets the reading made before
    given = sent.get("medicationAdministrations", ())
    administrations = given_lists.table(drugs, codes).read(
        (given, [included]), b"administrations", lambda: read_administrations(given, drugs, codes, included, memo), _same)

    # patient and age
    patients = [p for p in _resources("patient") if p.get("resourceType") == "Patient"]
    patient = patients[0] if patients else None  # conformed and normalized already
    if patient and validate(patient):
        gaps.append(DataGap("patient", "Patient resource is not valid FHIR; demographics read defensively", source=ref(patient)))
    birth, uncertain, why = birth_date_of(patient)
    age = age_at(birth, order_date, uncertain=uncertain) if birth and birth <= order_date else None
    if why:
        gaps.append(DataGap("age", why, source=ref(patient) if patient else None))
    sex = patient.get("gender") if patient and isinstance(patient.get("gender"), str) else None

    # body measurements and labs
    # Observations are read as sent (no copy), once, into weight, height and the lab series; a
    # chart re-sent with the same Observations (and dates) gets the reading made before (memo.ChartReadings)
    body, others = sent.get("bodyMeasurements", ()), sent.get("observations", ())
    observed = chart_readings.table(codes).read(
        (body, others), f"observations {order_date.isoformat()} {upper.isoformat()}".encode(),
        lambda: read_observations(body, others, codes, order_date, upper), ObservationReading.again)
    weight, height = observed.weight, observed.height
    weights, heights = observed.weights, observed.heights
    gaps += observed.gaps
    bsa = mosteller(weight, height) if weight and height else None
    if bsa is None:
        missing = [n for n, m in (("weight", weight), ("height", height)) if m is None]
        gaps.append(DataGap("bsa", f"BSA not computed: no usable {' and '.join(missing)}"))
    reading = observed.labs
    gaps += reading.gaps
    labs = reading.series  # lab key -> results, newest first; a key's results are made when first read

    # facts
    facts_list = read_conditions(_resources("conditions"), codes) + list(reading.facts)
    facts: dict[str, tuple[ClinicalFact, ...]] = {}
    for fact in facts_list:
        facts[fact.key] = facts.get(fact.key, ()) + (fact,)
    diagnosis_dates = [f.onset or f.recorded for f in facts.get("all", ()) if f.onset or f.recorded]
    diagnosis_date = min(diagnosis_dates) if diagnosis_dates else None
    age_dx = age_at(birth, diagnosis_date, uncertain=uncertain) if birth and diagnosis_date and birth <= diagnosis_date else None

    careplans = _resources("carePlans")
    phase, phase_source = read_phase(careplans, codes)
    phase_text = next((careplan_text(cp) for cp in careplans if ref(cp) == phase_source), None) if phase_source else None
    plan = read_plan(careplans, template_library(kb), order_date, administrations)
    if phase is None and plan is not None and plan.treatment_phase:  # "Hyper-CVAD course 1" is induction
        phase, phase_source = plan.treatment_phase, f"{plan.source} ({plan.regimen} {plan.phase})"

    return PatientContext(
        patient_id=patient_id, order_date=order_date, now=now, birth_date=birth, sex=sex, age=age,
        weight=weight, height=height, bsa=bsa, weights=weights, heights=heights, labs=labs, facts=facts,
        diagnosis_date=diagnosis_date, age_at_diagnosis=age_dx, phase=phase, phase_source=phase_source, phase_text=phase_text,
        draft_orders=drafts, targets=targets, active_medications=tuple(active),
        administrations=administrations, gaps=tuple(gaps), missing_prefetch=frozenset(missing_prefetch),
        plan=plan,
    )
