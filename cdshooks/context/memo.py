"""Bounded, content-keyed memos: FHIR validation results (what `fhir.validate` returns) and the
readings of whole resources shared between requests (`SharedReadings`, below).

Why: a fhir.resources validation costs 0.1-0.3 ms per resource, ~20 resources a call, and an
EHR sends the same Patient, Conditions and active orders again on every hook call for that
patient (order-select on each selection, then order-sign). The result depends only on the
resource's content, so it is keyed by a digest of the canonical JSON (sorted keys): a changed
resource is a new key, never a stale answer. What is kept is a 16-byte digest (`digest`) and the problem
strings (which carry no values), at most MAX_ENTRIES per process, least recently used first out.
Anything that cannot be serialized canonically (a non-JSON value from a caller) is validated
without the memo.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, Mapping
from weakref import WeakKeyDictionary

import orjson

MAX_ENTRIES = 4096


def digest(data: bytes, tag: bytes = b"") -> bytes:
    """16 bytes of SHA-256 of `tag` (ended by a NUL) and `data`: a key for bytes we do not keep.
    SHA-256 (OpenSSL, hardware-assisted where the CPU has it) is ~3x faster than hashlib's
    BLAKE2b here; every resource a call validates or shares is digested, a few kB each."""
    h = hashlib.sha256(tag + b"\0") if tag else hashlib.sha256()
    h.update(data)
    return h.digest()[:16]


class ValidationMemo:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, resource: Mapping[str, Any], compute: Callable[[Mapping[str, Any]], list[str]]) -> tuple[str, ...]:
        try:
            key = digest(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS))
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


class SharedReadings:
    """Bounded readings of whole resources shared between requests, keyed by a digest of the
    resource's JSON bytes (and a tag), one table per pair of knowledge views the reading used.

    Why: an EHR re-sends a patient's active orders and draft orders on every hook call (each
    order-select, then order-sign), and reading one order (identification, product, dose, route,
    timing, validation) costs ~30 us, against ~3 us for its digest. The reading depends only on
    the resource's content and the knowledge views, so equal bytes share an answer and a changed
    resource is a new key, never a stale one. Bytes holding a null are never keyed (orjson
    writes NaN and Infinity as null, which a reader tells apart); anything that is not plain JSON
    is read without the table. What is kept: 16-byte digests and the immutable readings (no
    request object: the caller puts its resource back, `MedicationOrder.resource`). At most
    `max_entries` per table; a full table is emptied (a plain dict: no lock, a race only reads
    an order twice).
    """

    def __init__(self, max_entries: int = 2048) -> None:
        self.max_entries = max_entries
        self._tables: "WeakKeyDictionary[Any, WeakKeyDictionary[Any, dict[bytes, Any]]]" = WeakKeyDictionary()

    def table(self, first: Any, second: Any) -> dict[bytes, Any]:
        """The table of readings made with these two (weakly referenced) knowledge views."""
        inner = self._tables.get(first)
        if inner is None:
            inner = self._tables[first] = WeakKeyDictionary()
        found = inner.get(second)
        if found is None:
            found = inner[second] = {}
        return found

    @staticmethod
    def key(resource: Any, tag: bytes) -> bytes | None:
        """The digest of `resource`'s JSON bytes under `tag`, or None when it cannot be keyed."""
        try:
            data = orjson.dumps(resource)
        except TypeError:
            return None
        if b"null" in data:
            return None
        return digest(data, tag)

    def put(self, table: dict[bytes, Any], key: bytes, value: Any) -> None:
        if len(table) >= self.max_entries:
            table.clear()
        table[key] = value

    def clear(self) -> None:
        self._tables = WeakKeyDictionary()


order_readings = SharedReadings()  # whole orders (medications.read_order)
given_readings = SharedReadings()  # what an administration gives (administrations.ReadMemo.given_as_sent)
