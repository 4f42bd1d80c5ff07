"""The PatientContexts the service builds from every fixture request, for tests that compare a
rule's fast path with its general path (or a verbatim copy of the old code) on real charts.

Each request is sent through the real app (one per clinical day, as tests/cards/test_fast_macros.py
does); `pipeline.run_rules` is wrapped to keep what it was called with. Built once per session."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


class RulesCall(NamedTuple):
    name: str  # fixture directory / request file
    ctx: Any
    kb: Any
    settings: Any
    families: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def fixture_rule_calls() -> tuple[RulesCall, ...]:
    import pytest

    from cdshooks.app import create_app
    from cdshooks.config import Settings
    from cdshooks.fixtures import NOPREFETCH_FILE, clinical_now, load_fixture, service_for_request
    from cdshooks.services import pipeline

    seen: list[RulesCall] = []
    real = pipeline.run_rules
    current = [""]

    def keep(ctx: Any, kb: Any, settings: Any, families: Any, **kw: Any) -> Any:
        seen.append(RulesCall(current[0], ctx, kb, settings, tuple(families)))
        return real(ctx, kb, settings, families, **kw)

    tmp = Path(tempfile.mkdtemp(prefix="fixture-contexts-"))
    clients: dict[Any, Any] = {}
    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "run_rules", keep)
    try:
        for path in sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").exists()):
            fixture = load_fixture(path)
            day = fixture.reference_date
            if day not in clients:
                clients[day] = create_app(Settings(auth="disabled", data_dir=tmp / str(day), fixed_now=clinical_now(day))).test_client()
            for name, request in fixture.requests.items():
                if name != NOPREFETCH_FILE:
                    current[0] = f"{path.name}/{name}"
                    body = json.loads(request.read_text())
                    clients[day].post(f"/cds-services/{service_for_request(body)}", json=body)
    finally:
        mp.undo()
    return tuple(seen)
