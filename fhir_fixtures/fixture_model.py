"""Fixture model and FHIR builders for make_fixtures.py (see its docstring for the rules).

Deterministic (no randomness, no clock): every date is computed from the fixed order date
ORDER = 2026-11-02 (`authoredOn` of every draft order) or the fixed diagnosis date DX, so ages at
the NCI boundaries are exact. Re-running reproduces every file byte for byte.

The goldens (`expected.json`) are written HERE, by hand, from the clinical expectation in
shared/reference/clinical-rules.md (§7 T01-T40, §2-§6 rule tables) - never copied from service
output. Each request file gets {"checkedTopics": [...], "cards": [...]}: for every checked topic the
returned cards must equal the expected ones (no missing, no extra); `cards: []` asserts "no card of
these topics". Cards are {topic, indicator, drug?, ruleIdPrefix?, summaryContains?}.

Codes: only rows of shared/reference/terminology.json with verified=true. Drugs use a verified
RxNorm SCD where one exists, else the verified ingredient (IN/MIN) code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Callable


ORDER = date(2026, 11, 2)  # authoredOn of every draft order
DX = date(2026, 10, 20)  # diagnosis date (Condition.onsetDateTime) unless a scenario says otherwise
MEASURED = ORDER - timedelta(days=3)  # weight/height/labs: recent relative to the order

LOINC, SCT, ICD, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm", "http://unitsofmeasure.org"
RXNORM, HGNC = "http://www.nlm.nih.gov/research/umls/rxnorm", "http://www.genenames.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# drug id -> (RxNorm code, display): verified SCD where terminology.json has one, else verified IN/MIN.
RX: dict[str, tuple[str, str]] = {
    "vincristine": ("1863354", "2 ML vincristine sulfate 1 MG/ML Injection"),
    "methotrexate-oral": ("105585", "methotrexate 2.5 MG Oral Tablet"),
    "methotrexate-iv": ("311625", "methotrexate 1000 MG Injection"),
    "methotrexate-it": ("1946772", "methotrexate 25 MG/ML Injectable Solution"),
    "mercaptopurine": ("197931", "mercaptopurine 50 MG Oral Tablet"),
    "pegaspargase": ("240906", "5 ML pegaspargase 750 UNT/ML Injection"),
    "daunorubicin": ("309650", "4 ML daunorubicin 5 MG/ML Injection"),
    "doxorubicin": ("1790099", "10 ML doxorubicin hydrochloride 2 MG/ML Injection"),
    "cyclophosphamide": ("1734919", "cyclophosphamide 1000 MG Injection"),
    "cytarabine": ("249364", "20 ML cytarabine 100 MG/ML Injection"),
    "clofarabine": ("486419", "20 ML clofarabine 1 MG/ML Injection"),
    "nelarabine": ("603566", "50 ML nelarabine 5 MG/ML Injection"),
    "blinatumomab": ("1597262", "blinatumomab 0.035 MG Injection"),
    "inotuzumab-ozogamicin": ("1942954", "inotuzumab ozogamicin 0.9 MG Injection"),
    "dasatinib": ("643105", "dasatinib 20 MG Oral Tablet"),
    "dasatinib-140": ("1045402", "dasatinib 140 MG Oral Tablet"),
    "imatinib": ("403878", "imatinib 100 MG Oral Tablet"),
    "prednisone": ("312615", "prednisone 20 MG Oral Tablet"),
    "dexamethasone": ("197582", "dexamethasone 4 MG Oral Tablet"),
    "tisagenlecleucel": ("1986438", "tisagenlecleucel"),
    "brexucabtagene-autoleucel": ("2387277", "brexucabtagene autoleucel"),
    "ponatinib": ("1364347", "ponatinib"),
    "rituximab": ("121191", "rituximab"),
    "allopurinol": ("519", "allopurinol"),
    "voriconazole": ("121243", "voriconazole"),
    "itraconazole": ("28031", "itraconazole"),
    "omeprazole": ("7646", "omeprazole"),
    "ibuprofen": ("5640", "ibuprofen"),
    "clarithromycin": ("21212", "clarithromycin"),
    "sulfamethoxazole-trimethoprim": ("10831", "sulfamethoxazole / trimethoprim"),
    "warfarin": ("11289", "warfarin"),
    "phenytoin": ("8183", "phenytoin"),
    "leucovorin": ("6313", "leucovorin"),
    "methylprednisolone": ("6902", "methylprednisolone"),
}
ROUTES = {
    "iv": ("47625008", "Intravenous route"),
    "po": ("26643006", "Oral route"),
    "it": ("72607000", "Intrathecal route"),
    "im": ("78421000", "Intramuscular route"),
    "sc": ("34206005", "Subcutaneous route"),
}
DIAGNOSES = {  # key -> (SNOMED code or None, display, ICD-10-CM code, display)
    "b-all": ("277572006", "Precursor B-cell acute lymphoblastic leukemia", "C91.00", "Acute lymphoblastic leukemia not having achieved remission"),
    "ph-all": ("425688002", "Philadelphia chromosome-positive acute lymphoblastic leukemia", "C91.00", "Acute lymphoblastic leukemia not having achieved remission"),
    "t-all": ("277575008", "T-cell acute lymphoblastic leukemia", "C91.00", "Acute lymphoblastic leukemia not having achieved remission"),
    # mature B-ALL: ICD-10-CM C91.A0 only. SNOMED 118617000 is Burkitt LYMPHOMA, not leukemia (issue 13
    # item 2); terminology.json verifies no SNOMED concept for mature B-cell leukemia Burkitt-type.
    "mature-b": (None, None, "C91.A0", "Mature B-cell leukemia Burkitt-type not having achieved remission"),
    "b-all-relapse": ("12301000132103", "Acute lymphoid leukemia relapse", "C91.02", "Acute lymphoblastic leukemia, in relapse"),
}
COMORBIDITIES = {
    "down-syndrome": ("41040004", "Complete trisomy 21 syndrome", "Q90.9", "Down syndrome, unspecified"),
    "pregnant": ("77386006", "Pregnant", "Z33.1", "Pregnant state, incidental"),
    "ckd4": ("709044004", "Chronic kidney disease", "N18.4", "Chronic kidney disease, stage 4 (severe)"),
    "liver-disease": ("235856003", "Disease of liver", "K76.9", "Liver disease, unspecified"),
    "urinary-obstruction": ("7163005", "Urinary tract obstruction", "R33.9", "Retention of urine, unspecified"),
    "t-all-relapse": ("12301000132103", "Acute lymphoid leukemia relapse", "C91.02", "Acute lymphoblastic leukemia, in relapse"),
    "mature-b-relapse": ("12301000132103", "Acute lymphoid leukemia relapse", "C91.A2", "Mature B-cell leukemia Burkitt-type, in relapse"),
    "ph-relapse": ("12301000132103", "Acute lymphoid leukemia relapse", "C91.02", "Acute lymphoblastic leukemia, in relapse"),
}
LABS = {  # key -> (LOINC, display, UCUM, upper reference limit or None)
    "wbc": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "/uL", 11000.0),
    "wbc_10e9": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*9/L", 11.0),
    "bilirubin_total": ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 1.2),
    "creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", None),
    "alt": ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 40.0),
    "anc": ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "/uL", None),
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count", "/uL", 450000.0),
    "uric_acid": ("3084-1", "Urate [Mass/volume] in Serum or Plasma", "mg/dL", 7.0),
    "potassium": ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 5.1),
    "phosphate": ("2777-1", "Phosphate [Mass/volume] in Serum or Plasma", "mg/dL", 5.5),
    "calcium": ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 10.5),
    "lvef": ("8806-2", "Left ventricular Ejection fraction by 2D echo", "%", None),
}
PGX_ANSWERS = {"poor": ("LA9657-3", "Poor metabolizer"), "normal": ("LA25391-6", "Normal metabolizer")}


def born(years: int, days: int = 0, at: date = ORDER) -> date:
    """Birth date making the patient exactly `years` y + `days` d old on `at` (no Feb 29 here)."""
    return at.replace(year=at.year - years) - timedelta(days=days)


def bsa(height_cm: float, weight_kg: float) -> float:
    return math.sqrt(height_cm * weight_kg / 3600.0)


@dataclass
class Order:
    drug: str  # knowledge drug id (or an RX key such as "methotrexate-oral")
    dose: float
    unit: str  # UCUM
    route: str = "iv"
    timing: dict[str, Any] = field(default_factory=lambda: {"count": 1})
    status: str = "draft"
    rate: tuple[float, str] | None = None
    text: str = ""
    method: str = ""  # dosageInstruction.method text, e.g. "IV push" (order verification)
    edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # reshape the built MedicationRequest (EHR-shaped orders)


@dataclass
class Scenario:
    id: str
    title: str
    source: str
    birth: date
    sex: str = "female"
    weight: tuple[float, str] | None = (26.0, "kg")
    height: tuple[float, str] | None = (128.0, "cm")
    measured: date = MEASURED
    diagnosis: str | None = "b-all"  # None = no ALL diagnosis recorded (protocol rules silent, issue 13 item 2)
    onset: date = DX
    comorbid: tuple[str, ...] = ()
    labs: dict[str, float] = field(default_factory=dict)
    dx_wbc: float | None = 20000.0
    dx_wbc_unit: str = "wbc"
    phase: str | None = "Induction"
    orders: list[Order] = field(default_factory=list)
    administrations: list[tuple[str, date, float, str, str]] = field(default_factory=list)  # drug, date, dose, unit, route
    past_weights: list[tuple[date, float]] = field(default_factory=list)  # earlier body weights (kg), height as `height`
    pregnancy_obs: bool = False
    tpmt: str | None = None
    mrd_text: str | None = None
    sign: list[dict[str, Any]] | None = None  # expected cards on order-sign
    sign_topics: tuple[str, ...] = ("dose", "dose-limit", "route", "schedule")
    view: list[dict[str, Any]] | None = None  # expected cards on patient-view
    view_topics: tuple[str, ...] = ()
    select: bool = False  # also write request-order-select.json (selection = first draft)
    extra: list[dict[str, Any]] = field(default_factory=list)  # further raw resources (subject and id filled in), e.g. dated statuses
    # data this fixture lacks ON PURPOSE (keys of `cdshooks validate` gaps: weight, height,
    # weight-stale, ...): written to expected.json `expectedGaps` so validate lists them without failing
    expected_gaps: tuple[str, ...] = ()
    resources: list[dict[str, Any]] = field(default_factory=list)  # extra resources for the bundle (e.g. a Medication)
    sign_noprefetch: list[dict[str, Any]] | None = None  # golden of the no-prefetch variant when it differs
    careplan: dict[str, Any] | None = None  # CarePlan fields (title, period, instantiatesCanonical, activity...) replacing the phase CarePlan


BSA_TOLERANCE_M2 = 0.0005  # the service reports BSA to 4 decimals
DOSE_TOLERANCE = 0.001  # expected and ordered doses: within 0.1% (covers the 4-decimal BSA)


def card(topic: str, indicator: str, drug: str | None = None, prefix: str | None = None, contains: str | list[str] | None = None,
         *, rule: str | None = None, clinical: tuple[str, ...] = (), values: dict[str, Any] | None = None) -> dict[str, Any]:
    """An expected card (format: cdshooks/goldens.py).

    `rule` = the exact ruleId (every golden card names one); `clinical` = the clinical-rules.md
    ids the card must cite; `contains` = the §7 "key message" substring(s) the summary must hold;
    `values` = numbers from `dose_values` (derived by hand here, never from service output).
    `prefix` (the old 4th argument) is matched EXACTLY as well: on 2026-12-01 every golden that
    used it already gave the full rule id, so a prefix match only left room for another rule.
    """
    if prefix and rule and prefix != rule:
        raise ValueError(f"card(): prefix {prefix!r} and rule {rule!r} disagree")
    rule = rule or prefix
    out: dict[str, Any] = {"topic": topic, "indicator": indicator}
    if contains:
        out["summaryContains"] = contains
    if drug:
        out["drug"] = drug
    if rule:
        out["ruleId"] = rule
    if clinical:
        out["clinicalRules"] = list(clinical)
    if values:
        out["values"] = values
    return out


def _num(value: float, tolerance: float) -> dict[str, float]:
    return {"value": float(f"{value:.6g}"), "tolerance": float(f"{tolerance:.3g}")}


def dose_values(*, bsa_m2: float | None = None, low: float | None = None, high: float | None = None,
                ordered: float | None = None, ordered_absolute: float | None = None) -> dict[str, Any]:
    """The numbers on a dose card a prescriber acts on, at the golden's stated rounding:
    BSA (Mosteller, `bsa()` below, computed here independently) within 0.0005 m2; the expected
    dose range and the ordered dose within 0.1%."""
    out: dict[str, Any] = {}
    if bsa_m2 is not None:
        out["bsa.value"] = _num(bsa_m2, BSA_TOLERANCE_M2)
    for path, value in (("expected.low", low), ("expected.high", high), ("ordered.value", ordered), ("ordered.absolute", ordered_absolute)):
        if value is not None:
            out[path] = _num(value, abs(value) * DOSE_TOLERANCE)
    return out


# -- FHIR resource builders -----------------------------------------------------------------


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": CATEGORY, "code": code, "display": display}]}]


def build_bundle(s: Scenario) -> dict[str, Any]:
    pid = s.id.replace(".", "-")[:60]
    subject = {"reference": f"Patient/{pid}"}
    resources: list[dict[str, Any]] = []
    n = 0

    def rid(kind: str) -> str:
        nonlocal n
        n += 1
        return f"{pid[:54]}-{kind}{n}"

    resources.append({
        "resourceType": "Patient", "id": pid,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "identifier": [{"system": "urn:all-cds:fixture-mrn", "value": pid}],
        "name": [{"family": "Fixture", "given": [s.id.split(".")[0].title()]}],
        "gender": s.sex, "birthDate": s.birth.isoformat(),
    })
    for key in ((s.diagnosis,) if s.diagnosis else ()) + tuple(s.comorbid):  # diagnosis None: no ALL recorded
        snomed, sd, icd, idisp = DIAGNOSES.get(key) or COMORBIDITIES[key]
        resources.append({
            "resourceType": "Condition", "id": rid("cond"),
            "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
            "verificationStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
            "category": [_cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
            "code": {"coding": ([{"system": SCT, "code": snomed, "display": sd}] if snomed else []) + [{"system": ICD, "code": icd, "display": idisp}],
                     "text": sd or idisp},
            "subject": subject, "onsetDateTime": s.onset.isoformat(), "recordedDate": s.onset.isoformat(),
        })

    def vital(code: str, display: str, value: float, unit: str, when: date | None = None) -> None:
        resources.append({
            "resourceType": "Observation", "id": rid("vs"), "status": "final",
            "category": _category("vital-signs", "Vital Signs"), "code": _cc(LOINC, code, display),
            "subject": subject, "effectiveDateTime": (when or s.measured).isoformat(), "valueQuantity": _qty(value, unit),
        })

    if s.weight:
        vital("29463-7", "Body weight", *s.weight)
    if s.height:
        vital("8302-2", "Body height", *s.height)
    for when, kg in s.past_weights:
        vital("29463-7", "Body weight", kg, "kg", when)
        if s.height:
            vital("8302-2", "Body height", *s.height, when)

    def lab(key: str, value: float, when: date, unit_key: str | None = None) -> None:
        code, display, unit, high = LABS[unit_key or key]
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": rid("lab"), "status": "final",
            "category": _category("laboratory", "Laboratory"), "code": _cc(LOINC, code, display),
            "subject": subject, "effectiveDateTime": when.isoformat(), "valueQuantity": _qty(value, unit),
        }
        if high is not None:
            obs["referenceRange"] = [{"high": _qty(high, unit)}]
        resources.append(obs)

    if s.dx_wbc is not None:
        # the diagnostic WBC: the first one recorded at or after the ALL diagnosis (issue 6 / risk rule)
        lab("wbc", s.dx_wbc, s.onset, s.dx_wbc_unit)
    defaults = {"bilirubin_total": 0.5, "creatinine": 0.4, "alt": 25.0, "anc": 1500.0, "uric_acid": 4.0, "potassium": 4.0, "phosphate": 4.0, "calcium": 9.4}
    for key, value in {**defaults, **s.labs}.items():
        lab(key, value, s.measured)
    if s.pregnancy_obs:
        resources.append({
            "resourceType": "Observation", "id": rid("preg"), "status": "final",
            "category": _category("social-history", "Social History"), "code": _cc(LOINC, "82810-3", "Pregnancy status"),
            "subject": subject, "effectiveDateTime": s.measured.isoformat(), "valueCodeableConcept": _cc(LOINC, "LA15173-0", "Pregnant"),
        })
    if s.tpmt:
        answer = PGX_ANSWERS[s.tpmt]
        resources.append({
            "resourceType": "Observation", "id": rid("pgx"), "status": "final",
            "category": _category("laboratory", "Laboratory"), "code": _cc(LOINC, "84413-4", "Genotype display name"),
            "subject": subject, "effectiveDateTime": (s.onset - timedelta(days=1)).isoformat(),
            "valueCodeableConcept": _cc(LOINC, *answer),
            "component": [{"code": _cc(LOINC, "48018-6", "Gene studied [ID]"), "valueCodeableConcept": _cc(HGNC, "HGNC:12014", "TPMT")}],
        })
    if s.mrd_text:
        resources.append({
            "resourceType": "Observation", "id": rid("mrd"), "status": "final",
            "category": _category("laboratory", "Laboratory"), "code": {"text": s.mrd_text},
            "subject": subject, "effectiveDateTime": s.measured.isoformat(), "valueQuantity": _qty(0.5, "%"),
        })
    if s.careplan is not None:
        resources.append({"resourceType": "CarePlan", "id": rid("plan"), "status": "active", "intent": "plan", "subject": subject, **s.careplan})
    elif s.phase:
        resources.append({
            "resourceType": "CarePlan", "id": rid("plan"), "status": "active", "intent": "plan",
            "title": f"ALL {s.phase}", "description": f"Acute lymphoblastic leukemia treatment: {s.phase.lower()} phase",
            "subject": subject, "period": {"start": (s.onset + timedelta(days=1)).isoformat()},
        })
    for drug, when, dose, unit, route in s.administrations:
        code, display = RX[drug]
        resources.append({
            "resourceType": "MedicationAdministration", "id": rid("adm"), "status": "completed",
            "medicationCodeableConcept": _cc(RXNORM, code, display), "subject": subject,
            "effectiveDateTime": f"{when.isoformat()}T10:00:00Z",
            "dosage": {"route": _cc(SCT, *ROUTES[route]), "dose": _qty(dose, unit)},
        })
    resources.extend(s.resources)
    for o in s.orders:
        code, display = RX[o.drug]
        dose_and_rate: dict[str, Any] = {"doseQuantity": _qty(o.dose, o.unit)}
        if o.rate:
            dose_and_rate["rateQuantity"] = _qty(*o.rate)
        resources.append({
            "resourceType": "MedicationRequest", "id": rid("mr"), "status": o.status, "intent": "order",
            "medicationCodeableConcept": _cc(RXNORM, code, display), "subject": subject,
            "authoredOn": ORDER.isoformat() if o.status == "draft" else (ORDER - timedelta(days=14)).isoformat(),
            "requester": {"reference": "Practitioner/fixture-oncologist"},
            "dosageInstruction": [{
                "text": o.text or f"{o.dose:g} {o.unit} {ROUTES[o.route][1].split()[0].lower()}",
                "timing": {"repeat": o.timing},
                "route": _cc(SCT, *ROUTES[o.route]),
                **({"method": {"text": o.method}} if o.method else {}),
                "doseAndRate": [dose_and_rate],
            }],
        })
        if o.edit:
            resources[-1] = o.edit(resources[-1])
    for raw in s.extra:
        resources.append({**raw, "id": rid(raw["resourceType"][:4].lower()), "subject": subject})
    return {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": f"urn:uuid:{_uuid(r)}", "resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources
        ],
    }


def _uuid(resource: dict[str, Any]) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:all-cds:fixture:{resource['resourceType']}/{resource['id']}"))


# -- timings ----------------------------------------------------------------------------------

WEEKLY = {"frequency": 1, "period": 1, "periodUnit": "wk"}
DAILY = {"frequency": 1, "period": 1, "periodUnit": "d"}
ONCE = {"count": 1}
DAILY_5 = {"frequency": 1, "period": 1, "periodUnit": "d", "count": 5}
CONTINUOUS = {"frequency": 1, "period": 1, "periodUnit": "d", "boundsDuration": {"value": 28, "unit": "d", "system": UCUM, "code": "d"}}
Q21D = {"frequency": 1, "period": 21, "periodUnit": "d", "count": 1}

