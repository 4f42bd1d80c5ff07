"""UCUM unit conversion for the few dozen units a chemotherapy order check meets.

Why a small explicit table instead of a general UCUM library: a wrong conversion is a wrong dose,
so every atom and prefix we accept is listed here with its exact factor, and everything else is a
`UnitError` ("cannot check"), never a guess. The grammar is the UCUM case-sensitive (c/s) subset:

    unit    := ["/"] term { ("." | "/") term }          # left to right: "mg/m2/d" = mg.m-2.d-1
    term    := ( [prefix] atom | "10*" int | "10^" int | annotation ) [exponent] [annotation]
    exponent:= ["-"] digits                              # "m2", "mm3", "s-1"

Deliberate choices (each one tested):
- Annotations are NOT ignored as plain UCUM would: ``{cells}`` and ``{1.73_m2}`` are their own
  dimensions so that "10*6{cells}/kg" never converts to "/kg" and an eGFR normalized to 1.73 m2
  never converts to a raw clearance. Any other annotation is an error.
- Amount of substance (mol) and mass only convert through an explicit, analyte-specific molar
  mass (``convert(17.1, "umol/L", "mg/dL", molar_mass=584.66)``); without it: `UnitError`.
- "%" is its own dimension (UCUM makes it 1/100): a ratio like mg/kg must never convert to %.
- [iU] and [IU] are the same unit (UCUM defines both); enzyme units "U" are a separate dimension.
- A count of units of use (``{tablet}``, ``{tbl}``, ``{tab}``, ``{pill}``, ``{capsule}``, ``{cap}``,
  ``{vial}``) is its own dimension "unit_of_use": ``1 {pill}`` converts to ``1 {tablet}`` and, times
  a strength in "mg/{tablet}", to mg; it never converts to a mass by itself.
- "mcg", "MG", "cc", "units" and other non-UCUM spellings are rejected.
Factors are exact fractions (1 [lb_av] = 0.45359237 kg, 1 [in_i] = 2.54 cm).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

__all__ = ["UnitError", "Unit", "COUNT_UNITS", "convert", "conversion_factor", "dimension", "parse", "is_compatible", "is_valid", "is_count"]


class UnitError(ValueError):
    """Unknown, malformed or incompatible unit; the value cannot be used for a check."""


# Base dimensions, in the order they are rendered by `dimension()`.
_BASES = ("mass", "length", "time", "amount", "iu", "enzyme", "cells", "bsa_1.73", "percent", "unit_of_use")

# atom -> (factor to the base unit g/m/s/mol/[iU]/U/{cells}, dimension exponents, prefixable)
_ATOMS: dict[str, tuple[Fraction, dict[str, int], bool]] = {
    "g": (Fraction(1), {"mass": 1}, True),
    "[lb_av]": (Fraction("453.59237"), {"mass": 1}, False),
    "[oz_av]": (Fraction("453.59237") / 16, {"mass": 1}, False),
    "m": (Fraction(1), {"length": 1}, True),
    "[in_i]": (Fraction("0.0254"), {"length": 1}, False),
    "[ft_i]": (Fraction("0.0254") * 12, {"length": 1}, False),
    "L": (Fraction(1, 1000), {"length": 3}, True),
    "l": (Fraction(1, 1000), {"length": 3}, True),
    "s": (Fraction(1), {"time": 1}, True),
    "min": (Fraction(60), {"time": 1}, False),
    "h": (Fraction(3600), {"time": 1}, False),
    "d": (Fraction(86400), {"time": 1}, False),
    "wk": (Fraction(7 * 86400), {"time": 1}, False),
    "mo": (Fraction("30.4375") * 86400, {"time": 1}, False),  # UCUM mean Julian month
    "a": (Fraction("365.25") * 86400, {"time": 1}, False),  # UCUM Julian year
    "mol": (Fraction(1), {"amount": 1}, True),
    "[iU]": (Fraction(1), {"iu": 1}, True),
    "[IU]": (Fraction(1), {"iu": 1}, True),
    "U": (Fraction(1), {"enzyme": 1}, True),
    "%": (Fraction(1), {"percent": 1}, False),  # its own dimension: "%" never converts to mg/kg
}

_PREFIXES: dict[str, Fraction] = {
    "k": Fraction(1000),
    "h": Fraction(100),
    "d": Fraction(1, 10),
    "c": Fraction(1, 100),
    "m": Fraction(1, 1000),
    "u": Fraction(1, 10**6),
    "n": Fraction(1, 10**9),
    "p": Fraction(1, 10**12),
}

# Annotations that carry meaning for our checks; any other {annotation} is rejected.
_ANNOTATIONS: dict[str, dict[str, int]] = {
    "{cells}": {"cells": 1},
    "{1.73_m2}": {"bsa_1.73": 1},
    **{a: {"unit_of_use": 1} for a in ("{tablet}", "{tbl}", "{tab}", "{pill}", "{capsule}", "{cap}", "{vial}")},
}
COUNT_UNITS = frozenset(a for a, dims in _ANNOTATIONS.items() if "unit_of_use" in dims)

_TOKEN = re.compile(r"(?P<body>10[*^][+-]?\d+|\[[^\]]+\]|\{[^}]*\}|%|[A-Za-z]+)(?P<exp>-?\d+)?(?P<annot>\{[^}]*\})?")


@dataclass(frozen=True)
class Unit:
    """A parsed UCUM unit: factor to base units and dimension exponents."""

    code: str
    factor: Fraction
    dims: tuple[tuple[str, int], ...]  # sorted by _BASES order, zero exponents dropped

    @property
    def dimension(self) -> str:
        return _render(self.dims)


def _render(dims: tuple[tuple[str, int], ...]) -> str:
    if not dims:
        return "1"
    return ".".join(name if exp == 1 else f"{name}{exp}" for name, exp in dims)


def _freeze(dims: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple((b, dims[b]) for b in _BASES if dims.get(b))


def _atom(symbol: str, code: str) -> tuple[Fraction, dict[str, int]]:
    if symbol in _ATOMS:
        factor, dims, _ = _ATOMS[symbol]
        return factor, dict(dims)
    if symbol in _ANNOTATIONS:
        return Fraction(1), dict(_ANNOTATIONS[symbol])
    if symbol.startswith("{"):
        raise UnitError(f"unit {code!r}: annotation {symbol} is not one we can interpret")
    prefix, rest = symbol[:1], symbol[1:]
    if prefix in _PREFIXES and rest in _ATOMS and _ATOMS[rest][2]:
        factor, dims, _ = _ATOMS[rest]
        return _PREFIXES[prefix] * factor, dict(dims)
    raise UnitError(f"unit {code!r}: {symbol!r} is not a supported UCUM unit")


@lru_cache(maxsize=512)
def parse(code: str) -> Unit:
    """Parse a UCUM c/s code; raise `UnitError` for anything outside the supported subset."""
    if not isinstance(code, str) or not code.strip():
        raise UnitError("no unit")
    if code != code.strip() or " " in code:
        raise UnitError(f"unit {code!r}: spaces are not allowed in UCUM codes")
    factor = Fraction(1)
    dims: dict[str, int] = {}
    pos, sign = 0, 1
    if code.startswith("/"):
        pos, sign = 1, -1
    expect_term = True
    while pos < len(code):
        if not expect_term:
            op = code[pos]
            if op not in "./":
                raise UnitError(f"unit {code!r}: unexpected {code[pos:]!r}")
            sign = 1 if op == "." else -1
            pos += 1
            expect_term = True
            continue
        match = _TOKEN.match(code, pos)
        if not match:
            raise UnitError(f"unit {code!r}: cannot read {code[pos:]!r}")
        body, exp_text, annot = match.group("body"), match.group("exp"), match.group("annot")
        if body.startswith("10*") or body.startswith("10^"):
            if exp_text:
                raise UnitError(f"unit {code!r}: malformed power of ten {match.group(0)!r}")
            t_factor, t_dims = Fraction(10) ** int(body[3:]), {}
        else:
            t_factor, t_dims = _atom(body, code)
        exp = int(exp_text) if exp_text else 1
        if exp == 0:
            raise UnitError(f"unit {code!r}: zero exponent")
        if annot:
            a_factor, a_dims = _atom(annot, code)
            if not annot.startswith("{"):
                raise UnitError(f"unit {code!r}: unexpected {annot!r}")
        else:
            a_factor, a_dims = Fraction(1), {}
        factor *= (t_factor**exp * a_factor) ** sign
        for name, e in t_dims.items():
            dims[name] = dims.get(name, 0) + sign * e * exp
        for name, e in a_dims.items():
            dims[name] = dims.get(name, 0) + sign * e
        pos = match.end()
        expect_term = False
    if expect_term:
        raise UnitError(f"unit {code!r}: ends with an operator")
    return Unit(code=code, factor=factor, dims=_freeze(dims))


def dimension(unit: str) -> str:
    """Dimension of a unit as a stable string, e.g. "mass.length-2" for "mg/m2", "1" for "%".

    Compare dimensions of two units (``dimension(u) == dimension("mg/m2")``) rather than the
    strings of the units themselves: "mg/m2" and "g/m2" are the same dimension.
    """
    return parse(unit).dimension


def is_valid(unit: str | None) -> bool:
    """True if `unit` is a UCUM code this module can compute with."""
    try:
        parse(unit)  # type: ignore[arg-type]
    except UnitError:
        return False
    return True


def is_count(unit: str | None) -> bool:
    """True for a count of units of use ("{pill}", "{tablet}", ...): needs a strength to become a dose."""
    try:
        return parse(unit).dims == (("unit_of_use", 1),)  # type: ignore[arg-type]
    except UnitError:
        return False


def is_compatible(from_unit: str, to_unit: str) -> bool:
    """True if a value can be converted between the two units without a molar mass."""
    try:
        return parse(from_unit).dims == parse(to_unit).dims
    except UnitError:
        return False


def convert(value: float, from_unit: str, to_unit: str, *, molar_mass: float | None = None) -> float:
    """Convert `value` from one UCUM unit to another.

    `molar_mass` (g/mol, analyte-specific: bilirubin 584.66, creatinine 113.12, uric acid 168.11,
    phosphate as P 30.97, calcium 40.08) is required exactly when one side counts moles and the
    other mass (umol/L <-> mg/dL); it is ignored when the units are directly compatible.

    The factor is worked out once per (from, to, molar mass) with exact fractions and kept as a
    float numerator and denominator: ``value * num / den`` is then two float operations (and
    exactly rounded whenever one side is 1, as for every SI prefix).
    """
    if molar_mass is None or (type(molar_mass) in (int, float)):
        found = _cached_ratio(from_unit, to_unit, molar_mass, type(molar_mass))
        if type(found) is not tuple:
            raise UnitError(found)
        num, den = found
    else:  # odd (possibly unhashable) molar mass: uncached, refused there if it is needed
        num, den = _ratio(from_unit, to_unit, molar_mass, type(molar_mass))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnitError(f"value {value!r} is not a number")
    if not math.isfinite(value):
        raise UnitError(f"value {value!r} is not a finite number")
    if den == 1.0:
        return float(value * num)
    if num == 1.0:
        return float(value / den)
    return float(value * num / den)


def conversion_factor(from_unit: str, to_unit: str, molar_mass: float | None = None) -> tuple[float, float] | None:
    """(numerator, denominator) that `convert` multiplies and divides by, or None where `convert`
    raises `UnitError`. For readers that convert many values between the same two units:
    ``value * num / den`` (``value * num`` when den == 1, ``value / den`` when num == 1) is
    exactly `convert`'s result."""
    if type(from_unit) is not str or type(to_unit) is not str or not (molar_mass is None or type(molar_mass) in (int, float)):
        return None
    found = _cached_ratio(from_unit, to_unit, molar_mass, type(molar_mass))
    return found if type(found) is tuple else None


_EXACT = 2**53  # integers up to here are exact as floats


@lru_cache(maxsize=1024)
def _cached_ratio(from_unit: str, to_unit: str, molar_mass: float | None, _mm_type: type) -> tuple[float, float] | str:
    """`_ratio`, or the message of the UnitError it raised, remembered: a refusal costs as much to
    work out as a factor, and readers ask "is this a volume?" of every dose in mg (doses._is_volume)."""
    try:
        return _ratio(from_unit, to_unit, molar_mass, _mm_type)
    except UnitError as exc:
        return str(exc)


def _ratio(from_unit: str, to_unit: str, molar_mass: float | None, _mm_type: type) -> tuple[float, float]:
    """(numerator, denominator) of the exact factor from_unit -> to_unit, as floats; cached.

    `_mm_type` is part of the cache key only so that ``True`` (refused) never shares an entry
    with ``1``."""
    src, dst = parse(from_unit), parse(to_unit)
    factor = src.factor / dst.factor
    if src.dims != dst.dims:
        s, d = dict(src.dims), dict(dst.dims)
        moles_to_mass = _shift(s, "amount", "mass") == d
        mass_to_moles = _shift(s, "mass", "amount") == d
        if not (moles_to_mass or mass_to_moles):
            raise UnitError(f"cannot convert {from_unit!r} ({src.dimension}) to {to_unit!r} ({dst.dimension})")
        if molar_mass is None:
            raise UnitError(f"converting {from_unit!r} to {to_unit!r} needs the analyte's molar mass")
        if isinstance(molar_mass, bool) or not isinstance(molar_mass, (int, float)) or molar_mass <= 0:
            raise UnitError(f"molar mass {molar_mass!r} must be a positive number")
        mm = Fraction(str(molar_mass))
        factor = factor * mm if moles_to_mass else factor / mm
    if factor.numerator < _EXACT and factor.denominator < _EXACT:
        return float(factor.numerator), float(factor.denominator)
    return float(factor), 1.0


def _shift(dims: dict[str, int], out: str, into: str) -> dict[str, int] | None:
    """dims with one power of `out` replaced by one power of `into` (same sign), or None."""
    exp = dims.get(out, 0)
    if exp not in (1, -1):
        return None
    shifted = dict(dims)
    del shifted[out]
    shifted[into] = shifted.get(into, 0) + exp
    return {k: v for k, v in shifted.items() if v}
