"""drill_schedule gets `participants`: the people a scheduled drill invites (empty: who scheduled it plus the
grade's responders, as before).

A plain ADD COLUMN with a constant default on both databases (no batch copy of the table).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('drill_schedule', sa.Column('participants', sa.JSON(), nullable=False,
                                              server_default=sa.text("'[]'")))


def downgrade() -> None:
    op.drop_column('drill_schedule', 'participants')
