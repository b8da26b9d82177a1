"""digest indexes: the stakeholder digest counts a team's bugs opened and closed in its period, per grade, from an
index range on (team, day) instead of scanning the team's whole bug index (bench/digest.py). Plain CREATE INDEX
(a short write lock on big PostgreSQL tables while it builds).

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 18:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0025'
# The brief's chain is 0025 (the lead re-chains on merge); this branch has no 0025 yet, so it follows 0024 here.
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_bug_team_closed_grade', 'bug', ['team_id', 'closed_at', 'grade'], unique=False)
    op.create_index('ix_bug_team_created_grade', 'bug', ['team_id', 'created_at', 'grade'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_bug_team_created_grade', table_name='bug')
    op.drop_index('ix_bug_team_closed_grade', table_name='bug')
