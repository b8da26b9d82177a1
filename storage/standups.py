"""Repository verbs for stand-ups: their settings, absences, days (claimed, posted, missed), answers and blockers.

A day's row is the claim on its post: unique per (stand-up, day), inserted once by whoever gets there first; while
it has no `parent_ts` its post is still to come and `posted_at` says when the next try may start (see
bot/standups/service.py). Reminding and summarising are claimed on the day's flags with `storage.repos.claim_once`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlmodel import Session

from storage.models import Absence, MemberZone, Standup, StandupAnswer, StandupBlocker, StandupDay, StandupPrompt
from storage.repos import dialect_insert

# What a day became: its stand-up thread, a one-line holiday notice, or nothing (Slack never took the post).
STANDUP, HOLIDAY, MISSED = "standup", "holiday", "missed"


# --- stand-ups ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StandupSettings:
    """What a set-up decides and an edit replaces (its pause, digest, author and days stay)."""

    channel_id: str
    members: list[str]
    time: str
    timezone: str
    workdays: list[int]
    country: str | None
    subdivision: str | None
    questions: list[str]
    reminder_minutes: int
    summary_minutes: int
    mode: str = "thread"


def create_standup(session: Session, *, team_id: str, settings: StandupSettings, created_by: str,
                   now: datetime) -> Standup:
    """Store a new stand-up; its id is known on return."""
    row = Standup(team_id=team_id, created_by=created_by, created_at=now, **asdict(settings))
    session.add(row)
    session.flush()
    return row


def standup_by_id(session: Session, *, team_id: str, standup_id: int) -> Standup | None:
    """A stand-up by its number, within one team."""
    row = session.get(Standup, standup_id)
    return row if row is not None and row.team_id == team_id else None


def update_standup(session: Session, *, team_id: str, standup_id: int, settings: StandupSettings) -> Standup | None:
    """Replace a stand-up's settings in place; None when the team has no such stand-up (any more)."""
    row = standup_by_id(session, team_id=team_id, standup_id=standup_id)
    if row is None:
        return None
    for name, value in asdict(settings).items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    return row


def set_standup_fields(session: Session, *, team_id: str, standup_id: int, values: dict) -> Standup | None:
    """Change some of a stand-up's settings (its questions, its mode); None when the team has no such stand-up."""
    row = standup_by_id(session, team_id=team_id, standup_id=standup_id)
    if row is None:
        return None
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    return row


def all_standups(session: Session) -> list[Standup]:
    """Every stand-up of every team, in a stable order (the scheduled run goes through them)."""
    return list(session.execute(select(Standup).order_by(Standup.id)).scalars())


def standups_in_channel(session: Session, *, team_id: str, channel_id: str) -> list[Standup]:
    stmt = select(Standup).where(Standup.team_id == team_id, Standup.channel_id == channel_id).order_by(Standup.id)
    return list(session.execute(stmt).scalars())


# --- absences ---------------------------------------------------------------------------------------------


def add_absence(session: Session, *, team_id: str, user_id: str, start: date, end: date) -> Absence:
    row = Absence(team_id=team_id, user_id=user_id, start=start, end=end)
    session.add(row)
    session.flush()
    return row


def away_on(session: Session, *, team_id: str, day: date) -> set[str]:
    """Who in the team is away on `day`."""
    stmt = select(Absence.user_id).where(Absence.team_id == team_id, Absence.start <= day, Absence.end >= day)
    return set(session.execute(stmt).scalars())


# --- days ---------------------------------------------------------------------------------------------------


def day_of(session: Session, *, standup_id: int, day: date) -> StandupDay | None:
    """The stand-up's row for `day`, if that day was claimed."""
    stmt = select(StandupDay).where(StandupDay.standup_id == standup_id, StandupDay.day == day)
    return session.execute(stmt).scalar_one_or_none()


def claim_day(session: Session, *, standup_id: int, day: date, kind: str, lease_end: datetime) -> int | None:
    """Insert the day's row (the first try at its post, which holds it until `lease_end`): its id, or None when the
    day was claimed before (by another scheduler, or an earlier run)."""
    stmt = (dialect_insert(session, StandupDay)
            .values(standup_id=standup_id, day=day, kind=kind, posted_at=lease_end, reminded=False, summarised=False)
            .on_conflict_do_nothing(index_elements=["standup_id", "day"])
            .returning(StandupDay.id))
    return session.execute(stmt).scalar()


def take_over_day(session: Session, *, day_id: int, kind: str, now: datetime, lease_end: datetime) -> bool:
    """Take a day whose post is still to come for one more try, if its next try is due at `now` (no other try holds
    it, no backoff runs): True for the one caller that got it, holding it until `lease_end`."""
    stmt = (update(StandupDay)
            .where(StandupDay.id == day_id, StandupDay.parent_ts.is_(None), StandupDay.kind == kind,
                   StandupDay.posted_at <= now)
            .values(posted_at=lease_end).execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) == 1


def mark_day_posted(session: Session, *, day_id: int, parent_ts: str, now: datetime) -> None:
    """Slack took the day's post: it is done, and `parent_ts` is the thread answers go to."""
    stmt = (update(StandupDay).where(StandupDay.id == day_id).values(parent_ts=parent_ts, posted_at=now)
            .execution_options(synchronize_session=False))
    session.execute(stmt)


def put_off_day(session: Session, *, day_id: int, until: datetime) -> None:
    """No try at the day's post before `until` (a backoff after a failure that passes)."""
    stmt = (update(StandupDay).where(StandupDay.id == day_id, StandupDay.parent_ts.is_(None))
            .values(posted_at=until).execution_options(synchronize_session=False))
    session.execute(stmt)


def mark_day_missed(session: Session, *, day_id: int) -> bool:
    """Give up the day's post: True for the one caller that did (so the admins hear it once)."""
    stmt = (update(StandupDay)
            .where(StandupDay.id == day_id, StandupDay.parent_ts.is_(None), StandupDay.kind != MISSED)
            .values(kind=MISSED).execution_options(synchronize_session=False))
    return (session.execute(stmt).rowcount or 0) == 1


def day_with_standup(session: Session, *, day_id: int) -> tuple[Standup, StandupDay] | None:
    """A day and its stand-up, by the day's id (a button's value)."""
    day = session.get(StandupDay, day_id)
    standup = session.get(Standup, day.standup_id) if day else None
    return (standup, day) if day is not None and standup is not None else None


def thread_day(session: Session, *, parent_ts: str) -> tuple[Standup, StandupDay] | None:
    """The stand-up day whose thread starts at `parent_ts`, with its stand-up."""
    stmt = select(StandupDay).where(StandupDay.parent_ts == parent_ts, StandupDay.kind == STANDUP)
    day = session.execute(stmt).scalars().first()
    standup = session.get(Standup, day.standup_id) if day else None
    return (standup, day) if day is not None and standup is not None else None


def days_posted(session: Session, *, standup_id: int, start: date, end: date) -> list[StandupDay]:
    """The stand-up's thread days from `start` to `end` (holidays and missed days are not among them)."""
    stmt = select(StandupDay).where(StandupDay.standup_id == standup_id, StandupDay.kind == STANDUP,
                                    StandupDay.day >= start, StandupDay.day <= end)
    return list(session.execute(stmt).scalars())


# --- answers ------------------------------------------------------------------------------------------------


def answers_of_day(session: Session, *, day_id: int) -> list[StandupAnswer]:
    """The day's answers, in the order they first came."""
    stmt = select(StandupAnswer).where(StandupAnswer.standup_day_id == day_id).order_by(StandupAnswer.id)
    return list(session.execute(stmt).scalars())


def answers_of_days(session: Session, *, day_ids: list[int]) -> list[StandupAnswer]:
    if not day_ids:
        return []
    stmt = select(StandupAnswer).where(StandupAnswer.standup_day_id.in_(day_ids))
    return list(session.execute(stmt).scalars())


def answered_users(session: Session, *, day_id: int) -> set[str]:
    """Who answered on the day."""
    stmt = select(StandupAnswer.user_id).where(StandupAnswer.standup_day_id == day_id)
    return set(session.execute(stmt).scalars())


def save_answer(session: Session, *, standup_id: int, day_id: int, user_id: str, answers: dict[str, str],
                blocker: str | None, late: bool, now: datetime, message_ts: str | None) -> StandupAnswer:
    """Store one person's answers for the day, or replace them (an edit): the first answer says if it was late, and
    a replacement without a message keeps the message of the one before."""
    stmt = select(StandupAnswer).where(StandupAnswer.standup_day_id == day_id, StandupAnswer.user_id == user_id)
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        row = StandupAnswer(standup_day_id=day_id, standup_id=standup_id, user_id=user_id, late=late,
                            first_answered_at=now)
    row.answers, row.blocker, row.answered_at = answers, blocker, now
    row.message_ts = message_ts or row.message_ts
    session.add(row)
    session.flush()
    return row


# --- blockers -----------------------------------------------------------------------------------------------


def open_blockers(session: Session, *, standup_id: int) -> list[StandupBlocker]:
    """The stand-up's blockers nobody reported solved yet, oldest first."""
    stmt = (select(StandupBlocker).where(StandupBlocker.standup_id == standup_id, StandupBlocker.resolved_on.is_(None))
            .order_by(StandupBlocker.first_day))
    return list(session.execute(stmt).scalars())


def blockers_since(session: Session, *, standup_id: int, start: date) -> list[StandupBlocker]:
    """The stand-up's blockers still reported on `start` or later, open or solved."""
    stmt = select(StandupBlocker).where(StandupBlocker.standup_id == standup_id, StandupBlocker.last_day >= start)
    return list(session.execute(stmt).scalars())


def blocker_by_id(session: Session, *, blocker_id: int) -> StandupBlocker | None:
    return session.get(StandupBlocker, blocker_id)


def carry_blocker(session: Session, *, standup_id: int, user_id: str, text: str | None, day: date,
                  same: Callable[[str, str], bool]) -> None:
    """Carry a person's blocker to `day`: their open blocker that `same` matches takes today's wording and date, their
    other open ones are solved (not reported any more), and a blocker none matched is opened."""
    stmt = select(StandupBlocker).where(StandupBlocker.standup_id == standup_id, StandupBlocker.user_id == user_id,
                                        StandupBlocker.resolved_on.is_(None))
    open_ones = list(session.execute(stmt).scalars())
    match = next((b for b in open_ones if text and same(b.text, text)), None)
    for other in open_ones:
        if other is not match:
            other.resolved_on = day
            session.add(other)
    if match is not None:
        match.text, match.last_day = text, day
        session.add(match)
    elif text:
        session.add(StandupBlocker(standup_id=standup_id, user_id=user_id, text=text, first_day=day, last_day=day))


# --- counts, set-up checks and reports (appended for #21) ----------------------------------------------------


def standups_of_team(session: Session, *, team_id: str) -> list[Standup]:
    """The team's stand-ups, by number."""
    stmt = select(Standup).where(Standup.team_id == team_id).order_by(Standup.id)
    return list(session.execute(stmt).scalars())


def blocked_users(session: Session, *, day_id: int) -> set[str]:
    """Who reported a blocker in their answer of the day."""
    stmt = select(StandupAnswer.user_id).where(StandupAnswer.standup_day_id == day_id,
                                               StandupAnswer.blocker.is_not(None))
    return set(session.execute(stmt).scalars())


def absences_between(session: Session, *, team_id: str, start: date, end: date) -> list[Absence]:
    """The team's absences that overlap `start` to `end`."""
    stmt = select(Absence).where(Absence.team_id == team_id, Absence.start <= end, Absence.end >= start)
    return list(session.execute(stmt).scalars())


# --- DM mode: people's zones and their prompts -----------------------------------------------------------------


def member_zones(session: Session, *, team_id: str, user_ids: list[str]) -> dict[str, MemberZone]:
    """The zones known of these people (checked at some time: see `MemberZone.checked_at`)."""
    if not user_ids:
        return {}
    stmt = select(MemberZone).where(MemberZone.team_id == team_id, MemberZone.user_id.in_(user_ids))
    return {row.user_id: row for row in session.execute(stmt).scalars()}


def save_member_zone(session: Session, *, team_id: str, user_id: str, timezone: str | None, now: datetime) -> None:
    """Keep what Slack said of a person's zone (None: it did not say), replacing what was kept before."""
    stmt = (dialect_insert(session, MemberZone)
            .values(team_id=team_id, user_id=user_id, timezone=timezone, checked_at=now)
            .on_conflict_do_update(index_elements=["team_id", "user_id"],
                                   set_={"timezone": timezone, "checked_at": now}))
    session.execute(stmt)


def claim_prompt(session: Session, *, standup_id: int, day: date, user_id: str, timezone: str,
                 now: datetime) -> int | None:
    """Take the DM that asks `user_id` for `day`: the new row's id for the one caller that got it, else None."""
    stmt = (dialect_insert(session, StandupPrompt)
            .values(standup_id=standup_id, day=day, user_id=user_id, timezone=timezone, asked_at=now, reminded=False)
            .on_conflict_do_nothing(index_elements=["standup_id", "day", "user_id"])
            .returning(StandupPrompt.id))
    return session.execute(stmt).scalar()


def release_prompt(session: Session, *, prompt_id: int) -> None:
    """Give a prompt back (Slack failed for a reason that passes, before the DM went out): a later run asks again."""
    stmt = delete(StandupPrompt).where(StandupPrompt.id == prompt_id, StandupPrompt.dm_ts.is_(None))
    session.execute(stmt)


def prompt_sent(session: Session, *, prompt_id: int, channel: str, ts: str) -> None:
    stmt = (update(StandupPrompt).where(StandupPrompt.id == prompt_id).values(dm_channel=channel, dm_ts=ts)
            .execution_options(synchronize_session=False))
    session.execute(stmt)


def prompts_of_day(session: Session, *, standup_id: int, day: date) -> dict[str, StandupPrompt]:
    """The day's prompts, by person."""
    stmt = select(StandupPrompt).where(StandupPrompt.standup_id == standup_id, StandupPrompt.day == day)
    return {row.user_id: row for row in session.execute(stmt).scalars()}


def prompt_of(session: Session, *, standup_id: int, day: date, user_id: str) -> StandupPrompt | None:
    stmt = select(StandupPrompt).where(StandupPrompt.standup_id == standup_id, StandupPrompt.day == day,
                                       StandupPrompt.user_id == user_id)
    return session.execute(stmt).scalar_one_or_none()


# `standup_answer.thread_ts` while one caller posts the answer into the thread (the claim).
POSTING = "posting"


def claim_answer_post(session: Session, *, day_id: int, user_id: str) -> bool:
    """Take the posting of a DM-mode answer into the day's thread: True for the one caller that got it."""
    stmt = (update(StandupAnswer).where(StandupAnswer.standup_day_id == day_id, StandupAnswer.user_id == user_id,
                                        StandupAnswer.thread_ts.is_(None))
            .values(thread_ts=POSTING).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def answer_posted(session: Session, *, day_id: int, user_id: str, ts: str | None) -> None:
    """Where the claimed answer was posted in the day's thread (None: it was not; the claim is given back)."""
    stmt = (update(StandupAnswer).where(StandupAnswer.standup_day_id == day_id, StandupAnswer.user_id == user_id,
                                        StandupAnswer.thread_ts == POSTING)
            .values(thread_ts=ts).execution_options(synchronize_session=False))
    session.execute(stmt)


def answer_of(session: Session, *, day_id: int, user_id: str) -> StandupAnswer | None:
    stmt = select(StandupAnswer).where(StandupAnswer.standup_day_id == day_id, StandupAnswer.user_id == user_id)
    return session.execute(stmt).scalar_one_or_none()


def latest_prompt(session: Session, *, dm_channel: str, user_id: str) -> StandupPrompt | None:
    """The last stand-up prompt sent to `user_id` in the DM `dm_channel` (what a message typed there answers)."""
    stmt = (select(StandupPrompt).where(StandupPrompt.dm_channel == dm_channel, StandupPrompt.user_id == user_id)
            .order_by(StandupPrompt.asked_at.desc(), StandupPrompt.id.desc()).limit(1))
    return session.execute(stmt).scalar_one_or_none()


def prompts_between(session: Session, *, standup_id: int, start: date, end: date) -> list[StandupPrompt]:
    """The stand-up's DM prompts from `start` to `end` (what a DM-mode answer delay is measured from)."""
    stmt = select(StandupPrompt).where(StandupPrompt.standup_id == standup_id, StandupPrompt.day >= start,
                                       StandupPrompt.day <= end)
    return list(session.execute(stmt).scalars())
