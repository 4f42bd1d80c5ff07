"""Intervals with explicit inclusive cut-offs: the one place a `<=` versus `<` is evaluated.

Why one module: dose branches (dosing.json `bands`), special-population lab bands
(populations.json `bands`: "bilirubin >3 mg/dL", "CrCl 30-60 mL/min") and age limits all state a
cut-off and whether it is included. The rules read `Bound.contains(value)` / `Bands.match(values)`
instead of re-deriving the inequality, so a boundary case is decided the same way everywhere, as
the data file next to its citation says.

A band is evaluated three-valued by `Bands.match`: True, False, or None when a needed value is
missing - a missing value never matches; the rule turns it into a `missing-data` finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

# variable -> (name, unit suffix) for the short text of a band; other variables print as named.
BAND_TEXT = {"age_years": ("age", " y"), "weight_kg": ("weight", " kg"), "bsa_m2": ("BSA", " m²")}


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Bound:
    """One variable's interval, e.g. weight (10, +inf) written `>10 kg` in the seed."""

    variable: str  # "age_years" | "weight_kg" | "bsa_m2" | a lab key ("bilirubin_total", "crcl")
    min: float | None = None
    min_inclusive: bool = True
    max: float | None = None
    max_inclusive: bool = True

    def contains(self, value: float) -> bool:
        if self.min is not None and (value < self.min or (value == self.min and not self.min_inclusive)):
            return False
        if self.max is not None and (value > self.max or (value == self.max and not self.max_inclusive)):
            return False
        return True

    def relative_distance(self, value: float) -> float:
        """How far `value` lies outside the band, relative to the nearest cut-off (0 = on it)."""
        if self.contains(value):
            return 0.0
        edges = [e for e in (self.min, self.max) if e is not None]
        edge = min(edges, key=lambda e: abs(value - e))
        return abs(value - edge) / abs(edge) if edge else float("inf")

    @property
    def text(self) -> str:
        name, unit = BAND_TEXT.get(self.variable, (self.variable, ""))
        parts = []
        if self.min is not None:
            parts.append(f"{'≥' if self.min_inclusive else '>'}{_num(self.min)}{unit}")
        if self.max is not None:
            parts.append(f"{'≤' if self.max_inclusive else '<'}{_num(self.max)}{unit}")
        return f"{name} " + " and ".join(parts)


def bound(variable: str, raw: Mapping[str, Any]) -> Bound:
    """A Bound from a data-file mapping with optional min/max and their inclusive flags."""
    return Bound(
        variable=variable,
        min=raw.get("min"),
        min_inclusive=raw.get("min_inclusive", True),
        max=raw.get("max"),
        max_inclusive=raw.get("max_inclusive", True),
    )


@dataclass(frozen=True)
class Bands:
    bounds: tuple[Bound, ...] = ()

    def match(self, values: Mapping[str, float | None]) -> bool | None:
        """True/False, or None when a needed value is missing (and nothing already says False)."""
        unknown = False
        for b in self.bounds:
            value = values.get(b.variable)
            if value is None:
                unknown = True
            elif not b.contains(value):
                return False
        return None if unknown else True

    def variables(self) -> tuple[str, ...]:
        return tuple(b.variable for b in self.bounds)

    def distance(self, values: Mapping[str, float | None]) -> float:
        """Largest relative distance outside any bound (inf when a value is missing)."""
        worst = 0.0
        for b in self.bounds:
            value = values.get(b.variable)
            if value is None:
                return float("inf")
            worst = max(worst, b.relative_distance(value))
        return worst

    @property
    def text(self) -> str:
        return ", ".join(b.text for b in self.bounds) or "all patients"


def bands(raw: Mapping[str, Any] | None) -> Bands:
    """Bands from a data-file mapping {variable: {min, min_inclusive, max, max_inclusive}}."""
    return Bands(tuple(bound(name, b) for name, b in (raw or {}).items()))
