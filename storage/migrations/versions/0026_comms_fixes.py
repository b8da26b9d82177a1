"""comms fixes: a lease on a plan's slot claim (`claimed_at`), the posted message's ts in the ledger, an index on
the ledger's day (purged by day), and `comms_slot`, a slot's digest built once and reused by its retries.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types  # noqa: F401

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('comms_plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', storage.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('comms_delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index('ix_comms_delivery_slot_on', ['slot_on'], unique=False)
    op.create_table('comms_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('slot_on', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('blocks', sa.JSON(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('png', sa.LargeBinary(), nullable=False),
    sa.Column('built_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['comms_plan.id'], name=op.f('fk_comms_slot_plan_id_comms_plan'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comms_slot')),
    sa.UniqueConstraint('plan_id', 'slot_on', name='uq_comms_slot_plan_day')
    )
    with op.batch_alter_table('comms_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comms_slot_plan_id'), ['plan_id'], unique=False)


def downgrade() -> None:
    op.drop_table('comms_slot')
    with op.batch_alter_table('comms_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_comms_delivery_slot_on')
        batch_op.drop_column('ts')
    with op.batch_alter_table('comms_plan', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
