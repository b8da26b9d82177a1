"""schedule rows lose `params`: no job ever read it. A schedule says when a job runs; what the job does for each
team lives in that feature's own rows (a stand-up's time and days, a budget's report slot).

A plain ALTER TABLE … DROP COLUMN on both databases (SQLite has it since 3.35, as ON CONFLICT, which pmbot needs
anyway): batch mode would copy the table, and dropping the old copy on SQLite with foreign keys on would empty
`job_run.schedule_id` (ON DELETE SET NULL) of every ledger row.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column('schedule', 'params')


def downgrade() -> None:
    # Every row gets what ensure_schedule used to write: no parameters.
    op.add_column('schedule', sa.Column('params', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
