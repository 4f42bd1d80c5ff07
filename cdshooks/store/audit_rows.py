"""The audit rows of one CDS call, built as the driver's tuples (`Store.record_cards`).

Why tuples and not dicts: the prepared insert (prepared.py) binds positionally in AUDIT_COLUMNS
order on every backend, so a row built in that order goes to the driver as it is; dicts were
built per row on the request thread and re-packed into tuples on the writer's. The values every
row of a call shares are computed once: `recorded_at` through its bind processor, the patient
hash (remembered per patient, below). tests/trust/test_audit_rows.py holds the tuples to a
verbatim copy of the old mapping rows turned into driver parameters by the general path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from .audit_key import patient_hash
from .identity import Caller
from .prepared import PreparedInsert

PATIENT_HASHES_KEPT = 512  # patient ids whose audit hash is remembered (all forgotten when full)


class AuditRows:
    """`build(...)`: the call's rows, silenced findings first, then one per card."""

    def __init__(self, insert: PreparedInsert, key: Callable[[], bytes]) -> None:
        self._insert = insert
        self._key = key  # the audit key, read or created on first use (Store._key)
        self._hashes: dict[str, str] = {}

    def patient_hash(self, patient_id: str) -> str:
        """`patient_hash` under the audit key, remembered for the last few hundred patients: an EHR
        calls several hooks per patient (and re-sends a chart), and the HMAC cost ~0.04 ms of a
        call in a busy worker. A pure function of (key, id): a hit is the value it would compute."""
        hashed = self._hashes.get(patient_id)
        if hashed is None:
            if len(self._hashes) >= PATIENT_HASHES_KEPT:
                self._hashes.clear()
            hashed = self._hashes[patient_id] = patient_hash(self._key(), patient_id)
        return hashed

    def build(self, hook_instance: str, service_id: str, cards: list[dict], caller: Caller, patient_id: str | None,
              knowledge_version: str, policy_version: str | None, silenced: list[tuple[str, str, str]],
              now: datetime) -> list[tuple[Any, ...]]:
        """The driver's rows in AUDIT_COLUMNS order (Store checks the insert binds that order)."""
        hashed = self.patient_hash(patient_id) if patient_id else None
        at = self._insert.process("recorded_at", now)
        iss, tenant = caller.iss, caller.tenant
        rows = [(hook_instance, service_id, None, r, i, t, knowledge_version, iss, tenant, hashed, at, policy_version, "silent")
                for r, t, i in silenced]
        for card in cards:
            ext = dig(card, "extension", "all-cds")
            rows.append((
                hook_instance, service_id, str_or_none(card.get("uuid")), str_or_none(ext.get("ruleId")),
                str_or_none(card.get("indicator")), str_or_none(dig(card, "source", "topic").get("code")),
                knowledge_version, iss, tenant, hashed, at, policy_version,
                "lowered" if "shippedIndicator" in dig(ext, "inputs") else None,
            ))
        return rows


def dig(obj: Any, *keys: str) -> Mapping[str, Any]:
    for key in keys:
        obj = obj.get(key) if type(obj) is dict or isinstance(obj, Mapping) else None  # dict first: typing's check is slow
    return obj if type(obj) is dict or isinstance(obj, Mapping) else {}


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
