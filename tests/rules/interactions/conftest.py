"""Fixtures for the interaction/population/pharmacogenomics rule tests (factory in ddi_factory.py)."""

from __future__ import annotations




