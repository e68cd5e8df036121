"""Statistics views: daily volume, latency percentiles, rejections, formats, customers.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01

Definitions live in core.repository.migrations.views, compiled here for the database's
dialect, so every database gets the same views under the same names.
"""

from __future__ import annotations

from alembic import op

from core.repository.migrations.views import STATS_VIEWS, create_view_sql, drop_view_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_context().dialect
    for name in STATS_VIEWS:
        op.execute(create_view_sql(name, dialect))


def downgrade() -> None:
    for name in reversed(STATS_VIEWS):
        op.execute(drop_view_sql(name))
