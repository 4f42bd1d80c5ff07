"""Small, defensive readers over FHIR JSON (R4/R4B) shared by the context builders.

Why plain dict readers plus selective model validation: real EHR payloads (and the official
CDS Hooks examples) have quirks - a Bundle without `type`, `doseAndRate` or `category` sent as an
object instead of an array. `normalize` fixes exactly those list-vs-object quirks first; then the
resources a check actually reads are validated with `fhir.resources` R4B models (`validate`),
and values are read from the normalized dict. Nothing here raises on bad input: readers return
None and callers turn that into a `DataGap` or an order `problem`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Callable, Iterable, Iterator, Mapping  # not typing.Mapping: isinstance on it is ~5x slower
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from . import elements
from .conformant import conformant, settled
from .memo import validation_memo
from .read import conform, objects_of, problems_of, without_marker
from .units import UnitError, is_valid

UCUM = "http://unitsofmeasure.org"

# FHIR elements that are arrays (0..*) in R4/R4B among the resources we read. A single object
# sent for one of these is wrapped in a list before validation.
LIST_ELEMENTS = frozenset({
    "coding", "category", "reasonCode", "reasonReference", "dosageInstruction", "doseAndRate",
    "additionalInstruction", "identifier", "note", "basedOn", "partOf", "component",
    "referenceRange", "interpretation", "performer", "ingredient", "contained", "extension",
    "modifierExtension", "dayOfWeek", "timeOfDay", "event", "when", "name", "given", "prefix",
    "suffix", "line", "telecom", "address", "bodySite", "evidence", "stage", "activity",
    "addresses", "goal", "entry", "link", "profile", "security", "tag", "supportingInformation",
    "detectedIssue", "insurance", "eventHistory", "hasMember", "derivedFrom", "careTeam",
    "instantiatesCanonical", "instantiatesUri", "replaces", "contributor",
})
# Elements that share a name with a list element but are single objects in some resources.
_NOT_LIST_IN = {("MedicationAdministration", "dosage")}

_MODELS: dict[str, Any] = {}


def normalize(resource: Any, _type: str | None = None) -> Any:
    """`resource` with list-vs-object quirks fixed (recursively), copy-on-write.

    Why copy-on-write: a prefetch holds hundreds of resources and almost none has a quirk, so a
    node is copied only when something beneath it changed; everything else is returned as is
    (the request body is never mutated, and every caller that edits a resource deep-copies it
    first). Equal by value to a full recursive copy with the same fixes.
    """
    kind = type(resource)
    if kind is list:
        out_list: list[Any] | None = None
        for i, item in enumerate(resource):
            if type(item) is dict or type(item) is list:
                fixed = normalize(item, _type)
                if fixed is not item:
                    if out_list is None:
                        out_list = list(resource)
                    out_list[i] = fixed
        return resource if out_list is None else out_list
    if kind is not dict:
        return resource
    rtype = resource.get("resourceType", _type)
    out: dict[str, Any] | None = None
    for key, value in resource.items():
        vkind = type(value)
        if vkind is dict:
            if key in LIST_ELEMENTS and (rtype, key) not in _NOT_LIST_IN:
                fixed = [normalize(value, rtype)]
            else:
                fixed = normalize(value, rtype)
        elif vkind is list:
            fixed = normalize(value, rtype)
        else:
            continue
        if fixed is not value:
            if out is None:
                out = dict(resource)
            out[key] = fixed
    return resource if out is None else out


def is_object(value: Any) -> bool:
    """`isinstance(value, Mapping)`, answered without the abc machinery (a Python-level
    `__instancecheck__`, ~5x a type check) for the dicts and Nones parsed JSON is made of."""
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def as_list(value: Any) -> list[Any]:
    """A FHIR array element read defensively: a list as is, a single object as [object], else []."""
    if type(value) is list:
        return value
    if value is None:
        return []
    if is_object(value):
        return [value]
    return value if isinstance(value, list) else []


def model_class(resource_type: str) -> Any:
    """The fhir.resources R4B model class for a resource type (imported lazily, cached)."""
    if resource_type not in _MODELS:
        import importlib

        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
        _MODELS[resource_type] = getattr(module, resource_type)
    return _MODELS[resource_type]


def validate(resource: Mapping[str, Any]) -> list[str]:
    """Validate with the R4B model; return problems as short strings (no values, no PHI).

    Elements `read.conform` dropped (wrong JSON kind, implausible number, too deep) come first:
    the resource as sent was not valid, even though what is left may be.

    Remembered per resource content (`validation_memo`): an EHR re-sends the same chart on every
    hook call for a patient, and one fhir.resources validation costs ~0.1-0.3 ms.
    """
    return list(validation_memo.get(resource, _validate))


def _validate(resource: Mapping[str, Any]) -> list[str]:
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return ["resource has no resourceType"]
    dropped = [f"invalid FHIR {p}" for p in problems_of(resource)]
    if dropped:
        return dropped
    try:
        cls = model_class(rtype)
    except (ImportError, AttributeError, ValueError):
        return [f"unknown resourceType {rtype[:40]!r}"]
    try:
        elements.model_validate(cls, without_marker(resource))  # = cls.model_validate(...), elements once (elements.py)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"invalid FHIR {rtype}: {loc or '(root)'}: {err.get('msg', 'invalid')}")
        more = len(exc.errors()) - 5
        if more > 0:
            problems.append(f"... and {more} more validation errors")
        return problems
    except Exception as exc:  # fhir.resources may raise plain ValueError/TypeError on odd input
        return [f"invalid FHIR {rtype}: {type(exc).__name__}"]
    return []


def entries(bundle: Any) -> list[dict[str, Any]]:
    """Resources of a searchset Bundle (type optional), or [resource] for a single resource.

    Every resource passes `read.conform` first (wrong JSON kinds dropped and recorded), so the
    readers after this never meet a list where a string belongs."""
    return conformed(raw_entries(bundle))


def conformed(resources: Iterable[Any], flags: Iterable[bool] | None = None) -> list[dict[str, Any]]:
    """Each resource (as `raw_entries` lists them) conformed and normalized, as `entries` gives them.
    `flags`: `settled_flags(resources)`, when the caller has them already (builder: a chart re-sent)."""
    if flags is None:
        return [fixed for resource in resources if (fixed := _ready(resource)) is not None]
    out = []
    for resource, kept in zip(resources, flags):
        if kept:
            out.append(resource)
        elif (fixed := _fixed(resource)) is not None:
            out.append(fixed)
    return out


def settled_flags(resources: Iterable[Any]) -> tuple[bool, ...]:
    """For each resource, whether `conformed` keeps it as sent (`settled`): a function of its content."""
    return tuple(settled(resource, LIST_ELEMENTS) for resource in resources)


def as_sent(resources: Iterable[Any], plain: Callable[[Any], bool]) -> list[Mapping[str, Any]]:
    """`conformed(resources)`, except that a resource `plain` vouches for is kept exactly as sent.

    For readers that check the elements they read themselves (`plain` says each has its FHIR JSON
    kind, so reading the resource as sent gives what reading its conformed, normalized copy
    gives); every other resource is conformed and normalized as `entries` does it."""
    out: list[Mapping[str, Any]] = []
    for resource in resources:
        if plain(resource):
            out.append(resource)
        elif (fixed := _ready(resource)) is not None:
            out.append(fixed)
    return out


def _ready(resource: Any) -> Any:
    """`normalize(conform(resource))` (None when conform gives None): the resource as sent when
    `settled` says both would give it back unchanged (one walk), else conformed and normalized."""
    if settled(resource, LIST_ELEMENTS):  # (an exception of _NOT_LIST_IN is conformed and normalized: sound)
        return resource
    return _fixed(resource)


def _fixed(resource: Any) -> Any:
    """`normalize(conform(resource))`, None when conform gives None."""
    fixed = _conformed(resource)
    return normalize(fixed) if fixed is not None else None


def _conformed(resource: Any) -> Any:
    """`conform(resource)`, or the resource as sent when that is what conform would give (no copy)."""
    return resource if conformant(resource) else conform(resource)


_DICTS = {dict}


def raw_entries(bundle: Any) -> list[Mapping[str, Any]]:
    """The resources `entries` would conform, neither conformed, normalized nor copied: for
    readers that check the elements they read themselves and `conform` only what is not clean
    (observations.py, `as_sent`). One list per Bundle, made once per request (builder)."""
    if not is_object(bundle):
        return []
    if bundle.get("resourceType") != "Bundle":
        return [bundle] if isinstance(bundle.get("resourceType"), str) else []
    raw = bundle.get("entry")
    if is_object(raw):
        raw = [raw]
    elif not isinstance(raw, list):
        return []  # entry: 1, "x", null, ... (as objects_of reads it)
    try:  # as EHRs send it: every entry an object with a resource object (one C-level pass, then a check)
        resources = [e["resource"] for e in raw]
    except (KeyError, TypeError, IndexError):
        resources = None
    if resources is not None and (not resources or set(map(type, resources)) == _DICTS):  # every one a dict (C-level)
        return resources
    return [r for e in raw if (type(e) is dict or isinstance(e, Mapping))
            and (type(r := e.get("resource")) is dict or isinstance(r, Mapping))]


def ref(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('resourceType', 'Resource')}/{resource.get('id', '?')}"


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def iso_day(value: Any) -> date | None:
    """Fast path of `parse_date` for the usual "YYYY-MM-DD..." (C parser); None sends the value
    through `parse_date`'s pattern, which decides every other shape exactly as before."""
    if type(value) is str and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def parse_date(value: Any) -> date | None:
    """The calendar date of a full FHIR date/dateTime; None for partial or invalid values."""
    day = iso_day(value)
    if day is not None:
        return day
    if not isinstance(value, str):
        return None
    m = _DATE.match(value)
    if not m or not m.group(3):
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_partial_date(value: Any) -> tuple[int, int | None, int | None] | None:
    """(year, month, day) with None for missing parts; None if not a FHIR date at all."""
    if not isinstance(value, str):
        return None
    m = _DATE.match(value)
    if not m:
        return None
    y, mo, d = int(m.group(1)), m.group(2), m.group(3)
    return y, int(mo) if mo else None, int(d) if d else None


def codings(concept: Any) -> list[dict[str, Any]]:
    if type(concept) is dict and type(coding := concept.get("coding")) is list:  # as parsed JSON: fast path
        return [c for c in coding if type(c) is dict or isinstance(c, Mapping)]
    if not is_object(concept):
        return []
    return [c for c in as_list(concept.get("coding")) if is_object(c)]


def concept_texts(concept: Any) -> list[str]:
    """CodeableConcept.text and every coding display, in that order."""
    if not is_object(concept):
        return []
    texts = [concept["text"]] if isinstance(concept.get("text"), str) else []
    texts += [c["display"] for c in codings(concept) if isinstance(c.get("display"), str)]
    return texts


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    return None


def ucum_code(quantity: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(UCUM code, why-not) for a FHIR Quantity.

    `code` is used when `system` is UCUM (or absent and the code is valid UCUM); the display
    `unit` only when `system` is absent and `unit` is itself an exact UCUM code. Anything else is
    unusable - we never guess what "mcg" or "units" meant.
    """
    system, code, unit = quantity.get("system"), quantity.get("code"), quantity.get("unit")
    if (system is None or type(system) is str) and (code is None or type(code) is str) and (unit is None or type(unit) is str):
        return _ucum_code(system, code, unit)
    return _ucum_code.__wrapped__(system, code, unit)


@lru_cache(maxsize=512)
def _ucum_code(system: Any, code: Any, unit: Any) -> tuple[str | None, str | None]:
    """`ucum_code` of the three fields; remembered when they are plain strings (a chart spells
    a handful of units hundreds of times)."""
    if system not in (None, UCUM):
        return None, f"unit system {system!r} is not UCUM"
    for candidate in (code,) if system == UCUM else (code, unit):
        if isinstance(candidate, str) and candidate:
            if is_valid(candidate):
                return candidate, None
            if system == UCUM or candidate is code:
                return None, f"unit {candidate!r} is not a supported UCUM code"
    return None, "no UCUM unit"


def quantity_original(quantity: Mapping[str, Any]) -> str:
    value = quantity.get("value")
    unit = quantity.get("code") or quantity.get("unit") or ""
    return f"{value} {unit}".strip()


def iter_text(*items: Any) -> Iterator[str]:
    for item in items:
        if isinstance(item, str) and item.strip():
            yield item


__all__ = [
    "UCUM", "UnitError", "normalize", "is_object", "as_list", "validate", "entries", "conformed", "as_sent", "raw_entries", "ref", "iso_day", "parse_date", "parse_partial_date",
    "codings", "concept_texts", "number", "ucum_code", "quantity_original",
]
