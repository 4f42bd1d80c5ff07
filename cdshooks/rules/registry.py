"""The rule registry: small generator functions, registered by family, run by one engine.

    @rule("dose")
    def dose_by_bsa(ctx: PatientContext, kb: Knowledge, settings: RuleSettings) -> Iterator[Finding]:
        ...yield Finding(...)

A rule returns early when it does not apply and yields findings otherwise. `run_rules` runs the
families a service asks for, removes duplicates (same rule id and orders), merges missing-data
findings, applies the site's choices ONCE (CDSHOOKS_DISABLED_RULES and the site policy, see
`cdshooks.policy`) and keeps the order stable: critical first, then warning, then info.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from .finding import Finding

if TYPE_CHECKING:  # pragma: no cover
    from ..context.model import PatientContext
    from ..knowledge import Knowledge
    from ..policy import SitePolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleSettings:
    """The few settings rules may read (tolerances, toggles), so rules never see Flask config."""

    dose_tolerance_pct: float = 10.0
    dose_critical_pct: float = 25.0
    disabled_rules: frozenset[str] = frozenset()
    enabled_soft_rules: frozenset[str] = frozenset()
    policy: "SitePolicy | None" = None  # CDSHOOKS_POLICY, applied by run_rules only

    def soft_rule_enabled(self, rule_id: str, default: bool = True) -> bool:
        """UNVERIFIED knowledge becomes soft rules: on by default as warnings, switchable off."""
        if rule_id in self.disabled_rules:
            return False
        return default or rule_id in self.enabled_soft_rules


RuleFn = Callable[["PatientContext", "Knowledge", RuleSettings], Iterable[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    family: str
    name: str
    fn: RuleFn


_REGISTRY: list[RuleSpec] = []

FAMILIES = (
    "missing-data",
    "dose",
    "route",
    "schedule",
    "cumulative-dose",
    "interaction",
    "population",
    "pharmacogenomics",
    "risk-group",
    "regimen",
    "monitoring",
)


def rule(family: str) -> Callable[[RuleFn], RuleFn]:
    if family not in FAMILIES:
        raise ValueError(f"unknown rule family {family!r}")

    def register(fn: RuleFn) -> RuleFn:
        name = f"{fn.__module__}.{fn.__qualname__}"
        if not any(r.name == name for r in _REGISTRY):
            _REGISTRY.append(RuleSpec(family=family, name=name, fn=fn))
        return fn

    return register


def registered_rules(families: Iterable[str] | None = None) -> list[RuleSpec]:
    _import_families()
    wanted = None if families is None else set(families)
    return [r for r in _REGISTRY if wanted is None or r.family in wanted]


_SEVERITY = {"critical": 0, "warning": 1, "info": 2}


def run_rules(
    ctx: "PatientContext",
    kb: "Knowledge",
    settings: RuleSettings,
    families: Iterable[str],
    *,
    silenced: list[Finding] | None = None,
) -> list[Finding]:
    """The findings to show. Findings the site policy silences are appended to `silenced`
    (when given) so the caller can audit them; findings of rules switched off are dropped."""
    from ..policy import apply_policy

    findings: list[Finding] = []
    seen: set[tuple[str, tuple[str, ...], str | None]] = set()
    for spec in registered_rules(families):
        for finding in spec.fn(ctx, kb, settings) or ():
            key = (finding.rule_id, finding.orders, finding.drug)
            if key in seen:
                continue
            seen.add(key)
            findings.append(finding)
    outcome = apply_policy(merge_missing_data(findings), settings.policy, settings.disabled_rules)
    if silenced is not None:
        silenced.extend(outcome.silenced)
    findings = outcome.shown
    findings.sort(key=lambda f: _SEVERITY[f.indicator])
    return findings


def merge_missing_data(findings: list[Finding]) -> list[Finding]:
    """One `missing-data` card per order (or per patient), naming everything that is missing.

    Several rule families may each find that the same order cannot be checked (no weight for the
    dose, no bilirubin for the hepatic rule); the clinician needs one card that lists them all.
    """
    groups: dict[tuple[str, ...], list[Finding]] = {}
    others: list[Finding] = []
    for f in findings:
        if f.topic == "missing-data" and f.rule_id != "missing-data.prefetch":
            groups.setdefault(f.orders, []).append(f)
        else:
            others.append(f)
    for orders, group in groups.items():
        if len(group) == 1:
            others.append(group[0])
            continue
        worst = min(group, key=lambda f: _SEVERITY[f.indicator])
        inputs: dict = {}
        for f in group:
            inputs.update(f.inputs)
        others.append(
            Finding(
                rule_id=worst.rule_id,
                topic="missing-data",
                indicator=worst.indicator,
                summary=worst.summary if len(group) == 1 else f"{worst.summary} (+{len(group) - 1} more)",
                detail="\n\n---\n\n".join(f.detail for f in group),
                citation="; ".join(dict.fromkeys(f.citation for f in group)),
                orders=orders,
                inputs={**inputs, "mergedRuleIds": [f.rule_id for f in group]},
                drug=worst.drug,
            )
        )
    return others


def _import_families() -> None:
    """Import every family module so their @rule decorators run (missing ones are skipped)."""
    import importlib
    import pkgutil

    from .. import rules as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name in ("finding", "registry") or info.name.startswith("_"):
            continue
        importlib.import_module(f"{package.__name__}.{info.name}")


def iter_findings(fns: Iterable[RuleFn], ctx: "PatientContext", kb: "Knowledge", settings: RuleSettings) -> Iterator[Finding]:
    """Run a handful of rule functions directly (tests)."""
    for fn in fns:
        yield from fn(ctx, kb, settings) or ()
