"""Typed rows of knowledge/data/populations.json (special populations SP-01..SP-30).

Why typed rows: each row `kind` (fact, lab, age, ...) has its own fields; the evaluators in
rules/populations.py and rules/pharmacogenomics.py read attributes of a frozen row instead of
dict keys, every row exposes what the engine stamps (id, citation, status, message), and every
cut-off - a lab band "bilirubin >3 mg/dL", a reference dose's age band, the reproductive age
band - is a `knowledge.bands.Bound`, the one place an inclusive/exclusive limit is evaluated.

A row whose kind has no typed row here, or that no rule family evaluates (`KIND_FAMILY`), stops
the load with a KnowledgeError (cross-check below): a new kind in the schema must come with
its evaluator, never be skipped silently. rules/populations.py checks at import that it has an
evaluator for every kind it is named for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Mapping

from ..errors import KnowledgeError
from . import Knowledge, cross_check
from .bands import Bound, bound
from .interactions import known_drug_ids


@dataclass(frozen=True)
class AgeLimit:
    """An age limit in completed days, months or years (`below` / `above` in a row)."""

    unit: str  # "days" | "months" | "years"
    value: int


@dataclass(frozen=True)
class RowDose:
    """A reference or maximum dose of a row, optionally for an age band (min inclusive, max exclusive)."""

    value: float
    unit: str  # "mg" | "mg/kg" | "mg/m2"
    ages: Bound | None = None  # on "age_years"
    basis: str = ""  # how the number was derived ("10% of 2.5 mg/kg/day ...")

    def applies_at(self, age_years: int | None) -> bool:
        """An age-banded dose applies only when the age is known and inside the band."""
        if self.ages is None:
            return True
        return age_years is not None and self.ages.contains(age_years)

    def as_json(self) -> dict[str, Any]:
        """The row's own mapping (cards carry it in `inputs.reference_dose`)."""
        out: dict[str, Any] = {"value": self.value, "unit": self.unit}
        if self.ages is not None and self.ages.min is not None:
            out["min_age_years"] = self.ages.min
        if self.ages is not None and self.ages.max is not None:
            out["max_age_years"] = self.ages.max
        if self.basis:
            out["basis"] = self.basis
        return out


@dataclass(frozen=True)
class LabBand:
    """One action band of a lab row: the range (on the row's scale), what to do, the dose change."""

    id: str
    severity: str
    action: str
    range: Bound
    dose_factor: float | None = None
    max_dose: RowDose | None = None


@dataclass(frozen=True)
class Escalation:
    """A higher severity for some drugs when no ALL diagnosis is recorded (non-neoplastic use)."""

    drugs: tuple[str, ...]
    severity: str
    message: str


@dataclass(frozen=True)
class PopulationRow:
    """Fields every special-population row has; a subclass per `kind` adds its own."""

    id: str
    kind: str
    drugs: tuple[str, ...]
    citation: str
    status: str
    message: str = ""
    severity: str = "info"
    scope: str | None = None
    default_enabled: bool = True
    drug_notes: Mapping[str, str] = field(default_factory=dict)
    family: ClassVar[str] = "population"  # the rule family that evaluates this kind

    @property
    def verified(self) -> bool:
        return self.status == "verified"


@dataclass(frozen=True)
class FactRow(PopulationRow):
    facts: tuple[str, ...] = ()
    proxy_for: str | None = None
    critical_with_prior_therapy: tuple[str, ...] = ()
    escalate_without_all_diagnosis: Escalation | None = None


@dataclass(frozen=True)
class LabRow(PopulationRow):
    labs: tuple[str, ...] = ()
    scale: str = "value"  # "value" | "uln" (times the upper limit of normal)
    unit: str = ""
    window_days: int = 7
    bands: tuple[LabBand, ...] = ()
    reference_doses: tuple[RowDose, ...] = ()
    upper_bound_from: str | None = None  # a lab that bounds this one from above (total >= direct bilirubin)

    def band_for(self, value: float) -> LabBand | None:
        return next((b for b in self.bands if b.range.contains(value)), None)

    def references_at(self, age_years: int | None) -> tuple[RowDose, ...]:
        return tuple(r for r in self.reference_doses if r.applies_at(age_years))


@dataclass(frozen=True)
class AgeRow(PopulationRow):
    below: AgeLimit | None = None
    above: AgeLimit | None = None


@dataclass(frozen=True)
class InfantRow(PopulationRow):
    below: AgeLimit = AgeLimit("days", 365)


@dataclass(frozen=True)
class ReproductiveRow(PopulationRow):
    sex: str = "any"
    ages: Bound = Bound("age_years")  # min inclusive, max exclusive


@dataclass(frozen=True)
class LvefRow(PopulationRow):
    labs: tuple[str, ...] = ()
    window_days: int = 90
    below_age_years: int = 18
    min_age_years: int = 65


@dataclass(frozen=True)
class DownSyndromeRow(PopulationRow):
    facts: tuple[str, ...] = ()
    high_dose_methotrexate_severity: str = "warning"


@dataclass(frozen=True)
class HbvRow(PopulationRow):
    labs: tuple[str, ...] = ()


@dataclass(frozen=True)
class NeurotoxicityRow(PopulationRow):
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PharmacogenomicsRow(PopulationRow):
    labs: tuple[str, ...] = ()
    phenotypes: Mapping[str, str] = field(default_factory=dict)  # phenotype -> severity ("none" = no card)
    reduced_dose: Mapping[str, tuple[RowDose, ...]] = field(default_factory=dict)  # drug -> <=10% thresholds
    family: ClassVar[str] = "pharmacogenomics"


@dataclass(frozen=True)
class DelegatedRow(PopulationRow):
    """A population limit that another family checks (SP-23 is a dose branch)."""

    handled_by: str = ""
    family: ClassVar[str] = "delegated"  # evaluated by the family named in `handled_by`


def _age_limit(raw: Mapping[str, Any] | None) -> AgeLimit | None:
    return AgeLimit(raw["unit"], raw["value"]) if raw else None


def _dose(raw: Mapping[str, Any]) -> RowDose:
    ages = None
    if "min_age_years" in raw or "max_age_years" in raw:
        ages = Bound("age_years", raw.get("min_age_years"), True, raw.get("max_age_years"), False)
    return RowDose(raw["value"], raw["unit"], ages, raw.get("basis", ""))


def _lab_band(raw: Mapping[str, Any], variable: str) -> LabBand:
    return LabBand(raw["id"], raw["severity"], raw["action"], bound(variable, raw), raw.get("dose_factor"),
                   _dose(raw["max_dose"]) if raw.get("max_dose") else None)


def _common(r: Mapping[str, Any]) -> dict[str, Any]:
    return dict(id=r["id"], kind=r["kind"], drugs=tuple(r["drugs"]), citation=r["citation"], status=r["status"],
                message=r.get("message", ""), severity=r.get("severity", "info"), scope=r.get("scope"),
                default_enabled=r.get("default_enabled", True), drug_notes=dict(r.get("drug_notes") or {}))


def _fact(r: Mapping[str, Any]) -> FactRow:
    esc = r.get("escalate_without_all_diagnosis")
    return FactRow(**_common(r), facts=tuple(r["facts"]), proxy_for=r.get("proxy_for"),
                   critical_with_prior_therapy=tuple(r.get("critical_with_prior_therapy", ())),
                   escalate_without_all_diagnosis=Escalation(tuple(esc["drugs"]), esc["severity"], esc["message"]) if esc else None)


def _lab(r: Mapping[str, Any]) -> LabRow:
    variable = "/".join(r["labs"]) + (" (×ULN)" if r["scale"] == "uln" else "")
    return LabRow(**_common(r), labs=tuple(r["labs"]), scale=r["scale"], unit=r["unit"], window_days=r["window_days"],
                  bands=tuple(_lab_band(b, variable) for b in r["bands"]),
                  reference_doses=tuple(_dose(d) for d in r.get("reference_doses", ())), upper_bound_from=r.get("upper_bound_from"))


# kind -> (typed row class, builder from the validated mapping). A kind missing here fails the load.
ROW_TYPES: dict[str, tuple[type[PopulationRow], Callable[[Mapping[str, Any]], PopulationRow]]] = {
    "fact": (FactRow, _fact),
    "lab": (LabRow, _lab),
    "age": (AgeRow, lambda r: AgeRow(**_common(r), below=_age_limit(r.get("below")), above=_age_limit(r.get("above")))),
    "infant": (InfantRow, lambda r: InfantRow(**_common(r), below=AgeLimit(r["below"]["unit"], r["below"]["value"]))),
    "reproductive": (ReproductiveRow, lambda r: ReproductiveRow(
        **_common(r), sex=r["sex"], ages=Bound("age_years", r["min_age_years"], True, r["max_age_years"], False))),
    "lvef": (LvefRow, lambda r: LvefRow(**_common(r), labs=tuple(r["labs"]), window_days=r["window_days"],
                                        below_age_years=r["below_age_years"], min_age_years=r["min_age_years"])),
    "down-syndrome": (DownSyndromeRow, lambda r: DownSyndromeRow(
        **_common(r), facts=tuple(r["facts"]), high_dose_methotrexate_severity=r["high_dose_methotrexate_severity"])),
    "hbv": (HbvRow, lambda r: HbvRow(**_common(r), labs=tuple(r["labs"]))),
    "neurotoxicity-history": (NeurotoxicityRow, lambda r: NeurotoxicityRow(**_common(r), facts=tuple(r["facts"]))),
    "pharmacogenomics": (PharmacogenomicsRow, lambda r: PharmacogenomicsRow(
        **_common(r), labs=tuple(r["labs"]), phenotypes=dict(r["phenotypes"]),
        reduced_dose={d: tuple(_dose(t) for t in ts) for d, ts in r["reduced_dose"].items()})),
    "delegated": (DelegatedRow, lambda r: DelegatedRow(**_common(r), handled_by=r["handled_by"])),
}


def typed_row(raw: Mapping[str, Any]) -> PopulationRow:
    """The typed row for one validated mapping; KnowledgeError for a kind nothing evaluates."""
    entry = ROW_TYPES.get(raw["kind"])
    if entry is None:
        raise KnowledgeError(f"populations.json {raw['id']}: kind {raw['kind']!r} has no evaluator (no typed row); "
                             f"add one to knowledge/populations.py and rules/populations.py")
    return entry[1](raw)


@dataclass(frozen=True)
class PopulationKnowledge:
    rows: tuple[PopulationRow, ...]
    sources: Mapping[str, str]
    status_currency: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Built once (knowledge is immutable after load): drug id -> positions in `rows` of the
    # population-family rows naming it. `population_rows_for` answers from it.
    _by_drug: Mapping[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        found: dict[str, list[int]] = {}
        for i, r in enumerate(self.rows):
            if r.family == "population":
                for drug in r.drugs:
                    found.setdefault(drug, []).append(i)
        object.__setattr__(self, "_by_drug", {d: tuple(ps) for d, ps in found.items()})

    def population_rows_for(self, drugs: Iterable[str]) -> tuple[PopulationRow, ...]:
        """The population-family rows naming any of `drugs`, in file order: exactly
        `tuple(r for r in self.rows if r.family == "population" and not set(drugs).isdisjoint(r.drugs))`.

        Why: special_populations ran that filter over all rows on every request for a few drugs."""
        index = self._by_drug
        hits = [index[d] for d in dict.fromkeys(drugs) if d in index]
        if not hits:
            return ()
        rows = self.rows
        if len(hits) == 1:
            return tuple(rows[i] for i in hits[0])
        return tuple(rows[i] for i in sorted(set().union(*hits)))

    def of_kind(self, kind: str) -> tuple[PopulationRow, ...]:
        return tuple(r for r in self.rows if r.kind == kind)

    def for_family(self, family: str) -> tuple[PopulationRow, ...]:
        return tuple(r for r in self.rows if r.family == family)

    def row(self, row_id: str) -> PopulationRow:
        for r in self.rows:
            if r.id == row_id:
                return r
        raise KeyError(row_id)


def _build(kb: Knowledge) -> PopulationKnowledge:
    raw = kb.table("populations")
    return PopulationKnowledge(rows=tuple(typed_row(r) for r in raw["populations"]), sources=dict(raw["sources"]),
                               status_currency=dict(raw.get("status_currency") or {}))


def population_knowledge(kb: Knowledge) -> PopulationKnowledge:
    return kb.view("populations", _build)


@cross_check
def _populations_consistent(kb: Knowledge) -> list[str]:
    if "populations" not in kb.tables:
        return []
    raw = kb.table("populations")["populations"]
    problems: list[str] = []
    ids = [r["id"] for r in raw]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        problems.append(f"populations.json: duplicate ids {sorted(dupes)}")
    base = {i.split(".")[0] for i in ids}
    missing = [f"SP-{n:02d}" for n in range(1, 31) if f"SP-{n:02d}" not in base]
    if missing:
        problems.append(f"populations.json: rows missing for {missing}")
    rows = []
    for r in raw:
        try:
            rows.append(typed_row(r))
        except KnowledgeError as exc:
            problems.append(str(exc))
    known = known_drug_ids(kb)
    for row in rows:
        for b in getattr(row, "bands", ()):
            if b.range.min is not None and b.range.max is not None and b.range.min > b.range.max:
                problems.append(f"populations.json {row.id} band {b.id}: min > max")
        if isinstance(row, DelegatedRow) and row.handled_by not in _FAMILIES:
            problems.append(f"populations.json {row.id}: handled_by {row.handled_by!r} is not a rule family")
        if known is not None:
            ids_ = set(row.drugs) | set(getattr(row, "reduced_dose", {}))
            problems += [f"populations.json {row.id}: drug id {d!r} not in drugs.json" for d in sorted(ids_ - known)]
    return problems


# Rule families a delegated row may name (rules/registry.py FAMILIES; knowledge cannot import rules).
_FAMILIES = frozenset({"dose", "route", "schedule", "cumulative-dose", "interaction", "monitoring", "regimen", "risk-group"})
