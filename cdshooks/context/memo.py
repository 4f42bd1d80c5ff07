"""Bounded, content-keyed memo of FHIR validation results (what `fhir.validate` returns).

Why: a fhir.resources validation costs 0.1-0.3 ms per resource, ~20 resources a call, and an
EHR sends the same Patient, Conditions and active orders again on every hook call for that
patient (order-select on each selection, then order-sign). The result depends only on the
resource's content, so it is keyed by a digest of the canonical JSON (sorted keys): a changed
resource is a new key, never a stale answer. What is kept is a 16-byte digest and the problem
strings (which carry no values), at most MAX_ENTRIES per process, least recently used first out.
Anything that cannot be serialized canonically (a non-JSON value from a caller) is validated
without the memo.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, Mapping

import orjson

MAX_ENTRIES = 4096


class ValidationMemo:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, resource: Mapping[str, Any], compute: Callable[[Mapping[str, Any]], list[str]]) -> tuple[str, ...]:
        try:
            key = hashlib.blake2b(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
        except TypeError:  # not plain JSON (e.g. a Decimal from a caller): no memo
            return tuple(compute(resource))
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
        result = tuple(compute(resource))
        with self._lock:
            self.misses += 1
            self._entries[key] = result
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return result

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


validation_memo = ValidationMemo()
