"""Round 7 shortcuts of the card layer answer what Jinja answers (issue 15):

- `card.<name>` on a Finding reads its instance dict (cards/text.py `_CardEnvironment.getattr`):
  the same value as Jinja's `Environment.getattr` for every field, method, dunder or missing name;
- a template calling a builtin method or function (`x.endswith(" kg")`, `c.get("ordered")`) goes
  straight to it (cards/fastjinja.py `CardContext.call`): the same output as Jinja's Context.call,
  in and out of loops, keywords passed on, a StopIteration still an undefined.
Every fixture finding is also rendered both ways by tests/cards/test_fast_macros.py, whose
reference environment keeps the getattr as it was."""

from __future__ import annotations

from typing import Any

import jinja2
import jinja2.compiler
import jinja2.runtime
from hypothesis import given, settings
from hypothesis import strategies as st

from cdshooks.cards import text
from cdshooks.rules.finding import INDICATORS, TOPICS, Finding

FIELD_NAMES = [f for f in Finding.__dataclass_fields__]
NAMES = st.sampled_from([*FIELD_NAMES, "__post_init__", "__class__", "__dict__", "__eq__", "missing", "get", "items", "_x"])
findings = st.builds(
    Finding, rule_id=st.text("abc.-", min_size=1, max_size=6), topic=st.sampled_from(TOPICS), indicator=st.sampled_from(INDICATORS),
    summary=st.text(min_size=1, max_size=4), citation=st.text(min_size=1, max_size=4), message=st.sampled_from(["", "pair", "off-range"]),
    drug=st.none() | st.text(max_size=4), orders=st.lists(st.text(max_size=3), max_size=2).map(tuple),
    facts=st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), soft=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(findings, NAMES)
def test_a_findings_attributes_read_as_jinja_reads_them(finding: Finding, name: str) -> None:
    ours, theirs = text.environment(), jinja2.Environment(undefined=jinja2.StrictUndefined)
    got, expected = ours.getattr(finding, name), theirs.getattr(finding, name)
    if isinstance(expected, jinja2.Undefined):
        assert isinstance(got, jinja2.StrictUndefined)
        assert (got._undefined_obj, got._undefined_name) == (expected._undefined_obj, expected._undefined_name)
    else:
        assert got == expected and type(got) is type(expected)


def _jinja_environment() -> jinja2.Environment:
    """Our filters and loader with Jinja's own Context and code generator: the reference."""
    ours = text.environment()
    env = jinja2.Environment(loader=ours.loader, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update({k: ours.filters[k] for k in ("num", "unit", "qty", "day", "drug", "lab", "and_list", "pct")})
    assert env.context_class is jinja2.runtime.Context and env.code_generator_class is jinja2.compiler.CodeGenerator
    return env


_CALLS = ("{{ s.endswith(' kg') }}|{{ s.upper() }}|{{ d.get('a') }}|{{ d.get('zz', 'dflt') }}|{{ d.items() | list | length }}|"
          "{% for k in ks %}{{ d.get(k) }},{{ s.startswith(k) }};{% endfor %}|{{ nx(it) is undefined }}|{{ ln(ks) }}|"
          "{{ '%.2f' | format(v) }}|{{ s.split(sep=' ') | join('+') }}|{{ s.replace('a', 'b', 1) }}|"
          "{% macro m(x) %}<{{ x.strip() }}>{% endmacro %}{{ m(s) }}|{% for k in ks %}{{ m(k) }}{% endfor %}")


@settings(max_examples=150, deadline=None)
@given(s=st.text(" kgab", max_size=8), d=st.dictionaries(st.sampled_from(["a", "b", "k"]), st.integers(0, 3), max_size=3),
       ks=st.lists(st.sampled_from(["a", "b", " k", "z"]), max_size=3), v=st.floats(-1e3, 1e3, allow_nan=False))
def test_builtin_calls_render_as_jinja_renders_them(s: str, d: dict[str, int], ks: list[str], v: float) -> None:
    values: dict[str, Any] = {"s": s, "d": d, "ks": ks, "v": v, "nx": next, "ln": len}
    ours = text.environment().from_string(_CALLS).render(**values, it=iter(()))
    theirs = _jinja_environment().from_string(_CALLS).render(**values, it=iter(()))
    assert ours == theirs
    assert "|True|" in ours  # next() of an empty iterator: an undefined, not an error, both ways
