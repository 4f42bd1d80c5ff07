"""Typed access to knowledge/data/populations.json (special populations SP-01..SP-30).

Rows differ by `kind` (fact, lab, age, ...), so the view keeps each row as its validated mapping
and only indexes it: by kind, and by drug. The evaluators in rules/populations.py and
rules/pharmacogenomics.py interpret the fields; the schema pins their shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from . import Knowledge, cross_check
from .interactions import known_drug_ids


@dataclass(frozen=True)
class PopulationKnowledge:
    rows: tuple[Mapping[str, Any], ...]
    sources: Mapping[str, str]

    def of_kind(self, kind: str) -> tuple[Mapping[str, Any], ...]:
        return tuple(r for r in self.rows if r["kind"] == kind)

    def row(self, row_id: str) -> Mapping[str, Any]:
        for r in self.rows:
            if r["id"] == row_id:
                return r
        raise KeyError(row_id)


def _build(kb: Knowledge) -> PopulationKnowledge:
    raw = kb.table("populations")
    return PopulationKnowledge(rows=tuple(raw["populations"]), sources=dict(raw["sources"]))


def population_knowledge(kb: Knowledge) -> PopulationKnowledge:
    return kb.view("populations", _build)


@cross_check
def _populations_consistent(kb: Knowledge) -> list[str]:
    if "populations" not in kb.tables:
        return []
    rows = kb.table("populations")["populations"]
    problems: list[str] = []
    ids = [r["id"] for r in rows]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        problems.append(f"populations.json: duplicate ids {sorted(dupes)}")
    base = {i.split(".")[0] for i in ids}
    missing = [f"SP-{n:02d}" for n in range(1, 31) if f"SP-{n:02d}" not in base]
    if missing:
        problems.append(f"populations.json: rows missing for {missing}")
    known = known_drug_ids(kb)
    for r in rows:
        for b in r.get("bands", ()):
            lo, hi = b.get("min"), b.get("max")
            if lo is not None and hi is not None and lo > hi:
                problems.append(f"populations.json {r['id']} band {b['id']}: min > max")
        if known is not None:
            ids_ = set(r["drugs"]) | set(r.get("reduced_dose", {}))
            problems += [f"populations.json {r['id']}: drug id {d!r} not in drugs.json" for d in sorted(ids_ - known)]
    return problems
