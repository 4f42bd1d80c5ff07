"""The lazy lab series of a context (`LabSeries`) and the `Plain` labs it is made of.

Why lazy: a two-year chart holds hundreds of labs of a dozen codes, and a call's rules read a few
of those codes, mostly only the newest value (`newest`) or one dated result (`oldest`). The
`LabResult` of a plain quantity lab is made only when a rule reads it, from the `Plain` tuple
`observations.read_observations` kept (labs.py reads every Observation once; this module only
orders and builds). Split from labs.py, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping  # not typing's: isinstance on those is ~5x slower
from datetime import date
from operator import itemgetter
from typing import Any

from .fhir import as_list, number, ucum_code
from .model import LabResult
from .units import UnitError, convert


# A plain quantity lab as read when the context is built: what its LabResult is made of.
# (key, date, resourceType, id, value as sent, factor numerator, denominator, unit, unit as sent),
# and when it has a reference range: (..., referenceRange as sent, the lab's molar mass)
Plain = tuple[Any, ...]


def build_plain(plain: Plain) -> LabResult:
    """The LabResult `_quantity_result` makes, from what `observations.read_observations` kept of
    a plain quantity lab (`convert`'s arithmetic; the reference range read as `_ref_high` reads it)."""
    if len(plain) == 9:
        key, when, rtype, rid, value, num, den, unit, sent_unit = plain
        low = high = None
    else:
        key, when, rtype, rid, value, num, den, unit, sent_unit, ranges, molar_mass = plain
        low, high = reference_bounds(ranges, unit, molar_mass)
    converted = float(value * num) if den == 1.0 else float(value / den) if num == 1.0 else float(value * num / den)
    return LabResult(key, when, f"{rtype}/{rid}", converted, unit, None, low, high, f"{value} {sent_unit}".strip())


def reference_bounds(ranges: Any, unit: str, molar_mass: float | None) -> tuple[float | None, float | None]:
    """(low, high) of the first reference range (an Observation's `referenceRange`) in `unit`;
    None for a bound without a numeric value, a usable unit or a conversion."""
    for rr in as_list(ranges):
        if not isinstance(rr, Mapping):
            continue
        out: list[float | None] = []
        for bound in ("low", "high"):
            q = rr.get(bound)
            value = number(q.get("value")) if isinstance(q, Mapping) else None
            code = ucum_code(q)[0] if isinstance(q, Mapping) else None
            try:
                out.append(convert(value, code, unit, molar_mass=molar_mass) if value is not None and code else None)
            except UnitError:
                out.append(None)
        return out[0], out[1]
    return None, None


_plain_date = itemgetter(1)


def _date(item: "LabResult | Plain") -> date:
    return item[1] if type(item) is tuple else item.date


class LabSeries(Mapping[str, tuple[LabResult, ...]]):
    """Lab key -> results, newest first (ties in reading order), each key's built on first read.

    A read-only mapping like the dict it stands for (iteration in reading order of first
    appearance, equality by content). Entries are finished `LabResult`s or the `Plain` tuples of
    plain quantity labs; a key is turned into its tuple of results once, when it is first read.
    Belongs to one request's context, read by that request's thread."""

    __slots__ = ("_entries", "_series", "_newest", "_order")

    def __init__(self, entries: dict[str, list["LabResult | Plain"]]) -> None:
        self._entries = entries
        self._series: dict[str, tuple[LabResult, ...]] = {}
        self._newest: dict[tuple[str, date | None, date | None], LabResult | None] = {}  # newest()'s answers
        self._order: dict[tuple[str, bool], tuple[list[int], list[date]]] = {}  # _ordered()'s answers

    def again(self) -> "LabSeries":
        """The same series for another request's context: the entries (never changed once read)
        shared, nothing built yet (`memo.ChartReadings`: a chart re-sent is read once)."""
        return LabSeries(self._entries)

    def __getitem__(self, key: str) -> tuple[LabResult, ...]:
        found = self._series.get(key)
        if found is None:
            items = self._entries[key]  # KeyError for a key with no results, as a dict
            built = [build_plain(i) if type(i) is tuple else i for i in items]
            built.sort(key=_result_date, reverse=True)
            found = self._series[key] = tuple(built)
        return found

    def get(self, key: str, default: Any = None) -> Any:
        """As dict.get (without the KeyError a missing key costs Mapping.get)."""
        found = self._series.get(key)
        if found is not None:
            return found
        return self[key] if key in self._entries else default

    def _ordered(self, key: str, newest_first: bool) -> tuple[list[int], list[date]]:
        """(positions of the key's entries by date, newest or oldest first, ties in reading order;
        each entry's date), sorted once, at C speed, without building a result."""
        found = self._order.get((key, newest_first))
        if found is None:
            items = self._entries.get(key) or ()
            try:
                dates = list(map(_plain_date, items))  # every entry a Plain tuple: the usual lab
            except TypeError:  # some are finished LabResults
                dates = [_date(i) for i in items]
            found = self._order[(key, newest_first)] = (sorted(range(len(dates)), key=dates.__getitem__, reverse=newest_first), dates)
        return found

    def _result(self, key: str, position: int) -> LabResult:
        item = self._entries[key][position]
        return build_plain(item) if type(item) is tuple else item  # type: ignore[arg-type,return-value]

    def newest(self, key: str, since: date | None = None, on: date | None = None) -> LabResult | None:
        """The first result of `self.get(key)` (newest first) dated from `since` to `on` (inclusive,
        each bound optional), or None; builds only that result when the key was not read yet.

        Why: most rules ask for the newest value (`PatientContext.lab`, `rules._stratify.latest_within`);
        building a whole two-year series for it cost a third of `run_rules`. Entries are ordered as
        the series is (newest first, ties in reading order) by their dates alone. Asked again
        (several rows read the same creatinine), the same result is returned."""
        asked = (key, since, on)
        if asked in self._newest:
            return self._newest[asked]
        found = self._series.get(key)
        result: LabResult | None = None
        if found is not None:
            result = next((lab for lab in found if (on is None or lab.date <= on) and (since is None or since <= lab.date)), None)
        else:
            order, dates = self._ordered(key, True)
            for position in order:
                day = dates[position]
                if on is not None and day > on:
                    continue
                if since is None or since <= day:
                    result = self._result(key, position)
                break  # newest first: every later entry is older still
        self._newest[asked] = result
        return result

    def oldest(self, key: str, test: "Callable[[date], bool]") -> LabResult | None:
        """The first result of `sorted(self.get(key), key=date)` (oldest first, ties in reading order)
        whose date passes `test`, or None; builds only that result when the key was not read yet
        (the WBC at diagnosis is one result of a two-year series)."""
        found = self._series.get(key)
        if found is not None:
            return next((lab for lab in sorted(found, key=_result_date) if test(lab.date)), None)
        order, dates = self._ordered(key, False)
        return next((self._result(key, p) for p in order if test(dates[p])), None)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"LabSeries({dict(self.items())!r})"


def _result_date(result: LabResult) -> date:
    return result.date
