"""Typed views of risk.json (and the shared `Threshold` row type used by regimen/monitoring views).

Why typed rows: a rule reads `risk_view(kb).criterion("NCI-3-wbc").holds(wbc)` instead of
re-deriving an inequality in code, so the boundary (`<` vs `<=`) lives in one reviewed place, the
data file, next to its citation. Rows built from UNVERIFIED material keep `status="unverified"`;
rules treat them as soft (warnings, switchable via RuleSettings), never as hard stops.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import Knowledge, cross_check

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OP_TEXT = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}
_UNIT_TEXT = {"/uL": "/µL", "a": " y", "d": " d", "1": "", "%": "%"}


@dataclass(frozen=True)
class Threshold:
    """One knowledge row: an input compared with a value by an exact inequality."""

    id: str
    input: str
    outcome: str
    citation: str
    status: str
    op: str | None = None
    value: float | None = None
    unit: str | None = None
    effect: str | None = None
    system: str | None = None

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    def holds(self, x: float) -> bool:
        """True when `x` (already in `self.unit`) satisfies the row's inequality."""
        if self.op is None or self.value is None:
            raise ValueError(f"{self.id} has no threshold to compare with")
        return _OPS[self.op](x, self.value)

    @property
    def text(self) -> str:
        """Human form of the inequality, e.g. '≥ 50,000/µL'."""
        if self.op is None or self.value is None:
            return ""
        return f"{_OP_TEXT[self.op]} {format_number(self.value)}{_UNIT_TEXT.get(self.unit or '', ' ' + (self.unit or ''))}"


def format_number(value: float) -> str:
    """Thousands separators, no trailing zeros: 50000 -> '50,000', 0.05 -> '0.05'."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def threshold_from_row(row: Mapping[str, Any]) -> Threshold:
    return Threshold(
        id=row["id"],
        input=row.get("input") or row.get("analyte") or "",
        outcome=row.get("outcome") or "",
        citation=row["citation"],
        status=row["status"],
        op=row.get("op"),
        value=row.get("value"),
        unit=row.get("unit"),
        effect=row.get("effect"),
        system=row.get("system"),
    )


@dataclass(frozen=True)
class RiskKnowledge:
    diagnosis_facts: tuple[str, ...]
    lineage_facts: Mapping[str, str]
    mrd_timepoints: Mapping[str, frozenset[str]]
    criteria: Mapping[str, Threshold]
    sources: Mapping[str, str]

    def criterion(self, row_id: str) -> Threshold:
        return self.criteria[row_id]

    def system(self, name: str) -> tuple[Threshold, ...]:
        return tuple(c for c in self.criteria.values() if c.system == name)


def _build(kb: Knowledge) -> RiskKnowledge:
    raw = kb.table("risk")
    return RiskKnowledge(
        diagnosis_facts=tuple(raw["diagnosis_facts"]),
        lineage_facts=dict(raw["lineage_facts"]),
        mrd_timepoints={k: frozenset(v) for k, v in raw["mrd_timepoints"].items()},
        criteria={row["id"]: threshold_from_row(row) for row in raw["criteria"]},
        sources=dict(raw["sources"]),
    )


def risk_view(kb: Knowledge) -> RiskKnowledge:
    return kb.view("risk", _build)


def check_sources_and_ids(kb: Knowledge, table: str, row_lists: tuple[str, ...]) -> list[str]:
    """Every row id unique and every row's `sources` key declared in the file's `sources` block."""
    if table not in kb.tables:
        return []
    raw = kb.table(table)
    declared = set(raw.get("sources", {}))
    problems: list[str] = []
    seen: set[str] = set()
    for list_name in row_lists:
        for row in raw.get(list_name, []):
            if row["id"] in seen:
                problems.append(f"{table}.json: duplicate row id {row['id']!r}")
            seen.add(row["id"])
            for key in row.get("sources", []):
                if key not in declared:
                    problems.append(f"{table}.json {row['id']}: source {key!r} not in the sources block")
    return problems


def check_class_drugs(kb: Knowledge, table: str) -> list[str]:
    """Every drug id in the file's `classes` exists in drugs.json (when drugs.json is loaded)."""
    if table not in kb.tables or "drugs" not in kb.tables:
        return []
    known = {d["id"] for d in kb.table("drugs").get("drugs", [])}
    return [
        f"{table}.json classes.{name}: unknown drug id {drug!r}"
        for name, drugs in kb.table(table).get("classes", {}).items()
        for drug in drugs
        if drug not in known
    ]


@cross_check
def _risk_rows(kb: Knowledge) -> list[str]:
    problems = check_sources_and_ids(kb, "risk", ("criteria",))
    if "risk" in kb.tables:
        ids = {row["id"] for row in kb.table("risk")["criteria"]}
        required = {"NCI-0", "NCI-1", "NCI-2", "NCI-3-age", "NCI-3-wbc", "NCI-WBC-WINDOW", "COG-MRD-D29", "CNS-WBC", "CNS-TLP", "BFM-MRD", "ADULT-AGE"}
        problems += [f"risk.json: required criterion {r!r} missing" for r in sorted(required - ids)]
    return problems
