"""Stand-up use cases: set-up (checked at once), absences, the day's post, answers, reminders, summaries.

Each day of a stand-up is claimed by inserting its (stand-up, day) row, which is unique: two scheduler
instances, a repeated run or a late catch-up post it once. Reminding and summarising are claimed the same
way, on flags of that row.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot import replies
from bot.deps import Deps
from bot.domain import standup as rules
from bot.domain.pii import redact
from bot.errors import NotFound, SlackError, UserInputError
from bot.gateways.slack import call, find_user, post_in_channel, resolve_channel, tell_privately
from bot.standups import blocks as su_blocks
from storage.db import session_scope
from storage.models import Absence, Standup, StandupAnswer, StandupBlocker, StandupDay
from storage.repos import uninstalled_teams

logger = logging.getLogger(__name__)


# --- set-up -----------------------------------------------------------------------------------------------


def setup(deps: Deps, *, team_id: str, user_id: str, channel_id: str, text: str) -> Standup:
    """Check everything now (time zone, holiday calendar, that pmbot can post there), then save."""
    try:
        found = rules.parse_setup(text, default_timezone=deps.settings.pmbot_timezone)
        rules.holiday_name(deps.clock().date(), found.country, found.subdivision)  # an unknown calendar fails here
    except rules.SetupError as exc:
        raise UserInputError(str(exc)) from None
    channel = _channel_id(deps, found.channel_id) if found.channel_id else channel_id
    found.members = [_user_id(deps, member) for member in found.members]
    _check_can_post(deps, channel)
    questions = [*rules.DEFAULT_QUESTIONS, *([rules.GENAI_QUESTION] if found.genai else [])]
    with session_scope(deps.engine) as session:
        row = Standup(team_id=team_id, channel_id=channel, members=list(dict.fromkeys(found.members)),
                      time=found.time, timezone=found.timezone, workdays=found.workdays, country=found.country,
                      subdivision=found.subdivision, questions=questions, reminder_minutes=found.reminder_minutes,
                      summary_minutes=found.summary_minutes, created_by=user_id, created_at=deps.clock())
        session.add(row)
        session.flush()
        return row


def _user_id(deps: Deps, member: str) -> str:
    if not member.startswith("@"):
        return member
    found = find_user(deps.client, member)
    if found is None:
        raise UserInputError(f"I do not know {member} in this workspace; mention them so Slack completes the name.")
    return found


def _channel_id(deps: Deps, ref: str) -> str:
    if not ref.startswith("#"):
        return ref
    found = resolve_channel(deps.client, ref)
    if found is None:
        raise UserInputError(f"There is no channel {ref} I can see; invite me there first.")
    return found


def _check_can_post(deps: Deps, channel: str) -> None:
    try:
        info = call(deps.client, "conversations_info", channel=channel)["channel"]
    except SlackError as exc:
        raise UserInputError(f"I cannot see that channel ({exc.code}). Invite me with `/invite @pmbot` there "
                             "first.") from exc
    if info.get("is_member"):
        return
    if info.get("is_private"):
        raise UserInputError("I am not in that private channel, so I could not post the stand-up. Invite me with "
                             "`/invite @pmbot` there, then set it up again.")
    try:
        call(deps.client, "conversations_join", channel=channel)
    except SlackError as exc:
        raise UserInputError(f"I cannot join that channel ({exc.code}); invite me with `/invite @pmbot`.") from exc


def get(deps: Deps, team_id: str, number: int) -> Standup:
    with session_scope(deps.engine) as session:
        row = session.get(Standup, number)
    if row is None or row.team_id != team_id:
        raise NotFound(f"There is no stand-up {number}: `/standup list` shows them.")
    return row


def away(deps: Deps, *, team_id: str, user_id: str, text: str, today: date) -> Absence:
    """`away 2026-12-20 2027-01-02`, `away 3d` or `away 2w`: always with an end."""
    words = text.split()
    try:
        if len(words) == 1 and (span := re.fullmatch(r"(\d{1,3})([dw])", words[0].lower())):
            days = int(span[1]) * (7 if span[2] == "w" else 1)
            start, end = today, today + timedelta(days=days - 1)
        elif len(words) == 2:
            start, end = date.fromisoformat(words[0]), date.fromisoformat(words[1])
        else:
            raise ValueError
    except ValueError:
        raise UserInputError("Say when you are away, with an end: `/standup away 2026-12-20 2027-01-02` or "
                             "`/standup away 3d`.") from None
    if end < start or end < today:
        raise UserInputError("The end of an absence must be after its start, and not in the past.")
    if (end - start).days > 366:
        raise UserInputError("An absence lasts at most a year; add another one after it.")
    with session_scope(deps.engine) as session:
        row = Absence(team_id=team_id, user_id=user_id, start=start, end=end)
        session.add(row)
        session.flush()
        return row


def away_on(deps: Deps, team_id: str, day: date) -> set[str]:
    with session_scope(deps.engine) as session:
        stmt = select(Absence.user_id).where(Absence.team_id == team_id, Absence.start <= day, Absence.end >= day)
        return set(session.execute(stmt).scalars())


# --- every working day --------------------------------------------------------------------------------------


@dataclass
class Done:
    posted: int = 0
    holidays: int = 0
    reminded: int = 0
    summarised: int = 0

    def text(self) -> str:
        return (f"{self.posted} posted, {self.holidays} holiday notices, {self.reminded} reminders, "
                f"{self.summarised} summaries")


def run_due(deps: Deps, now: datetime) -> Done:
    done = Done()
    with session_scope(deps.engine) as session:
        standups = list(session.execute(select(Standup).order_by(Standup.id)).scalars())
        gone = uninstalled_teams(session)
    for standup in (s for s in standups if s.team_id not in gone):  # an uninstalled team hears nothing more
        try:
            _due(deps, standup, now, done)
        except Exception:
            logger.exception("stand-up %s failed at %s", standup.id, now.isoformat())
    return done


def _due(deps: Deps, standup: Standup, now: datetime, done: Done) -> None:
    today = now.astimezone(ZoneInfo(standup.timezone)).date()
    post_at = rules.local_moment(today, standup.time, standup.timezone)
    grace = timedelta(seconds=deps.settings.pmbot_misfire_grace_seconds)
    paused = standup.paused_until is not None and today <= standup.paused_until
    if not paused and post_at <= now <= post_at + grace and today.weekday() in standup.workdays:
        _post_day(deps, standup, today, done)
    day = _day(deps, standup.id, today)
    if day is None or day.kind != "standup":
        return
    if now >= post_at + timedelta(minutes=standup.reminder_minutes) and _claim(deps, day.id, StandupDay.reminded):
        done.reminded += _remind(deps, standup, day)
    if now >= post_at + timedelta(minutes=standup.summary_minutes) and _claim(deps, day.id, StandupDay.summarised):
        post_summary(deps, standup, day)
        done.summarised += 1


def _day(deps: Deps, standup_id: int, day: date) -> StandupDay | None:
    with session_scope(deps.engine) as session:
        stmt = select(StandupDay).where(StandupDay.standup_id == standup_id, StandupDay.day == day)
        return session.execute(stmt).scalar_one_or_none()


def _claim(deps: Deps, day_id: int, flag) -> bool:
    with session_scope(deps.engine) as session:
        stmt = (update(StandupDay).where(StandupDay.id == day_id, flag.is_(False)).values({flag.key: True})
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount == 1


def _post_day(deps: Deps, standup: Standup, today: date, done: Done) -> None:
    holiday = rules.holiday_name(today, standup.country, standup.subdivision)
    try:
        with session_scope(deps.engine) as session, session.begin_nested():
            row = StandupDay(standup_id=standup.id, day=today, kind="holiday" if holiday else "standup",
                             posted_at=deps.clock())
            session.add(row)
            session.flush()
            day_id = row.id
    except IntegrityError:
        return  # posted already (another instance, or an earlier run)
    if holiday:
        # A working day without a stand-up would surprise people: say why, in one line.
        region = standup.country + (f"-{standup.subdivision}" if standup.subdivision else "")
        post_in_channel(deps.client, standup.channel_id, text=f"No stand-up today: {holiday} ({region}).")
        done.holidays += 1
        return
    text, parts = su_blocks.parent(standup, today, 0, len(_open_blockers(deps, standup.id)))
    parts[-1]["elements"][0]["value"] = str(day_id)
    posted = post_in_channel(deps.client, standup.channel_id, text=text, blocks=parts)
    with session_scope(deps.engine) as session:
        row = session.get(StandupDay, day_id)
        row.parent_ts = posted["ts"]
        session.add(row)
    done.posted += 1


def _answers(deps: Deps, day_id: int) -> list[StandupAnswer]:
    with session_scope(deps.engine) as session:
        stmt = select(StandupAnswer).where(StandupAnswer.standup_day_id == day_id).order_by(StandupAnswer.id)
        return list(session.execute(stmt).scalars())


def _open_blockers(deps: Deps, standup_id: int) -> list[StandupBlocker]:
    with session_scope(deps.engine) as session:
        stmt = (select(StandupBlocker).where(StandupBlocker.standup_id == standup_id,
                                             StandupBlocker.resolved_on.is_(None)).order_by(StandupBlocker.first_day))
        return list(session.execute(stmt).scalars())


def _remind(deps: Deps, standup: Standup, day: StandupDay) -> int:
    answered = {a.user_id for a in _answers(deps, day.id)}
    gone = away_on(deps, standup.team_id, day.day)
    link = call(deps.client, "chat_getPermalink", channel=standup.channel_id, message_ts=day.parent_ts)["permalink"]
    count = 0
    for user in standup.members:
        if user in answered or user in gone:
            continue
        try:
            tell_privately(deps.client, user, None, text=f"A reminder for today's stand-up in <#{standup.channel_id}>"
                                                          f": <{link}|answer here> (a line per question is enough).")
            count += 1
        except SlackError as exc:
            logger.warning("could not remind %s: %s", user, exc.code)
    return count


def post_summary(deps: Deps, standup: Standup, day: StandupDay) -> None:
    answers = _answers(deps, day.id)
    gone = sorted(away_on(deps, standup.team_id, day.day) & set(standup.members))
    blockers = [b for b in _open_blockers(deps, standup.id) if b.user_id in standup.members]
    text, parts = su_blocks.summary(standup, day.day, answers, blockers, gone)
    call(deps.client, "chat_postMessage", channel=standup.channel_id, thread_ts=day.parent_ts, text=text,
         blocks=parts)
    if standup.digest and day.day.weekday() == 4:  # the weekly digest, on Fridays, once (the summary is claimed)
        post_in_channel(deps.client, standup.channel_id,
                        text=participation_report(deps, standup.team_id, standup.channel_id, "week", day.day))


def refresh_parent(deps: Deps, standup: Standup, day: StandupDay) -> None:
    answered = len({a.user_id for a in _answers(deps, day.id)})
    text, parts = su_blocks.parent(standup, day.day, answered, len(_open_blockers(deps, standup.id)))
    parts[-1]["elements"][0]["value"] = str(day.id)
    try:
        call(deps.client, "chat_update", channel=standup.channel_id, ts=day.parent_ts, text=text, blocks=parts)
    except SlackError as exc:
        logger.warning("could not update the stand-up post: %s", exc.code)


# --- answers ---------------------------------------------------------------------------------------------


def day_by_parent(deps: Deps, channel_id: str, parent_ts: str) -> tuple[Standup, StandupDay] | None:
    with session_scope(deps.engine) as session:
        day = session.execute(select(StandupDay).where(StandupDay.parent_ts == parent_ts)).scalars().first()
        standup = session.get(Standup, day.standup_id) if day else None
    if day is None or standup is None or standup.channel_id != channel_id:
        return None
    return standup, day


def day_by_id(deps: Deps, team_id: str, day_id: int) -> tuple[Standup, StandupDay]:
    with session_scope(deps.engine) as session:
        day = session.get(StandupDay, day_id)
        standup = session.get(Standup, day.standup_id) if day else None
    if day is None or standup is None or standup.team_id != team_id:
        raise NotFound("That stand-up no longer exists.")
    return standup, day


def record(deps: Deps, standup: Standup, day: StandupDay, *, user_id: str, answers: dict[str, str],
           message_ts: str | None = None) -> StandupAnswer:
    """Store (or replace, for an edit) one person's answers for the day, and carry their blocker forward."""
    answers = {q: redact(text).text[:3000] for q, text in answers.items() if text.strip()}
    blocker = rules.blocker_of(answers, standup.questions)
    now = deps.clock()
    late = now > rules.local_moment(day.day, standup.time, standup.timezone, plus_minutes=standup.summary_minutes)
    with session_scope(deps.engine) as session:
        stmt = select(StandupAnswer).where(StandupAnswer.standup_day_id == day.id, StandupAnswer.user_id == user_id)
        row = session.execute(stmt).scalar_one_or_none()
        if row is None:
            row = StandupAnswer(standup_day_id=day.id, standup_id=standup.id, user_id=user_id, late=late)
        row.answers, row.blocker, row.answered_at = answers, blocker, now
        row.message_ts = message_ts or row.message_ts
        session.add(row)
        _carry_blocker(session, standup.id, user_id, blocker, day.day)
    refresh_parent(deps, standup, day)
    return row


def _carry_blocker(session, standup_id: int, user_id: str, blocker: str | None, day: date) -> None:
    stmt = select(StandupBlocker).where(StandupBlocker.standup_id == standup_id, StandupBlocker.user_id == user_id,
                                        StandupBlocker.resolved_on.is_(None))
    open_ones = list(session.execute(stmt).scalars())
    match = next((b for b in open_ones if blocker and rules.same_blocker(b.text, blocker)), None)
    for other in open_ones:
        if other is not match:
            other.resolved_on = day  # not reported any more: solved
            session.add(other)
    if match is not None:
        match.text, match.last_day = blocker, day
        session.add(match)
    elif blocker:
        session.add(StandupBlocker(standup_id=standup_id, user_id=user_id, text=blocker, first_day=day, last_day=day))


def thread_reply(deps: Deps, event: dict) -> bool:
    """A reply in a stand-up's thread (plain, broadcast to the channel, with a file, or an edit of one) is that
    person's answer for that day; a file shared without text counts as answered, the file named."""
    reply = replies.thread_reply(event)
    if reply is None:
        return False
    found = day_by_parent(deps, reply.channel, reply.thread_ts)
    if found is None:
        return False
    standup, day = found
    if reply.user not in standup.members:
        return True  # a comment by someone else in the thread: not an answer, and nobody else's business
    record(deps, standup, day, user_id=reply.user, answers=_typed_answers(reply, standup.questions),
           message_ts=reply.ts)
    return True


def _typed_answers(reply: replies.ThreadReply, questions: list[str]) -> dict[str, str]:
    if not reply.text.strip():
        return {questions[0]: reply.answer_text()}  # only a file: the file is the answer, not a blocker
    return rules.split_answer(reply.text, questions)


def blocker(deps: Deps, blocker_id: int) -> StandupBlocker:
    with session_scope(deps.engine) as session:
        row = session.get(StandupBlocker, blocker_id)
    if row is None:
        raise NotFound("That blocker no longer exists.")
    return row


# --- the participation report -------------------------------------------------------------------------------


def participation_report(deps: Deps, team_id: str, channel_id: str, span: str, today: date) -> str:
    """On time / late / missed per person, and the blockers, over the last week or month."""
    start = today - timedelta(days=7 if span == "week" else 30)
    with session_scope(deps.engine) as session:
        standups = list(session.execute(select(Standup).where(Standup.team_id == team_id,
                                                              Standup.channel_id == channel_id)).scalars())
        if not standups:
            raise UserInputError("There is no stand-up in that channel.")
        lines = []
        for standup in standups:
            days = list(session.execute(select(StandupDay).where(
                StandupDay.standup_id == standup.id, StandupDay.kind == "standup", StandupDay.day >= start,
                StandupDay.day <= today)).scalars())
            answers = list(session.execute(select(StandupAnswer).where(
                StandupAnswer.standup_day_id.in_([d.id for d in days]))).scalars()) if days else []
            blockers = list(session.execute(select(StandupBlocker).where(
                StandupBlocker.standup_id == standup.id, StandupBlocker.last_day >= start)).scalars())
            lines.append(_participation(standup, days, answers, blockers, today))
    return f"*Stand-up report — last {'7' if span == 'week' else '30'} days*\n" + "\n".join(lines)


def _participation(standup: Standup, days, answers, blockers, today: date) -> str:
    on_time = Counter(a.user_id for a in answers if not a.late)
    late = Counter(a.user_id for a in answers if a.late)
    rows = [f"Stand-up {standup.id} in <#{standup.channel_id}>: {len(days)} days posted"]
    for user in standup.members:
        missed = len(days) - on_time[user] - late[user]
        rows.append(f"• <@{user}>: {on_time[user]} on time, {late[user]} late, {missed} missed")
    open_ones = [b for b in blockers if b.resolved_on is None]
    if blockers:
        oldest = max(((b.resolved_on or today) - b.first_day).days + 1 for b in blockers)
        rows.append(f"Blockers: {len(blockers)} ({len(open_ones)} still open), the longest {oldest} days")
    else:
        rows.append("Blockers: none")
    return "\n".join(rows)
