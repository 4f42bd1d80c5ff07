"""Fixtures for the interaction/population/pharmacogenomics rule tests (factory in ddi_factory.py)."""

from __future__ import annotations

import pytest

from cdshooks.knowledge import load_knowledge
from cdshooks.rules.registry import RuleSettings


@pytest.fixture(scope="session")
def kb():
    return load_knowledge()


@pytest.fixture
def settings() -> RuleSettings:
    return RuleSettings()


