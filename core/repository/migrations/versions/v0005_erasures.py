"""Erasures: the warehouse keeps which images were erased (id and the event that stored them)
and when, so that rows of an erased image loaded later (a fact that landed late, a replay of
the log) are removed as they arrive.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Written out, as 0001 is, so that this step stays what it was when later ones change the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("erasure_id", sa.String(64), nullable=False, redshift_encode="zstd"),
        sa.Column("image_id", sa.CHAR(36), nullable=False, redshift_encode="zstd"),
        sa.Column("customer_id", sa.String(128), nullable=False, redshift_encode="zstd"),
        sa.Column("first_event_id", sa.String(512), nullable=False, redshift_encode="zstd"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, redshift_encode="raw"),
        sa.PrimaryKeyConstraint("erasure_id", "first_event_id", name="pk_erasures"),
        redshift_diststyle="ALL",
        redshift_sortkey="recorded_at",
    )


def downgrade() -> None:
    op.drop_table("erasures")
