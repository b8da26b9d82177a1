"""home indexes: the App Home dashboard reads one person's open bugs (reported or assigned) and the risks they are
due to review in index order, a page and a count, however many bugs the team has (bench/home.py). Plain CREATE
INDEX (a short write lock on big PostgreSQL tables while it builds).

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 17:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # "My open bugs": the reported ones and the assigned ones, each most severe then oldest, from its own index.
    op.create_index('ix_bug_team_reporter_open', 'bug',
                    ['team_id', 'reporter_id', 'status', 'grade', 'created_at', 'id'], unique=False)
    op.create_index('ix_bug_team_assignee_open', 'bug',
                    ['team_id', 'assignee_id', 'status', 'grade', 'created_at', 'id', 'reporter_id'], unique=False)
    # "My risks due for review": the owner's risks by status and review date.
    op.create_index('ix_risk_team_owner_review', 'risk', ['team_id', 'owner_id', 'status', 'review_on'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_risk_team_owner_review', table_name='risk')
    op.drop_index('ix_bug_team_assignee_open', table_name='bug')
    op.drop_index('ix_bug_team_reporter_open', table_name='bug')
