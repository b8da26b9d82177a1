"""comms plans (`/pmbot comms`): who gets the project digest when, and the ledger of each slot's recipients

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types  # noqa: F401

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('comms_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('audience_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('audience_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('audience_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('cadence', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=True),
    sa.Column('day_of_month', sa.Integer(), nullable=True),
    sa.Column('at_time', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('anchor_on', sa.Date(), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comms_plan'))
    )
    with op.batch_alter_table('comms_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comms_plan_team_id'), ['team_id'], unique=False)
    op.create_table('comms_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('slot_on', sa.Date(), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['comms_plan.id'], name=op.f('fk_comms_delivery_plan_id_comms_plan'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comms_delivery')),
    sa.UniqueConstraint('plan_id', 'slot_on', 'recipient', name='uq_comms_delivery_slot_recipient')
    )
    with op.batch_alter_table('comms_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comms_delivery_plan_id'), ['plan_id'], unique=False)


def downgrade() -> None:
    op.drop_table('comms_delivery')
    op.drop_table('comms_plan')
