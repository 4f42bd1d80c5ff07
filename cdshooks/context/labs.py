"""Lab series from Observations, and the Observation field readers the body measurements share.

Why lazy series: a two-year chart holds hundreds of labs of a dozen codes, and a call's rules
read a few of those codes (often only the newest value). Each Observation is still read once,
in order, when the context is built: everything that decides - usable or not, and why not (the
`DataGap`), its date, its key, staleness - is worked out then. Only the `LabResult` objects of a
plain quantity lab are made later, for the keys a rule reads (`LabSeries`), from what that first
reading kept. Results, their order and the gaps are exactly those of building every result at
once (tests/context/test_read_once.py, tests/context/test_lab_series.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping  # not typing's: isinstance on those is ~5x slower
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from ..knowledge.codes import LOINC, CodeTable, LabCode
from ..knowledge.drugs import padded_words
from .fhir import as_list, codings, concept_texts, iso_day, number, parse_date, quantity_original, ref, ucum_code
from .lab_series import LabSeries, Plain, _date, _plain_date, _result_date, build_plain, reference_bounds  # noqa: F401 (re-exported)
from .model import ClinicalFact, DataGap, LabResult
from .units import UnitError, conversion_factor, convert

USABLE_STATUS = frozenset({"final", "amended", "corrected"})
BODY_KEYS = frozenset({"weight", "height"})  # lab keys read as body measurements, not as labs

_POSITIVE = {"positive", "detected", "present", "pos", "yes"}
_NEGATIVE = {"negative", "not detected", "absent", "neg", "no", "undetected"}


def effective_date(obs: Mapping[str, Any]) -> date | None:
    when = iso_day(obs.get("effectiveDateTime"))
    if when is not None:
        return when
    period = obs.get("effectivePeriod") if isinstance(obs.get("effectivePeriod"), Mapping) else {}
    return parse_date(obs.get("effectiveDateTime")) or parse_date(period.get("start")) or parse_date(obs.get("issued"))


def match_lab(obs: Mapping[str, Any], codes: CodeTable) -> LabCode | None:
    concept = obs.get("code")
    if type(concept) is dict and type(coding := concept.get("coding")) is list:  # as parsed JSON: `codes.lab` inline
        labs = codes.labs
        for c in coding:
            if (type(c) is dict or isinstance(c, Mapping)) and c.get("system") == LOINC:
                code = c.get("code")
                if code and isinstance(code, str):
                    lab = labs.get(code.strip())
                    if lab:
                        return lab
        return None
    for c in codings(concept):
        code = c.get("code")
        if c.get("system") == LOINC and code and isinstance(code, str):  # a non-string code matches nothing
            lab = codes.lab(LOINC, code)
            if lab:
                return lab
    return None


def unit_of(qty: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """`ucum_code(qty)` (remembered per system, code and unit)."""
    return ucum_code(qty)


@lru_cache(maxsize=1024)
def _plain_factor(system: str | None, code: str | None, text: str | None, unit: str,
                  molar_mass: float | None) -> tuple[float, float] | None:
    """The conversion factor of a quantity sent with these unit fields into `unit`, or None when
    its unit is not usable (what `_quantity_result` would make a gap of)."""
    ucum = ucum_code({"system": system, "code": code, "unit": text})[0]
    return conversion_factor(ucum, unit, molar_mass) if ucum is not None else None


# -- labs --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabReading:
    series: Mapping[str, tuple[LabResult, ...]]  # a LabSeries: what PatientContext.labs is
    facts: tuple[ClinicalFact, ...]
    gaps: tuple[DataGap, ...]

    @property
    def results(self) -> tuple[LabResult, ...]:
        """Every result, key by key (builds every key)."""
        return tuple(r for series in self.series.values() for r in series)



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


def _ref_high(obs: Mapping[str, Any], unit: str, molar_mass: float | None) -> tuple[float | None, float | None]:
    return reference_bounds(obs.get("referenceRange"), unit, molar_mass)


def _quantity_result(key: str, obs: Mapping[str, Any], unit: str, molar_mass: float | None, when: date,
                     **extra: Any) -> tuple[LabResult | None, DataGap | None]:
    source = ref(obs)
    qty = obs.get("valueQuantity")
    value = number(qty.get("value")) if isinstance(qty, Mapping) else None
    if value is None:
        return None, DataGap(f"lab:{key}", f"{source} has no numeric value", source=source)
    if qty.get("comparator"):
        return None, DataGap(f"lab:{key}", f"{source} is a censored value ({qty['comparator']}{value})", source=source)
    code, why = unit_of(qty)
    if code is None:
        return None, DataGap(f"lab:{key}", f"{source} not used: {why}", source=source)
    try:
        converted = convert(value, code, unit, molar_mass=molar_mass)
    except UnitError as exc:
        return None, DataGap(f"lab:{key}", f"{source} not used: {exc}", source=source)
    low, high = _ref_high(obs, unit, molar_mass)
    return LabResult(key, when, source, value=converted, unit=unit, reference_low=low, reference_high=high,
                     original=quantity_original(qty), **extra), None


_PLAIN_ONLY = {tuple}  # the types of a key's entries when all are Plain tuples


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


@lru_cache(maxsize=256)
def _phrase(pattern: str) -> str:
    """A knowledge pattern as `padded_words` writes a text (once per pattern)."""
    return f" {padded_words(pattern).strip()} "


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
    return read_lab_items(items, codes, order_date)


def read_lab_items(items: Iterable[tuple[Mapping[str, Any], date, LabCode | None, Plain | None]], codes: CodeTable,
                   order_date: date) -> LabReading:
    """Usable Observations (resource, date, matched lab code or None, its `Plain` or None),
    in reading order -> the lab series, facts and gaps."""
    collector = LabCollector(codes)
    add = collector.add
    for obs, when, lab, plain in items:
        add(obs, when, lab, plain)
    return collector.reading(order_date)


class LabCollector:
    """The lab series, facts, gaps and freshness windows of usable Observations, added one by one
    in reading order (`add`), then finished into a LabReading (`reading`).

    Why a collector: `observations.read_observations` adds a plain quantity lab straight to
    `results` and `windows` inside its one scan of the chart (what `add` does with it, without a
    call and a tuple per Observation), and every other one through `add`, so both kinds keep
    their reading order (the order of keys, gaps and windows) exactly as `read_lab_items` gives it.
    """

    __slots__ = ("codes", "results", "facts", "gaps", "windows")

    def __init__(self, codes: CodeTable) -> None:
        self.codes = codes
        self.results: dict[str, list[LabResult | Plain]] = {}
        self.facts: list[ClinicalFact] = []
        self.gaps: list[DataGap] = []
        self.windows: dict[str, int] = {}

    def add(self, obs: Mapping[str, Any], when: date, lab: LabCode | None, plain: Plain | None) -> None:
        """One usable Observation: its date, matched lab code (or None) and `Plain` (or None)."""
        codes, results, gaps, windows = self.codes, self.results, self.gaps, self.windows
        found: list[LabResult] = []
        if lab is not None and lab.key not in BODY_KEYS:
            windows[lab.key] = lab.window_days
            if lab.value_type == "quantity":  # the common case, appended directly
                result, gap = (plain, None) if plain is not None else \
                    _quantity_result(lab.key, obs, lab.canonical_unit or "", lab.molar_mass, when)
                if result is None:
                    gaps.append(gap)  # type: ignore[arg-type]  # a failed reading always says why
                elif lab.key in results:
                    results[lab.key].append(result)
                else:
                    results[lab.key] = [result]
                return
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
                        self.facts.append(ClinicalFact("pregnant", ref(obs), f"{LOINC}|{lab.code}", recorded=when))
        elif lab is None:
            text_found, text_gaps = _text_lab(obs, codes, when, windows)
            found += text_found
            gaps += text_gaps
        for r in found:
            if lab is not None:
                windows.setdefault(r.key, lab.window_days)  # derived keys (tpmt_phenotype) share the code's window
            results.setdefault(r.key, []).append(r)

    def reading(self, order_date: date) -> LabReading:
        """The series, facts and gaps, with a staleness gap for each key whose newest result is
        older than its window."""
        gaps, windows, default = self.gaps, self.windows, self.codes.freshness["default_lab"]
        for key, entries in self.results.items():
            # newest date: of Plain tuples (index 1) without a call each, else of any entry
            newest = max(entries, key=_plain_date)[1] if set(map(type, entries)) == _PLAIN_ONLY else max(map(_date, entries))
            window = windows.get(key, default)
            # The whole history is kept: the risk group needs the diagnostic WBC, and genotypes, CD
            # markers and serologies do not go stale. Rules that need a recent value apply their own
            # window (populations `_fresh_lab`, monitoring `latest_within`); the gap records staleness.
            if (order_date - newest).days > window:
                gaps.append(DataGap(f"lab:{key}", f"no {key} within {window} days before {order_date.isoformat()}", since=newest))
        return LabReading(LabSeries(self.results), tuple(self.facts), tuple(gaps))


def _text_lab(obs: Mapping[str, Any], codes: CodeTable, when: date,
              windows: dict[str, int]) -> tuple[list[LabResult], list[DataGap]]:
    """Results with no LOINC (MRD), identified by the Observation's code text."""
    text = padded_words(" ".join(concept_texts(obs.get("code"))))
    out: list[LabResult] = []
    gaps: list[DataGap] = []
    for tl in codes.text_labs:
        if not any(_phrase(p) in text for p in tl.patterns):
            continue
        timepoint = next((tp for tp, pats in tl.timepoints if any(_phrase(p) in text for p in pats)), None)
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
