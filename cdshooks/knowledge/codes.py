"""Typed view of codes.json: which LOINC/SNOMED/ICD-10-CM codes the context builder reads.

Why a view: the builder asks "which lab key is LOINC 14631-6, in which unit, with which molar
mass?" for every Observation; a dict index answers in O(1) and keeps the builder free of table
layout. Matching is on system + code only, never on display (terminology.md "How to read this").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from . import Knowledge, cross_check
from ..units import UnitError, parse

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


@dataclass(frozen=True)
class LabCode:
    key: str
    code: str
    value_type: str  # quantity | finding | coded | text | genotype
    canonical_unit: str | None
    molar_mass: float | None
    window_days: int
    status: str  # verified | unverified
    citation: str


@dataclass(frozen=True)
class TextLab:
    key: str
    patterns: tuple[str, ...]
    canonical_unit: str
    window_days: int
    timepoints: tuple[tuple[str, tuple[str, ...]], ...]
    citation: str


def normalize_icd(code: str) -> str:
    """ICD-10-CM is sent with or without the dot ("C91.00" / "C9100"); compare without it."""
    return code.replace(".", "").strip().upper()


class CodeTable:
    def __init__(self, raw: Mapping[str, Any]):
        self.freshness: Mapping[str, int] = raw["settings"]["freshness_days"]
        self.labs: dict[str, LabCode] = {}
        self.lab_keys: dict[str, list[LabCode]] = {}
        for row in raw["labs"]:
            lab = LabCode(
                key=row["key"], code=row["code"], value_type=row["value_type"],
                canonical_unit=row.get("canonical_unit"), molar_mass=row.get("molar_mass"),
                window_days=row["window_days"], status=row["status"], citation=row["citation"],
            )
            self.labs[lab.code] = lab
            self.lab_keys.setdefault(lab.key, []).append(lab)
        self.text_labs = tuple(
            TextLab(
                key=t["key"], patterns=tuple(t["patterns"]), canonical_unit=t["canonical_unit"],
                window_days=t["window_days"],
                timepoints=tuple((tp["timepoint"], tuple(tp["patterns"])) for tp in t["timepoints"]),
                citation=t["citation"],
            )
            for t in raw["text_labs"]
        )
        self.answers: dict[tuple[str, str], tuple[str, str]] = {
            (a["system"], a["code"]): (a["answers_for"], a["value"]) for a in raw["answers"]
        }
        pgx = raw["pgx"]
        self.pgx_code: str = pgx["genotype_code"]
        self.pgx_gene_component: str = pgx["gene_component"]["code"]
        self.pgx_genes: dict[str, tuple[str, str]] = {
            g["code"]: (g["phenotype_key"], g["genotype_key"]) for g in pgx["genes"]
        }
        self.conditions: dict[tuple[str, str], tuple[str, ...]] = {}
        for c in raw["conditions"]:
            code = normalize_icd(c["code"]) if c["system"] == ICD10CM else c["code"]
            self.conditions[(c["system"], code)] = tuple(c["keys"])
        self.routes: dict[str, str] = {r["code"]: r["kind"] for r in raw["routes"]}
        self.route_text: dict[str, str] = {
            text: kind for kind, texts in raw["route_text"].items() for text in texts
        }
        self.phases: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
            (p["phase"], tuple(p["patterns"])) for p in raw["phases"]
        )

    def lab(self, system: str | None, code: str | None) -> LabCode | None:
        if system != LOINC or not code:
            return None
        return self.labs.get(code.strip())

    def condition_keys(self, system: str | None, code: str | None) -> tuple[str, ...]:
        if not system or not code:
            return ()
        if system == ICD10CM:
            code = normalize_icd(code)
        return self.conditions.get((system, code.strip()), ())

    def lab_status(self, key: str) -> str | None:
        """"verified" if any code of this key is verified, "unverified" if only unverified ones."""
        labs = self.lab_keys.get(key)
        if not labs:
            return None
        return "verified" if any(lab.status == "verified" for lab in labs) else "unverified"


def codes_view(kb: Knowledge) -> CodeTable:
    return kb.view("codes", lambda k: CodeTable(k.table("codes")))


@cross_check
def check_codes_table(kb: Knowledge) -> list[str]:
    """Canonical units must be units the converter understands; one key per LOINC code."""
    if "codes" not in kb.tables:
        return []
    raw = kb.table("codes")
    problems: list[str] = []
    seen: dict[str, str] = {}
    for i, row in enumerate(raw["labs"]):
        unit = row.get("canonical_unit")
        if unit is not None:
            try:
                parse(unit)
            except UnitError as exc:
                problems.append(f"codes.json $.labs[{i}].canonical_unit: {exc}")
        if row["code"] in seen and seen[row["code"]] != row["key"]:
            problems.append(f"codes.json $.labs[{i}]: LOINC {row['code']} maps to {seen[row['code']]!r} and {row['key']!r}")
        seen[row["code"]] = row["key"]
    return problems
