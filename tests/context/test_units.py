"""UCUM conversions: every supported family both ways, exact factors, and every refusal."""

from __future__ import annotations

import pytest

from cdshooks.context.units import UnitError, convert, dimension, is_compatible, is_valid, parse

# (value, from, to, expected) - each also checked in reverse
PAIRS = [
    (1, "kg", "g", 1000), (1, "g", "mg", 1000), (1, "mg", "ug", 1000), (1, "ug", "ng", 1000),
    (1, "[lb_av]", "kg", 0.45359237), (16, "[oz_av]", "[lb_av]", 1), (1, "[oz_av]", "g", 28.349523125),
    (1, "m", "cm", 100), (1, "cm", "mm", 10), (1, "[in_i]", "cm", 2.54), (1, "[ft_i]", "[in_i]", 12),
    (1, "m2", "cm2", 10000),
    (1, "L", "dL", 10), (1, "dL", "mL", 100), (1, "L", "mL", 1000),
    (1, "10*3/uL", "/uL", 1000), (1, "10*9/L", "10*3/uL", 1), (1, "/mm3", "/uL", 1), (1, "10*6/uL", "10*3/uL", 1000),
    (1, "10*9/L", "/L", 1e9),
    (1, "[iU]", "[IU]", 1), (1000, "[iU]/m2", "[IU]/m2", 1000),
    (1, "10*8{cells}", "10*6{cells}", 100), (1, "10*6{cells}", "{cells}", 1e6),
    (1, "mg/m2", "ug/m2", 1000), (1, "g/kg", "mg/kg", 1000), (28, "ug/d", "mg/d", 0.028),
    (15, "ug/m2/d", "mg/m2/d", 0.015), (1, "mg/m2/d", "ug/m2/d", 1000), (1, "10*6{cells}/kg", "10*8{cells}/kg", 0.01),
    (1, "g/dL", "g/L", 10), (1, "mg/dL", "mg/L", 10), (1, "g/L", "mg/dL", 100),
    (1, "mmol/L", "umol/L", 1000), (50, "%", "%", 50),
    (60, "mL/min", "L/h", 3.6), (90, "mL/min/{1.73_m2}", "mL/min/{1.73_m2}", 90), (1, "s", "ms", 1000),
    (1, "wk", "d", 7), (1, "d", "h", 24), (1, "h", "min", 60),
]


@pytest.mark.parametrize("value,src,dst,expected", PAIRS)
def test_convert_both_ways(value, src, dst, expected):
    assert convert(value, src, dst) == pytest.approx(expected, rel=1e-12)
    assert convert(expected, dst, src) == pytest.approx(value, rel=1e-12)


def test_exact_imperial_factors():
    assert convert(66, "[lb_av]", "kg") == pytest.approx(29.93709642, abs=1e-12)
    assert convert(48, "[in_i]", "cm") == pytest.approx(121.92, abs=1e-12)


@pytest.mark.parametrize("analyte,mm,si,conventional", [
    ("bilirubin", 584.66, 17.1, 1.0), ("creatinine", 113.12, 88.4, 1.0), ("uric acid", 168.11, 59.48, 1.0),
    ("phosphate", 30.97, 0.3229, 1.0), ("calcium", 40.08, 0.2495, 1.0),
])
def test_molar_conversions_need_and_use_molar_mass(analyte, mm, si, conventional):
    si_unit = "umol/L" if si > 10 else "mmol/L"
    assert convert(si, si_unit, "mg/dL", molar_mass=mm) == pytest.approx(conventional, rel=2e-3)
    assert convert(conventional, "mg/dL", si_unit, molar_mass=mm) == pytest.approx(si, rel=2e-3)
    with pytest.raises(UnitError, match="molar mass"):
        convert(si, si_unit, "mg/dL")


def test_molar_mass_ignored_when_units_compatible_and_validated_when_needed():
    assert convert(1, "mg/dL", "mg/L", molar_mass=584.66) == 10
    for bad in (0, -1, True):
        with pytest.raises(UnitError):
            convert(1, "umol/L", "mg/dL", molar_mass=bad)


@pytest.mark.parametrize("src,dst", [
    ("mg", "mg/m2"), ("mg/m2", "mg/kg"), ("[iU]", "mg"), ("U/L", "[iU]/L"), ("/uL", "{cells}/uL"),
    ("10*6{cells}/kg", "/kg"), ("mL/min/{1.73_m2}", "mL/min"), ("%", "mg"), ("mg/kg", "%"), ("%", "1"), ("ug/d", "ug"), ("kg", "cm"),
    ("mg/dL", "umol"),
])
def test_incompatible_units_refused(src, dst):
    assert not is_compatible(src, dst)
    with pytest.raises(UnitError):
        convert(1, src, dst)


@pytest.mark.parametrize("bad", [
    "", " ", None, "mcg", "MG", "Kg", "units", "IU", "cc", "cells/uL", "{beats}/min", "mg/", "/", "mg//m2",
    "mg m2", " mg", "10*", "kg2x", "m[iU]", "cm0",
])
def test_unknown_or_malformed_units_raise(bad):
    assert not is_valid(bad)
    with pytest.raises(UnitError):
        parse(bad)
    with pytest.raises(UnitError):
        convert(1, bad, "mg")


def test_unit_error_is_value_error_and_value_must_be_number():
    assert issubclass(UnitError, ValueError)
    with pytest.raises(UnitError):
        convert("1", "mg", "g")  # type: ignore[arg-type]
    with pytest.raises(UnitError):
        convert(True, "mg", "g")  # type: ignore[arg-type]


def test_dimensions():
    assert dimension("mg/m2") == dimension("g/m2") == "mass.length-2"
    assert dimension("mg/kg") == "1"  # mass/mass
    assert dimension("%") == "percent"  # kept apart on purpose
    assert not is_compatible("mg/kg", "%")
    assert dimension("[iU]/m2") == "length-2.iu"
    assert dimension("ug/m2/d") == "mass.length-2.time-1"
    assert dimension("10*6{cells}/kg") == "mass-1.cells"
    assert dimension("10*9/L") == dimension("/uL") == "length-3"
    assert dimension("umol/L") == "length-3.amount"
    assert dimension("mL/min/{1.73_m2}") == "length3.time-1.bsa_1.73-1"
