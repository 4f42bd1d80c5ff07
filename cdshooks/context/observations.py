"""Observations -> weight, height, BSA, labs and observation-derived facts.

Why so strict: a dose per m2 computed from a weight in pounds read as kilograms, or from a
weight two months old, is a wrong dose. So a body measurement is used only when it is final,
dated, within the freshness window (knowledge setting, codes.json), has a UCUM unit we can
convert, and is physiologically plausible; otherwise it is not used and a `DataGap` says why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping  # not typing.Mapping: isinstance on it is ~5x slower
from dataclasses import dataclass, replace
from datetime import date
from operator import itemgetter
from typing import Any

import orjson

from ..knowledge.codes import LOINC, CodeTable, LabCode
from .fhir import normalize, number, quantity_original, ref, validate
from .labs import (  # noqa: F401  (read_labs, LabReading, effective_date: re-exported for readers of this module)
    BODY_KEYS, USABLE_STATUS, LabCollector, LabReading, _plain_factor, effective_date, match_lab, read_lab_items, read_labs,
    unit_of,
)
from .model import Bsa, DataGap, Measurement
from .conformant import concept_ok, conformant, items_ok, quantity_ok, str_ok
from .read import MAX_MAGNITUDE, conform, problems_of
from .units import UnitError, convert

PLAUSIBLE = {"weight": (0.3, 400.0, "kg"), "height": (20.0, 250.0, "cm")}


# -- body measurements ------------------------------------------------------------------

def _body_candidates(item: str, observations: Iterable[Mapping[str, Any]], codes: CodeTable, upper: date) -> list[tuple[date, Mapping[str, Any]]]:
    """Final weight/height Observations dated on or before `upper`, newest first."""
    candidates = []
    for obs in observations:
        lab = match_lab(obs, codes)
        if not lab or lab.key != item or obs.get("status") not in USABLE_STATUS:
            continue
        when = effective_date(obs)
        if when is None or when > upper:
            continue
        candidates.append((when, obs))
    candidates.sort(key=lambda c: c[0], reverse=True)
    return candidates


def _read_body(item: str, when: date, obs: Mapping[str, Any]) -> Measurement | str:
    """One weight/height Observation as a Measurement in kg/cm, or why it cannot be used."""
    low, high, unit = PLAUSIBLE[item]
    source = ref(obs)
    qty = obs.get("valueQuantity") if isinstance(obs.get("valueQuantity"), Mapping) else None
    value = number(qty.get("value")) if qty else None
    if value is None:
        return f"{source} has no numeric value"
    code, why = unit_of(qty)
    if code is None:
        return f"{source} not used: {why}"
    try:
        converted = convert(value, code, unit)
    except UnitError as exc:
        return f"{source} not used: {exc}"
    if not (low <= converted <= high):
        return f"{source} not used: implausible {item} {quantity_original(qty)}"
    return Measurement(converted, unit, when, source, quantity_original(qty))


def body_measurement(
    item: str, observations: Iterable[Mapping[str, Any]], codes: CodeTable, order_date: date, upper: date
) -> tuple[Measurement | None, list[DataGap]]:
    """Latest usable weight ("weight") or height ("height") and the gaps met on the way."""
    return pick_measurement(item, _body_candidates(item, observations, codes, upper), codes, order_date)


def pick_measurement(
    item: str, candidates: list[tuple[date, Mapping[str, Any]]], codes: CodeTable, order_date: date,
    reads: "list[Measurement | str] | None" = None,
) -> tuple[Measurement | None, list[DataGap]]:
    """The newest usable of newest-first `candidates` within the freshness window, and the gaps.
    `reads`: `_read_body` of each candidate, when the caller has them already (`_reads`)."""
    window = codes.freshness[item]
    gaps: list[DataGap] = []
    stale: date | None = None
    for n, (when, obs) in enumerate(candidates):
        source = ref(obs)
        read = reads[n] if reads is not None else _read_body(item, when, obs)
        if isinstance(read, str):
            gaps.append(DataGap(item, read, source=source))
            continue
        if (order_date - when).days > window:
            stale = stale or when
            break
        if validate(normalize(obs if problems_of(obs) or conformant(obs) else conform(obs) or {})):  # what `entries` validates
            gaps.append(DataGap(item, f"{source} not used: invalid FHIR Observation", source=source))
            continue
        return read, gaps
    if stale:
        gaps.append(DataGap(item, f"no {item} within {window} days before {order_date.isoformat()}", since=stale))
    elif not candidates:
        gaps.append(DataGap(item, f"no {item} Observation (LOINC {codes.lab_keys[item][0].code})"))
    elif not any(g.since for g in gaps):
        gaps.append(DataGap(item, f"no usable {item} Observation"))
    return None, gaps


def body_series(item: str, observations: Iterable[Mapping[str, Any]], codes: CodeTable, upper: date) -> tuple[Measurement, ...]:
    """Every usable weight or height up to `upper`, newest first, whatever its age.

    Why: order verification compares today's weight with the weight behind the previous dose,
    and cumulative doses use the BSA at each past administration; the 30-day freshness window
    only governs which value doses *today's* order.
    """
    return _series(item, _body_candidates(item, observations, codes, upper))


def _series(item: str, candidates: list[tuple[date, Mapping[str, Any]]]) -> tuple[Measurement, ...]:
    return _usable(_reads(item, candidates))


def _reads(item: str, candidates: list[tuple[date, Mapping[str, Any]]]) -> list[Measurement | str]:
    """`_read_body` of each candidate, in order: read once for the series and the pick."""
    return [_read_body(item, when, obs) for when, obs in candidates]


def _usable(reads: list[Measurement | str]) -> tuple[Measurement, ...]:
    return tuple(read for read in reads if type(read) is not str)


def measurement_on_or_before(series: Iterable[Measurement], day: date) -> Measurement | None:
    """The newest measurement of a newest-first series dated on or before `day`."""
    for m in series:
        if m.date <= day:
            return m
    return None


def clean_observation(obs: Mapping[str, Any]) -> bool:
    """True when every element this module reads from `obs` already has its FHIR JSON kind, so
    reading it as sent gives what reading `read.conform(obs)` would give, without that copy.

    Why: conforming (a checked deep copy) costs ~3x the JSON parse on a two-year chart of labs,
    and almost every Observation is clean. Anything not clean - a number where a string belongs,
    a non-finite or absurd value, an array of the wrong things - goes through `conform`, exactly
    as `entries` would do it (tests/context/test_read_once.py holds the two paths equal).
    """
    g = obs.get
    period = g("effectivePeriod")
    return (type(g("resourceType")) is str and (type(g("id")) is str or "id" not in obs) and str_ok(g("status"))
            and str_ok(g("effectiveDateTime")) and str_ok(g("issued"))
            and (period is None or (type(period) is dict and str_ok(period.get("start"))))
            and concept_ok(g("code")) and quantity_ok(g("valueQuantity")) and concept_ok(g("valueCodeableConcept"))
            and str_ok(g("valueString"))
            and _ranges_ok(g("referenceRange"))
            and items_ok(g("component"), lambda c: concept_ok(c.get("code")) and concept_ok(c.get("valueCodeableConcept"))))


@dataclass(frozen=True)
class ObservationReading:
    """Everything the context takes from Observations, read in one pass."""

    weight: Measurement | None
    height: Measurement | None
    weights: tuple[Measurement, ...]  # every usable weight, newest first (body_series)
    heights: tuple[Measurement, ...]
    gaps: tuple[DataGap, ...]  # weight gaps, then height gaps (lab gaps are in `labs`)
    labs: "LabReading"

    def again(self) -> "ObservationReading":
        """This reading for another request: the same immutable values, with its own lazy lab
        series (`LabSeries.again`), as a chart re-sent is given it (memo.ChartReadings)."""
        labs = self.labs
        return replace(self, labs=replace(labs, series=labs.series.again()))


def read_observations(body: Iterable[Mapping[str, Any]], others: Iterable[Mapping[str, Any]], codes: CodeTable,
                      order_date: date, upper: date) -> ObservationReading:
    """Weight and height (latest and series, from both keys) and labs (from `others`), each
    Observation read once.

    Why one pass: a long chart has hundreds of labs; status, date and code are read and matched
    once per Observation and the result is sorted into the weight, height and lab series, instead
    of five walks re-matching codes. Same results, in the same order, as `body_measurement`,
    `body_series` and `read_labs` (tests/context/test_read_once.py). Resources are read as sent
    (`as_list`/`codings` tolerate an object for an array); only the one validated is normalized.
    """
    weights: list[tuple[date, Mapping[str, Any]]] = []
    heights: list[tuple[date, Mapping[str, Any]]] = []
    collector = LabCollector(codes)
    add, results, windows = collector.add, collector.results, collector.windows
    fromisoformat, labs_by_code = date.fromisoformat, codes.labs
    # (LOINC code, unit system, code, text) -> (factor numerator, denominator, unit) or None (not plain)
    factors: dict[tuple[str, Any, Any, Any], tuple[float, float, str] | None] = {}
    days: dict[str, date] = {}  # "YYYY-MM-DD" -> its date, for the days this chart's dates begin with
    plain_ranges: dict[bytes, bool] = {}  # a referenceRange's JSON bytes -> `_ranges_ok` of it (`_ranges_plain`)
    for is_lab_key, group in ((False, body), (True, others)):
        for sent in group:
            lab: LabCode | None = None
            when: date | None = None
            if type(sent) is dict:
                # Status, date and code read as sent decide exactly as they would after `conform`
                # (a value of the wrong kind would be dropped there and decide "not usable" here).
                try:  # the four elements in one call when all are present (almost always)
                    status, rtype, day, concept = _top_fields(sent)
                except KeyError:
                    status, rtype, day, concept = sent.get("status"), sent.get("resourceType"), sent.get("effectiveDateTime"), sent.get("code")
                if type(status) is not str or status not in USABLE_STATUS or type(rtype) is not str:
                    continue
                if type(day) is str:  # `iso_day`, inline; a chart dates many results on one day: each day parsed once
                    when = days.get(head := day[:10])
                    if when is None and len(day) >= 10 and day[4] == "-" and day[7] == "-":
                        try:
                            when = days[head] = fromisoformat(head)
                        except ValueError:
                            pass
                if when is not None:
                    if when > upper:
                        continue
                    if type(concept) is dict and type(coding := concept.get("coding")) is list and len(coding) == 1 \
                            and type(first := coding[0]) is dict:  # one coding: `match_lab`, inline
                        try:
                            system, code = _system_code(first)
                        except KeyError:
                            system, code = first.get("system"), first.get("code")
                        if system != LOINC:
                            code = None
                        lab = labs_by_code.get(code.strip()) if code and isinstance(code, str) else None
                    else:
                        lab = match_lab(sent, codes)
                    if lab is not None and lab.key in BODY_KEYS:
                        if _body_clean(sent):  # status, date and code as read above: the same as sent
                            (weights if lab.key == "weight" else heights).append((when, sent))
                            continue
                    elif is_lab_key and lab is not None and lab.value_type == "quantity":
                        # A plain quantity lab: what `_quantity_result` would build, with no gap, kept as
                        # its `Plain` tuple (built into a LabResult when a rule reads the key: LabSeries),
                        # with its reference range as sent when every bound there is of its JSON kind
                        # (read when the result is built; a range never makes a gap). Anything else - a
                        # range of other kinds, a value that is not a plain finite number, a comparator,
                        # unit fields that are not strings, a unit that does not convert - takes the
                        # general path below (tests/context/test_read_once.py, test_fast_paths.py).
                        qty, rid, ranges = sent.get("valueQuantity"), sent.get("id", "?"), sent.get("referenceRange")
                        if type(qty) is dict and type(rid) is str and qty.get("comparator") is None \
                                and (ranges is None or _ranges_plain(ranges, plain_ranges)):
                            try:
                                value, system, code, text = _quantity_fields(qty)
                            except KeyError:
                                value, system, code, text = qty.get("value"), qty.get("system"), qty.get("code"), qty.get("unit")
                            if (type(value) is float or type(value) is int) and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
                                try:  # the unit fields' factor into this code's unit, once per distinct fields
                                    factor = factors[(lab.code, system, code, text)]
                                except KeyError:
                                    factor = factors[(lab.code, system, code, text)] = _unit_factor(lab, system, code, text)
                                except TypeError:  # an unhashable unit field (an array, an object): not plain
                                    factor = None
                                if factor is not None:
                                    # what `collector.add(sent, when, lab, plain)` does with it, inline
                                    key = lab.key
                                    plain = (key, when, rtype, rid, value, factor[0], factor[1], factor[2],
                                             code or text or "") if ranges is None else \
                                        (key, when, rtype, rid, value, factor[0], factor[1], factor[2],
                                         code or text or "", ranges, lab.molar_mass)
                                    windows[key] = lab.window_days
                                    series = results.get(key)
                                    if series is None:
                                        results[key] = [plain]
                                    else:
                                        series.append(plain)
                                    continue
            clean = clean_observation(sent)
            if when is not None and clean:
                obs: Mapping[str, Any] = sent  # status, date and code as read above (the same as sent)
            else:
                fixed = sent if clean else conform(sent)
                if fixed is None:
                    continue
                obs = fixed
                if obs.get("status") not in USABLE_STATUS:
                    continue
                when = effective_date(obs)
                if when is None or when > upper:
                    continue
                lab = match_lab(obs, codes)
            key = lab.key if lab is not None else None
            if key == "weight":
                weights.append((when, obs))
            elif key == "height":
                heights.append((when, obs))
            elif is_lab_key:
                add(obs, when, lab, None)
    weights.sort(key=_first, reverse=True)
    heights.sort(key=_first, reverse=True)
    wreads, hreads = _reads("weight", weights), _reads("height", heights)
    weight, wgaps = pick_measurement("weight", weights, codes, order_date, wreads)
    height, hgaps = pick_measurement("height", heights, codes, order_date, hreads)
    return ObservationReading(weight, height, _usable(wreads), _usable(hreads),
                              tuple(wgaps + hgaps), collector.reading(order_date))


def _unit_factor(lab: LabCode, system: Any, code: Any, text: Any) -> tuple[float, float, str] | None:
    """(numerator, denominator, unit) converting a Quantity with these unit fields into the lab's
    canonical unit; None when one is not a string (or absent) or the unit does not convert: such a
    lab is not plain and takes the general path. Equal fields (a string equals only a string) get
    the same answer, so `read_observations` asks once per distinct fields."""
    if not ((system is None or type(system) is str) and (code is None or type(code) is str) and (text is None or type(text) is str)):
        return None
    unit = lab.canonical_unit or ""
    factor = _plain_factor(system, code, text, unit, lab.molar_mass)
    return None if factor is None else (factor[0], factor[1], unit)


# Several elements read in one call (KeyError when one is absent: then read one by one with .get)
_top_fields = itemgetter("status", "resourceType", "effectiveDateTime", "code")
_system_code = itemgetter("system", "code")
_quantity_fields = itemgetter("value", "system", "code", "unit")


def _ranges_plain(ranges: Any, seen: dict[bytes, bool]) -> bool:
    """`_ranges_ok(ranges)`, once per distinct JSON bytes (a lab's range is the same on every result).

    Bytes decide only what they determine: subclasses of str, int, dict or list (which orjson would
    write as their base kind, and which `_ranges_ok` refuses) are not written (TypeError), and
    bytes with a null are not shared (orjson writes NaN and Infinity as null; a null bound value
    is absent, a NaN one is not plain)."""
    try:
        key = orjson.dumps(ranges, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return _ranges_ok(ranges)
    found = seen.get(key)
    if found is None:
        found = _ranges_ok(ranges)
        if b"null" not in key:
            seen[key] = found
    return found


def _ranges_ok(ranges: Any) -> bool:
    """A referenceRange whose bounds are what `clean_observation` asks of them: then the bounds
    `_ref_high` reads as sent are those it reads after `conform`."""
    return items_ok(ranges, _bounds_ok)


def _bounds_ok(rr: dict[str, Any]) -> bool:
    return quantity_ok(rr.get("low")) and quantity_ok(rr.get("high"))


def _body_clean(obs: dict[str, Any]) -> bool:
    """True when a weight or height Observation whose status, date and code are already of their
    JSON kind can be read as sent: what `_read_body` reads (id, valueQuantity) is too. The one
    picked is validated from its conformed copy (`pick_measurement`), as `entries` gives it."""
    return (type(obs.get("id")) is str or "id" not in obs) and quantity_ok(obs.get("valueQuantity"))


def _first(candidate: tuple[date, Mapping[str, Any]]) -> date:
    return candidate[0]


def mosteller(weight: Measurement, height: Measurement) -> Bsa:
    """BSA (m2) = sqrt(height_cm * weight_kg / 3600), unrounded (clinical-rules.md §2.0)."""
    return Bsa(math.sqrt(height.value * weight.value / 3600.0), "Mosteller", weight, height)
