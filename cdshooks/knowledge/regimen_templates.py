"""Regimen templates (treatment-plan templates): regimen -> phases/courses -> days -> drug doses.

Why templates as data: a dose is right or wrong for *this* regimen, course and day, not for the
label range of the drug (cyclophosphamide 300 mg/m2 every 12 h is hyper-CVAD course A, and far
outside every label branch). Oncology order systems work from such templates; sites add theirs as
files. Sources, in this order (ids must be unique across all of them):

    knowledge/data/regimens/*.json      shipped, each citing its publication
    CDSHOOKS_REGIMEN_DIR/*.json         the site's own protocol templates

Each file is validated against schemas/regimen-template.schema.json at start-up (the load refuses
with one line naming the file and the JSON path), then cross-checked here: drug ids exist in
drugs.json, units convert through `context.units`, item ids are unique and start with the
template id (so a card's rule id leads to its row), days fit the course length.

`check_template_file(path, kb)` returns every problem of one file (for `cdshooks regimen check`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from jsonschema import Draft202012Validator

from ..units import UnitError, convert
from ..errors import KnowledgeError
from . import Knowledge, cross_check
from .bands import Bands, bands as _bands
from .dosing import per_unit
from .drugs import padded_words

SCHEMA_NAME = "regimen-template"
TABLE = "regimen_templates"
_AMOUNT_UNITS = ("mg", "[iU]", "ug")


@dataclass(frozen=True)
class PlanDose:
    """The template's dose per administration: low..high in `unit` (value = low = high)."""

    low: float
    high: float
    unit: str  # as written: "mg/m2", "mg/kg", "mg"
    amount_unit: str  # absolute unit compared: "mg", "[iU]", "ug"
    basis: str  # "m2" | "kg" | "fixed"

    @property
    def text(self) -> str:
        value = f"{self.low:g}" if self.low == self.high else f"{self.low:g}–{self.high:g}"
        return f"{value} {self.unit.replace('m2', 'm²')}"


@dataclass(frozen=True)
class PlanItem:
    id: str  # e.g. "hyper-cvad.a.doxorubicin"; the card's rule id ends with it
    regimen: str
    phase: str
    drug: str
    days: frozenset[int]
    dose: PlanDose
    routes: tuple[str, ...]
    doses_per_day: int
    frequency: str
    rounding: float  # increment in dose.amount_unit
    cap: float | None  # absolute, in dose.amount_unit
    cap_citation: str | None
    bands: Bands
    status: str
    citation: str
    note: str = ""

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    @property
    def days_text(self) -> str:
        return days_text(self.days)


@dataclass(frozen=True)
class Phase:
    id: str
    name: str
    aliases: tuple[str, ...]
    courses: tuple[int, ...]
    length_days: int | None
    repeat_days: int | None
    items: tuple[PlanItem, ...]
    treatment_phase: str | None = None  # "induction", "consolidation", ... for the RA-xx checks
    treatment_phase_by_course: Mapping[int, str] = field(default_factory=dict)

    def treatment_phase_for(self, course: int | None) -> str | None:
        return self.treatment_phase_by_course.get(course, self.treatment_phase) if course else self.treatment_phase

    def cycle_day(self, day: int) -> int:
        """Day within the repeating cycle (maintenance), else the course day itself."""
        return (day - 1) % self.repeat_days + 1 if self.repeat_days else day


@dataclass(frozen=True)
class RegimenTemplate:
    id: str
    title: str
    aliases: tuple[str, ...]
    canonical: tuple[str, ...]
    identifiers: tuple[tuple[str | None, str], ...]
    status: str
    citation: str  # the publication, one line
    tolerance_pct: float
    critical_pct: float
    phases: tuple[Phase, ...]
    origin: str  # "packaged" | the site file path

    def phase(self, phase_id: str) -> Phase | None:
        return next((p for p in self.phases if p.id == phase_id), None)

    @property
    def drugs(self) -> frozenset[str]:
        return frozenset(i.drug for p in self.phases for i in p.items)

    def items(self) -> Iterable[PlanItem]:
        for p in self.phases:
            yield from p.items


@dataclass(frozen=True)
class TemplateLibrary:
    templates: Mapping[str, RegimenTemplate]

    def get(self, template_id: str | None) -> RegimenTemplate | None:
        return self.templates.get(template_id) if template_id else None


def days_text(days: Iterable[int]) -> str:
    """[1,2,3,4,11,12] -> '1-4, 11-12'."""
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def tokens(text: str) -> str:
    """Lower-case words joined by single spaces, padded: ' hyper cvad course 3 '."""
    return padded_words(text)


# -- reading and validating files -------------------------------------------------------------

def _schema(schema_dir: Path) -> Draft202012Validator:
    path = schema_dir / f"{SCHEMA_NAME}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def read_template(path: Path) -> Any:
    """The JSON of one template file, or KnowledgeError naming the file (unreadable / not JSON)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeError(f"regimen template {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise KnowledgeError(f"regimen template {path}: not valid JSON: {exc}") from None


def schema_problems(raw: Any, schema_dir: Path) -> list[str]:
    errors = sorted(_schema(schema_dir).iter_errors(raw), key=lambda e: list(e.absolute_path))
    return [f"{e.json_path}: {e.message}" for e in errors]


def load_template_table(dirs: Sequence[Path], schema_dir: Path) -> dict[str, Any]:
    """Every *.json of `dirs` (sorted), schema-validated; the raw table kept in Knowledge.tables."""
    templates: list[dict[str, Any]] = []
    origins: dict[str, str] = {}
    for n, directory in enumerate(dirs):
        if n > 0 and not directory.is_dir():
            raise KnowledgeError(f"CDSHOOKS_REGIMEN_DIR: not a directory: {directory}")
        for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
            raw = read_template(path)
            problems = schema_problems(raw, schema_dir)
            if problems:
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                raise KnowledgeError(f"regimen template {path.name}: {problems[0]}{more}")
            if raw["id"] in origins:
                raise KnowledgeError(f"regimen template {path.name}: id {raw['id']!r} already defined by {origins[raw['id']]}")
            origins[raw["id"]] = "packaged" if n == 0 else str(path)
            templates.append(raw)
    return {"templates": templates, "origins": origins}


def semantic_problems(raw: Mapping[str, Any], drug_ids: frozenset[str]) -> list[str]:
    """Problems the schema cannot express (units, drug ids, id prefixes, days within the course)."""
    problems: list[str] = []
    tid = raw["id"]
    seen: set[str] = set()
    courses: dict[int, str] = {}
    for p, phase in enumerate(raw["phases"]):
        where = f"$.phases[{p}]"
        if phase["id"] in seen:
            problems.append(f"{where}.id: phase id {phase['id']!r} repeated")
        seen.add(phase["id"])
        for c in phase.get("courses", ()):
            if c in courses:
                problems.append(f"{where}.courses: course {c} also belongs to phase {courses[c]!r}")
            courses[c] = phase["id"]
        span = phase.get("repeat_days") or phase.get("length_days")
        for i, item in enumerate(phase["items"]):
            at = f"{where}.items[{i}]"
            if not item["id"].startswith(f"{tid}."):
                problems.append(f"{at}.id: {item['id']!r} must start with the template id '{tid}.'")
            if item["id"] in seen:
                problems.append(f"{at}.id: id {item['id']!r} repeated")
            seen.add(item["id"])
            if item["drug"] not in drug_ids:
                problems.append(f"{at}.drug: {item['drug']!r} is not a drug id of drugs.json")
            dose = item["dose"]
            if "low" in dose and dose["low"] > dose["high"]:
                problems.append(f"{at}.dose: low {dose['low']} is above high {dose['high']}")
            try:
                amount, _ = dose_basis(dose["unit"])
            except UnitError as exc:
                problems.append(f"{at}.dose.unit: {exc}")
                continue
            for key in ("cap", "rounding"):
                if key in item and not _converts(item[key]["unit"], amount):
                    problems.append(f"{at}.{key}.unit: {item[key]['unit']!r} does not convert to {amount!r}")
            if span and max(item["days"]) > span:
                problems.append(f"{at}.days: day {max(item['days'])} is past the phase's {span} days")
    rounding = raw["rounding"]["unit"]
    if not any(_converts(rounding, a) for a in _AMOUNT_UNITS):
        problems.append(f"$.rounding.unit: {rounding!r} is not an amount unit (mg, [iU], ug)")
    if raw["critical_pct"] < raw["tolerance_pct"]:
        problems.append("$.critical_pct: must be >= tolerance_pct")
    return problems


def _converts(unit: str, to: str) -> bool:
    try:
        convert(1.0, unit, to)
    except UnitError:
        return False
    return True


def dose_basis(unit: str) -> tuple[str, str]:
    """("mg", "m2") for "mg/m2"; ("mg", "fixed") for "g"; UnitError when not a per-dose amount."""
    for amount in _AMOUNT_UNITS:
        for basis in ("fixed", "m2", "kg"):
            if _converts(unit, per_unit(amount, basis)):
                return amount, basis
    raise UnitError(f"{unit!r} is not a dose per administration (mg, mg/m2, mg/kg or [iU] equivalents)")


def check_template_file(path: Path, kb: Knowledge, schema_dir: Path | None = None) -> list[str]:
    """All problems of one template file (empty = valid). KnowledgeError if it cannot be read."""
    from . import SCHEMA_DIR

    raw = read_template(path)
    problems = schema_problems(raw, schema_dir or SCHEMA_DIR)
    if problems:
        return problems
    drug_ids = frozenset(d["id"] for d in kb.table("drugs")["drugs"])
    problems = semantic_problems(raw, drug_ids)
    for other in kb.table(TABLE)["templates"]:
        if other["id"] == raw["id"] and other != raw:
            problems.append(f"$.id: {raw['id']!r} is already the id of a loaded template ({kb.table(TABLE)['origins'][raw['id']]})")
    return problems


# -- the typed view ---------------------------------------------------------------------------

def _item(raw: Mapping[str, Any], regimen: Mapping[str, Any], phase: str) -> PlanItem:
    dose = raw["dose"]
    amount, basis = dose_basis(dose["unit"])
    low, high = dose.get("low", dose.get("value")), dose.get("high", dose.get("value"))
    rounding = raw.get("rounding") or regimen["rounding"]
    cap = raw.get("cap")
    return PlanItem(
        id=raw["id"], regimen=regimen["id"], phase=phase, drug=raw["drug"], days=frozenset(raw["days"]),
        dose=PlanDose(float(low), float(high), dose["unit"], amount, basis),
        routes=tuple(raw["routes"]), doses_per_day=raw.get("doses_per_day", 1), frequency=raw.get("frequency", ""),
        rounding=convert(float(rounding["increment"]), rounding["unit"], amount),
        cap=convert(float(cap["value"]), cap["unit"], amount) if cap else None,
        cap_citation=cap["citation"] if cap else None,
        bands=_bands(raw.get("bands")),
        status="verified" if raw["status"] == "verified" and regimen["status"] == "verified" else "unverified",
        citation=raw["citation"], note=raw.get("note", ""),
    )


def source_text(source: Mapping[str, Any]) -> str:
    authors = source["authors"]
    who = authors[0] + (" et al." if len(authors) > 1 else "")
    where = f", {source['journal']}" if source.get("journal") else ""
    ref = f"doi:{source['doi']}" if source.get("doi") else source.get("url", "")
    return f"{who} {source['title']}{where} ({source['year']}); {ref}"


def _template(raw: Mapping[str, Any], origin: str) -> RegimenTemplate:
    phases = tuple(
        Phase(
            id=p["id"], name=p["name"], aliases=tuple(p.get("aliases", ())), courses=tuple(p.get("courses", ())),
            length_days=p.get("length_days"), repeat_days=p.get("repeat_days"),
            items=tuple(_item(i, raw, p["id"]) for i in p["items"]),
            treatment_phase=p.get("treatment_phase"),
            treatment_phase_by_course={int(k): v for k, v in p.get("treatment_phase_by_course", {}).items()},
        )
        for p in raw["phases"]
    )
    return RegimenTemplate(
        id=raw["id"], title=raw["title"], aliases=tuple(raw.get("aliases", ())), canonical=tuple(raw.get("canonical", ())),
        identifiers=tuple((i.get("system"), i["value"]) for i in raw.get("identifiers", ())),
        status=raw["status"], citation=source_text(raw["source"]),
        tolerance_pct=float(raw["tolerance_pct"]), critical_pct=float(raw["critical_pct"]),
        phases=phases, origin=origin,
    )


def _build(kb: Knowledge) -> TemplateLibrary:
    table = kb.tables.get(TABLE) or {"templates": [], "origins": {}}
    return TemplateLibrary({t["id"]: _template(t, table["origins"].get(t["id"], "packaged")) for t in table["templates"]})


def template_library(kb: Knowledge) -> TemplateLibrary:
    return kb.view(TABLE, _build)


@cross_check
def _templates_consistent(kb: Knowledge) -> list[str]:
    table = kb.tables.get(TABLE)
    if not table:
        return []
    drug_ids = frozenset(d["id"] for d in kb.table("drugs")["drugs"])
    item_ids: dict[str, str] = {}
    problems: list[str] = []
    for raw in table["templates"]:
        problems += [f"regimen template {raw['id']} {p}" for p in semantic_problems(raw, drug_ids)]
        for phase in raw["phases"]:
            for item in phase["items"]:
                if item["id"] in item_ids and item_ids[item["id"]] != raw["id"]:
                    problems.append(f"regimen template {raw['id']}: item id {item['id']!r} also in {item_ids[item['id']]}")
                item_ids[item["id"]] = raw["id"]
    return problems
