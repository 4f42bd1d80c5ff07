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
from datetime import date
from typing import Any, Iterable, Mapping

from ..knowledge.codes import LOINC, CodeTable, LabCode
from .fhir import codings, concept_texts, number, parse_date, quantity_original, ref, ucum_code, validate
from .model import Bsa, ClinicalFact, DataGap, LabResult, Measurement
from .units import UnitError, convert

USABLE_STATUS = frozenset({"final", "amended", "corrected"})
PLAUSIBLE = {"weight": (0.3, 400.0, "kg"), "height": (20.0, 250.0, "cm")}

_POSITIVE = {"positive", "detected", "present", "pos", "yes"}
_NEGATIVE = {"negative", "not detected", "absent", "neg", "no", "undetected"}


def effective_date(obs: Mapping[str, Any]) -> date | None:
    period = obs.get("effectivePeriod") if isinstance(obs.get("effectivePeriod"), Mapping) else {}
    return parse_date(obs.get("effectiveDateTime")) or parse_date(period.get("start")) or parse_date(obs.get("issued"))


def _loinc_codes(obs: Mapping[str, Any]) -> list[str]:
    return [c.get("code") for c in codings(obs.get("code")) if c.get("system") == LOINC and c.get("code")]


def match_lab(obs: Mapping[str, Any], codes: CodeTable) -> LabCode | None:
    for code in _loinc_codes(obs):
        lab = codes.lab(LOINC, code)
        if lab:
            return lab
    return None


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
    code, why = ucum_code(qty)
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
    window = codes.freshness[item]
    gaps: list[DataGap] = []
    candidates = _body_candidates(item, observations, codes, upper)
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
        if validate(obs):
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
    out = []
    for when, obs in _body_candidates(item, observations, codes, upper):
        read = _read_body(item, when, obs)
        if isinstance(read, Measurement):
            out.append(read)
    return tuple(out)


def measurement_on_or_before(series: Iterable[Measurement], day: date) -> Measurement | None:
    """The newest measurement of a newest-first series dated on or before `day`."""
    for m in series:
        if m.date <= day:
            return m
    return None


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
    for rr in obs.get("referenceRange") or []:
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
    code, why = ucum_code(qty)
    if code is None:
        return None, DataGap(f"lab:{key}", f"{source} not used: {why}", source=source)
    try:
        converted = convert(value, code, unit, molar_mass=molar_mass)
    except UnitError as exc:
        return None, DataGap(f"lab:{key}", f"{source} not used: {exc}", source=source)
    low, high = _ref_high(obs, unit, molar_mass)
    return LabResult(key, when, source, value=converted, unit=unit, reference_low=low, reference_high=high,
                     original=quantity_original(qty), **extra), None


def _pgx(obs: Mapping[str, Any], codes: CodeTable, when: date) -> list[LabResult]:
    genes: list[tuple[str, str]] = []
    phenotype: str | None = None
    for comp in obs.get("component") or []:
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
    results: dict[str, list[LabResult]] = {}
    facts: list[ClinicalFact] = []
    gaps: list[DataGap] = []
    windows: dict[str, int] = {}
    for obs in observations:
        if obs.get("status") not in USABLE_STATUS:
            continue
        when = effective_date(obs)
        if when is None or when > upper:
            continue
        lab = match_lab(obs, codes)
        found: list[LabResult] = []
        if lab is not None and lab.key not in ("weight", "height"):
            windows[lab.key] = lab.window_days
            if lab.value_type == "quantity":
                result, gap = _quantity_result(lab.key, obs, lab.canonical_unit or "", lab.molar_mass, when)
                found += [result] if result else []
                gaps += [gap] if gap else []
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
