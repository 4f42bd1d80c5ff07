"""Clinical rules: pure functions over a PatientContext and the Knowledge base.

Each family module (dose.py, route.py, schedule.py, cumulative.py, interactions.py,
populations.py, pharmacogenomics.py, missing_data.py, risk.py, regimen.py, monitoring.py)
registers its functions with `@rule(...)`; `registry.run_rules` calls them and stamps provenance.
Rules never import Flask and never do I/O.
"""

from .finding import ActionSpec, Coding, Finding, LinkSpec, SuggestionSpec  # noqa: F401
from .registry import RuleSpec, registered_rules, rule, run_rules  # noqa: F401
