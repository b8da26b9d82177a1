"""work queue: what a request left for after its ack, finished by any process, resumed after a crash; and an
index for the scheduler's planned retries (job_run rows waiting for their next try)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('work_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('not_before', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('told', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_item')),
    sa.UniqueConstraint('kind', 'ref_id', name='uq_work_item_kind_ref')
    )
    op.create_index('ix_work_item_due', 'work_item', ['done_at', 'not_before'], unique=False)
    op.create_index('ix_job_run_status_slot', 'job_run', ['status', 'slot_at'], unique=False)
    # Work the start-up recovery pass used to find: reports never graded or never posted, war rooms not finished.
    op.execute("INSERT INTO work_item (team_id, kind, ref_id, payload, attempts, not_before, told, created_at) "
               "SELECT team_id, 'bug.finish', id, '{}', 1, created_at, false, created_at FROM bug "
               "WHERE grade IS NULL OR (message_ts IS NULL AND status = 'open')")
    op.execute("INSERT INTO work_item (team_id, kind, ref_id, payload, attempts, not_before, told, created_at) "
               "SELECT team_id, 'incident.open', id, '{}', 1, declared_at, false, declared_at FROM incident "
               "WHERE status <> 'resolved' AND (channel_id IS NULL OR runbook_ts IS NULL "
               "OR topic_set = false OR invited = false)")


def downgrade() -> None:
    op.drop_index('ix_job_run_status_slot', table_name='job_run')
    op.drop_index('ix_work_item_due', table_name='work_item')
    op.drop_table('work_item')
