"""Observations -> weight, height, BSA, labs and observation-derived facts.

Why so strict: a dose per m2 computed from a weight in pounds read as kilograms, or from a
weight two months old, is a wrong dose. So a body measurement is used only when it is final,
dated, within the freshness window (knowledge setting, codes.json), has a UCUM unit we can
convert, and is physiologically plausible; otherwise it is not used and a `DataGap` says why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from collections.abc import Iterable, Mapping  # not typing.Mapping: isinstance on it is ~5x slower
from datetime import date
from typing import Any

from ..knowledge.codes import LOINC, CodeTable, LabCode
from .fhir import as_list, codings, concept_texts, normalize, number, parse_date, quantity_original, ref, ucum_code, validate
from .model import Bsa, ClinicalFact, DataGap, LabResult, Measurement
from .read import MAX_MAGNITUDE, conform, finite_number, problems_of
from .units import UnitError, conversion_factor, convert

USABLE_STATUS = frozenset({"final", "amended", "corrected"})
_BODY = frozenset({"weight", "height"})  # lab keys read as body measurements, not as labs
PLAUSIBLE = {"weight": (0.3, 400.0, "kg"), "height": (20.0, 250.0, "cm")}

_POSITIVE = {"positive", "detected", "present", "pos", "yes"}
_NEGATIVE = {"negative", "not detected", "absent", "neg", "no", "undetected"}


def effective_date(obs: Mapping[str, Any]) -> date | None:
    when = _iso_day(obs.get("effectiveDateTime"))
    if when is not None:
        return when
    period = obs.get("effectivePeriod") if isinstance(obs.get("effectivePeriod"), Mapping) else {}
    return parse_date(obs.get("effectiveDateTime")) or parse_date(period.get("start")) or parse_date(obs.get("issued"))


def _iso_day(value: Any) -> date | None:
    """Fast path of `parse_date` for the usual "YYYY-MM-DD..." (C parser); None sends the value
    through `parse_date`, which decides every other shape exactly as before."""
    if type(value) is str and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _loinc_codes(obs: Mapping[str, Any]) -> list[str]:
    return [c.get("code") for c in codings(obs.get("code")) if c.get("system") == LOINC and c.get("code")]


def match_lab(obs: Mapping[str, Any], codes: CodeTable) -> LabCode | None:
    for c in codings(obs.get("code")):
        code = c.get("code")
        if c.get("system") == LOINC and code and isinstance(code, str):  # a non-string code matches nothing
            lab = codes.lab(LOINC, code)
            if lab:
                return lab
    return None


@lru_cache(maxsize=512)
def _ucum_of(system: str | None, code: str | None, unit: str | None) -> tuple[str | None, str | None]:
    return ucum_code({"system": system, "code": code, "unit": unit})


def _unit(qty: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """`ucum_code(qty)`, remembered per (system, code, unit) when they are plain strings."""
    system, code, unit = qty.get("system"), qty.get("code"), qty.get("unit")
    if (system is None or type(system) is str) and (code is None or type(code) is str) and (unit is None or type(unit) is str):
        return _ucum_of(system, code, unit)
    return ucum_code(qty)


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
    code, why = _unit(qty)
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
    item: str, candidates: list[tuple[date, Mapping[str, Any]]], codes: CodeTable, order_date: date
) -> tuple[Measurement | None, list[DataGap]]:
    """The newest usable of newest-first `candidates` within the freshness window, and the gaps."""
    window = codes.freshness[item]
    gaps: list[DataGap] = []
    stale: date | None = None
    for when, obs in candidates:
        source = ref(obs)
        read = _read_body(item, when, obs)
        if isinstance(read, str):
            gaps.append(DataGap(item, read, source=source))
            continue
        if (order_date - when).days > window:
            stale = stale or when
            break
        if validate(normalize(obs if problems_of(obs) else conform(obs) or {})):  # what `entries` validates
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
    return tuple(read for when, obs in candidates if isinstance(read := _read_body(item, when, obs), Measurement))


def measurement_on_or_before(series: Iterable[Measurement], day: date) -> Measurement | None:
    """The newest measurement of a newest-first series dated on or before `day`."""
    for m in series:
        if m.date <= day:
            return m
    return None


# -- reading as sent, when that is safe ------------------------------------------------------

def _str_ok(value: Any) -> bool:
    return value is None or type(value) is str


def _num_ok(value: Any) -> bool:
    return value is None or ((type(value) is int or type(value) is float) and finite_number(value) is not None)


def _cc_ok(concept: Any) -> bool:
    if concept is None:
        return True
    if type(concept) is not dict or not _str_ok(concept.get("text")):
        return False
    return _items_ok(concept.get("coding"), lambda c: _str_ok(c.get("system")) and _str_ok(c.get("code")) and _str_ok(c.get("display")))


def _qty_ok(q: Any) -> bool:
    return q is None or (type(q) is dict and _num_ok(q.get("value")) and _str_ok(q.get("comparator"))
                         and _str_ok(q.get("unit")) and _str_ok(q.get("system")) and _str_ok(q.get("code")))


def _items_ok(value: Any, ok: Any) -> bool:
    if value is None:
        return True
    if type(value) is dict:
        return bool(ok(value))
    return type(value) is list and all(type(v) is dict and ok(v) for v in value)


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
    return (type(g("resourceType")) is str and (type(g("id")) is str or "id" not in obs) and _str_ok(g("status"))
            and _str_ok(g("effectiveDateTime")) and _str_ok(g("issued"))
            and (period is None or (type(period) is dict and _str_ok(period.get("start"))))
            and _cc_ok(g("code")) and _qty_ok(g("valueQuantity")) and _cc_ok(g("valueCodeableConcept"))
            and _str_ok(g("valueString"))
            and _items_ok(g("referenceRange"), lambda r: _qty_ok(r.get("low")) and _qty_ok(r.get("high")))
            and _items_ok(g("component"), lambda c: _cc_ok(c.get("code")) and _cc_ok(c.get("valueCodeableConcept"))))


@dataclass(frozen=True)
class ObservationReading:
    """Everything the context takes from Observations, read in one pass."""

    weight: Measurement | None
    height: Measurement | None
    weights: tuple[Measurement, ...]  # every usable weight, newest first (body_series)
    heights: tuple[Measurement, ...]
    gaps: tuple[DataGap, ...]  # weight gaps, then height gaps (lab gaps are in `labs`)
    labs: "LabReading"


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
    lab_items: list[tuple[Mapping[str, Any], date, LabCode | None, LabResult | None]] = []
    for is_lab_key, group in ((False, body), (True, others)):
        for sent in group:
            if type(sent) is dict:
                # Status, date and code read as sent decide exactly as they would after `conform`
                # (a value of the wrong kind would be dropped there and decide "not usable" here).
                status = sent.get("status")
                if type(status) is not str or status not in USABLE_STATUS or type(sent.get("resourceType")) is not str:
                    continue
                when = _iso_day(sent.get("effectiveDateTime"))
                if when is not None:
                    if when > upper:
                        continue
                    lab = match_lab(sent, codes)
                    if is_lab_key and lab is not None and lab.value_type == "quantity" and lab.key not in _BODY:
                        plain = _plain_quantity_result(lab.key, sent, lab.canonical_unit or "", lab.molar_mass, when)
                        if plain is not None:  # read as sent: nothing it reads needs conforming
                            lab_items.append((sent, when, lab, plain))
                            continue
            obs = sent if clean_observation(sent) else conform(sent)
            if obs is None:
                continue
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
                lab_items.append((obs, when, lab, None))
    weights.sort(key=lambda c: c[0], reverse=True)
    heights.sort(key=lambda c: c[0], reverse=True)
    weight, wgaps = pick_measurement("weight", weights, codes, order_date)
    height, hgaps = pick_measurement("height", heights, codes, order_date)
    labs = _read_lab_items(lab_items, codes, order_date)
    return ObservationReading(weight, height, _series("weight", weights), _series("height", heights),
                              tuple(wgaps + hgaps), labs)


def mosteller(weight: Measurement, height: Measurement) -> Bsa:
    """BSA (m2) = sqrt(height_cm * weight_kg / 3600), unrounded (clinical-rules.md §2.0)."""
    return Bsa(math.sqrt(height.value * weight.value / 3600.0), "Mosteller", weight, height)


# -- labs --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabReading:
    results: tuple[LabResult, ...]
    facts: tuple[ClinicalFact, ...]
    gaps: tuple[DataGap, ...]


def _ref_high(obs: Mapping[str, Any], unit: str, molar_mass: float | None) -> tuple[float | None, float | None]:
    for rr in as_list(obs.get("referenceRange")):
        if not isinstance(rr, Mapping):
            continue
        out: list[float | None] = []
        for bound in ("low", "high"):
            q = rr.get(bound)
            value = number(q.get("value")) if isinstance(q, Mapping) else None
            code = _unit(q)[0] if isinstance(q, Mapping) else None
            try:
                out.append(convert(value, code, unit, molar_mass=molar_mass) if value is not None and code else None)
            except UnitError:
                out.append(None)
        return out[0], out[1]
    return None, None


def _coded_value(obs: Mapping[str, Any], codes: CodeTable) -> tuple[str | None, str | None]:
    """(answers_for, value) from a coded answer we know, else (None, normalized text)."""
    concept = obs.get("valueCodeableConcept")
    for c in codings(concept):
        hit = codes.answers.get((c.get("system"), c.get("code")))
        if hit:
            return hit
    texts = concept_texts(concept) + ([obs["valueString"]] if isinstance(obs.get("valueString"), str) else [])
    if not texts:
        return None, None
    text = texts[0].strip().lower()
    if text in _POSITIVE:
        return None, "positive"
    if text in _NEGATIVE:
        return None, "negative"
    return None, texts[0].strip()


def _quantity_result(key: str, obs: Mapping[str, Any], unit: str, molar_mass: float | None, when: date,
                     **extra: Any) -> tuple[LabResult | None, DataGap | None]:
    source = ref(obs)
    qty = obs.get("valueQuantity")
    value = number(qty.get("value")) if isinstance(qty, Mapping) else None
    if value is None:
        return None, DataGap(f"lab:{key}", f"{source} has no numeric value", source=source)
    if qty.get("comparator"):
        return None, DataGap(f"lab:{key}", f"{source} is a censored value ({qty['comparator']}{value})", source=source)
    code, why = _unit(qty)
    if code is None:
        return None, DataGap(f"lab:{key}", f"{source} not used: {why}", source=source)
    try:
        converted = convert(value, code, unit, molar_mass=molar_mass)
    except UnitError as exc:
        return None, DataGap(f"lab:{key}", f"{source} not used: {exc}", source=source)
    low, high = _ref_high(obs, unit, molar_mass)
    return LabResult(key, when, source, value=converted, unit=unit, reference_low=low, reference_high=high,
                     original=quantity_original(qty), **extra), None


def _plain_quantity_result(key: str, obs: dict[str, Any], unit: str, molar_mass: float | None,
                           when: date) -> LabResult | None:
    """`_quantity_result` for the usual lab, straight-line; None for anything else (no reference
    range, a plain finite value, no comparator, string unit fields, a unit that converts), which
    then takes the general path. Why: it runs once per lab on a two-year chart, and the general
    path's calls cost ~2x what they compute. Same result as the general path
    (tests/context/test_read_once.py)."""
    qty, rid = obs.get("valueQuantity"), obs.get("id", "?")
    if type(qty) is not dict or type(rid) is not str or "referenceRange" in obs or qty.get("comparator") is not None:
        return None
    value = qty.get("value")
    if not ((type(value) is float or type(value) is int) and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE):
        return None
    system, code, text = qty.get("system"), qty.get("code"), qty.get("unit")
    if not ((system is None or type(system) is str) and (code is None or type(code) is str) and (text is None or type(text) is str)):
        return None
    ucum = _ucum_of(system, code, text)[0]
    if ucum is None:
        return None
    factor = conversion_factor(ucum, unit, molar_mass)
    if factor is None:
        return None
    num, den = factor
    converted = float(value * num) if den == 1.0 else float(value / den) if num == 1.0 else float(value * num / den)
    return LabResult(key, when, f"{obs.get('resourceType', 'Resource')}/{rid}", converted, unit,
                     None, None, None, f"{value} {code or text or ''}".strip())


def _pgx(obs: Mapping[str, Any], codes: CodeTable, when: date) -> list[LabResult]:
    genes: list[tuple[str, str]] = []
    phenotype: str | None = None
    for comp in as_list(obs.get("component")):
        if not isinstance(comp, Mapping):
            continue
        ccodes = [c.get("code") for c in codings(comp.get("code"))]
        for c in codings(comp.get("valueCodeableConcept")):
            if codes.pgx_gene_component in ccodes and c.get("code") in codes.pgx_genes:
                genes.append(codes.pgx_genes[c["code"]])
            hit = codes.answers.get((c.get("system"), c.get("code")))
            if hit and hit[0] == "pgx_phenotype":
                phenotype = hit[1]
    answers_for, value = _coded_value(obs, codes)
    if answers_for == "pgx_phenotype":
        phenotype = value
    out = []
    for phenotype_key, genotype_key in genes:
        if phenotype:
            out.append(LabResult(phenotype_key, when, ref(obs), code_value=phenotype))
        elif value:
            out.append(LabResult(genotype_key, when, ref(obs), code_value=value))
    return out


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def read_labs(observations: Iterable[Mapping[str, Any]], codes: CodeTable, order_date: date, upper: date) -> LabReading:
    """Every usable lab result (whole history, newest first per key), facts and staleness gaps."""
    items = []
    for obs in observations:
        if obs.get("status") not in USABLE_STATUS:
            continue
        when = effective_date(obs)
        if when is None or when > upper:
            continue
        items.append((obs, when, match_lab(obs, codes), None))
    return _read_lab_items(items, codes, order_date)


def _read_lab_items(items: Iterable[tuple[Mapping[str, Any], date, LabCode | None, LabResult | None]], codes: CodeTable,
                    order_date: date) -> LabReading:
    results: dict[str, list[LabResult]] = {}
    facts: list[ClinicalFact] = []
    gaps: list[DataGap] = []
    windows: dict[str, int] = {}
    for obs, when, lab, read in items:
        found: list[LabResult] = []
        if lab is not None and lab.key not in _BODY:
            windows[lab.key] = lab.window_days
            if lab.value_type == "quantity":  # the common case, appended directly
                result, gap = (read, None) if read is not None else \
                    _quantity_result(lab.key, obs, lab.canonical_unit or "", lab.molar_mass, when)
                if result is None:
                    gaps.append(gap)  # type: ignore[arg-type]  # a failed reading always says why
                elif lab.key in results:
                    results[lab.key].append(result)
                else:
                    results[lab.key] = [result]
                continue
            elif lab.value_type == "genotype":
                found += _pgx(obs, codes, when)
            elif lab.value_type == "finding" and isinstance(obs.get("valueQuantity"), Mapping) and lab.canonical_unit:
                result, gap = _quantity_result(lab.key, obs, lab.canonical_unit, None, when)
                found += [result] if result else []
                gaps += [gap] if gap else []
            else:
                answers_for, value = _coded_value(obs, codes)
                if value:
                    found.append(LabResult(lab.key, when, ref(obs), code_value=value, value_source="answer" if answers_for else "text"))
                    if lab.key == "pregnancy_status" and value == "positive":
                        facts.append(ClinicalFact("pregnant", ref(obs), f"{LOINC}|{lab.code}", recorded=when))
        elif lab is None:
            text_found, text_gaps = _text_lab(obs, codes, when, windows)
            found += text_found
            gaps += text_gaps
        for r in found:
            if lab is not None:
                windows.setdefault(r.key, lab.window_days)  # derived keys (tpmt_phenotype) share the code's window
            results.setdefault(r.key, []).append(r)
    fresh: dict[str, tuple[LabResult, ...]] = {}
    for key, series in results.items():
        series.sort(key=lambda r: r.date, reverse=True)
        window = windows.get(key, codes.freshness["default_lab"])
        # The whole history is kept: the risk group needs the diagnostic WBC, and genotypes, CD
        # markers and serologies do not go stale. Rules that need a recent value apply their own
        # window (populations `_fresh_lab`, monitoring `latest_within`); the gap records staleness.
        fresh[key] = tuple(series)
        if (order_date - series[0].date).days > window:
            gaps.append(DataGap(f"lab:{key}", f"no {key} within {window} days before {order_date.isoformat()}", since=series[0].date))
    return LabReading(tuple(r for series in fresh.values() for r in series), tuple(facts), tuple(gaps))


def _text_lab(obs: Mapping[str, Any], codes: CodeTable, when: date,
              windows: dict[str, int]) -> tuple[list[LabResult], list[DataGap]]:
    """Results with no LOINC (MRD), identified by the Observation's code text."""
    text = _words(" ".join(concept_texts(obs.get("code"))))
    out: list[LabResult] = []
    gaps: list[DataGap] = []
    for tl in codes.text_labs:
        if not any(f" {_words(p).strip()} " in text for p in tl.patterns):
            continue
        timepoint = next((tp for tp, pats in tl.timepoints if any(f" {_words(p).strip()} " in text for p in pats)), None)
        windows[tl.key] = tl.window_days
        result, gap = _quantity_result(tl.key, obs, tl.canonical_unit, None, when, identified_by="text", timepoint=timepoint)
        if result is None:
            gaps += [gap] if gap else []
            continue
        out.append(result)
        if timepoint:
            key = f"{tl.key}_{timepoint}"
            windows[key] = tl.window_days
            out.append(LabResult(key, when, result.source, value=result.value, unit=result.unit,
                                 original=result.original, identified_by="text", timepoint=timepoint))
    return out, gaps
