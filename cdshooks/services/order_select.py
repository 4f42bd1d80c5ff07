"""all-order-select: checks on the orders the clinician just selected; other drafts give context."""

from .descriptor import ORDER_PREFETCH, ServiceDescriptor

SERVICE = ServiceDescriptor(
    id="all-order-select",
    hook="order-select",
    title="ALL chemotherapy order checks (on select)",
    description=(
        "Checks each selected draft medication order for a patient with acute lymphoblastic leukemia: "
        "dose against the rule for this patient's age, weight and BSA, per-dose caps, route, schedule, "
        "cumulative anthracycline dose, drug interactions with other drafts and active medications, "
        "special populations and pharmacogenomics. Other draft orders are used as context only."
    ),
    usage_requirements=(
        "R4 MedicationRequest draft orders with RxNorm codes and UCUM dose units. Needs body weight and "
        "height Observations (LOINC 29463-7, 8302-2) within 30 days for BSA- and weight-based doses; "
        "labs (bilirubin, creatinine, WBC, TPMT/NUDT15) for organ-function and pharmacogenomic checks. "
        "Prefetch, or fhirServer + fhirAuthorization for a server this service is configured to trust."
    ),
    prefetch=ORDER_PREFETCH,
    families=(
        "missing-data",
        "dose",
        "route",
        "schedule",
        "cumulative-dose",
        "interaction",
        "population",
        "pharmacogenomics",
        "regimen",
        "monitoring",
    ),
    needs_draft_orders=True,
)
