"""fast_frozen_init: same signature, defaults and object as the dataclass-generated __init__."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from datetime import date

import pytest

from cdshooks.context import model
from cdshooks.context._fastinit import fast_frozen_init


def _twin(cls):
    """The same frozen dataclass with the generated __init__ (the reference)."""
    ns = {"__annotations__": dict(cls.__annotations__)}
    ns.update({f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING})
    return dataclasses.dataclass(frozen=True)(type(cls.__name__, (), ns))


@pytest.mark.parametrize("cls", [model.Quantity, model.Measurement, model.LabResult, model.DataGap, model.Route, model.Administration,
                                 model.Timing, model.Dose, model.MedicationOrder, model.ClinicalFact])
def test_decorated_models_build_the_same_objects(cls):
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    ref = _twin(cls)
    assert str(inspect.signature(cls.__init__)) == str(inspect.signature(ref.__init__))
    args = [f"v{i}" for i, f in enumerate(dataclasses.fields(cls)) if f.default is dataclasses.MISSING]
    fast, slow = cls(*args), ref(*args)
    assert fast.__dict__ == slow.__dict__
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(fast, dataclasses.fields(cls)[0].name, "x")


def test_values_equality_hash_replace_pickle():
    a = model.LabResult("wbc", date(2024, 1, 1), "Observation/o", value=3.0, reference_high=6.0)
    b = model.LabResult("wbc", date(2024, 1, 1), "Observation/o", 3.0, None, None, None, 6.0)
    assert a == b and hash(a) == hash(b) and a.times_uln == 0.5
    assert dataclasses.replace(a, value=1.0).value == 1.0 and pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(TypeError):
        model.LabResult("wbc")  # type: ignore[call-arg]


def test_classes_it_cannot_reproduce_are_left_alone():
    @dataclasses.dataclass(frozen=True)
    class WithFactory:
        x: list = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True)
    class WithPost:
        x: int = 0

        def __post_init__(self) -> None:
            object.__setattr__(self, "x", self.x + 1)

    for cls in (WithFactory, WithPost):
        init = cls.__init__
        assert fast_frozen_init(cls).__init__ is init
    assert WithPost().x == 1
