"""stand-ups by DM: a stand-up's mode (`thread`, as before, or `dm`), the per-person prompts of DM mode (one row
per stand-up, day and person: the claim that makes two schedulers send one DM), and people's time zones as Slack
said them (kept a day).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 14:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('standup', sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False,
                                       server_default='thread'))
    op.create_table('standup_prompt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('standup_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('asked_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dm_channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('dm_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('reminded', sa.Boolean(), nullable=False),
    sa.Column('answer_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.ForeignKeyConstraint(['standup_id'], ['standup.id'], name=op.f('fk_standup_prompt_standup_id_standup'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standup_prompt')),
    sa.UniqueConstraint('standup_id', 'day', 'user_id', name='uq_standup_prompt_once')
    )
    with op.batch_alter_table('standup_prompt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standup_prompt_standup_id'), ['standup_id'], unique=False)
    op.create_table('member_zone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('checked_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_zone')),
    sa.UniqueConstraint('team_id', 'user_id', name='uq_member_zone')
    )


def downgrade() -> None:
    op.drop_table('member_zone')
    with op.batch_alter_table('standup_prompt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standup_prompt_standup_id'))
    op.drop_table('standup_prompt')
    op.drop_column('standup', 'mode')
