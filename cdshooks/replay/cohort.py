"""A deterministic synthetic ALL cohort for replay (tests at 10-40 patients; the 1,000-patient
measurement: ``cdshooks cohort OUT --patients 1000 --seed 1``).

Each patient gets a diagnosis, body measurements and labs before every course, CarePlans for
induction / consolidation / maintenance, and a COG-style schedule of orders: intrathecal
methotrexate, vincristine weekly, a steroid, pegaspargase, daunorubicin for NCI high risk and
adults, mercaptopurine and cytarabine in consolidation, and two maintenance cycles. A small,
seeded share of orders carries a known fault (vincristine cap forgotten, oral methotrexate daily,
vincristine intrathecal, daunorubicin 20% high); `CohortManifest.faults` counts them so a test can
check that the replay finds exactly those. Everything else is meant to be a correct order.

Drug codes come from the packaged knowledge (the RxNorm ingredient it lists), so the cohort never
ships a code the service does not know. Same seed, same files, byte for byte.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from ..knowledge import Knowledge, default_knowledge

START = date(2026, 1, 5)
LOINC, SCT, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ROUTES = {"iv": ("47625008", "Intravenous route"), "po": ("26643006", "Oral route"), "it": ("72607000", "Intrathecal route")}
DIAGNOSES = {"b-all": ("277572006", "Precursor B-cell acute lymphoblastic leukemia"), "t-all": ("277575008", "T-cell acute lymphoblastic leukemia")}
LABS = {  # LOINC, display, UCUM unit, upper reference limit (the hepatic/renal rules need the ULN)
    "wbc": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "/uL", 11000.0),
    "bilirubin": ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 1.2),
    "creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", None),
    "alt": ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 40.0),
    "anc": ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "/uL", None),
    "uric_acid": ("3084-1", "Urate [Mass/volume] in Serum or Plasma", "mg/dL", 7.0),
    "potassium": ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 5.1),
    "phosphate": ("2777-1", "Phosphate [Mass/volume] in Serum or Plasma", "mg/dL", 5.5),
    "calcium": ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 10.5),
    "lvef": ("8806-2", "Left ventricular Ejection fraction by 2D echo", "%", None),
}
VITALS = {"weight": ("29463-7", "Body weight", "kg", None), "height": ("8302-2", "Body height", "cm", None)}
TPMT_NORMAL = ("LA25391-6", "Normal metabolizer")
# fault -> per-order probability (times the `fault_scale` argument)
FAULT_RATES = {"vincristine-uncapped": 0.15, "methotrexate-daily": 0.03, "vincristine-intrathecal": 0.003, "daunorubicin-high": 0.05}


@dataclass
class CohortManifest:
    patients: int = 0
    orders: int = 0
    faults: Counter = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {"patients": self.patients, "orders": self.orders, "faults": dict(sorted(self.faults.items()))}


def _cc(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


class _Patient:
    """Builds one patient's resources; `rng` is the only source of variation."""

    def __init__(self, n: int, rng: random.Random, kb: Knowledge, fault_scale: float, manifest: CohortManifest) -> None:
        self.pid = f"cohort-{n:05d}"
        self.rng, self.fault_scale, self.manifest = rng, fault_scale, manifest
        self.codes = {d["id"]: d["rxnorm_ingredients"][0]["code"] for d in kb.table("drugs")["drugs"] if d.get("rxnorm_ingredients")}
        self.resources: list[dict[str, Any]] = []
        self.serial = 0
        adult = rng.random() < 0.25
        self.age = rng.randint(18, 60) if adult else rng.randint(1, 17)
        self.dx = START + timedelta(days=rng.randint(0, 180))
        self.height = round(rng.uniform(158, 188) if adult else min(175.0, 76 + 6.2 * self.age + rng.uniform(-6, 6)), 1)
        self.weight = round((rng.uniform(20, 30) if adult else rng.uniform(14.5, 19)) * (self.height / 100) ** 2, 1)
        self.bsa = math.sqrt(self.height * self.weight / 3600)
        self.wbc = round(math.exp(rng.gauss(math.log(12000), 1.1)))
        self.high_risk = adult or self.age >= 10 or self.wbc >= 50000
        birth = self.dx.replace(year=self.dx.year - self.age) - timedelta(days=rng.randint(1, 360))
        self.subject = {"reference": f"Patient/{self.pid}"}
        self.add({"resourceType": "Patient", "id": self.pid, "gender": rng.choice(["female", "male"]), "birthDate": birth.isoformat(),
                  "name": [{"family": "Cohort", "given": [f"P{n}"]}]})

    def rid(self, kind: str) -> str:
        self.serial += 1
        return f"{self.pid}-{kind}{self.serial}"

    def add(self, resource: dict[str, Any]) -> None:
        self.resources.append(resource)

    def fault(self, name: str) -> bool:
        hit = self.rng.random() < FAULT_RATES[name] * self.fault_scale
        if hit:
            self.manifest.faults[name] += 1
        return hit

    def observation(self, code: tuple[str, str, str, float | None], value: float, when: str, category: str) -> None:
        obs: dict[str, Any] = {"resourceType": "Observation", "id": self.rid("obs"), "status": "final",
                               "category": [{"coding": [{"system": CATEGORY, "code": category}]}], "code": _cc(LOINC, code[0], code[1]),
                               "subject": self.subject, "effectiveDateTime": when, "valueQuantity": _qty(value, code[2])}
        if code[3] is not None:
            obs["referenceRange"] = [{"high": _qty(code[3], code[2])}]
        self.add(obs)

    def tpmt_normal(self, when: str) -> None:
        self.add({"resourceType": "Observation", "id": self.rid("pgx"), "status": "final",
                  "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}], "code": _cc(LOINC, "84413-4", "Genotype display name"),
                  "subject": self.subject, "effectiveDateTime": when, "valueCodeableConcept": _cc(LOINC, *TPMT_NORMAL),
                  "component": [{"code": _cc(LOINC, "48018-6", "Gene studied [ID]"),
                                 "valueCodeableConcept": _cc("http://www.genenames.org", "HGNC:12014", "TPMT")}]})

    def workup(self, day: date) -> None:
        """Weight, height and the labs the checks read, the morning of each course."""
        when = _at(day, 7)
        self.observation(VITALS["weight"], self.weight, when, "vital-signs")
        self.observation(VITALS["height"], self.height, when, "vital-signs")
        values = {"bilirubin": 0.5, "creatinine": 0.4 if self.age < 12 else 0.8, "alt": 25.0, "anc": 1500.0,
                  "uric_acid": 4.0, "potassium": 4.0, "phosphate": 4.0, "calcium": 9.4}
        for key, value in values.items():
            self.observation(LABS[key], value, when, "laboratory")

    def plan(self, phase: str, start: date) -> None:
        self.add({"resourceType": "CarePlan", "id": self.rid("plan"), "status": "active", "intent": "plan", "title": f"ALL {phase}",
                  "description": f"Acute lymphoblastic leukemia treatment: {phase.lower()} phase", "subject": self.subject,
                  "period": {"start": start.isoformat()}})

    def order(self, drug: str, dose: float, unit: str, route: str, day: date, minute: int, timing: dict[str, Any]) -> None:
        self.manifest.orders += 1
        self.add({
            "resourceType": "MedicationRequest", "id": self.rid("mr"), "status": "completed", "intent": "order",
            "medicationCodeableConcept": _cc(RXNORM, self.codes[drug], drug), "subject": self.subject,
            "authoredOn": _at(day, 9, minute), "requester": {"reference": "Practitioner/cohort-oncologist"},
            "dosageInstruction": [{"text": f"{dose:g} {unit} {route}", "timing": {"repeat": timing},
                                   "route": _cc(SCT, *ROUTES[route]), "doseAndRate": [{"doseQuantity": _qty(dose, unit)}]}],
        })
        if route != "po":
            self.add({"resourceType": "MedicationAdministration", "id": self.rid("adm"), "status": "completed",
                      "medicationCodeableConcept": _cc(RXNORM, self.codes[drug], drug), "subject": self.subject,
                      "effectiveDateTime": _at(day, 11, minute), "dosage": {"route": _cc(SCT, *ROUTES[route]), "dose": _qty(dose, unit)}})

    def vincristine(self, day: date, minute: int) -> None:
        dose = 0.05 * self.weight if self.weight <= 10 else (1.4 if self.age >= 18 else 1.5) * self.bsa
        if dose <= 2.0 or not self.fault("vincristine-uncapped"):
            dose = min(dose, 2.0)
        route = "it" if self.fault("vincristine-intrathecal") else "iv"
        self.order("vincristine", round(dose, 2), "mg", route, day, minute, {"count": 1})

    def intrathecal_mtx(self, day: date) -> None:
        dose = 8 if self.age < 2 else 10 if self.age < 3 else 12 if self.age < 9 else 15
        self.order("methotrexate", dose, "mg", "it", day, 0, {"count": 1})

    def build(self) -> list[dict[str, Any]]:
        dx, rng = self.dx, self.rng
        diagnosis = "t-all" if rng.random() < 0.12 else "b-all"
        self.add({"resourceType": "Condition", "id": self.rid("cond"), "subject": self.subject,
                  "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
                  "verificationStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
                  "code": _cc(SCT, *DIAGNOSES[diagnosis]), "onsetDateTime": dx.isoformat(), "recordedDate": dx.isoformat()})
        self.observation(LABS["wbc"], self.wbc, _at(dx, 6), "laboratory")
        if self.high_risk:  # echocardiogram before the first anthracycline ("exam": the category the prefetch asks for)
            self.observation(LABS["lvef"], round(rng.uniform(55, 70)), _at(dx, 8), "exam")
        if rng.random() < 0.9:  # TPMT genotyped at diagnosis for most patients
            self.tpmt_normal(_at(dx, 8))
        self.plan("Induction", dx + timedelta(days=1))
        for week in range(4):
            day = dx + timedelta(days=1 + 7 * week)
            self.workup(day)
            if week in (0, 1):
                self.intrathecal_mtx(day)
            self.vincristine(day, 5)
            if self.high_risk:
                small = self.age < 2 or self.bsa < 0.5  # label: 1 mg/kg under 2 years or below 0.5 m2
                dose = (self.weight if small else (45 if self.age >= 18 else 25) * self.bsa) * (1.2 if self.fault("daunorubicin-high") else 1.0)
                self.order("daunorubicin", round(dose, 1), "mg", "iv", day, 10, {"count": 1})
            if week == 0:
                steroid = ("prednisone", 60) if self.age >= 18 else ("dexamethasone", 6)
                self.order(steroid[0], round(steroid[1] * self.bsa, 1), "mg", "po", day, 15,
                           {"frequency": 1, "period": 1, "periodUnit": "d", "boundsDuration": {"value": 28, "unit": "d", "system": UCUM, "code": "d"}})
        peg_day = dx + timedelta(days=4)
        self.order("pegaspargase", round((2000 if self.age > 21 else 2500) * self.bsa), "[iU]", "iv", peg_day, 20, {"count": 1})
        consolidation = dx + timedelta(days=29)
        self.plan("Consolidation", consolidation)
        self.workup(consolidation)
        self.intrathecal_mtx(consolidation)
        self.order("cytarabine", round(75 * self.bsa), "mg", "iv", consolidation, 10, {"frequency": 1, "period": 1, "periodUnit": "d", "count": 4})
        self.order("mercaptopurine", round(2.0 * self.weight), "mg", "po", consolidation, 15,
                   {"frequency": 1, "period": 1, "periodUnit": "d", "boundsDuration": {"value": 28, "unit": "d", "system": UCUM, "code": "d"}})
        maintenance = dx + timedelta(days=85)
        self.plan("Maintenance", maintenance)
        for cycle in range(2):
            day = maintenance + timedelta(days=28 * cycle)
            self.workup(day)
            self.vincristine(day, 5)
            self.order("mercaptopurine", round(2.0 * self.weight), "mg", "po", day, 15,
                       {"frequency": 1, "period": 1, "periodUnit": "d", "boundsDuration": {"value": 28, "unit": "d", "system": UCUM, "code": "d"}})
            weekly = {"frequency": 1, "period": 1, "periodUnit": "wk"}
            timing = {"frequency": 1, "period": 1, "periodUnit": "d"} if self.fault("methotrexate-daily") else weekly
            self.order("methotrexate", round(20 * self.bsa, 1), "mg", "po", day, 20, timing)
        return self.resources


def generate_cohort(out: str | Path, patients: int, seed: int = 1, fmt: str = "bundles", fault_scale: float = 1.0,
                    kb: Knowledge | None = None) -> CohortManifest:
    """Write `patients` records to `out` (a new or empty directory) as Bundles or NDJSON."""
    kb = kb or default_knowledge()
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    manifest = CohortManifest()
    by_type: dict[str, list[str]] = {}
    for n in range(1, patients + 1):
        resources = _Patient(n, random.Random(f"{seed}:{n}"), kb, fault_scale, manifest).build()
        manifest.patients += 1
        if fmt == "bundles":
            bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]}
            (target / f"patient-{n:05d}.json").write_text(json.dumps(bundle, separators=(",", ":")) + "\n", encoding="utf-8")
        else:
            for r in resources:
                by_type.setdefault(r["resourceType"], []).append(json.dumps(r, separators=(",", ":")))
    for rtype, lines in sorted(by_type.items()):
        (target / f"{rtype}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest
