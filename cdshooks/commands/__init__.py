"""CLI command modules. Each module exposes `command` (a click Command or Group); cli.py adds them."""
