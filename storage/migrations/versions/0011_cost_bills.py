"""costs from cloud bills: exact amounts, services and their mapping, import details, alerts that are
posted later when Slack was down, budget admins by person, the team's number format

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 02:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('team_settings') as batch:
        batch.add_column(sa.Column('number_format', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
    with op.batch_alter_table('cost_entry') as batch:
        batch.alter_column('amount', type_=storage.types.Money(10), existing_type=storage.types.Money(),
                           existing_nullable=False)
        batch.add_column(sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('lines', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('cost_import') as batch:
        batch.add_column(sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False,
                                   server_default='pmbot'))
        batch.add_column(sa.Column('lines', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('skipped', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('unmapped', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('rate', storage.types.Money(10), nullable=True))
    with op.batch_alter_table('budget_alert') as batch:
        batch.add_column(sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('posted_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
    # Alerts from before this revision were posted (or given up) when they were claimed.
    op.execute("UPDATE budget_alert SET posted_at = created_at")
    with op.batch_alter_table('budget_admin_group') as batch:
        batch.alter_column('usergroup_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        batch.add_column(sa.Column('user_ids', sa.JSON(), nullable=False, server_default='[]'))
    op.create_table('service_mapping',
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('service_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('set_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', 'service_key', name=op.f('pk_service_mapping'))
    )


def downgrade() -> None:
    op.drop_table('service_mapping')
    with op.batch_alter_table('budget_admin_group') as batch:
        batch.drop_column('user_ids')
        batch.alter_column('usergroup_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False)
    with op.batch_alter_table('budget_alert') as batch:
        for name in ('attempts', 'posted_at', 'channel_id', 'text'):
            batch.drop_column(name)
    with op.batch_alter_table('cost_import') as batch:
        for name in ('rate', 'currency', 'unmapped', 'skipped', 'lines', 'format'):
            batch.drop_column(name)
    with op.batch_alter_table('cost_entry') as batch:
        batch.drop_column('lines')
        batch.drop_column('service')
        batch.alter_column('amount', type_=storage.types.Money(), existing_type=storage.types.Money(10),
                           existing_nullable=False)
    with op.batch_alter_table('team_settings') as batch:
        batch.drop_column('number_format')
