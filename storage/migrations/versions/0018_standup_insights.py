"""standup_answer gains `first_answered_at`: when the person first answered the day. `answered_at` moves with
every edit, so the report's answer delay (from the day's post to the answer) is measured from this one; rows
from before keep their last answer's time, the best there is.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 14:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('standup_answer', sa.Column('first_answered_at', storage.types.UTCDateTime(timezone=True),
                                              nullable=True))
    op.execute("UPDATE standup_answer SET first_answered_at = answered_at")


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite has it since 3.35): batch mode would copy the table.
    op.drop_column('standup_answer', 'first_answered_at')
