"""What a request needs, attached once to the Flask app: `runtime()` reads it.

Its own module (not app.py) so the routes can read it without importing the app factory that
registers them (app -> protocol.routes -> protocol.runtime, one way).
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from flask import current_app

from ..config import Settings
from ..knowledge import Knowledge
from ..store import Store
from .auth import JwtVerifier


@dataclass
class Runtime:
    """Everything a request needs, attached once to the app as `app.extensions["cdshooks"]`."""

    settings: Settings
    knowledge: Knowledge
    store: Store
    verifier: JwtVerifier
    session: requests.Session


def runtime() -> Runtime:
    return current_app.extensions["cdshooks"]
