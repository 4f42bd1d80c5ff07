"""The `cdshooks` console script.

`serve` lives here; every other command group is a module in `cdshooks/commands/` exposing a
click object named `command` (check, send, validate, keys, knowledge, feedback ...), so adding a
command never touches this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from . import __version__
from .commands import __path__ as _commands_path
from .serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cdshooks")
def main() -> None:
    """ALL CDS: CDS Hooks 2.0 decision support for acute lymphoblastic leukemia orders."""


main.add_command(serve)

for _info in sorted(pkgutil.iter_modules(_commands_path), key=lambda i: i.name):
    _module = importlib.import_module(f"cdshooks.commands.{_info.name}")
    _command = getattr(_module, "command", None)
    if isinstance(_command, click.Command):
        main.add_command(_command)
