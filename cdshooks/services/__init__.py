"""The three CDS services of the contract, declared as data (`ServiceDescriptor`).

A descriptor says which hook fires it, which prefetch keys it wants (each with its failure policy)
and which rule families run. `discovery()` renders exactly these descriptors, so the discovery
document cannot drift from what the service does.
"""

from __future__ import annotations

from .descriptor import PrefetchKey, ServiceDescriptor  # noqa: F401
from .order_select import SERVICE as ORDER_SELECT
from .order_sign import SERVICE as ORDER_SIGN
from .patient_view import SERVICE as PATIENT_VIEW

SERVICES: dict[str, ServiceDescriptor] = {s.id: s for s in (ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW)}


def discovery() -> dict:
    return {"services": [s.discovery_entry() for s in SERVICES.values()]}
