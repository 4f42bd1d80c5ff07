"""MedicationAdministration -> the past doses (`Administration`) cumulative doses and intervals read.

A two-year chart carries hundreds of administrations of a handful of drugs, each spelling the
same drug concept, route and dose. `read_administrations` reads the prefetch Bundle's resources
as sent, in one pass: status and date from each, and what it gives (drug, route, dose) once per
distinct content through a per-request `ReadMemo`. `read_administration` reads one (conformed)
resource; the two give the same administrations (tests/context/test_fast_paths.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping  # not typing's: isinstance on those is ~5x slower
from operator import attrgetter
from typing import Any

import orjson

from ..knowledge.codes import CodeTable
from ..knowledge.drugs import DrugTable
from .conformant import concept_ok, quantity_ok, str_ok
from .doses import derive_amount, quantity
from .fhir import is_object, normalize, parse_date, ref
from .medications import Identification, OrderMemo, _content_key, identify, implied_route, route_of
from .model import Administration, Quantity, Route
from .memo import given_readings
from .read import MALFORMED, conform

GIVEN = frozenset({"completed", "in-progress"})


def read_administration(resource: Mapping[str, Any], drugs: DrugTable, codes: CodeTable,
                        included: Mapping[str, Mapping[str, Any]], memo: "ReadMemo | None" = None) -> Administration | None:
    """A given dose (completed / in-progress) of a known drug, dated; else None."""
    if resource.get("status") not in GIVEN:
        return None
    period = resource.get("effectivePeriod") if is_object(resource.get("effectivePeriod")) else {}
    when = parse_date(resource.get("effectiveDateTime")) or parse_date(period.get("start"))
    if when is None:
        return None
    dosage = resource.get("dosage") if is_object(resource.get("dosage")) else {}
    ident, route, dose = memo.given(resource, dosage, drugs, codes, included) if memo is not None else \
        _given(resource, dosage, drugs, codes, included, None)
    if not ident.drug_ids:
        return None
    return Administration(ref=ref(resource), drug_ids=ident.drug_ids, date=when, dose=dose, route=route,
                          status=resource.get("status"))


def _given(resource: Mapping[str, Any], dosage: Mapping[str, Any], drugs: DrugTable, codes: CodeTable,
           included: Mapping[str, Mapping[str, Any]], memo: "ReadMemo | None") -> tuple[Identification, Route | None, Quantity | None]:
    """(identification, route, dose) of an administration: what it gives, apart from its date."""
    ident = memo.identify(resource, drugs, included) if memo is not None else identify(resource, drugs, included)
    if not ident.drug_ids:
        return ident, None, None
    problems: list[str] = []  # an administration carries no problems: a dose it cannot read is simply absent
    route = memo.route(dosage.get("route"), codes) if memo is not None else route_of(dosage.get("route"), codes)
    dose = derive_amount(quantity(dosage.get("dose"), "dosage.dose", problems), ident.product, problems)
    return ident, route or implied_route(ident.product), dose


def plain_administration(resource: Any) -> bool:
    """True when every element `read_administration` reads (with a ReadMemo or without) already
    has its FHIR JSON kind, so reading the resource as sent gives what reading its conformed copy
    gives (fhir.entries_as_sent). Why: a two-year chart carries hundreds of administrations,
    and conforming each (a checked walk of every element) cost more than reading it. A
    medicationReference (and so contained Medications) always takes the conformed path."""
    if type(resource) is not dict or "medicationReference" in resource or MALFORMED in resource:
        return False
    g = resource.get
    period, dosage = g("effectivePeriod"), g("dosage")
    return (type(g("resourceType")) is str and (type(g("id")) is str or "id" not in resource) and str_ok(g("status"))
            and str_ok(g("effectiveDateTime")) and (period is None or (type(period) is dict and str_ok(period.get("start"))))
            and concept_ok(g("medicationCodeableConcept"))
            and (dosage is None or (type(dosage) is dict and quantity_ok(dosage.get("dose")) and concept_ok(dosage.get("route")))))


class ReadMemo(OrderMemo):
    """What one request's readers have already worked out, by the content it depends on.

    Why: a two-year chart carries hundreds of administrations of a handful of drugs, each
    spelling the same medicationCodeableConcept and route; identifying a drug (codes, names,
    look-alike guard, product) and a route is pure in that content. Keyed by the JSON bytes of
    the concept, so equal content shares an answer and different content never does. One per
    request (build_context makes it); only what an administration gives (`given_as_sent`, pure
    in the three elements' bytes and the knowledge views) may live in a table shared between
    requests (`memo.given_readings`). Results are immutable and handed out as they are.
    """

    def __init__(self, shared: "dict[bytes, tuple[Identification, Route | None, Quantity | None]] | None" = None) -> None:
        """`shared`: a table of `given_as_sent` readings kept between requests (`memo.given_readings`,
        for the knowledge views this request reads with), else this request's own."""
        super().__init__()  # routes, timings and identifications (OrderMemo.identify)
        self._given: dict[bytes, tuple[Identification, Route | None, Quantity | None]] = {}
        self._as_sent: dict[bytes, tuple[Identification, Route | None, Quantity | None]] = {} if shared is None else shared

    def given_as_sent(self, resource: dict[str, Any], dosage: dict[str, Any] | None, drugs: DrugTable, codes: CodeTable,
                      included: Mapping[str, Mapping[str, Any]]) -> tuple[Identification, Route | None, Quantity | None]:
        """`_given` of `resource` as `read_administration` reads it conformed (its dosage
        `dosage`, None when not an object), for a resource as sent without a medicationReference.

        Keyed by the JSON bytes of the three elements it depends on as sent. Two resources with
        the same bytes conform to the same three elements: orjson writes NaN and Infinity as null,
        and `conform` drops a null, a NaN and an Infinity alike wherever `_given` reads (a string,
        number or object element); where it keeps them (elements it does not judge) nothing is read."""
        key = _sent_key(resource, dosage)
        found = self._as_sent.get(key) if key is not None else None
        if found is None:
            fixed = resource if plain_administration(resource) else normalize(conform(resource) or {})
            fixed_dosage = fixed.get("dosage")
            found = _given(fixed, fixed_dosage if is_object(fixed_dosage) else {}, drugs, codes, included, self)
            if key is not None:
                given_readings.put(self._as_sent, key, found)  # (bounded, whether shared or not)
        return found

    def given(self, resource: Mapping[str, Any], dosage: Mapping[str, Any], drugs: DrugTable, codes: CodeTable,
              included: Mapping[str, Mapping[str, Any]]) -> tuple[Identification, Route | None, Quantity | None]:
        """`_given(resource, dosage, ...)`: once per distinct medicationCodeableConcept, route and
        dose (everything it reads), for resources without a medicationReference."""
        if "medicationReference" in resource:
            return _given(resource, dosage, drugs, codes, included, self)
        key = _parts_key(resource.get("medicationCodeableConcept"), dosage.get("route"), dosage.get("dose"))
        if key is None:
            return _given(resource, dosage, drugs, codes, included, self)
        found = self._given.get(key)
        if found is None:
            found = self._given[key] = _given(resource, dosage, drugs, codes, included, self)
        return found


def _sent_key(resource: dict[str, Any], dosage: dict[str, Any] | None) -> bytes | None:
    """The `ReadMemo.given_as_sent` key: the JSON bytes of the sent medicationCodeableConcept,
    dosage.route and dosage.dose; None when one is not plain JSON (a caller's value: read alone)."""
    parts = (resource.get("medicationCodeableConcept"), dosage.get("route"), dosage.get("dose")) if dosage is not None \
        else (resource.get("medicationCodeableConcept"), None, None)
    try:
        return orjson.dumps(parts)
    except TypeError:
        return None


def _parts_key(*parts: Any) -> bytes | None:
    """One key for several values (each absent, or as `_content_key`), None if one cannot have a key.
    (JSON bytes never hold a raw NUL, so the joined key is unambiguous.)"""
    keys = []
    for part in parts:
        if part is None:
            keys.append(b"")
        else:
            key = _content_key(part)
            if key is None:
                return None
            keys.append(key)
    return b"\0".join(keys)




def read_administrations(resources: Iterable[Any], drugs: DrugTable, codes: CodeTable,
                         included: Mapping[str, Mapping[str, Any]], memo: "ReadMemo | None" = None) -> tuple[Administration, ...]:
    """The given administrations among a prefetch Bundle's resources (as `raw_entries` lists
    them), newest first (ties in sent order): what conforming each (`fhir.conformed`) and reading
    it with `read_administration` gives, without the copy or the per-resource checks.

    Why this is the same, element by element (`read.conform` keeps a string, object or number of
    the right kind and drops anything else): the resourceType and status decide only when they
    are the strings compared; a date read by `parse_date` is None for anything but a string, and
    an effectivePeriod or dosage that is not an object is dropped (read as empty); an id of
    another kind is dropped ('?'). What an administration gives (`_given`: drug, route, dose)
    depends only on the sent medicationCodeableConcept, dosage.route and dosage.dose, so it is
    worked out once per distinct content of those three, from the conformed resource, and shared
    (`ReadMemo.given_as_sent`). A medicationReference (a Medication elsewhere, maybe contained)
    and anything that is not a plain dict take the general path.
    """
    memo = ReadMemo() if memo is None else memo
    given, days = memo._as_sent, {}  # what given_as_sent remembers, read inline; "YYYY-MM-DD..." -> date
    out: list[Administration] = []
    for r in resources:
        if type(r) is not dict or "medicationReference" in r:
            fixed = r if plain_administration(r) else (normalize(c) if (c := conform(r)) is not None else None)
            if fixed is not None and fixed.get("resourceType") == "MedicationAdministration":
                a = read_administration(fixed, drugs, codes, included, memo)
                if a is not None:
                    out.append(a)
            continue
        status = r.get("status")
        if type(status) is not str or status not in GIVEN or r.get("resourceType") != "MedicationAdministration":
            continue
        day = r.get("effectiveDateTime")
        if type(day) is str:  # parse_date reads a string's first 10 characters only: each day parsed once
            when = days.get(head := day[:10])
            if when is None and (when := parse_date(head)) is not None:
                days[head] = when
        else:
            when = None  # parse_date(anything but a string) is None
        if when is None:
            period = r.get("effectivePeriod")
            if type(period) is not dict or (when := parse_date(period.get("start"))) is None:
                continue
        dosage = r.get("dosage")
        if type(dosage) is not dict:
            dosage = None
        key = _sent_key(r, dosage)
        found = given.get(key) if key is not None else None
        ident, route, dose = found if found is not None else memo.given_as_sent(r, dosage, drugs, codes, included)
        if ident.drug_ids:
            rid = r.get("id")
            out.append(Administration(f"MedicationAdministration/{rid if type(rid) is str else '?'}",
                                      ident.drug_ids, when, dose, route, status))
    out.sort(key=_date, reverse=True)
    return tuple(out)


_date = attrgetter("date")
