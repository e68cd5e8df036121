"""Placeholders and metadata-blind duplicates: images get content_sha256, thumbhash and
dominant_color; ingest events get match and duplicate_of. All nullable: rows loaded before
stay as they were.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Written out, as 0001 is, so that this step stays what it was when later ones change the schema.
ADD COLUMN leaves the statistics views (plain or materialized) alone: they name their columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_IMAGE_COLUMNS = (
    ("content_sha256", sa.String(80), "zstd"),
    ("thumbhash", sa.String(64), "zstd"),
    ("dominant_color", sa.String(7), "zstd"),
)
_EVENT_COLUMNS = (
    ("match", sa.String(16), "bytedict"),
    ("duplicate_of", sa.CHAR(36), "zstd"),
)


def upgrade() -> None:
    for table, columns in (("images", _IMAGE_COLUMNS), ("ingest_events", _EVENT_COLUMNS)):
        for name, kind, encoding in columns:
            op.add_column(table, sa.Column(name, kind, nullable=True, redshift_encode=encoding))


def downgrade() -> None:
    for table, columns in (("ingest_events", _EVENT_COLUMNS), ("images", _IMAGE_COLUMNS)):
        for name, _, _ in reversed(columns):
            op.drop_column(table, name)
