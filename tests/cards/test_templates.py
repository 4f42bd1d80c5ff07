"""Rules return facts; cards/ owns the words (issue 16). Static checks over the rule modules.

- Rule modules that still write card text (`Finding(summary=..., detail=...)`) are listed in
  WRITES_TEXT; the list can only shrink (a listed module that no longer writes text fails, so it
  must leave the list).
- Every override reason code a rule names (`override=(...)`) is in cards/overrides.py REASONS.
- The rules layer imports nothing about Markdown or templates.
- The one clipper: only cards/text.py shortens a summary.
"""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from cdshooks.cards.overrides import ALIASES, REASONS, TOPIC_DEFAULTS, reasons_for
from cdshooks.cards.text import clip_summary, has_message, num, qty
from cdshooks.rules.finding import TOPICS
from cdshooks.rules.verdict import Amount

RULES = Path(__file__).resolve().parents[2] / "cdshooks" / "rules"

# Modules whose rules still build Finding text themselves (the older form). Shrinks to empty.
WRITES_TEXT = frozenset({
    "_dose_common.py", "plan.py",
})


def _calls(tree: ast.AST, name: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name:
            yield node


def _writes_text(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(k.arg in ("summary", "detail") for call in _calls(tree, "Finding") for k in call.keywords)


def test_modules_writing_card_text_only_shrink() -> None:
    writing = {p.name for p in RULES.glob("*.py") if p.name != "registry.py" and _writes_text(p)}
    assert writing <= WRITES_TEXT, f"new rule modules writing card text (yield a Verdict instead): {sorted(writing - WRITES_TEXT)}"
    assert WRITES_TEXT <= writing, f"these no longer write card text: remove them from WRITES_TEXT: {sorted(WRITES_TEXT - writing)}"


def _message_and_topic(call: ast.Call) -> tuple[str | None, str | None]:
    kw = {k.arg: k.value for k in call.keywords}
    text = lambda v: v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else None  # noqa: E731
    return text(kw.get("message")), text(kw.get("topic"))


def test_every_literal_verdict_message_has_its_template() -> None:
    """Verdict(topic="route", message="forbidden") needs forbidden_summary/_detail in route.md.j2."""
    missing = []
    for path in RULES.glob("*.py"):
        for call in _calls(ast.parse(path.read_text()), "Verdict"):
            message, topic = _message_and_topic(call)
            if message and topic and not has_message(topic, message):
                missing.append(f"{path.name}:{call.lineno} {topic}/{message}")
    assert not missing, missing


def test_override_codes_named_by_rules_exist() -> None:
    unknown = []
    for path in RULES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "override":
                unknown += [f"{path.name}: {c.value}" for c in ast.walk(node.value)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value not in REASONS]
    assert not unknown, unknown


def test_one_display_per_code_and_every_topic_has_defaults() -> None:
    assert set(TOPIC_DEFAULTS) == set(TOPICS)
    for topic in TOPICS:
        codes = [c.code for c in reasons_for(topic)]
        assert codes and len(codes) == len(set(codes)) and codes[-1] == "other"
    assert set(ALIASES.values()) <= set(REASONS) and not set(ALIASES) & set(REASONS)
    assert len(set(REASONS.values())) == len(REASONS)


def test_unknown_code_is_left_out_not_a_crash() -> None:
    assert [c.code for c in reasons_for("route", ("no-such-code", "other"))] == ["other"]


def test_rules_import_nothing_about_markdown() -> None:
    for path in RULES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.split(".")[0] in ("jinja2", "markdown_it", "markdown") or "cards" in n.split(".")], (path.name, names)


@pytest.mark.parametrize("text", ["x" * 200, "word " * 60, "Vincristine 2.4 mg exceeds the 2 mg single-dose cap"])
def test_one_clipper(text: str) -> None:
    out = clip_summary(text)
    assert len(out) < 140
    assert out == " ".join(text.split()) or (out.endswith("…") and out.count("…") == 1 and not out[:-1].endswith(" "))


def test_number_format() -> None:
    assert [num(x) for x in (2.4, 1.234567, 1500, 250000000, 0.05)] == ["2.4", "1.23", "1,500", "2.5 ×10^8", "0.05"]
    assert qty(Amount(1.5, "mg/m2")) == "1.5 mg/m²" and qty({"value": 2, "unit": "[iU]"}) == "2 IU"


def test_patient_block_written_once_from_facts() -> None:
    from cdshooks.cards.text import patient_block

    block = patient_block({"order_date": date(2026, 11, 2), "age": {"text": "6 y", "at": date(2026, 11, 2), "uncertain": False},
                           "weight": {"value": 30.0, "unit": "kg", "date": date(2026, 10, 1), "original": "66 [lb_av]"},
                           "height": None, "bsa": None})
    assert block.splitlines() == ["**Patient** (order date 2026-11-02)", "- Age: 6 y on 2026-11-02",
                                  "- Weight: 30 kg on 2026-10-01 (recorded as 66 [lb_av])", "- Height: not available", "- BSA: not available"]
