"""The benchmark's request: a realistic, heavy all-order-sign call for a child in ALL induction.

Why this shape: latency is dominated by how much FHIR the EHR sends, so the workload is sized
like a real inpatient chart a few months into therapy, not like a unit-test fixture:

    patient        8 y 3 mo, female, 28 kg, 130 cm (BSA Mosteller 1.01 m2)
    conditions     precursor B-ALL (SNOMED 277572006) + 4 unrelated problems
    observations   400 labs (CBC, chemistry, liver, renal, TLS panel) over the last 120 days + 1 echo
    body           20 weight/height Observations
    medRequests    10 active supportive-care orders
    medAdmins      50 administrations: days 1-21 of a 4-drug induction (see induction_administrations)
    draftOrders    5 day-22 orders, each dosed by the rule for this patient (no dose errors)

Only codes marked verified in shared/reference/terminology.json are used. Deterministic: the
same `today` gives the same bytes (hookInstance aside), so runs are comparable.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

PATIENT_ID = "bench-pt-1"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

ROUTES = {
    "iv": ("47625008", "Intravenous route"),
    "po": ("26643006", "Oral route"),
    "it": ("72607000", "Intrathecal route"),
    "im": ("78421000", "Intramuscular route"),
}

# (LOINC, display, UCUM unit, low, high): plausible values for a child in induction.
LABS: tuple[tuple[str, str, str, float, float], ...] = (
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 0.5, 12.0),
    ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*3/uL", 0.2, 6.0),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 20.0, 400.0),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 7.0, 13.0),
    ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.2, 1.2),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 10.0, 120.0),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 10.0, 90.0),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.3, 0.6),
    ("3084-1", "Urate [Mass/volume] in Serum or Plasma", "mg/dL", 2.0, 6.0),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.4, 4.8),
    ("2777-1", "Phosphate [Mass/volume] in Serum or Plasma", "mg/dL", 3.5, 5.8),
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.6, 10.2),
    ("2532-0", "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 150.0, 600.0),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 2.8, 4.5),
    ("3040-3", "Lipase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 10.0, 60.0),
    ("26446-5", "Blasts/100 leukocytes in Blood", "%", 0.0, 5.0),
)

# drug id -> (RxNorm SCD, display, dose, UCUM unit, route, timing repeat)
DRAFT_ORDERS: tuple[tuple[str, str, str, float, str, str, dict[str, Any]], ...] = (
    ("vincristine", "1863354", "2 ML vincristine sulfate 1 MG/ML Injection", 1.5, "mg", "iv",
     {"frequency": 1, "period": 1, "periodUnit": "wk"}),
    ("daunorubicin", "309650", "4 ML daunorubicin 5 MG/ML Injection", 25.0, "mg", "iv",
     {"frequency": 1, "period": 1, "periodUnit": "wk"}),
    ("pegaspargase", "240906", "5 ML pegaspargase 750 UNT/ML Injection", 2500.0, "[iU]", "iv", {"count": 1}),
    ("dexamethasone", "197582", "dexamethasone 4 MG Oral Tablet", 3.0, "mg", "po",
     {"frequency": 2, "period": 1, "periodUnit": "d"}),
    ("methotrexate", "1946772", "methotrexate 25 MG/ML Injectable Solution", 12.0, "mg", "it", {"count": 1}),
)

SUPPORTIVE = (
    ("519", "allopurinol"), ("10180", "sulfamethoxazole"), ("10829", "trimethoprim"), ("26225", "ondansetron"),
    ("7646", "omeprazole"), ("4450", "fluconazole"), ("6313", "leucovorin"), ("3264", "dexamethasone"),
    ("103", "mercaptopurine"), ("3041", "cytarabine"),
)


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _bundle(resources: list[dict[str, Any]], type_: str = "searchset") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": type_, "total": len(resources),
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def _observation(oid: str, loinc: str, display: str, value: float, unit: str, when: datetime,
                 category: str = "laboratory") -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": oid, "status": "final",
        "category": [_cc(OBS_CATEGORY, category, category.replace("-", " ").title())],
        "code": _cc(LOINC, loinc, display),
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when.isoformat(),
        "issued": (when + timedelta(hours=2)).isoformat(),
        "valueQuantity": _qty(round(value, 2), unit),
    }


def _medication_request(mid: str, rxnorm: str, display: str, dose: float, unit: str, route: str,
                        repeat: dict[str, Any], status: str, authored: date) -> dict[str, Any]:
    route_code, route_display = ROUTES[route]
    return {
        "resourceType": "MedicationRequest", "id": mid, "status": status, "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "authoredOn": authored.isoformat(),
        "requester": {"reference": "Practitioner/bench-doc"},
        "medicationCodeableConcept": _cc(RXNORM, rxnorm, display),
        "dosageInstruction": [{
            "text": f"{display}: {dose:g} {unit} {route.upper()}",
            "route": _cc(SNOMED, route_code, route_display),
            "timing": {"repeat": repeat},
            "doseAndRate": [{"doseQuantity": _qty(dose, unit)}],
        }],
    }


def induction_administrations(now: datetime, total: int) -> list[dict[str, Any]]:
    """Days 1-21 of a 4-drug induction, so today's drafts (day 22) are on schedule:
    vincristine + daunorubicin on days 1, 8, 15 (75 mg/m2 cumulative before today), pegaspargase
    day 4, IT methotrexate day 8, and dexamethasone twice daily for the remaining count."""
    by_drug = {d[0]: d for d in DRAFT_ORDERS}
    plan: list[tuple[str, float]] = []  # (drug, days ago)
    for day in (1, 8, 15):
        plan += [("vincristine", 22 - day), ("daunorubicin", 22 - day)]
    plan += [("pegaspargase", 18), ("methotrexate", 14)]
    for n in range(max(0, total - len(plan))):
        plan.append(("dexamethasone", 21 - n / 2))  # 08:00 and 20:00
    administrations = []
    for n, (drug, days_ago) in enumerate(plan[:total]):
        _, rxnorm, display, dose, unit, route, _ = by_drug[drug]
        administrations.append(_administration(n, rxnorm, display, dose, unit, route, now - timedelta(days=days_ago)))
    return administrations


def _administration(n: int, rxnorm: str, display: str, dose: float, unit: str, route: str, when: datetime) -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration", "id": f"admin-{n}", "status": "completed",
        "medicationCodeableConcept": _cc(RXNORM, rxnorm, display),
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when.isoformat(),
        "dosage": {"route": _cc(SNOMED, *ROUTES[route]), "dose": _qty(dose, unit)},
    }


def order_sign_request(today: date | None = None, *, n_observations: int = 400,
                       n_administrations: int = 50, seed: int = 7) -> dict[str, Any]:
    """The heavy order-sign body (see module docstring); sizes are parameters for scaling runs."""
    today = today or datetime.now(timezone.utc).date()
    rng = random.Random(seed)
    now = datetime.combine(today, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=8)
    birth = today.replace(year=today.year - 8) - timedelta(days=92)

    observations = []
    for n in range(n_observations):
        loinc, display, unit, low, high = LABS[n % len(LABS)]
        when = now - timedelta(days=(n // len(LABS)) * 120 / max(1, n_observations // len(LABS)), hours=rng.random())
        observations.append(_observation(f"lab-{n}", loinc, display, rng.uniform(low, high), unit, when))
    # Baseline echo before the first anthracycline dose (SP-16 asks for it).
    observations.append(_observation("echo-1", "10230-1", "Left ventricular Ejection fraction", 64.0, "%",
                                     now - timedelta(days=23), "exam"))
    body = []
    for n in range(10):
        when = now - timedelta(days=1 + 12 * n)
        body.append(_observation(f"wt-{n}", "29463-7", "Body weight", 28.0 + 0.1 * n, "kg", when, "vital-signs"))
        body.append(_observation(f"ht-{n}", "8302-2", "Body height", 130.0 - 0.2 * n, "cm", when, "vital-signs"))

    conditions = [{
        "resourceType": "Condition", "id": "cond-all",
        "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
        "verificationStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
        "code": _cc(SNOMED, "277572006", "Precursor B-cell acute lymphoblastic leukemia (disorder)"),
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "onsetDateTime": (today - timedelta(days=30)).isoformat(),
    }] + [{
        "resourceType": "Condition", "id": f"cond-other-{n}",
        "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
        "code": {"text": text}, "subject": {"reference": f"Patient/{PATIENT_ID}"},
    } for n, text in enumerate(("mucositis", "constipation", "nausea", "central line in situ"))]

    active = [
        _medication_request(f"active-{n}", code, name, 1.0, "mg", "po", {"frequency": 1, "period": 1, "periodUnit": "d"},
                            "active", today - timedelta(days=20))
        for n, (code, name) in enumerate(SUPPORTIVE)
    ]
    administrations = induction_administrations(now, n_administrations)
    drafts = [
        _medication_request(f"draft-{drug}", rxnorm, display, dose, unit, route, repeat, "draft", today)
        for drug, rxnorm, display, dose, unit, route, repeat in DRAFT_ORDERS
    ]
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/bench-doc",
            "patientId": PATIENT_ID,
            "draftOrders": _bundle(drafts, "collection"),
        },
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": birth.isoformat(), "gender": "female"},
            "conditions": _bundle(conditions),
            "bodyMeasurements": _bundle(body),
            "observations": _bundle(observations),
            "medicationRequests": _bundle(active),
            "medicationStatements": _bundle([]),
            "medicationAdministrations": _bundle(administrations),
            "carePlans": _bundle([]),
        },
    }


# -- charts of a given size, for every hook (bench/bench.py) ---------------------------------

SIZES = {"small": 20, "medium": 150, "large": 600, "stress": 2400}
HOOK_SERVICES = {"order-sign": "all-order-sign", "order-select": "all-order-select", "patient-view": "all-patient-view"}
MAINTENANCE = ("mercaptopurine", "methotrexate-po", "vincristine", "dexamethasone")


def _maintenance_administrations(now: datetime, count: int, days: int) -> list[dict[str, Any]]:
    """`count` given doses spread evenly over the last `days` days, every one in the past (the
    newest is yesterday): a child in continuation therapy (6-MP daily, MTX weekly, vincristine
    and dexamethasone pulses), coded like the draft orders."""
    by_drug = {d[0]: d for d in DRAFT_ORDERS}
    extra = {"mercaptopurine": ("mercaptopurine", "103", "mercaptopurine", 50.0, "mg", "po"),
             "methotrexate-po": ("methotrexate", "6851", "methotrexate", 20.0, "mg", "po")}
    out = []
    for n in range(count):
        days_ago = days - (days - 1) * n / max(1, count - 1)  # days ... 1
        drug = MAINTENANCE[n % len(MAINTENANCE)]
        if drug in extra:
            _, rxnorm, display, dose, unit, route = extra[drug]
        else:
            _, rxnorm, display, dose, unit, route, _ = by_drug[drug]
        out.append(_administration(n, rxnorm, display, dose, unit, route, now - timedelta(days=days_ago)))
    return out


def chart_counts(n_resources: int) -> dict[str, int]:
    """How a chart of about `n_resources` resources (drafts included) is made up."""
    small = n_resources < 60
    counts = {"patient": 1, "conditions": 1 if small else 5, "medicationRequests": 2 if small else 10,
              "draftOrders": 2 if small else 5, "bodyPairs": max(1, n_resources // 40),
              "medicationAdministrations": max(2, n_resources // 8), "echo": 1}
    fixed = sum(counts.values()) + counts["bodyPairs"]  # a pair is two Observations
    counts["labs"] = max(len(LABS) if not small else 4, n_resources - fixed)
    return counts


def chart_request(hook: str, n_resources: int, today: date | None = None, *, seed: int = 7,
                  history_days: int = 730, lab_detail: bool = False) -> dict[str, Any]:
    """A CDS Hooks request for `hook` whose prefetch + drafts hold about `n_resources` resources:
    labs spread over `history_days` (two years), weight/height every few weeks (the newest
    yesterday), administrations over the same years and none in the future, 10 supportive-care
    orders, 5 draft orders dosed by the rule (order hooks; order-select selects the first).

    `lab_detail`: every lab also carries what a hospital laboratory's results usually do beyond
    the value (a referenceRange, an interpretation code, the performing laboratory), a bigger
    body that every hook reads past (`with_lab_detail`)."""
    today = today or datetime.now(timezone.utc).date()
    counts = chart_counts(n_resources)
    rng = random.Random(seed)
    now = datetime.combine(today, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=8)
    birth = today.replace(year=today.year - 8) - timedelta(days=92)
    n_labs = counts["labs"]
    observations = []
    for n in range(n_labs):
        loinc, display, unit, low, high = LABS[n % len(LABS)]
        when = now - timedelta(days=history_days * (n // len(LABS)) / max(1, n_labs // len(LABS)), hours=rng.random() * 6)
        observations.append(_observation(f"lab-{n}", loinc, display, rng.uniform(low, high), unit, when))
        if lab_detail:
            with_lab_detail(observations[-1], low, high, unit)
    observations.append(_observation("echo-1", "10230-1", "Left ventricular Ejection fraction", 64.0, "%",
                                     now - timedelta(days=min(history_days, 400)), "exam"))
    body = []
    pairs = counts["bodyPairs"]
    for n in range(pairs):
        when = now - timedelta(days=1 + (history_days - 1) * n / max(1, pairs))
        body.append(_observation(f"wt-{n}", "29463-7", "Body weight", 28.0 - 0.01 * n, "kg", when, "vital-signs"))
        body.append(_observation(f"ht-{n}", "8302-2", "Body height", 130.0 - 0.05 * n, "cm", when, "vital-signs"))
    conditions = order_sign_request(today, n_observations=0, n_administrations=0)["prefetch"]["conditions"]["entry"]
    conditions = [e["resource"] for e in conditions][: counts["conditions"]]
    conditions[0]["onsetDateTime"] = (today - timedelta(days=history_days + 30)).isoformat()
    active = [
        _medication_request(f"active-{n}", code, name, 1.0, "mg", "po", {"frequency": 1, "period": 1, "periodUnit": "d"},
                            "active", today - timedelta(days=20))
        for n, (code, name) in enumerate(SUPPORTIVE[: counts["medicationRequests"]])
    ]
    drafts = [
        _medication_request(f"draft-{drug}", rxnorm, display, dose, unit, route, repeat, "draft", today)
        for drug, rxnorm, display, dose, unit, route, repeat in DRAFT_ORDERS[: counts["draftOrders"]]
    ]
    prefetch: dict[str, Any] = {
        "patient": {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": birth.isoformat(), "gender": "female"},
        "conditions": _bundle(conditions),
        "bodyMeasurements": _bundle(body),
        "observations": _bundle(observations),
        "medicationRequests": _bundle(active),
        "medicationAdministrations": _bundle(_maintenance_administrations(now, counts["medicationAdministrations"], history_days)),
        "carePlans": _bundle([]),
    }
    context: dict[str, Any] = {"userId": "Practitioner/bench-doc", "patientId": PATIENT_ID}
    if hook in ("order-sign", "order-select"):
        prefetch["medicationStatements"] = _bundle([])
        context["draftOrders"] = _bundle(drafts, "collection")
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{drafts[0]['id']}"]
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}


INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def with_lab_detail(obs: dict[str, Any], low: float, high: float, unit: str) -> None:
    """A referenceRange (the same for every result of a lab, as a laboratory sends it), an
    interpretation (L, N or H against that range) and the performing laboratory."""
    span = high - low
    ref_low, ref_high = round(low + 0.15 * span, 2), round(high - 0.15 * span, 2)
    value = obs["valueQuantity"]["value"]
    flag = ("L", "Low") if value < ref_low else ("H", "High") if value > ref_high else ("N", "Normal")
    obs["referenceRange"] = [{"low": _qty(ref_low, unit), "high": _qty(ref_high, unit), "text": f"{ref_low:g}-{ref_high:g} {unit}"}]
    obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag[0], "display": flag[1]}]}]
    obs["performer"] = [{"reference": "Organization/bench-lab", "display": "Hospital laboratory"}]


def resource_count(request: dict[str, Any]) -> int:
    """Resources in a request: every prefetch resource (Bundle entries) plus the draft orders."""
    total = 0
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict):
            total += len(value.get("entry") or []) if value.get("resourceType") == "Bundle" else 1
    return total + len(((request.get("context") or {}).get("draftOrders") or {}).get("entry") or [])
