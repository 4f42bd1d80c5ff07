"""all-patient-view: risk group, regimen fit and monitoring for a patient with ALL."""

from .descriptor import (
    BODY_MEASUREMENTS,
    CARE_PLANS,
    CONDITIONS,
    MEDICATION_ADMINISTRATIONS,
    MEDICATION_REQUESTS,
    OBSERVATIONS,
    PATIENT,
    ServiceDescriptor,
)

SERVICE = ServiceDescriptor(
    id="all-patient-view",
    hook="patient-view",
    title="ALL risk group, regimen fit and monitoring",
    description=(
        "For a patient with acute lymphoblastic leukemia: NCI/COG/BFM/adult risk group with every input "
        "and what is missing, regimen fit (Ph status, lineage, phase) and monitoring reminders "
        "(tumor lysis, CRS, hepatic VOD, LVEF, leucovorin rescue, asparaginase stop criteria). "
        "Silent for patients without an ALL diagnosis."
    ),
    usage_requirements=(
        "An ALL Condition (SNOMED CT or ICD-10-CM C91.0x/C91.Ax) with onset date; WBC at diagnosis, MRD, "
        "CSF and cytogenetic Observations for the full risk group; CarePlan for the treatment phase."
    ),
    prefetch=(
        PATIENT,
        CONDITIONS,
        BODY_MEASUREMENTS,
        OBSERVATIONS,
        MEDICATION_REQUESTS,
        MEDICATION_ADMINISTRATIONS,
        CARE_PLANS,
    ),
    families=("risk-group", "regimen", "monitoring"),
    needs_draft_orders=False,
)
