"""Every fixture request sent through the real app, and the PatientContexts the service builds from
them, for tests that compare a fast path with its general path (or a verbatim copy of the old
code) on real charts: tests/cards/test_fast_macros.py (each finding's text), tests/rules/*
(each rule's verdicts).

One app per clinical day (`fixed_now`), requests without prefetch left out (nothing to read)."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any, Callable, NamedTuple

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


def send_every_fixture_request(data_dir: Path, before: Callable[[str], None] = lambda name: None) -> int:
    """POST every fixture request (with prefetch) to its service; `before(name)` is told which
    ("<fixture>/<request file>") just before each is sent. Returns how many were sent."""
    from cdshooks.app import create_app
    from cdshooks.config import Settings
    from cdshooks.fixtures import NOPREFETCH_FILE, clinical_now, load_fixture, service_for_request

    clients: dict[Any, Any] = {}
    sent = 0
    for path in sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").exists()):
        fixture = load_fixture(path)
        day = fixture.reference_date
        if day not in clients:  # one app per clinical day
            clients[day] = create_app(Settings(auth="disabled", data_dir=data_dir / str(day), fixed_now=clinical_now(day))).test_client()
        for name, request in fixture.requests.items():
            if name != NOPREFETCH_FILE:
                before(f"{path.name}/{name}")
                body = json.loads(request.read_text())
                clients[day].post(f"/cds-services/{service_for_request(body)}", json=body)
                sent += 1
    return sent


class RulesCall(NamedTuple):
    name: str  # fixture directory / request file
    ctx: Any
    kb: Any
    settings: Any
    families: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def fixture_rule_calls() -> tuple[RulesCall, ...]:
    """What `pipeline.run_rules` was called with for every fixture request (built once a session)."""
    import pytest

    from cdshooks.services import pipeline

    seen: list[RulesCall] = []
    real = pipeline.run_rules
    current = [""]

    def keep(ctx: Any, kb: Any, settings: Any, families: Any, **kw: Any) -> Any:
        seen.append(RulesCall(current[0], ctx, kb, settings, tuple(families)))
        return real(ctx, kb, settings, families, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "run_rules", keep)
    try:
        send_every_fixture_request(Path(tempfile.mkdtemp(prefix="fixture-contexts-")), lambda name: current.__setitem__(0, name))
    finally:
        mp.undo()
    return tuple(seen)
