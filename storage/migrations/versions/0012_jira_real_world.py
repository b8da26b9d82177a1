"""jira against real jira: how new the state a link last saw is (to ignore late deliveries), deleted
issues as tombstones, assignees by account, and Slack people matched to Jira accounts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 04:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('jira_link') as batch:
        batch.add_column(sa.Column('assignee_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch.add_column(sa.Column('seen_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('seen_change', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('gone_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.create_index(batch.f('ix_jira_link_jira_id'), ['jira_id'], unique=False)
    op.create_table('jira_person',
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('slack_user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('jira_account', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('checked_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', 'slack_user_id', name=op.f('pk_jira_person'))
    )
    op.create_index('ix_jira_person_account', 'jira_person', ['team_id', 'jira_account'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_jira_person_account', table_name='jira_person')
    op.drop_table('jira_person')
    with op.batch_alter_table('jira_link') as batch:
        batch.drop_index(batch.f('ix_jira_link_jira_id'))
        batch.drop_column('gone_at')
        batch.drop_column('seen_change')
        batch.drop_column('seen_at')
        batch.drop_column('assignee_id')
