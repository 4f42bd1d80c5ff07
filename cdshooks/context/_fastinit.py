"""A faster `__init__` for the frozen dataclasses built hundreds of times per request.

Why: a frozen dataclass's generated `__init__` assigns every field through
`object.__setattr__` (frozen forbids plain assignment); for an 11-field `LabResult` that made
construction ~3.5x slower than a plain dataclass, and a two-year chart builds hundreds of them.
`fast_frozen_init` replaces it with an `__init__` that writes the instance `__dict__` directly:
the same signature, defaults and resulting object (equality, hash, repr, `replace`, pickling and
frozenness are untouched, as they never go through `__init__`'s assignments). Classes it cannot
reproduce exactly (`__post_init__`, default factories, keyword-only or init=False fields, slots)
are returned unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def fast_frozen_init(cls: type[T]) -> type[T]:
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (hasattr(cls, "__post_init__") or hasattr(cls, "__slots__")
            or any(f.default_factory is not dataclasses.MISSING or not f.init or f.kw_only for f in fields)):
        return cls
    namespace: dict[str, Any] = {}
    params = []
    for f in fields:
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    d[{f.name!r}] = {f.name}\n" for f in fields)
    source = f"def __init__(self, {', '.join(params)}):\n    d = self.__dict__\n{body}"
    exec(source, namespace)  # noqa: S102 - source built only from the dataclass's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[misc]
    return cls
