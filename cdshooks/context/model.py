"""The immutable patient context every rule reads.

Built once per request by `context.builder.build_context` from the resolved prefetch. Rules are
pure functions over this object and the knowledge base; they never see raw FHIR except
`MedicationOrder.resource` (kept only to build a corrected copy for an `update` suggestion).

Conventions:
- A value that is missing or unusable is ``None`` and, where a check needs it, a `DataGap` says
  why ("no body weight within 30 days", "Observation/o1 has no UCUM unit"). Never 0, never a guess.
- Quantities carry UCUM codes (`Quantity.unit`), never display strings.
- Canonical units in `Measurement`: weight kg, height cm; labs as listed in knowledge/data/codes.json.
- Dates are `datetime.date`; ages are computed at the date that matters (order date for dosing,
  diagnosis date for risk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping

from ._fastinit import fast_frozen_init  # built per resource: see _fastinit


@fast_frozen_init
@dataclass(frozen=True)
class Quantity:
    """A FHIR Quantity reduced to what we compute with: numeric value and UCUM code."""

    value: float
    unit: str  # UCUM code, e.g. "mg", "mg/m2", "[iU]", "ug/d", "10*6{cells}/kg"
    comparator: str | None = None  # "<", "<=", ">=", ">" (a comparator makes a dose unusable for checks)
    text: str | None = None  # Quantity.unit as sent, for display only
    derivation: str | None = None  # how a count/volume became this amount: "1 {pill} × 50 mg/tablet = 50 mg"
    written: "Quantity | None" = None  # the quantity as ordered, when this one is derived from it


@fast_frozen_init
@dataclass(frozen=True)
class Measurement:
    """A usable, dated numeric observation converted to its canonical unit."""

    value: float
    unit: str  # canonical UCUM unit for this item (kg, cm, /uL, mg/dL, ...)
    date: date
    source: str  # "Observation/<id>"
    original: str  # as sent, e.g. "66 [lb_av]"


@fast_frozen_init
@dataclass(frozen=True)
class LabResult:
    """A lab or finding Observation: numeric (value+unit) or coded (code_value)."""

    key: str  # knowledge key, e.g. "wbc", "bilirubin_total", "tpmt_phenotype", "mrd_day29"
    date: date
    source: str  # "Observation/<id>"
    value: float | None = None  # in the canonical unit of `key`
    unit: str | None = None
    code_value: str | None = None  # normalized coded answer, e.g. "poor", "intermediate", "positive"
    reference_low: float | None = None  # canonical unit
    reference_high: float | None = None  # canonical unit; the ULN
    original: str | None = None
    identified_by: str = "code"  # "code" (LOINC) | "text" (no LOINC exists, e.g. MRD: matched on code.text)
    timepoint: str | None = None  # e.g. "day29", "end_of_induction" (MRD), read from the Observation text
    value_source: str | None = None  # coded results: "answer" (a known answer code) | "text" (read from valueString/text)

    @property
    def times_uln(self) -> float | None:
        if self.value is None or not self.reference_high:
            return None
        return self.value / self.reference_high


@dataclass(frozen=True)
class Age:
    """Completed years/months and total days at a given date (`at`)."""

    years: int
    months: int  # completed months in total (e.g. 14 for 1 y 2 mo)
    days: int  # total days since birth
    at: date
    uncertain: bool = False  # birthDate was partial (year or year-month only)

    def __str__(self) -> str:
        return f"{self.years} y ({self.days} d)" if self.years < 2 else f"{self.years} y"


@dataclass(frozen=True)
class Bsa:
    value: float  # m2, unrounded (round for display only)
    formula: str  # "Mosteller"
    weight: Measurement
    height: Measurement


@fast_frozen_init
@dataclass(frozen=True)
class ClinicalFact:
    """A diagnosis or finding from a Condition or Observation, keyed by knowledge key."""

    key: str  # e.g. "all", "b-precursor", "t-all", "mature-b", "ph-positive", "down-syndrome", "pregnant"
    source: str  # "Condition/<id>" or "Observation/<id>"
    code: str  # "system|code" that matched
    onset: date | None = None
    recorded: date | None = None
    clinical_status: str | None = None  # Condition.clinicalStatus code as sent ("active", ...); None = not sent / Observation


@fast_frozen_init
@dataclass(frozen=True)
class DataGap:
    """Something a check might need that is missing, stale or unusable, and why."""

    item: str  # "weight", "height", "bsa", "lab:bilirubin_total", "order:MedicationRequest/x"
    reason: str  # human sentence, no PHI beyond resource references
    since: date | None = None  # date of the last usable value, when stale
    source: str | None = None  # offending resource reference, if any


@fast_frozen_init
@dataclass(frozen=True)
class Route:
    kind: str | None  # normalized: "intravenous", "intrathecal", "oral", "intramuscular", "subcutaneous", ... ; None = not recognized
    code: str | None = None  # "system|code" as sent
    text: str | None = None
    implied_by: str | None = None  # "dose form 'Oral Tablet'" when no route was sent and the form implies one
    parenteral: bool = False  # no route sent, the dose form is an injection: IV, IM, SC or IT - not which


@fast_frozen_init
@dataclass(frozen=True)
class Timing:
    frequency: int | None = None
    period: float | None = None
    period_unit: str | None = None  # UCUM-ish FHIR units: s min h d wk mo a
    count: int | None = None
    duration: float | None = None
    duration_unit: str | None = None
    day_of_week: tuple[str, ...] = ()
    code: str | None = None  # Timing.code coding code (e.g. "QD", "BID", "QW" ...) or text
    text: str | None = None
    bounds_start: date | None = None
    bounds_end: date | None = None
    as_needed: bool = False  # asNeededBoolean / asNeededCodeableConcept

    @property
    def interval_days(self) -> float | None:
        """Days between doses when frequency/period say so (1/d -> 1.0; 1/wk -> 7.0)."""
        if not self.frequency or not self.period or not self.period_unit:
            return None
        per_day = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1, "wk": 7, "mo": 30, "a": 365}.get(self.period_unit)
        if per_day is None:
            return None
        return self.period * per_day / self.frequency


@fast_frozen_init
@dataclass(frozen=True)
class Dose:
    """One dose as ordered. `quantity` is doseQuantity, or `low`/`high` from doseRange."""

    quantity: Quantity | None = None
    low: Quantity | None = None
    high: Quantity | None = None
    rate: Quantity | None = None  # rateQuantity (infusions), e.g. ug/d
    max_per_period: "tuple[Quantity, float] | None" = None  # maxDosePerPeriod: (amount, period in days)

    @property
    def amount(self) -> Quantity | None:
        """The single amount to check: doseQuantity, else the range's high end (worst case)."""
        return self.quantity or self.high or self.low


@fast_frozen_init
@dataclass(frozen=True)
class MedicationOrder:
    """A MedicationRequest/MedicationStatement resolved to drug ids of the knowledge base."""

    ref: str  # "MedicationRequest/<id>"
    resource: Mapping[str, Any]  # raw JSON, for building a corrected copy
    drug_ids: tuple[str, ...]  # knowledge drug ids; () when not identified
    identified_by: str | None  # "rxnorm-ingredient" | "rxnorm-product" | "medication-ingredient" | "name" | None
    display: str  # medication text as the EHR shows it
    status: str | None = None
    intent: str | None = None
    authored_on: date | None = None
    dose: Dose | None = None
    route: Route | None = None
    timing: Timing | None = None
    dosage_text: str | None = None
    is_draft: bool = False
    problems: tuple[str, ...] = ()  # why parts of this order could not be read (invalid FHIR, etc.)
    product: Any = None  # knowledge.products.Product: strength and dose form, and where they came from
    unresolved_medication: str | None = None  # "Medication/x" referenced but not contained, sent or fetchable
    has_dosage: bool = False  # a dosageInstruction/dosage element was present at all

    def has(self, drug_id: str) -> bool:
        return drug_id in self.drug_ids


@fast_frozen_init
@dataclass(frozen=True)
class Administration:
    """A past MedicationAdministration (for cumulative doses and minimum intervals)."""

    ref: str
    drug_ids: tuple[str, ...]
    date: date
    dose: Quantity | None = None
    route: Route | None = None
    status: str | None = None


@dataclass(frozen=True)
class TreatmentPlan:
    """The patient's regimen, course and day from an active CarePlan (`context.plan`).

    Present when an active CarePlan names a loaded regimen template (or tries to: an
    instantiatesCanonical/identifier we do not know). Whatever could not be read is in `problems`,
    each naming the FHIR field that would let the plan checks run; rules then fall back to the
    label ranges and say so (`missing-data.plan`).
    """

    source: str  # "CarePlan/<id>" (or several, comma-separated, when ambiguous)
    regimen: str | None = None  # template id
    named_by: str | None = None  # "instantiatesCanonical" | "identifier" | "title"
    phase: str | None = None  # template phase id ("course-a", "maintenance")
    course: int | None = None  # course number when recorded ("course 3")
    course_start: date | None = None  # day 1 of the current course
    start_from: str | None = None  # the field course_start was read from
    day: int | None = None  # day of the course on the order date (course_start = day 1)
    given: tuple["Administration", ...] = ()  # administrations since course_start, newest first
    problems: tuple[str, ...] = ()
    treatment_phase: str | None = None  # the template's phase name for the RA-xx checks ("induction" ...)

    @property
    def usable(self) -> bool:
        return not self.problems and self.regimen is not None and self.phase is not None and self.course_start is not None


@dataclass(frozen=True)
class PatientContext:
    patient_id: str
    order_date: date  # authoredOn of the draft orders under review, else today
    now: datetime
    birth_date: date | None = None
    sex: str | None = None  # administrative gender
    age: Age | None = None  # at order_date
    weight: Measurement | None = None  # kg, latest valid within the knowledge window
    height: Measurement | None = None  # cm
    bsa: Bsa | None = None
    weights: tuple[Measurement, ...] = ()  # every usable weight, newest first (no freshness window)
    heights: tuple[Measurement, ...] = ()  # every usable height, newest first
    labs: Mapping[str, tuple[LabResult, ...]] = field(default_factory=dict)  # newest first
    facts: Mapping[str, tuple[ClinicalFact, ...]] = field(default_factory=dict)
    diagnosis_date: date | None = None  # ALL diagnosis (Condition onset, else recordedDate)
    age_at_diagnosis: Age | None = None
    phase: str | None = None  # "induction" | "consolidation" | "maintenance" | "reinduction" | ... ; None = unknown
    phase_source: str | None = None
    phase_text: str | None = None  # that CarePlan's title/description/category text (names the protocol, e.g. "COG AALL0932")
    draft_orders: tuple[MedicationOrder, ...] = ()
    targets: tuple[MedicationOrder, ...] = ()  # the orders under review (selections, or all drafts)
    active_medications: tuple[MedicationOrder, ...] = ()
    administrations: tuple[Administration, ...] = ()
    gaps: tuple[DataGap, ...] = ()
    missing_prefetch: frozenset[str] = frozenset()  # prefetch keys that could not be had
    plan: TreatmentPlan | None = None  # regimen/course/day from a CarePlan naming a regimen template

    # -- small readers the rules share ---------------------------------------------------
    def lab(self, key: str) -> LabResult | None:
        newest = getattr(self.labs, "newest", None)  # a LabSeries builds only that result
        if newest is not None:
            return newest(key)  # type: ignore[no-any-return]
        series = self.labs.get(key) or ()
        return series[0] if series else None

    def has_fact(self, key: str) -> bool:
        return bool(self.facts.get(key))

    def labs_complete(self) -> bool:
        """True when the labs (prefetch `observations`) were obtained in full. Only then may a
        check claim that a result is absent ("no LVEF on record"): an unobtainable or truncated
        search is not an empty one, and the missing-data.prefetch card already says so."""
        return "observations" not in self.missing_prefetch

    def gaps_for(self, item: str) -> tuple[DataGap, ...]:
        return tuple(g for g in self.gaps if g.item == item)

    def all_medications(self) -> tuple[MedicationOrder, ...]:
        """Draft orders and active medications, each once (draft wins on the same ref)."""
        seen = {o.ref for o in self.draft_orders}
        return self.draft_orders + tuple(m for m in self.active_medications if m.ref not in seen)
