"""FHIR -> PatientContext. The only place that reads FHIR resources for the rules.

`model.py` holds the immutable dataclasses the rules read; `builder.py` builds them from the
resolved prefetch; `units.py` converts UCUM quantities; `medications.py` identifies drugs.
"""

from .model import (  # noqa: F401
    Administration,
    Age,
    Bsa,
    ClinicalFact,
    DataGap,
    Dose,
    LabResult,
    Measurement,
    MedicationOrder,
    PatientContext,
    Quantity,
    Route,
    Timing,
    TreatmentPlan,
)
