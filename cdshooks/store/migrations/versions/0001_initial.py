"""Initial trust-and-memory schema: seen_jti, card_audit, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_jti",
        sa.Column("iss", sa.String(512), nullable=False),
        sa.Column("jti", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("iss", "jti", name="pk_seen_jti"),
    )
    op.create_index("ix_seen_jti_expires_at", "seen_jti", ["expires_at"])

    op.create_table(
        "card_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hook_instance", sa.String(255), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("card_uuid", sa.String(255), nullable=True),
        sa.Column("rule_id", sa.String(255), nullable=True),
        sa.Column("indicator", sa.String(32), nullable=True),
        sa.Column("topic", sa.String(128), nullable=True),
        sa.Column("knowledge_version", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(512), nullable=True),
        sa.Column("tenant", sa.String(255), nullable=True),
        sa.Column("patient_hash", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_card_audit"),
    )
    op.create_index("ix_card_audit_card_uuid", "card_audit", ["card_uuid"])
    op.create_index("ix_card_audit_recorded_at", "card_audit", ["recorded_at"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("card_uuid", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=True),
        sa.Column("override_system", sa.String(512), nullable=True),
        sa.Column("override_code", sa.String(255), nullable=True),
        sa.Column("override_display", sa.Text(), nullable=True),
        sa.Column("override_comment", sa.Text(), nullable=True),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=False), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("issuer", sa.String(512), nullable=True),
        sa.Column("tenant", sa.String(255), nullable=True),
        sa.Column("card_issued", sa.Boolean(create_constraint=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("card_audit")
    op.drop_table("seen_jti")
