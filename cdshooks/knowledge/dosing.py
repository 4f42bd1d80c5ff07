"""Typed views of dosing.json, routes.json, schedules.json and cumulative.json.

Why typed rows: the dose, route, schedule and cumulative rules read `Band.match(value)` and
`DoseRule.basis` instead of re-deriving inequalities and unit algebra in code, so every cut-off
(`<=` vs `<`) lives once, in the data file, next to its citation. Rows are converted at load and
the load fails (KnowledgeError via `cross_check`) when a row names an unknown drug, an unknown
source, or a unit the converter cannot read - a typo must stop the service, not silently skip a check.

Bands (`knowledge.bands`, shared with populations.json) carry explicit inclusive flags and are
evaluated three-valued: a missing patient value never matches, it becomes a `missing-data` finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..units import UnitError, dimension
from . import Knowledge, cross_check
from .bands import Bands, Bound, bands as _bands  # noqa: F401  (Bound re-exported for older imports)


@dataclass(frozen=True)
class Cap:
    id: str
    value: float
    unit: str
    citation: str
    status: str


@dataclass(frozen=True)
class DoseRule:
    """One dose branch: who it is for, the dose per basis, the absolute unit compared."""

    id: str
    drug: str
    branch: str
    bands: Bands
    low: float
    high: float
    dose_unit: str  # e.g. "mg/m2", "ug/m2/d", "10*6{cells}/kg", "mg"
    dose_text: str
    amount_unit: str  # absolute unit of comparison: "mg", "ug/d", "[iU]", "{cells}"
    basis: str  # "m2" | "kg" | "fixed", derived from dose_unit vs amount_unit
    citation: str
    status: str
    routes: tuple[str, ...] = ()
    cap: Cap | None = None
    scope: str = "any"  # "ALL": protocol/indication band, only with an ALL diagnosis (the cap applies to everyone)
    period_days: float | None = None  # once per this many days (weekly 7, daily 1); None = per dose
    course: Mapping[str, Any] | None = None  # {"id", "max", "unit", "days"}: the dose is a course total (rules/course.py)

    @property
    def verified(self) -> bool:
        return self.status == "verified"


@dataclass(frozen=True)
class LabelLimit:
    id: str
    drug: str
    topic: str
    applies: Bands
    allowed: Bands
    message: str
    citation: str
    status: str


@dataclass(frozen=True)
class RouteRule:
    id: str
    drug: str
    allowed: tuple[str, ...]
    critical_routes: tuple[str, ...]
    other_routes: str
    message: str
    citation: str
    status: str

    def indicator_for(self, route: str) -> str | None:
        """None when allowed; else the indicator the label's wording supports."""
        if route in self.allowed:
            return None
        if route in self.critical_routes or self.other_routes == "critical":
            return "critical"
        return "warning"


@dataclass(frozen=True)
class RouteNote:
    id: str
    drug: str
    route: str
    message: str
    default_enabled: bool
    citation: str
    status: str


@dataclass(frozen=True)
class ScheduleRule:
    id: str
    drug: str
    kind: str
    indicator: str
    expected: str
    message: str
    citation: str
    status: str
    routes: tuple[str, ...] = ()
    min_interval_days: float | None = None
    max_days: int | None = None
    adult_age_min_exclusive: int | None = None
    pediatric_dose_per_m2: float | None = None
    adult_dose_per_m2: float | None = None
    adult_regimen_min_age: int | None = None
    check_history: bool = False
    check_other_orders: bool = False
    require_timing: bool = False
    check_other_drafts: bool = False  # other draft orders of the drug signed together (vincristine, issue 13 item 9)


@dataclass(frozen=True)
class CumulativeRule:
    id: str
    drug: str
    branch: str
    bands: Bands
    requires_radiation: bool
    limit: float
    unit: str  # "mg/m2" | "mg/kg"
    counted: Mapping[str, float]  # drug id -> factor
    citation: str
    status: str
    requires_cardiotoxic: bool = False  # previous/concomitant cardiotoxic therapy (cumulative.json cardiotoxic_drugs)


@dataclass(frozen=True)
class DosingView:
    dose_rules: tuple[DoseRule, ...]
    label_limits: tuple[LabelLimit, ...]
    route_rules: tuple[RouteRule, ...]
    route_notes: tuple[RouteNote, ...]
    schedule_rules: tuple[ScheduleRule, ...]
    cumulative_rules: tuple[CumulativeRule, ...]
    equivalence: CumulativeRule | None
    equivalence_limit_with_radiation: float | None
    warn_fraction: float
    radiation_facts: tuple[str, ...]
    cardiotoxic_drugs: tuple[str, ...] = ()

    # Rows by drug, in file order, built once (knowledge is immutable after load): the rules ask
    # these per order and drug on every request; each answer equals the filter it replaces.
    _by_drug: Mapping[str, Mapping[str, tuple[Any, ...]]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        tables = {"dose": self.dose_rules, "limit": self.label_limits, "route": self.route_rules, "note": self.route_notes,
                  "schedule": self.schedule_rules, "cumulative": self.cumulative_rules}
        by_drug: dict[str, dict[str, tuple[Any, ...]]] = {}
        for name, rows in tables.items():
            grouped: dict[str, list[Any]] = {}
            for r in rows:
                grouped.setdefault(r.drug, []).append(r)
            by_drug[name] = {d: tuple(rs) for d, rs in grouped.items()}
        object.__setattr__(self, "_by_drug", by_drug)
        # the tables the rules ask per order and drug on every call, one dict step each
        object.__setattr__(self, "_doses", by_drug["dose"])
        object.__setattr__(self, "_limits", by_drug["limit"])
        object.__setattr__(self, "_schedules", by_drug["schedule"])
        object.__setattr__(self, "_bases", {drug: frozenset(r.basis for r in rows) for drug, rows in by_drug["dose"].items()})

    def _rows(self, table: str, drug: str) -> tuple[Any, ...]:
        return self._by_drug[table].get(drug, ())

    def doses_for(self, drug: str) -> tuple[DoseRule, ...]:
        return self._doses.get(drug, ())  # type: ignore[attr-defined,no-any-return]  # = self._rows("dose", drug)

    def bases_for(self, drug: str) -> frozenset[str]:
        """`{r.basis for r in self.doses_for(drug)}`: whether a drug is dosed per m2 or kg (asked per order)."""
        return self._bases.get(drug, frozenset())  # type: ignore[attr-defined,no-any-return]

    def limits_for(self, drug: str) -> tuple[LabelLimit, ...]:
        return self._limits.get(drug, ())  # type: ignore[attr-defined,no-any-return]  # = self._rows("limit", drug)

    def route_for(self, drug: str) -> RouteRule | None:
        return next(iter(self._rows("route", drug)), None)

    def route_notes_for(self, drug: str) -> tuple[RouteNote, ...]:
        return self._rows("note", drug)

    def schedules_for(self, drug: str) -> tuple[ScheduleRule, ...]:
        return self._schedules.get(drug, ())  # type: ignore[attr-defined,no-any-return]  # = self._rows("schedule", drug)

    def cumulative_for(self, drug: str) -> tuple[CumulativeRule, ...]:
        return self._rows("cumulative", drug)


def per_unit(amount_unit: str, basis: str) -> str:
    """The UCUM unit of `amount_unit` per m2 or per kg ("ug/d" -> "ug/d/m2")."""
    return amount_unit if basis == "fixed" else f"{amount_unit}/{basis}"


def _basis(dose_unit: str, amount_unit: str) -> str:
    """Which patient size a dose unit is relative to, decided by dimension, not by string."""
    for basis in ("fixed", "m2", "kg"):
        if dimension(dose_unit) == dimension(per_unit(amount_unit, basis)):
            return basis
    raise UnitError(f"dose unit {dose_unit!r} is neither {amount_unit!r}, per m2 nor per kg")


def _dose_rule(row: Mapping[str, Any]) -> DoseRule:
    cap = row.get("cap")
    return DoseRule(
        id=row["id"],
        drug=row["drug"],
        branch=row["branch"],
        bands=_bands(row.get("bands")),
        low=row["dose"]["low"],
        high=row["dose"]["high"],
        dose_unit=row["dose"]["unit"],
        dose_text=row["dose_text"],
        amount_unit=row["amount_unit"],
        basis=_basis(row["dose"]["unit"], row["amount_unit"]),
        citation=row["citation"],
        status=row["status"],
        routes=tuple(row.get("routes", ())),
        cap=Cap(cap["id"], cap["value"], cap["unit"], cap["citation"], cap["status"]) if cap else None,
        scope=row.get("scope", "any"),
        period_days=row.get("period_days"),
        course=dict(row["course"]) if row.get("course") else None,
    )


def build_view(kb: Knowledge) -> DosingView:
    dosing, routes = kb.table("dosing"), kb.table("routes")
    schedules, cumulative = kb.table("schedules"), kb.table("cumulative")
    equiv = cumulative.get("equivalence")
    return DosingView(
        dose_rules=tuple(_dose_rule(r) for r in dosing["rules"]),
        label_limits=tuple(
            LabelLimit(r["id"], r["drug"], r["topic"], _bands(r.get("applies")), _bands(r["allowed"]), r["message"], r["citation"], r["status"])
            for r in dosing.get("label_limits", ())
        ),
        route_rules=tuple(
            RouteRule(r["id"], r["drug"], tuple(r["allowed"]), tuple(r.get("critical_routes", ())), r["other_routes"], r["message"], r["citation"], r["status"])
            for r in routes["rules"]
        ),
        route_notes=tuple(
            RouteNote(r["id"], r["drug"], r["route"], r["message"], r["default_enabled"], r["citation"], r["status"])
            for r in routes.get("notes", ())
        ),
        schedule_rules=tuple(
            ScheduleRule(
                id=r["id"], drug=r["drug"], kind=r["kind"], indicator=r["indicator"], expected=r["expected"],
                message=r["message"], citation=r["citation"], status=r["status"], routes=tuple(r.get("routes", ())),
                min_interval_days=r.get("min_interval_days"), max_days=r.get("max_days"),
                adult_age_min_exclusive=r.get("adult_age_min_exclusive"), pediatric_dose_per_m2=r.get("pediatric_dose_per_m2"),
                adult_dose_per_m2=r.get("adult_dose_per_m2"), adult_regimen_min_age=r.get("adult_regimen_min_age"),
                check_history=r.get("check_history", False), check_other_orders=r.get("check_other_orders", False),
                require_timing=r.get("require_timing", False), check_other_drafts=r.get("check_other_drafts", False),
            )
            for r in schedules["rules"]
        ),
        cumulative_rules=tuple(
            CumulativeRule(
                r["id"], r["drug"], r["branch"], _bands(r.get("bands")), r.get("requires_radiation", False),
                r["limit"], r["unit"], dict(r["counted"]), r["citation"], r["status"], r.get("requires_cardiotoxic", False),
            )
            for r in cumulative["rules"]
        ),
        equivalence=CumulativeRule(
            equiv["id"], "anthracycline", "doxorubicin-equivalent", Bands(), False, equiv["limit"], equiv["unit"],
            dict(equiv["factors"]), equiv["citation"], equiv["status"],
        ) if equiv else None,
        equivalence_limit_with_radiation=equiv.get("limit_with_radiation") if equiv else None,
        warn_fraction=cumulative["warn_fraction"],
        radiation_facts=tuple(cumulative["radiation_facts"]),
        cardiotoxic_drugs=tuple(cumulative.get("cardiotoxic_drugs", ())),
    )


def dosing_view(kb: Knowledge) -> DosingView:
    return kb.view("dosing", build_view)


_TABLES = ("dosing", "routes", "schedules", "cumulative")


@cross_check
def check_dosing_tables(kb: Knowledge) -> list[str]:
    """Every row's refs exist in its file's sources, ids are unique, drugs and units are known."""
    if not all(name in kb.tables for name in _TABLES):
        missing = [n for n in _TABLES if n not in kb.tables]
        return [f"dose knowledge incomplete: {', '.join(missing)}.json not loaded"]
    problems: list[str] = []
    known_drugs = {d["id"] for d in kb.tables["drugs"]["drugs"]} if "drugs" in kb.tables else None
    seen: dict[str, str] = {}
    for name in _TABLES:
        table = kb.table(name)
        rows = list(table.get("rules", ())) + list(table.get("label_limits", ())) + list(table.get("notes", ()))
        if table.get("equivalence"):
            rows.append(table["equivalence"])
        for row in rows:
            if row["id"] in seen:
                problems.append(f"{name}.json: rule id {row['id']} also used in {seen[row['id']]}.json")
            seen.setdefault(row["id"], name)
            for ref in row.get("refs", ()):
                if ref not in table["sources"]:
                    problems.append(f"{name}.json {row['id']}: ref {ref!r} not in sources")
            drugs = [row["drug"]] if "drug" in row else list(row.get("drugs", ()))
            drugs += list(row.get("counted", {}))
            for drug in drugs:
                if known_drugs is not None and drug not in known_drugs:
                    problems.append(f"{name}.json {row['id']}: drug {drug!r} not in drugs.json")
    try:
        build_view(kb)
    except (UnitError, KeyError) as exc:
        problems.append(f"dosing.json: {exc}")
    return problems
