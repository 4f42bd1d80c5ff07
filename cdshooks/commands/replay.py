"""`cdshooks replay SOURCE`: how often would the service interrupt prescribers on this cohort?

SOURCE: a directory of fixture folders, of FHIR Bundles (one patient each) or an NDJSON bulk
export (see `cdshooks.replay.sources`). Each patient gets a patient-view call and one order-sign
call per medication order, in date order, with the record as it stood that day. Runs in process
(no EHR, no network, no audit rows). `--policy FILE` adds a "with policy" column next to "as
shipped". Progress goes to stderr; the report to stdout (or --html FILE / --json).

Exit codes: 0 replayed (even with calls that failed: they are listed), 2 bad SOURCE or policy.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from ..errors import CdsError
from ..knowledge import default_knowledge
from ..policy import PolicyError, load_policy
from ..replay.engine import replay, replay_parallel
from ..replay.report import render_html, render_text, summarize
from ..replay.sources import SourceError, open_source


def _fail(message: str) -> None:
    click.echo(f"cdshooks: {message}", err=True)
    sys.exit(2)


class Progress:
    """A line on stderr at most every `every` seconds (a carriage-return line on a terminal)."""

    def __init__(self, total: int, every: float = 2.0) -> None:
        self.total, self.every = total, every
        self.started = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every and done != self.total:
            return
        self.last = now
        elapsed = now - self.started
        eta = f", ~{elapsed / done * (self.total - done):.0f} s left" if done and done < self.total else ""
        text = f"replay: {done}/{self.total} patients, {elapsed:.0f} s{eta}"
        click.echo(("\r" + text) if self.tty else text, err=True, nl=not self.tty or done == self.total)


@click.command("replay")
@click.argument("source")
@click.option("--policy", "policy_file", metavar="FILE", help="Site policy to preview: adds a 'with policy' column.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--html", "html_file", metavar="FILE", help="Also write a self-contained HTML report (bar chart per rule).")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def command(source: str, policy_file: str | None, as_json: bool, html_file: str | None, jobs: int, quiet: bool) -> None:
    """Replay a cohort through the services and report alert burden per rule."""
    logging.getLogger("cdshooks").setLevel(logging.ERROR)  # per-call service logs are noise here
    policy = None
    if policy_file:
        try:
            policy = load_policy(policy_file, default_knowledge())
        except PolicyError as exc:
            more = f" (+{len(exc.problems) - 1} more; see `cdshooks policy check`)" if len(exc.problems) > 1 else ""
            _fail(exc.problems[0] + more)
        except CdsError as exc:
            _fail(exc.message)
    try:
        opened = open_source(source)
    except SourceError as exc:
        _fail(str(exc))
    progress = None if quiet else Progress(opened.count)
    started = time.perf_counter()
    try:
        records = enumerate(opened.records, 1)
        if jobs > 1:
            result = replay_parallel(records, jobs=jobs, source=source, kind=opened.kind, policy=policy, progress=progress)
        else:
            result = replay(records, source=source, kind=opened.kind, policy=policy, progress=progress)
    except SourceError as exc:
        _fail(str(exc))
    result.seconds = time.perf_counter() - started
    summary = summarize(result)
    if html_file:
        try:
            Path(html_file).write_text(render_html(summary), encoding="utf-8")
        except OSError as exc:
            _fail(f"{html_file}: cannot write ({exc.strerror or exc.__class__.__name__})")
    click.echo(json.dumps(summary, indent=2) if as_json else render_text(summary), nl=as_json)
