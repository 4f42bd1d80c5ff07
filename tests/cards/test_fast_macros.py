"""Calling a plain macro without Jinja's general call path (cards/text.py `_CardContext`,
`_renderer`) writes exactly what Jinja writes through `Context.call` and `Macro.__call__`, and the
per-process override-reason Codings are what `reasons_for` gives (issue 15). Every finding of
every fixture is rendered both ways: the reference is Jinja's own Context over the same loader,
filters and attribute lookup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pytest

from cdshooks.cards import render, text
from cdshooks.cards.overrides import REASONS, TOPIC_DEFAULTS, reasons_for
from cdshooks.fixtures import NOPREFETCH_FILE, clinical_now, load_fixture, service_for_request

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


def _reference_environment() -> jinja2.Environment:
    ours = text.environment()
    env = text._CardEnvironment(loader=ours.loader, autoescape=False, undefined=jinja2.StrictUndefined,
                                trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters.update({k: ours.filters[k] for k in ("num", "unit", "qty", "day", "drug", "lab", "and_list", "pct")})
    assert env.context_class is jinja2.runtime.Context and ours.context_class is text._CardContext
    return env


def _reference_body(env: jinja2.Environment, finding: Any) -> tuple[str, str]:
    module = env.get_template(f"{finding.topic}.md.j2").module
    name = finding.message.replace("-", "_")
    summary, detail = getattr(module, f"{name}_summary"), getattr(module, f"{name}_detail")
    return text.clip_summary(str(summary(finding, finding.facts))), text._tidy(str(detail(finding, finding.facts)))


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The template findings of every fixture request (with prefetch), as the service rendered them."""
    tmp = tmp_path_factory.mktemp("fast-macros")
    from cdshooks.app import create_app
    from cdshooks.config import Settings

    seen: list[Any] = []
    clients: dict[Any, Any] = {}
    real = text.body

    def keep(finding: Any) -> tuple[str, str]:
        seen.append(finding)
        return real(finding)

    mp = pytest.MonkeyPatch()
    mp.setattr(text, "body", keep)
    try:
        for path in sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").exists()):
            fixture = load_fixture(path)
            day = fixture.reference_date
            if day not in clients:  # one app per clinical day
                clients[day] = create_app(Settings(auth="disabled", data_dir=tmp / str(day), fixed_now=clinical_now(day))).test_client()
            client = clients[day]
            for name, request in fixture.requests.items():
                if name != NOPREFETCH_FILE:
                    body = json.loads(request.read_text())
                    client.post(f"/cds-services/{service_for_request(body)}", json=body)
    finally:
        mp.undo()
    assert len({(f.topic, f.message) for f in seen}) >= 30  # most messages of most topics
    return seen


def test_every_fixture_finding_renders_as_jinja_renders_it(findings: list[Any]) -> None:
    env = _reference_environment()
    base = env.get_template("_base.md.j2").module
    for finding in findings:
        assert text.body(finding) == _reference_body(env, finding), (finding.rule_id, finding.message)
        if finding.patient is not None:
            assert text.patient_block(finding.patient) == text._tidy(str(base.patient_block(finding.patient)))
        assert text.soft_note(finding) == text._tidy(str(base.soft_note(finding)))


def test_a_macro_jinja_must_call_itself_still_goes_through_jinja() -> None:
    env = text.environment()
    module = env.from_string("{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}"
                             "{% macro c() %}{{ caller() }}{% endmacro %}"
                             "{% macro v() %}{{ varargs | join(',') }}{% endmacro %}").module
    assert not text._plain_macro(module.m, 1) and text._plain_macro(module.m, 2)
    assert not text._plain_macro(module.c, 0) and not text._plain_macro(module.v, 0)
    out = env.from_string("{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(1, b=4) }}").render()
    assert out == "1-2 1-3 1-4"


@pytest.mark.parametrize("topic", sorted(TOPIC_DEFAULTS))
def test_override_codings_are_reasons_for(topic: str) -> None:
    for codes in [(), ("other",), ("already-reduced", "lab-not-current", "other"), tuple(REASONS)]:
        expected = [render._coding(c) for c in reasons_for(topic, codes)]
        assert list(render._override_codings(topic, codes)) == expected
    assert render._override_codings(topic, ("no-such-code", "other")) is None  # reasons_for logs it, every time
