"""quality: the Quality Management Plan (metrics and targets), eval runs, breaches with their bugs, API tokens
(hashed) and go / no-go gates

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 11:09:09.682894
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types  # noqa: F401


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('quality_breach',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('metric', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('bug_id', sa.Integer(), nullable=True),
    sa.Column('first_run_id', sa.Integer(), nullable=False),
    sa.Column('last_run_id', sa.Integer(), nullable=False),
    sa.Column('passing_runs', sa.Integer(), nullable=False),
    sa.Column('open_slot', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('opened_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_breach')),
    sa.UniqueConstraint('team_id', 'metric', 'model', 'open_slot', name='uq_quality_breach_open')
    )
    op.create_table('quality_gate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('go', sa.Boolean(), nullable=False),
    sa.Column('failed', sa.JSON(), nullable=False),
    sa.Column('asked_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('asked_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_gate'))
    )
    with op.batch_alter_table('quality_gate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_gate_team_id'), ['team_id'], unique=False)

    op.create_table('quality_metric',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('target', sa.Float(), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('measured', sa.Text(), nullable=False),
    sa.Column('drop_margin', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_metric')),
    sa.UniqueConstraint('team_id', 'name', name='uq_quality_metric_team_name')
    )
    op.create_table('quality_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('template', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('recover_runs', sa.Integer(), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_plan')),
    sa.UniqueConstraint('team_id', name=op.f('uq_quality_plan_team_id'))
    )
    op.create_table('quality_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('dataset', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('samples', sa.Integer(), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_run')),
    sa.UniqueConstraint('team_id', 'source_key', name='uq_quality_run_team_source_key')
    )
    with op.batch_alter_table('quality_run', schema=None) as batch_op:
        batch_op.create_index('ix_quality_run_team_model', ['team_id', 'model', 'id'], unique=False)

    op.create_table('quality_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hint', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_token')),
    sa.UniqueConstraint('team_id', name=op.f('uq_quality_token_team_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_quality_token_token_hash'))
    )


def downgrade() -> None:
    op.drop_table('quality_token')
    with op.batch_alter_table('quality_run', schema=None) as batch_op:
        batch_op.drop_index('ix_quality_run_team_model')

    op.drop_table('quality_run')
    op.drop_table('quality_plan')
    op.drop_table('quality_metric')
    with op.batch_alter_table('quality_gate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_gate_team_id'))

    op.drop_table('quality_gate')
    op.drop_table('quality_breach')
