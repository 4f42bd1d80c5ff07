"""Service descriptors and prefetch keys as data (HAPI's CdsServicePrefetch, in Python)."""

from __future__ import annotations

from dataclasses import dataclass

from ..fetch.hook import PrefetchKey


# Spec-restricted query syntax only: read, type search with patient reference, token equality
# (comma = OR), _sort, _count, _include. No FHIRPath tokens (3.0 ballot only).
PATIENT = PrefetchKey("patient", "Patient/{{context.patientId}}", "412", "the patient (birth date, sex)")
CONDITIONS = PrefetchKey(
    "conditions", "Condition?patient={{context.patientId}}&_count=200", description="diagnoses and findings"
)
BODY_MEASUREMENTS = PrefetchKey(
    "bodyMeasurements",
    "Observation?patient={{context.patientId}}&code=http://loinc.org|29463-7,http://loinc.org|8302-2&_sort=-date&_count=50",
    description="body weight and height",
)
OBSERVATIONS = PrefetchKey(
    "observations",
    "Observation?patient={{context.patientId}}&category=laboratory,social-history,exam&_sort=-date&_count=500",
    description="labs (CBC, chemistry, CSF, MRD, genetics), pregnancy status, LVEF",
)
MEDICATION_REQUESTS = PrefetchKey(
    "medicationRequests",
    "MedicationRequest?patient={{context.patientId}}&status=active,on-hold&_include=MedicationRequest:medication",
    description="active medication orders and their Medications",
)
MEDICATION_STATEMENTS = PrefetchKey(
    "medicationStatements",
    "MedicationStatement?patient={{context.patientId}}&status=active",
    description="medications the patient reports taking",
)
MEDICATION_ADMINISTRATIONS = PrefetchKey(
    "medicationAdministrations",
    "MedicationAdministration?patient={{context.patientId}}&_sort=-effective-time&_count=500&_include=MedicationAdministration:medication",
    description="past administrations (cumulative doses, minimum intervals)",
)
CARE_PLANS = PrefetchKey(
    "carePlans",
    "CarePlan?patient={{context.patientId}}&status=active",
    description="treatment plan and phase",
)

ORDER_PREFETCH = (
    PATIENT,
    CONDITIONS,
    BODY_MEASUREMENTS,
    OBSERVATIONS,
    MEDICATION_REQUESTS,
    MEDICATION_STATEMENTS,
    MEDICATION_ADMINISTRATIONS,
    CARE_PLANS,
)


@dataclass(frozen=True)
class ServiceDescriptor:
    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str
    prefetch: tuple[PrefetchKey, ...]
    families: tuple[str, ...]
    needs_draft_orders: bool

    def discovery_entry(self) -> dict:
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "usageRequirements": self.usage_requirements,
            "prefetch": {p.key: p.template for p in self.prefetch},
        }

    def prefetch_key(self, key: str) -> PrefetchKey | None:
        return next((p for p in self.prefetch if p.key == key), None)
