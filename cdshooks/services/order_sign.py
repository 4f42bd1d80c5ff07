"""all-order-sign: full checks on every draft order before signing."""

from dataclasses import replace

from .order_select import SERVICE as _SELECT

SERVICE = replace(
    _SELECT,
    id="all-order-sign",
    hook="order-sign",
    title="ALL chemotherapy order checks (before signing)",
    description=(
        "Full pre-signing checks on every draft medication order for a patient with acute lymphoblastic "
        "leukemia: dose, per-dose caps, route, schedule, cumulative anthracycline dose, interactions, "
        "special populations, pharmacogenomics, regimen fit for risk group and phase, and monitoring."
    ),
)
