"""query indexes: listing and stats commands read only the asking team's rows as tables grow to 10^6 rows
(bench/queries.py). Wider indexes replace the ones they extend; plain CREATE INDEX (a short write lock on big
PostgreSQL tables while it builds).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 08:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # `/bug list` and `/bug stats`: counts, the median open age and a page's ids without reading the rows.
    op.drop_index('ix_bug_team_status_grade', table_name='bug')
    op.create_index('ix_bug_team_status_grade_created', 'bug', ['team_id', 'status', 'grade', 'created_at', 'id'],
                    unique=False)
    # `/bug stats`: the team's reviews, not every team's.
    op.drop_index('ix_bug_grade_change_team_id', table_name='bug_grade_change')
    op.create_index('ix_bug_grade_change_team_bug', 'bug_grade_change', ['team_id', 'bug_id', 'kind'], unique=False)
    # `/risk list`: a page's ids in score order without reading the rows.
    op.drop_index('ix_risk_team_status', table_name='risk')
    op.create_index('ix_risk_team_status_score', 'risk', ['team_id', 'status', 'probability', 'impact', 'id'],
                    unique=False)
    # `/incident list`: the team's newest, instead of walking every team's incidents backwards by id.
    op.create_index('ix_incident_team_newest', 'incident', ['team_id', 'id'], unique=False)
    # `/budget status`: the team's LLM calls in the period, instead of every team's calls in it.
    op.drop_index('ix_llm_usage_team_id', table_name='llm_usage')
    op.create_index('ix_llm_usage_team_created', 'llm_usage', ['team_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_llm_usage_team_created', table_name='llm_usage')
    op.create_index('ix_llm_usage_team_id', 'llm_usage', ['team_id'], unique=False)
    op.drop_index('ix_incident_team_newest', table_name='incident')
    op.drop_index('ix_risk_team_status_score', table_name='risk')
    op.create_index('ix_risk_team_status', 'risk', ['team_id', 'status'], unique=False)
    op.drop_index('ix_bug_grade_change_team_bug', table_name='bug_grade_change')
    op.create_index('ix_bug_grade_change_team_id', 'bug_grade_change', ['team_id'], unique=False)
    op.drop_index('ix_bug_team_status_grade_created', table_name='bug')
    op.create_index('ix_bug_team_status_grade', 'bug', ['team_id', 'status', 'grade'], unique=False)
