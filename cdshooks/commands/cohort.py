"""`cdshooks cohort OUT`: write a deterministic synthetic ALL cohort to replay.

    cdshooks cohort /tmp/cohort --patients 1000 --seed 1            # one Bundle per patient
    cdshooks cohort /tmp/cohort-ndjson --patients 1000 --format ndjson
    cdshooks replay /tmp/cohort --jobs 2 --html burden.html

Prints the manifest (patients, orders, injected faults) as JSON. Exit 2 when OUT is not empty.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..replay.cohort import generate_cohort


@click.command("cohort")
@click.argument("out")
@click.option("--patients", default=100, show_default=True, type=click.IntRange(1, 100000))
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same files.")
@click.option("--format", "fmt", default="bundles", show_default=True, type=click.Choice(["bundles", "ndjson"]))
@click.option("--fault-scale", default=1.0, show_default=True, type=click.FloatRange(0, 50),
              help="Multiply the built-in fault rates (0 = every order correct).")
def command(out: str, patients: int, seed: int, fmt: str, fault_scale: float) -> None:
    """Generate a synthetic cohort (no real patient data) for `cdshooks replay`."""
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        click.echo(f"cdshooks: {out}: exists and is not an empty directory", err=True)
        sys.exit(2)
    manifest = generate_cohort(target, patients, seed=seed, fmt=fmt, fault_scale=fault_scale)
    click.echo(json.dumps(manifest.as_json(), indent=2))
