"""Site policy (CDSHOOKS_POLICY): a versioned file that turns rules down, never up.

    version: "2026-12-a"
    rules:   {"interaction.DDI-32": silent, "dose.vincristine": {level: info, reason: "..."}}
    topics:  {monitoring: info}
    allow_downgrade_critical:
      - {rule: "route.vincristine.iv-only", reason: "..."}

Levels: ``off`` (no card, no audit row), ``silent`` (no card; audited as silenced so the replay and
the audit show what would have fired), ``info`` / ``warning`` (a ceiling: the card is shown at most
at that level) and ``as-shipped``. Why ceilings only: a site may quieten a rule its prescribers
find noisy, but a file edited outside clinical review must never invent a hard stop, and must never
quietly remove one. So a critical card lowered below warning (off, silent, info) stays a warning
unless ``allow_downgrade_critical`` names the rule or topic with a reason.

The most specific entry wins: the longest rule-id key covering the card's rule id, then its topic.
The engine applies the policy once (``rules.registry.run_rules_outcome``); ``CDSHOOKS_DISABLED_RULES``
(the older exact-id kill switch) is applied in the same place.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from jsonschema import Draft202012Validator

from ..rules.finding import Finding
from .catalogue import covers, is_known_rule, is_known_topic, known_rule_ids

if TYPE_CHECKING:  # pragma: no cover
    from ..knowledge import Knowledge

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).parent / "policy.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
Draft202012Validator.check_schema(SCHEMA)
LEVELS = ("off", "silent", "info", "warning", "as-shipped")
_RANK = {"info": 0, "warning": 1, "critical": 2}
_BELOW_WARNING = ("off", "silent", "info")


class PolicyError(ValueError):
    """The policy file cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str], unreadable: bool = False) -> None:
        super().__init__(problems[0] if problems else "policy problem")
        self.problems = problems
        self.unreadable = unreadable


@dataclass(frozen=True)
class Allowance:
    reason: str
    rule: str | None = None
    topic: str | None = None

    def allows(self, finding: Finding) -> bool:
        if self.rule is not None:
            return covers(self.rule, finding.rule_id)
        return self.topic == finding.topic


@dataclass(frozen=True)
class SitePolicy:
    version: str
    rules: Mapping[str, str] = field(default_factory=dict)  # rule id or dot-prefix -> level
    topics: Mapping[str, str] = field(default_factory=dict)  # topic -> level
    allowances: tuple[Allowance, ...] = ()
    source: str | None = None  # the file it came from (for messages)

    def level_for(self, finding: Finding) -> str:
        keys = [k for k in self.rules if covers(k, finding.rule_id)]
        if keys:
            return self.rules[max(keys, key=len)]
        return self.topics.get(finding.topic, "as-shipped")

    def decide(self, finding: Finding) -> tuple[str, Finding | None]:
        """(effective level, the finding as shown or None). The critical guard lives here."""
        level = self.level_for(finding)
        if level == "as-shipped":
            return level, finding
        if finding.indicator == "critical" and level in _BELOW_WARNING and not any(a.allows(finding) for a in self.allowances):
            log.warning("site policy %s: %s is critical; %r needs allow_downgrade_critical, shown as warning", self.version, finding.rule_id, level)
            level = "warning"
        if level in ("off", "silent"):
            return level, None
        if _RANK[finding.indicator] <= _RANK[level]:
            return level, finding  # a ceiling never raises
        shown = replace(finding, indicator=level, inputs={**finding.inputs, "shippedIndicator": finding.indicator, "sitePolicy": self.version})
        return level, shown


@dataclass(frozen=True)
class PolicyOutcome:
    shown: list[Finding]
    silenced: list[Finding]


def apply_policy(findings: Iterable[Finding], policy: SitePolicy | None, disabled: frozenset[str] = frozenset()) -> PolicyOutcome:
    """The one place findings meet the site's choices: exact-id kill switch, then the policy."""
    shown: list[Finding] = []
    silenced: list[Finding] = []
    for f in findings:
        if f.rule_id in disabled:
            continue
        if policy is None:
            shown.append(f)
            continue
        level, out = policy.decide(f)
        if out is not None:
            shown.append(out)
        elif level == "silent":
            silenced.append(f)
    return PolicyOutcome(shown, silenced)


# -- reading and checking -----------------------------------------------------------------------


def read_policy_document(path: str | Path) -> Any:
    """JSON or YAML by extension (YAML is a superset, so anything else is read as YAML)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        raise PolicyError([f"{p}: cannot read ({why})"], unreadable=True) from None
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return _yaml_off(yaml.safe_load(text))
    except ValueError as exc:
        raise PolicyError([f"{p}: not valid JSON ({exc})"], unreadable=True) from None
    except Exception as exc:  # yaml.YAMLError and friends: a parse failure, one line
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise PolicyError([f"{p}: not valid YAML ({first})"], unreadable=True) from None


def _yaml_off(doc: Any) -> Any:
    """YAML 1.1 reads a bare ``off`` as false; in a level position it can only mean "off"."""
    if not isinstance(doc, dict):
        return doc
    for section in ("rules", "topics"):
        entries = doc.get(section)
        if isinstance(entries, dict):
            for key, value in entries.items():
                if value is False:
                    entries[key] = "off"
                elif isinstance(value, dict) and value.get("level") is False:
                    value["level"] = "off"
    return doc


def _level(entry: Any) -> str:
    return entry if isinstance(entry, str) else entry["level"]


def policy_problems(doc: Any, known: frozenset[str] | None) -> list[str]:
    """One line per problem: schema first, then unknown ids/topics and allowances that do nothing."""
    problems = [f"{e.json_path}: {e.message}" for e in sorted(Draft202012Validator(SCHEMA).iter_errors(doc), key=lambda e: list(e.absolute_path))]
    if problems or not isinstance(doc, dict):
        return problems or ["$: the policy must be a mapping"]
    rules: dict = doc.get("rules") or {}
    topics: dict = doc.get("topics") or {}
    for topic in topics:
        if not is_known_topic(topic):
            problems.append(f"$.topics.{topic}: unknown topic")
    if known is not None:
        for key in rules:
            if not is_known_rule(key, known):
                problems.append(f"$.rules.{key}: unknown rule id")
    lowered_rules = {k for k, v in rules.items() if _level(v) in _BELOW_WARNING}
    lowered_topics = {k for k, v in topics.items() if _level(v) in _BELOW_WARNING}
    for n, a in enumerate(doc.get("allow_downgrade_critical") or []):
        where = f"$.allow_downgrade_critical[{n}]"
        if "rule" in a:
            if known is not None and not is_known_rule(a["rule"], known):
                problems.append(f"{where}.rule: unknown rule id {a['rule']}")
            elif not any(covers(a["rule"], k) or covers(k, a["rule"]) for k in lowered_rules):
                problems.append(f"{where}: no rules entry lowers {a['rule']} below warning, so this allowance does nothing")
        elif "topic" in a:
            if not is_known_topic(a["topic"]):
                problems.append(f"{where}.topic: unknown topic {a['topic']}")
            elif a["topic"] not in lowered_topics:
                problems.append(f"{where}: no topics entry lowers {a['topic']} below warning, so this allowance does nothing")
        else:
            problems.append(f"{where}: name a rule or a topic")
    return problems


def policy_from_document(doc: Mapping[str, Any], source: str | None = None) -> SitePolicy:
    return SitePolicy(
        version=str(doc["version"]),
        rules={k: _level(v) for k, v in (doc.get("rules") or {}).items()},
        topics={k: _level(v) for k, v in (doc.get("topics") or {}).items()},
        allowances=tuple(Allowance(a["reason"], a.get("rule"), a.get("topic")) for a in doc.get("allow_downgrade_critical") or []),
        source=source,
    )


def load_policy(path: str | Path, kb: "Knowledge | None" = None) -> SitePolicy:
    """Read and check a policy file; PolicyError lists every problem (ids checked when kb given)."""
    doc = read_policy_document(path)
    problems = policy_problems(doc, known_rule_ids(kb) if kb is not None else None)
    if problems:
        raise PolicyError([f"{path}: {p}" for p in problems])
    return policy_from_document(doc, str(path))


def check_known_ids(policy: SitePolicy, kb: "Knowledge") -> list[str]:
    """Problems with ids once the knowledge is loaded (start-up refuses a policy with any)."""
    known = known_rule_ids(kb)
    return [f"{policy.source or 'CDSHOOKS_POLICY'}: $.rules.{k}: unknown rule id" for k in policy.rules if not is_known_rule(k, known)] + [
        f"{policy.source or 'CDSHOOKS_POLICY'}: allow_downgrade_critical: unknown rule id {a.rule}"
        for a in policy.allowances
        if a.rule is not None and not is_known_rule(a.rule, known)
    ]
