"""Site policy in the audit: which policy version shaped each card, and silenced findings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

``card_audit.policy_version`` is the CDSHOOKS_POLICY version in force (NULL = none).
``card_audit.policy_action`` is NULL for a card as shipped, ``lowered`` when the policy capped its
indicator, ``silent`` for a finding the policy silenced (no card was shown; ``card_uuid`` is NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("card_audit") as batch:
        batch.add_column(sa.Column("policy_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("policy_action", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("card_audit") as batch:
        batch.drop_column("policy_action")
        batch.drop_column("policy_version")
