"""digest_snapshot: the figures a stakeholder digest showed to an audience, the baseline of its next digest.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

import storage.types  # noqa: F401

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'digest_snapshot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('audience_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.Column('taken_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_snapshot')),
    )
    op.create_index('ix_digest_snapshot_team_audience_taken', 'digest_snapshot',
                    ['team_id', 'audience_key', 'taken_at'], unique=False)
    op.create_index('ix_digest_snapshot_team_taken', 'digest_snapshot', ['team_id', 'taken_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_digest_snapshot_team_taken', table_name='digest_snapshot')
    op.drop_index('ix_digest_snapshot_team_audience_taken', table_name='digest_snapshot')
    op.drop_table('digest_snapshot')
