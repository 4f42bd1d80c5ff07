"""Typed view of verification.json: the pharmacist-style order-verification rows.

Why typed: the intrathecal bands are half-open age intervals in months ([min, below)) and the
policy thresholds are percentages; the rules read `IntrathecalRule.band_for(age_months)` and
`WeightChange.threshold_pct(age_years)` so each cut-off lives once, in the data file, next to
its citation. A row naming an unknown drug or class stops start-up (cross-check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from . import Knowledge, cross_check


@dataclass(frozen=True)
class RowMeta:
    """What every verification row exposes to the engine: id, status, citation."""

    id: str
    status: str
    citation: str

    @property
    def verified(self) -> bool:
        return self.status == "verified"


@dataclass(frozen=True)
class ItBand:
    age_months_min: float
    age_months_below: float | None
    low_mg: float
    high_mg: float

    def contains(self, age_months: float) -> bool:
        return age_months >= self.age_months_min and (self.age_months_below is None or age_months < self.age_months_below)

    @property
    def age_text(self) -> str:
        def months(m: float) -> str:
            return f"{m / 12:g} y" if m % 12 == 0 else f"{m:g} months"
        if self.age_months_below is None:
            return f"{months(self.age_months_min)} or older"
        return f"{months(self.age_months_min)} to under {months(self.age_months_below)}"

    @property
    def dose_text(self) -> str:
        return f"{self.low_mg:g} mg" if self.low_mg == self.high_mg else f"{self.low_mg:g}–{self.high_mg:g} mg"


@dataclass(frozen=True)
class IntrathecalRule(RowMeta):
    drug: str = ""
    bands: tuple[ItBand, ...] = ()
    tolerance_pct: float = 0.0
    indicator_above: str = "warning"
    indicator_below: str = "warning"

    def band_for(self, age_months: float) -> ItBand | None:
        return next((b for b in self.bands if b.contains(age_months)), None)


@dataclass(frozen=True)
class PreservativeRule(RowMeta):
    drug: str = ""
    indicator: str = "warning"
    preserved_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeightChange(RowMeta):
    child_pct: float = 5.0
    adult_pct: float = 10.0
    adult_age_years: float = 18.0
    indicator: str = "warning"

    def threshold_pct(self, age_years: float | None) -> float:
        """Children's threshold when the age is unknown: the stricter one never misses a change."""
        return self.adult_pct if age_years is not None and age_years >= self.adult_age_years else self.child_pct


@dataclass(frozen=True)
class DoseChange(RowMeta):
    change_pct: float = 10.0
    indicator_rise: str = "warning"
    indicator_reduction: str = "info"


@dataclass(frozen=True)
class VincaRule(RowMeta):
    drug_class: str = ""
    indicator: str = "warning"
    push_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class BsaCap(RowMeta):
    caps_m2: tuple[float, ...] = ()
    match_pct: float = 5.0


@dataclass(frozen=True)
class VerificationView:
    intrathecal: Mapping[str, IntrathecalRule]
    preservative_free: Mapping[str, PreservativeRule]
    weight_change: WeightChange
    dose_change: DoseChange
    vinca_minibag: VincaRule
    vinca_apart: VincaRule
    bsa_cap: BsaCap


def _meta(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "status": row["status"], "citation": row["citation"]}


def build_view(kb: Knowledge) -> VerificationView:
    raw = kb.table("verification")
    it = {
        r["drug"]: IntrathecalRule(
            **_meta(r), drug=r["drug"], tolerance_pct=float(r["tolerance_pct"]),
            indicator_above=r["indicator_above"], indicator_below=r["indicator_below"],
            bands=tuple(ItBand(float(b["age_months_min"]), b.get("age_months_below"), float(b["low_mg"]), float(b["high_mg"])) for b in r["bands"]),
        )
        for r in raw["intrathecal_doses"]
    }
    pf = {r["drug"]: PreservativeRule(**_meta(r), drug=r["drug"], indicator=r["indicator"], preserved_terms=tuple(t.lower() for t in r["preserved_terms"]))
          for r in raw["preservative_free"]}
    wc, dc, vm, va, bc = (raw[k] for k in ("weight_change", "dose_change", "vinca_minibag", "vinca_intrathecal_apart", "bsa_cap"))
    return VerificationView(
        intrathecal=it,
        preservative_free=pf,
        weight_change=WeightChange(**_meta(wc), child_pct=wc["child_pct"], adult_pct=wc["adult_pct"], adult_age_years=wc["adult_age_years"], indicator=wc["indicator"]),
        dose_change=DoseChange(**_meta(dc), change_pct=dc["change_pct"], indicator_rise=dc["indicator_rise"], indicator_reduction=dc["indicator_reduction"]),
        vinca_minibag=VincaRule(**_meta(vm), drug_class=vm["class"], indicator=vm["indicator"], push_terms=tuple(t.lower() for t in vm["push_terms"])),
        vinca_apart=VincaRule(**_meta(va), drug_class=va["class"], indicator=va["indicator"]),
        bsa_cap=BsaCap(**_meta(bc), caps_m2=tuple(bc["caps_m2"]), match_pct=bc["match_pct"]),
    )


def verification_view(kb: Knowledge) -> VerificationView:
    return kb.view("verification", build_view)


@cross_check
def check_verification_table(kb: Knowledge) -> list[str]:
    """Drugs and classes exist; band ages are contiguous from 0 with no gap; sources resolve."""
    if "verification" not in kb.tables:
        return []
    raw = kb.table("verification")
    drugs = {d["id"] for d in kb.table("drugs")["drugs"]}
    classes = {c["id"] for c in kb.table("drugs")["classes"]}
    sources = set(raw["sources"])
    problems: list[str] = []
    rows = raw["intrathecal_doses"] + raw["preservative_free"] + [raw[k] for k in ("weight_change", "dose_change", "vinca_minibag", "vinca_intrathecal_apart", "bsa_cap")]
    for row in rows:
        problems += [f"verification.json {row['id']}: unknown source {r!r}" for r in row["refs"] if r not in sources]
        if "drug" in row and row["drug"] not in drugs:
            problems.append(f"verification.json {row['id']}: unknown drug {row['drug']!r}")
        if "class" in row and row["class"] not in classes:
            problems.append(f"verification.json {row['id']}: unknown class {row['class']!r}")
    for row in raw["intrathecal_doses"]:
        expected = 0.0
        for b in row["bands"]:
            if b["age_months_min"] != expected:
                problems.append(f"verification.json {row['id']}: age bands not contiguous at {b['age_months_min']} months")
            if b["low_mg"] > b["high_mg"]:
                problems.append(f"verification.json {row['id']}: band low above high")
            expected = b.get("age_months_below", float("inf"))
        if expected != float("inf"):
            problems.append(f"verification.json {row['id']}: the last age band must be open-ended")
    return problems
