"""bug category and the grade the grader was unsure of

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 01:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bug') as batch:
        batch.add_column(sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True))
        batch.add_column(sa.Column('unsure_of', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bug') as batch:
        batch.drop_column('unsure_of')
        batch.drop_column('category')
