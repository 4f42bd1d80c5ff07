"""fhir.resources validation of a resource with its top-level elements remembered by content.

Why: the first call for a patient validates every order and Condition it reads (~0.35 ms per
MedicationRequest, 15 on a typical order-sign), and the whole-resource memo (`memo.validation_memo`)
cannot help: the patient's id is in every resource. Most of that time is spent validating
elements that are the same for every patient on the same regimen: the Dosage, the medication
concept, the dispense request. Validating a resource validates each such element on its own:
fhir_core's field validator (`FhirBase.fhir_model_validator`) calls
`ElementModel.model_validate(element_dict)` with nothing from the parent, and accepts an
already validated instance of that model as it is. So an element validated once stands for every
later element with the same JSON bytes, and the parent's own checks (its primitives, choice
elements, required elements, nulls in lists) still run on every resource.

Only an element whose own validation succeeded is replaced by its instance; any other is left
as sent, so a resource with an invalid element fails exactly as before, with the same errors in
the same order (tests/context/test_elements.py holds the two ways equal, valid and invalid).
Elements whose bytes hold a null (orjson writes NaN and Infinity as null) or that are not plain
JSON are never remembered, and the polymorphic `contained` resources (their own validator
dispatches on resourceType) are never replaced. At most `MAX_ELEMENTS` are kept per process: the
validated instances carry values (no identifiers: patient references differ per patient and are
simply validated again), and a full table is emptied.
"""

from __future__ import annotations

import typing
from typing import Any

import orjson
from fhir_core.types import FhirBase

MAX_ELEMENTS = 1024

# model class -> {JSON key of an element: (its model class, is a list)}
_ELEMENT_FIELDS: dict[type, dict[str, tuple[type, bool]]] = {}
# (element model class, the element's JSON bytes) -> its validated instance, or None (invalid)
_VALIDATED: dict[tuple[type, bytes], Any] = {}
_PLAIN_VALIDATOR = FhirBase.fhir_model_validator.__func__  # type: ignore[attr-defined]


def model_validate(cls: Any, data: dict[str, Any]) -> Any:
    """`cls.model_validate(data)`, with each top-level element validated once per distinct bytes."""
    fields = _ELEMENT_FIELDS.get(cls)
    if fields is None:
        fields = _ELEMENT_FIELDS[cls] = _element_fields(cls)
    swapped: dict[str, Any] | None = None
    for key, (element_cls, is_list) in fields.items():
        value = data.get(key)
        if value is None:
            continue
        if is_list:
            if type(value) is not list:
                continue
            items = [_validated(element_cls, item) for item in value]
            if any(new is not old for new, old in zip(items, value)):
                if swapped is None:
                    swapped = dict(data)
                swapped[key] = items
        else:
            new = _validated(element_cls, value)
            if new is not value:
                if swapped is None:
                    swapped = dict(data)
                swapped[key] = new
    return cls.model_validate(swapped if swapped is not None else data)


def _validated(element_cls: type, value: Any) -> Any:
    """The validated instance standing for `value`, or `value` itself (not an object, not
    remembered, or invalid: then the parent validates it where it is, as it always did)."""
    if type(value) is not dict:
        return value
    try:
        data = orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return value
    if b"null" in data:
        return value
    key = (element_cls, data)
    try:
        found = _VALIDATED[key]
    except KeyError:
        try:
            found = element_cls.model_validate(value)  # type: ignore[attr-defined]
        except Exception:  # invalid: the parent's validation reports it, exactly as before
            found = None
        if len(_VALIDATED) >= MAX_ELEMENTS:
            _VALIDATED.clear()
        _VALIDATED[key] = found
    return value if found is None else found


def _element_fields(cls: Any) -> dict[str, tuple[type, bool]]:
    """The fields of `cls` holding one element model (or a list of one), by JSON key, whose
    values fhir_core validates with the plain `FhirBase.fhir_model_validator` (not the
    resource-dispatching one of `contained`, not the `_field` primitive extensions)."""
    out: dict[str, tuple[type, bool]] = {}
    for name, info in cls.model_fields.items():
        if name.endswith("__ext"):
            continue
        found = list(_fhir_types(info.annotation, False))
        if len(found) != 1:
            continue
        fhir_type, is_list = found[0]
        if getattr(fhir_type.fhir_model_validator, "__func__", None) is not _PLAIN_VALIDATOR:
            continue
        out[info.alias or name] = (fhir_type.get_model_klass(), is_list)
    return out


def _fhir_types(annotation: Any, in_list: bool) -> typing.Iterator[tuple[Any, bool]]:
    origin = typing.get_origin(annotation)
    if origin is list:
        for arg in typing.get_args(annotation):
            yield from _fhir_types(arg, True)
    elif origin is not None:
        for arg in typing.get_args(annotation):
            yield from _fhir_types(arg, in_list)
    elif isinstance(annotation, type) and issubclass(annotation, FhirBase):
        yield annotation, in_list


def clear() -> None:
    """Forget every remembered element (tests)."""
    _VALIDATED.clear()
