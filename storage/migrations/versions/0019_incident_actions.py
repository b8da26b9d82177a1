"""incident follow-up actions (A-12): owner, due date, done by whom and when, the reminders claimed once

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types  # noqa: F401

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('incident_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('readable_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('delivery_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('owner_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('reminded_before', sa.Date(), nullable=True),
    sa.Column('reminded_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incident_action_incident_id_incident'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_action')),
    sa.UniqueConstraint('team_id', 'delivery_key', name='uq_incident_action_team_delivery'),
    sa.UniqueConstraint('team_id', 'readable_id', name='uq_incident_action_team_readable')
    )
    with op.batch_alter_table('incident_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_action_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_incident_action_team_open', ['team_id', 'done_at'], unique=False)


def downgrade() -> None:
    op.drop_table('incident_action')
