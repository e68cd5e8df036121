"""The fact loader's ledger (loaded_facts); on Redshift, the statistics become materialized
views that each load refreshes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Written out, as 0001 is, so that this step stays what it was when later ones change the schema.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from core.repository.migrations.views import (
    STATS_VIEWS,
    create_materialized_view_sql,
    create_view_sql,
    drop_materialized_view_sql,
    drop_view_sql,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _redshift() -> bool:
    return op.get_context().dialect.name == "redshift"


def _replace_views(drop: Callable[[str], str], create: Callable[[str, sa.Dialect], str]) -> None:
    """Every stats view dropped, last created first, and created again as the other kind."""
    dialect = op.get_context().dialect
    for name in reversed(STATS_VIEWS):
        op.execute(drop(name))
    for name in STATS_VIEWS:
        op.execute(create(name, dialect))


def upgrade() -> None:
    op.create_table(
        "loaded_facts",
        sa.Column("fact_key", sa.String(512), nullable=False, redshift_encode="raw"),
        sa.Column("load_id", sa.CHAR(26), nullable=False, redshift_encode="zstd"),
        sa.Column("rows", sa.Integer, nullable=False, redshift_encode="az64"),
        sa.Column("bytes", sa.BigInteger, nullable=False, redshift_encode="az64"),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, redshift_encode="az64"),
        sa.PrimaryKeyConstraint("fact_key", name="pk_loaded_facts"),
        redshift_diststyle="EVEN",
        redshift_sortkey="fact_key",
    )
    if _redshift():
        # Plain views would recompute every statistic on each read, on a warehouse that now
        # changes once a load: keep the results, refreshed after each load.
        _replace_views(drop_view_sql, create_materialized_view_sql)


def downgrade() -> None:
    if _redshift():
        _replace_views(drop_materialized_view_sql, create_view_sql)
    op.drop_table("loaded_facts")
