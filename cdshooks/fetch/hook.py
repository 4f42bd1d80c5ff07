"""The two pieces of data the fetch layer and the services share: what the EHR asked
(`HookRequest`, built by protocol.envelope from the parsed body) and what a service wants
prefetched (`PrefetchKey`, declared by services.descriptor). Defined here, below both, so the
arrows run one way: protocol -> services -> fetch -> context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class PrefetchKey:
    """One prefetch template and what to do when its data cannot be had.

    failure:
      "412"          the service cannot work without it: answer 412 Precondition Failed
      "missing-data" run anyway; checks that need it say so in a `missing-data` card
    """

    key: str
    template: str
    failure: str = "missing-data"
    description: str = ""


@dataclass(frozen=True)
class HookRequest:
    """The parts of the envelope the pipeline uses, read once."""

    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any] | None
    fhir_server: str | None
    access_token: str | None  # never logged, never stored
    patient_id: str
    user_id: str

    @property
    def selections(self) -> tuple[str, ...] | None:
        sel = self.context.get("selections")
        return tuple(sel) if isinstance(sel, list) else None

    @property
    def draft_orders(self) -> Mapping[str, Any] | None:
        orders = self.context.get("draftOrders")
        return orders if isinstance(orders, dict) else None
