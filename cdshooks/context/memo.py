"""Bounded, content-keyed memos: FHIR validation results (what `fhir.validate` returns), the
readings of whole resources shared between requests (`SharedReadings`, below) and the readings of
a whole chart's list of resources (`ChartReadings`).

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
from typing import Any, Callable, Mapping, Sequence, TypeVar
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


T = TypeVar("T")


class ChartReadings:
    """Readings of whole lists of resources (a chart's Observations) shared between requests,
    keyed by a digest of the lists' JSON bytes and a tag (what else the reading depends on, e.g.
    the order date), one table per knowledge view the reading used (`table`).

    Why: an EHR re-sends a patient's whole chart on every hook call (each order-select, then
    order-sign), and reading two years of labs costs ~2.5 us per Observation, ~1.5 ms a call,
    against ~0.55 ms for writing the lists' JSON bytes and digesting them. But a digest costs a
    new patient that too, for nothing; so a chart is digested only from the second time it is
    seen: its first sighting is remembered by a `hint` (a digest of the lists' lengths and their
    first and last resources, a few microseconds), and only a chart whose hint is known is
    digested. A new patient pays the hint; a chart's second call pays the digest too; every
    later call with the same content gets the reading made before.

    A hint only decides whether to digest, never what is answered: a reading is handed out only
    for equal content digests (and tag), so a changed chart is a new key, never a stale answer.
    As `SharedReadings`: bytes holding a null are never keyed (orjson writes NaN and Infinity as
    null), and what is not plain JSON (a subclass of dict or str, a Decimal, an integer beyond 64
    bits) is read without the table. Callers hand in lists as parsed JSON gives them (a Python
    tuple would be written as an array). What is kept: digests and the immutable readings.
    Bounded per table, oldest first out: at most `max_entries` readings of at most `max_resources`
    resources in all (a reading's size grows with its chart's: ~0.2 kB per lab kept), and
    `max_hints` hints.
    """

    def __init__(self, max_entries: int = 64, max_hints: int = 4096, max_resources: int = 40_000) -> None:
        self.max_entries, self.max_hints, self.max_resources = max_entries, max_hints, max_resources
        self._tables: "WeakKeyDictionary[Any, WeakKeyDictionary[Any, ChartTable]]" = WeakKeyDictionary()
        self._lock = threading.Lock()

    def table(self, view: Any, other: Any = None) -> "ChartTable":
        """The table of readings made with this (weakly referenced) knowledge view, or pair of views."""
        second = view if other is None else other
        inner = self._tables.get(view)
        found = inner.get(second) if inner is not None else None
        if found is None:
            with self._lock:
                inner = self._tables.get(view)
                if inner is None:
                    inner = self._tables[view] = WeakKeyDictionary()
                found = inner.get(second)
                if found is None:
                    found = inner[second] = ChartTable(self.max_entries, self.max_hints, self.max_resources)
        return found

    def clear(self) -> None:
        self._tables = WeakKeyDictionary()


class ChartTable:
    """The hints and readings of one knowledge view (`ChartReadings.table`), or of a reading
    that depends on no knowledge (a table of its own: `settled_lists`)."""

    __slots__ = ("max_entries", "max_hints", "max_resources", "hints", "readings", "resources", "_lock")

    def __init__(self, max_entries: int, max_hints: int, max_resources: int) -> None:
        self.max_entries, self.max_hints, self.max_resources = max_entries, max_hints, max_resources
        self.hints: dict[bytes, bool] = {}  # a chart's hint -> may it be keyed (False: its bytes hold a null)
        self.readings: dict[bytes, tuple[bytes, Any, int]] = {}  # a chart's hint -> (content digest, reading, resources)
        self.resources = 0  # the resources of the readings kept
        self._lock = threading.Lock()

    def read(self, parts: Sequence[Sequence[Any]], tag: bytes, read: Callable[[], T], again: Callable[[T], T]) -> T:
        """`read()`, or `again(reading)` of the reading it gave for the same `parts` and `tag` before
        (see ChartReadings). `again` gives a request its own copy of what a request may change or
        fill in (a context's lazy lab series); the reading kept is never handed out itself."""
        hint = _hint(parts, tag)
        if hint is None:
            return read()
        entry = self.readings.get(hint)
        if entry is None:
            keyable = self.hints.get(hint)
            if keyable is None:  # first sighting: remember it, read as usual
                self._hint(hint, True)
                return read()
            if not keyable:
                return read()
        try:
            data = orjson.dumps(parts, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
        except TypeError:  # not plain JSON
            self._hint(hint, False)
            return read()
        key = digest(data, tag)
        if entry is not None and entry[0] == key:  # (stored bytes held no null: neither do these)
            return again(entry[1])
        value = read()
        size = sum(map(len, parts))
        if b"null" in data or size > self.max_resources:  # never kept: never digested again
            self._hint(hint, False)
            self._keep(hint, None)
            return value
        self._keep(hint, (key, value, size))
        return again(value)

    def _hint(self, hint: bytes, keyable: bool) -> None:
        with self._lock:
            hints = self.hints
            hints.pop(hint, None)
            while len(hints) >= self.max_hints:
                del hints[next(iter(hints))]  # the oldest first out
            hints[hint] = keyable

    def _keep(self, hint: bytes, entry: "tuple[bytes, Any, int] | None") -> None:
        """Keep `entry` (None: forget) under `hint`, the oldest readings out first to stay in bounds."""
        with self._lock:
            readings = self.readings
            old = readings.pop(hint, None)
            if old is not None:
                self.resources -= old[2]
            if entry is None:
                return
            while readings and (len(readings) >= self.max_entries or self.resources + entry[2] > self.max_resources):
                self.resources -= readings.pop(next(iter(readings)))[2]
            readings[hint] = entry
            self.resources += entry[2]

    def clear(self) -> None:
        with self._lock:
            self.hints.clear()
            self.readings.clear()
            self.resources = 0

    def __len__(self) -> int:
        return len(self.readings)


def _hint(parts: Sequence[Sequence[Any]], tag: bytes) -> bytes | None:
    """A digest of each list's length and first and last resource (None when one is not plain JSON)."""
    try:
        data = orjson.dumps([(len(p), p[0], p[-1]) if p else 0 for p in parts], option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return None
    return digest(data, b"hint " + tag)


order_readings = SharedReadings()  # whole orders (medications.read_order)
given_readings = SharedReadings()  # what an administration gives (administrations.ReadMemo.given_as_sent)
chart_readings = ChartReadings()  # a chart's Observations (builder: observations.read_observations)
given_lists = ChartReadings()  # a chart's administrations (builder: administrations.read_administrations)
settled_lists = ChartTable(256, 4096, 20_000)  # which resources of a list `fhir.conformed` keeps as sent (builder._conformed)
