"""Default override reasons per card topic (2.0 `card.overrideReasons`; each Coding has a display).

The 2.0 spec prescribes no vocabulary; we use our own system and keep the codes stable because
feedback reports group by them.
"""

from __future__ import annotations

from ..rules.finding import Coding

OVERRIDE_SYSTEM = "urn:all-cds:override-reason"


def _c(code: str, display: str) -> Coding:
    return Coding(OVERRIDE_SYSTEM, code, display)


PROTOCOL_DOSE = _c("protocol-specified-dose", "Protocol-specified dose")
CAPPED = _c("dose-capped-per-protocol", "Dose capped per protocol")
PATIENT_SPECIFIC = _c("patient-specific-adjustment", "Patient-specific adjustment")
BENEFIT = _c("benefit-outweighs-risk", "Benefit outweighs risk; will monitor")
NOT_APPLICABLE = _c("not-applicable", "Does not apply to this patient")
DATA_WRONG = _c("patient-data-incorrect", "Patient data in the record is incorrect")
OTHER = _c("other", "Other (see comment)")

DEFAULTS: dict[str, tuple[Coding, ...]] = {
    "dose": (PROTOCOL_DOSE, PATIENT_SPECIFIC, DATA_WRONG, OTHER),
    "dose-limit": (CAPPED, PROTOCOL_DOSE, OTHER),
    "cumulative-dose": (PROTOCOL_DOSE, BENEFIT, DATA_WRONG, OTHER),
    "route": (PROTOCOL_DOSE, DATA_WRONG, OTHER),
    "schedule": (PROTOCOL_DOSE, PATIENT_SPECIFIC, OTHER),
    "interaction": (BENEFIT, NOT_APPLICABLE, OTHER),
    "population": (BENEFIT, NOT_APPLICABLE, DATA_WRONG, OTHER),
    "pharmacogenomics": (PATIENT_SPECIFIC, BENEFIT, OTHER),
    "regimen": (PROTOCOL_DOSE, NOT_APPLICABLE, OTHER),
    "monitoring": (NOT_APPLICABLE, OTHER),
    "missing-data": (DATA_WRONG, NOT_APPLICABLE, OTHER),
    "risk-group": (DATA_WRONG, OTHER),
}
