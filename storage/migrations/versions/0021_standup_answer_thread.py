"""standup_answer gets `thread_ts`: where a DM-mode answer was posted in the day's thread (claimed by a conditional
UPDATE so one caller posts it; an edit updates that message), whether or not the person had a prompt that day
(what `standup_prompt.answer_ts` held is copied over; that column is no longer written).
standup_prompt gets an index on (dm_channel, user_id): a message typed in the DM looks up its latest prompt.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('standup_answer', sa.Column('thread_ts', sa.String(length=32), nullable=True))
    # Answers posted before this revision were noted on their prompt: keep pointing edits at those messages.
    op.execute("UPDATE standup_answer SET thread_ts = (SELECT p.answer_ts FROM standup_prompt p JOIN standup_day d "
               "ON d.standup_id = p.standup_id AND d.day = p.day WHERE d.id = standup_answer.standup_day_id "
               "AND p.user_id = standup_answer.user_id) WHERE thread_ts IS NULL")
    op.create_index('ix_standup_prompt_dm_channel_user', 'standup_prompt', ['dm_channel', 'user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_standup_prompt_dm_channel_user', table_name='standup_prompt')
    op.drop_column('standup_answer', 'thread_ts')
