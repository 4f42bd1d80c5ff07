"""A rule module whose rules yield rendered findings: `M = Rendered(monitoring)`; `M.tumour_lysis(ctx, kb, s)`.

Why: rule tests written against the older form call rule functions directly and read
`.summary`/`.detail`; with Verdicts they go through the real engine stamp and the real templates
(`support.rendered.run_rendered`), so they check what a prescriber reads, not a copy of it.
"""

from __future__ import annotations

from typing import Any

from support.rendered import run_rendered


class Rendered:
    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        if not callable(value) or getattr(value, "__module__", None) != self._module.__name__:
            return value
        return lambda ctx, kb, settings=None: run_rendered(value, ctx, kb, settings)
