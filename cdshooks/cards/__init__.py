"""Card rendering: Finding -> CDS Hooks 2.0 card JSON (uuid, source, topic, extension, suggestions)."""

from .render import TOPIC_SYSTEM, render_card, render_cards  # noqa: F401
