"""Drug products: strength and dose form, from knowledge rows or parsed from a product name.

Why: EHRs order products, not ingredients. The CDS Hooks Sandbox sends "methotrexate 2.5 MG Oral
Tablet" (an RxNorm SCD) with a dose of `1 {pill}` and no route; other EHRs send "1 ML vincristine
sulfate 1 MG/ML Injection" with a dose in mL. To check such an order we need the product's
strength (mg per tablet, mg per mL) and its dose form (an oral tablet implies the oral route; an
"Injection" is parenteral but names no specific route).

Where a strength comes from, strongest first (`Product.source` says which):
  1. a verified RxNorm product row in drugs.json (`strength`, `dose_form`, cross-checked against
     its own RxNorm name at load time);
  2. a FHIR Medication (`ingredient.strength`, `form`) - read in context/medications.py;
  3. the product name parsed here (RxNorm style "<vol> ML <ingredient> <n> <UNIT>[/ML] <Dose Form>",
     or EHR text "mercaptopurine 50 mg tablet").
A name with two strengths (a combination) or a per-m2/per-kg amount ("2.25 mg/m2" is a dose, not a
strength) yields no strength: never a guess.

Dose forms are data (`dose_forms` in drugs.json): RxNorm dose form names and the EHR words for
them, each with the unit a count of it is written in, and the route it implies (or none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

# RxNorm strength units -> UCUM. Only these; anything else (MEQ, %, ACTUAT) gives no strength.
RXNORM_UNITS = {"mg": "mg", "mcg": "ug", "ug": "ug", "µg": "ug", "g": "g", "unt": "[iU]", "iu": "[iU]", "units": "[iU]", "unit": "[iU]"}
_NUM = r"(\d+(?:\.\d+)?|\.\d+)"
_STRENGTH = re.compile(
    _NUM + r"\s*(mg|mcg|µg|ug|g|unt|iu|units?)\b(?:\s*/\s*(\d+(?:\.\d+)?\s*)?(ml|m2|kg|actuat|hr|h)\b)?", re.IGNORECASE
)
_VOLUME = re.compile(r"^\s*" + _NUM + r"\s*ml\b\s+", re.IGNORECASE)
_BRAND = re.compile(r"\[([^\]]+)\]\s*$")


@dataclass(frozen=True)
class DoseForm:
    """A dose form and what it implies for reading an order."""

    name: str  # RxNorm dose form name, e.g. "Oral Tablet"
    unit_of_use: str | None  # UCUM annotation a count of it is written in ("{tablet}"), None for liquids
    route: str | None  # route the form implies ("oral"), None when it names no specific route
    parenteral: bool  # an injection: IV, IM, SC or IT - the form alone does not say which
    words: tuple[str, ...]  # lower-case phrases that name it in free text, longest first
    citation: str


@dataclass(frozen=True)
class Strength:
    """Amount of drug per unit of use (`per` "{tablet}", "{capsule}", "{vial}") or per "mL"."""

    value: float
    unit: str  # UCUM mass/IU numerator: "mg", "ug", "g", "[iU]"
    per: str  # UCUM: "{tablet}" | "{capsule}" | "{vial}" | "mL"

    @property
    def ucum(self) -> str:
        return f"{self.unit}/{self.per}"

    def __str__(self) -> str:
        per = {"{tablet}": "tablet", "{capsule}": "capsule", "{vial}": "vial"}.get(self.per, self.per)
        unit = {"ug": "µg", "[iU]": "IU"}.get(self.unit, self.unit)
        return f"{self.value:g} {unit}/{per}"


@dataclass(frozen=True)
class Product:
    """What an order's product tells us: strength, dose form, package volume, and where from."""

    strength: Strength | None
    dose_form: DoseForm | None
    volume_ml: float | None = None  # package volume ("20 ML ..."), informative only
    source: str = ""  # "RxNorm 197931 (knowledge base)", "Medication/m1 ingredient.strength", "name '...'"


@dataclass(frozen=True)
class ParsedName:
    ingredient: str  # the text before the strength (or the whole name), for name identification
    strength: Strength | None
    dose_form: DoseForm | None
    volume_ml: float | None
    brand: str | None


def dose_form_table(rows: Sequence[Mapping[str, Any]]) -> tuple[DoseForm, ...]:
    forms = []
    for row in rows:
        words = tuple(sorted({row["name"].lower(), *(w.lower() for w in row.get("words", ()))}, key=len, reverse=True))
        forms.append(DoseForm(row["name"], row.get("unit_of_use"), row.get("route"), bool(row.get("parenteral")), words, row["citation"]))
    return tuple(forms)


def find_dose_form(text: str | None, forms: Sequence[DoseForm]) -> DoseForm | None:
    """The dose form named in `text` by its longest whole-phrase match, or None."""
    if not text:
        return None
    low = " " + " ".join(re.findall(r"[a-z0-9-]+", text.lower())) + " "
    best: tuple[int, DoseForm] | None = None
    for form in forms:
        for phrase in form.words:
            norm = " ".join(re.findall(r"[a-z0-9-]+", phrase))
            if f" {norm} " in low and (best is None or len(norm) > best[0]):
                best = (len(norm), form)
    return best[1] if best else None


def parse_product_name(text: str | None, forms: Sequence[DoseForm]) -> ParsedName | None:
    """Ingredient text, strength, dose form, package volume and brand of a product name.

    >>> parse("mercaptopurine 50 MG Oral Tablet")      # 50 mg/{tablet}, Oral Tablet
    >>> parse("1 ML vincristine sulfate 1 MG/ML Injection")  # 1 mg/mL, Injection, 1 mL package
    A strength is only returned when exactly one is named and the dose form says what it is per
    (a tablet/capsule count, or mL for a concentration).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    rest = text.strip()
    brand_m = _BRAND.search(rest)
    brand = brand_m.group(1).strip() if brand_m else None
    if brand_m:
        rest = rest[: brand_m.start()].strip()
    volume = None
    vol_m = _VOLUME.match(rest)
    if vol_m and _STRENGTH.search(rest[vol_m.end():]):
        volume = float(vol_m.group(1))
        rest = rest[vol_m.end():]
    matches = list(_STRENGTH.finditer(rest))
    form = find_dose_form(rest, forms)
    ingredient = rest[: matches[0].start()].strip(" ,-(") if matches else rest
    strength = None
    if len(matches) == 1:
        strength = _strength(matches[0], form)
    return ParsedName(ingredient or rest, strength, form, volume, brand)


def _strength(m: re.Match[str], form: DoseForm | None) -> Strength | None:
    value, unit, per_count, per = float(m.group(1)), RXNORM_UNITS.get(m.group(2).lower()), m.group(3), (m.group(4) or "").lower()
    if unit is None or value <= 0:
        return None
    if per:
        if per != "ml" or (per_count and float(per_count) != 1.0):
            return None  # per m2 / per kg is a dose; per actuation / per hour is not a strength we use
        return Strength(value, unit, "mL")
    if form is not None and form.unit_of_use:
        return Strength(value, unit, form.unit_of_use)
    return None  # "500 MG Injection": amount per vial, not usable for a volume or count
