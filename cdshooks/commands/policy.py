"""`cdshooks policy check FILE`: validate a site policy before it is deployed.

Why a separate check: the service refuses to start on a bad CDSHOOKS_POLICY, and finding that out
at deploy time is late. This prints one line per problem (schema, unknown rule ids or topics,
allowances that do nothing) so the CMIO's change can be reviewed before it reaches a prescriber.

Exit codes: 0 valid, 1 problems found, 2 the file cannot be read or parsed.
"""

from __future__ import annotations

import sys

import click

from ..errors import CdsError
from ..knowledge import default_knowledge
from ..policy import PolicyError, policy_from_document, policy_problems, read_policy_document
from ..policy.catalogue import known_rule_ids

command = click.Group("policy", help="Site policy (CDSHOOKS_POLICY): turn rules down per rule id or topic.")


@command.command("check")
@click.argument("file")
def check(file: str) -> None:
    """Validate FILE (YAML or JSON) against the schema and the packaged knowledge's rule ids."""
    try:
        doc = read_policy_document(file)
    except PolicyError as exc:
        click.echo(f"cdshooks: {exc.problems[0]}", err=True)
        sys.exit(2)
    try:
        known = known_rule_ids(default_knowledge())
    except CdsError as exc:
        click.echo(f"cdshooks: {exc.message}", err=True)
        sys.exit(2)
    problems = policy_problems(doc, known)
    for problem in problems:
        click.echo(f"{file}: {problem}")
    if problems:
        sys.exit(1)
    policy = policy_from_document(doc, file)
    entries = len(policy.rules) + len(policy.topics)
    click.echo(f"{file}: ok, site policy {policy.version}: {len(policy.rules)} rule and {len(policy.topics)} topic entries, "
               f"{len(policy.allowances)} critical downgrade allowance(s)" + ("" if entries else " (changes nothing)"))
