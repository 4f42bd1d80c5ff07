"""The card templates' shortcut through Jinja (cards/fastjinja.py: a plain macro called as its
compiled function, from templates and from cards/text.py `_renderer`) writes exactly what
Jinja writes through `Context.call` and `Macro.__call__`, and the
per-process override-reason Codings are what `reasons_for` gives (issue 15). Every finding of
every fixture is rendered both ways: the reference is Jinja's own Context over the same
loader, filters and attribute lookup."""

from __future__ import annotations

from typing import Any

import jinja2
import jinja2.compiler
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from cdshooks.cards import fastjinja, render, text
from cdshooks.cards.overrides import REASONS, TOPIC_DEFAULTS, reasons_for

from support.fixture_contexts import send_every_fixture_request

class _ReferenceEnvironment(jinja2.Environment):
    """`text._CardEnvironment` as it was before its Finding shortcut (round 7), verbatim: a facts
    dict's item, else Jinja's own `getattr`."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in fastjinja.DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _reference_environment() -> jinja2.Environment:
    ours = text.environment()
    env = _ReferenceEnvironment(loader=ours.loader, autoescape=False, undefined=jinja2.StrictUndefined,
                                trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.code_generator_class = jinja2.compiler.CodeGenerator  # Jinja's own `environment.getattr` call per `x.name`
    env.filters.update({k: ours.filters[k] for k in ("num", "unit", "qty", "day", "drug", "lab", "and_list", "pct")})
    assert env.context_class is jinja2.runtime.Context and ours.context_class is fastjinja.CardContext
    assert ours.code_generator_class is fastjinja.CardCodeGenerator
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
    seen: list[Any] = []
    real = text.body

    def keep(finding: Any) -> tuple[str, str]:
        seen.append(finding)
        return real(finding)

    mp = pytest.MonkeyPatch()
    mp.setattr(text, "body", keep)
    try:
        send_every_fixture_request(tmp)
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
    assert fastjinja.plain_arguments(module.m) == 2
    assert fastjinja.plain_arguments(module.c) == -1 and fastjinja.plain_arguments(module.v) == -1
    assert fastjinja.plain_function(module.m, 1) is None and fastjinja.plain_function(module.m, 2) is module.m._func
    source = ("{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{% macro c() %}<{{ caller() }}>{% endmacro %}"
              "{{ m(1) }} {{ m(1, 3) }} {{ m(1, b=4) }} {% for i in [5] %}{{ m(i, i) }}{% endfor %} {% call c() %}x{% endcall %}")
    assert env.from_string(source).render() == _reference_environment().from_string(source).render() == "1-2 1-3 1-4 5-5 <x>"


@pytest.mark.parametrize("topic", sorted(TOPIC_DEFAULTS))
def test_override_codings_are_reasons_for(topic: str) -> None:
    for codes in [(), ("other",), ("already-reduced", "lab-not-current", "other"), tuple(REASONS)]:
        expected = [render._coding(c) for c in reasons_for(topic, codes)]
        assert list(render._override_codings(topic, codes)) == expected
    assert render._override_codings(topic, ("no-such-code", "other")) is None  # reasons_for logs it, every time


_LOOKUPS = ("{{ f.a }}|{{ f.a.b }}|{{ f.items() | list | length }}|{{ f.get('a') is not none }}|"
            "{% for x in f.xs if x.ok %}{{ x.v }},{% endfor %}|{{ f.o.value }}|{{ (f.a or {}).b }}|"
            "{% set y = f.a %}{{ y.b }}|{{ [f.a.b, f.o.unit] | join('/') }}|{{ f.n if f.n else 'none' }}")


@pytest.mark.parametrize("facts", [
    {"a": {"b": 1}, "items": "shadowed", "xs": [{"ok": True, "v": 1}, {"ok": False, "v": 2}], "o": None, "n": 0},
    {"a": {"b": "x"}, "xs": [], "o": None, "n": 3},
    {"a": {"b": None}, "xs": [{"ok": 1, "v": "z"}], "o": None, "n": None},
])
def test_inline_dict_lookups_write_what_environment_getattr_writes(facts: dict[str, Any]) -> None:
    from cdshooks.rules.verdict import Amount

    facts = {**facts, "o": Amount(2.5, "mg")}  # an object: attribute lookup, as before
    ours, reference = text.environment().from_string(_LOOKUPS), _reference_environment().from_string(_LOOKUPS)
    assert ours.render(f=facts) == reference.render(f=facts)


@pytest.mark.parametrize("source", ["{{ f.missing }}", "{{ f.a.missing }}", "{% for x in f.xs %}{{ x.nope }}{% endfor %}"])
def test_a_missing_fact_fails_as_before(source: str) -> None:
    facts = {"a": {"b": 1}, "xs": [{"v": 1}]}
    for env in (text.environment(), _reference_environment()):
        with pytest.raises(jinja2.UndefinedError) as raised:
            env.from_string(source).render(f=facts)
        assert "has no attribute" in str(raised.value) or "is undefined" in str(raised.value)
    messages = []
    for env in (text.environment(), _reference_environment()):
        try:
            env.from_string(source).render(f=facts)
        except jinja2.UndefinedError as exc:
            messages.append(str(exc))
    assert messages[0] == messages[1]


_LINE_TEXT = st.text(alphabet=st.sampled_from(list("ab -*\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\xa0µ ")), max_size=60)


@hyp_settings(max_examples=500, deadline=None)
@given(_LINE_TEXT)
def test_tidy_is_the_line_loop(markdown: str) -> None:
    assert text._tidy(markdown) == text._tidy_lines(markdown)


@hyp_settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab ,;:–-…\n\t\xa0")), max_size=300))
def test_clip_summary_is_idempotent(summary: str) -> None:
    once = text.clip_summary(summary)
    assert text.clip_summary(once) == once and len(once) <= text.SUMMARY_LIMIT
