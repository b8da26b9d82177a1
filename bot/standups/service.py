"""Stand-up use cases: set-up (checked at once) and edit, absences, the day's post, answers, reminders, summaries.

Each day of a stand-up is claimed by inserting its (stand-up, day) row, which is unique: two scheduler
instances, a repeated run or a late catch-up post it once. Reminding and summarising are claimed the same
way, on flags of that row.

A post counts as done only once Slack took it. While a day's row has no `parent_ts` its post is still to come,
and its `posted_at` says when the next try may start (the end of a running try's lease, or of the backoff after
Slack failed for a reason that passes); a try takes the row with a conditional update, and first looks in the
channel for a post that reached Slack although the answer did not. Tries go on until the window (post time +
misfire grace) ends; then, or at once when Slack refuses for good (archived, not in channel), the day's kind
becomes `missed` and the admin channel hears it once. Reminders and summaries that meet a passing failure give
their flag back, for a later run, within their own windows.

When each of these is due comes from `bot.domain.due` (a daily slot in the stand-up's zone, open for the misfire
grace); the queries are in `storage.standups`. A unit of work (a day's post, a reminder round, a summary, an answer)
claims and reads what it needs in one session and records its outcome in one more: no session is open while Slack
is called, so a slow Slack never holds a database lock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot import replies
from bot.deps import Deps
from bot.domain import standup as standup_rules
from bot.domain.due import Slot, clock_time, daily_slot
from bot.domain.pii import redact
from bot.errors import IntegrationUnavailable, NotFound, NotInChannel, SlackError, UserInputError
from bot.gateways.slack import is_transient, retry_delay
from bot.standups import blocks as su_blocks
from bot.standups import insights
from bot.standups import summary as su_summary
from storage import standups as store
from storage.db import session_scope
from storage.models import Absence, Standup, StandupAnswer, StandupBlocker, StandupDay
from storage.repos import claim_once, release_claim, team_settings, uninstalled_teams
from storage.standups import HOLIDAY, MISSED, STANDUP, StandupSettings

if TYPE_CHECKING:
    from sqlmodel import Session

logger = logging.getLogger(__name__)

# How long one try holds a day whose post is not in Slack yet: a process that dies mid-post lets another try
# after this (which first looks for the post in the channel).
ATTEMPT_LEASE = timedelta(minutes=2)
# A post looked for after a failed try may carry a ts a little before the slot (Slack's clock, not ours).
LOOKBACK_MARGIN = timedelta(minutes=1)
# Failures of a Slack call: typed errors from Slack, and Slack not reachable at all.
SLACK_FAILURES = (SlackError, IntegrationUnavailable)
NO_SUCH_STANDUP = "There is no stand-up {number}: `/standup list` shows them."


# --- set-up -----------------------------------------------------------------------------------------------


def setup(deps: Deps, *, team_id: str, user_id: str, channel_id: str, text: str,
          questions: list[str] | None = None) -> Standup:
    """Check everything now (time zone, holiday calendar, that pmbot can post there), then save; `questions` (checked
    by the caller) are the team's own, asked instead of the preset."""
    settings = _checked_settings(deps, channel_id=channel_id, text=text)
    if questions:
        settings = replace(settings, questions=list(questions))
    with session_scope(deps.engine) as session:
        _refuse_twin(deps, store.standups_of_team(session, team_id=team_id), settings, number=None)
        return store.create_standup(session, team_id=team_id, settings=settings, created_by=user_id,
                                    now=deps.clock())


def edit(deps: Deps, *, team_id: str, number: int, text: str) -> Standup:
    """Replace a stand-up's settings in place, checked as at set-up (it stays in its channel unless the text names
    another, keeps its questions unless it names a preset, and its mode unless it says `dm` or `thread`); its number,
    days, answers, blockers, pause and digest stay."""
    current = get(deps, team_id, number)
    settings = _checked_settings(deps, channel_id=current.channel_id, text=text, current=current)
    with session_scope(deps.engine) as session:
        _refuse_twin(deps, store.standups_of_team(session, team_id=team_id), settings, number=number)
        row = store.update_standup(session, team_id=team_id, standup_id=number, settings=settings)
    if row is None:  # removed while its new settings were being checked
        raise NotFound(NO_SUCH_STANDUP.format(number=number))
    return row


def _refuse_twin(deps: Deps, standups: list[Standup], settings: StandupSettings, *, number: int | None) -> None:
    """Refuse a second stand-up in the same channel on a same working day at the same moment (09:30 Berlin and
    09:30 Paris are one moment; so are 09:30 Berlin and 16:30 Tokyo, half of the year); in DM mode each member is
    asked at the time in their own zone, so the same time is the same moment whatever the zone. Names the one there
    is and how to change it instead."""
    today = deps.clock().date()
    for other in standups:
        shared = set(other.workdays) & set(settings.workdays)
        if (other.id != number and other.channel_id == settings.channel_id and shared
                and _same_moment(other, settings, today, shared)):
            raise UserInputError(f"Stand-up {other.id} already posts in <#{other.channel_id}> at {other.time} "
                                 f"{other.timezone}: change it with `/standup edit {other.id} …`, or choose another "
                                 "time or channel.")


def _same_moment(other: Standup, settings: StandupSettings, today: date, shared: set[int]) -> bool:
    if standup_rules.DM in (other.mode, settings.mode):
        return other.time == settings.time
    # Their next shared working day, and a day in the other half of the DST year: the same moment on either.
    day = next(today + timedelta(days=n) for n in range(7) if (today + timedelta(days=n)).weekday() in shared)
    return any(standup_rules.local_moment(d, other.time, other.timezone)
               == standup_rules.local_moment(d, settings.time, settings.timezone)
               for d in (day, day + timedelta(days=182)))


def _checked_settings(deps: Deps, *, channel_id: str, text: str, current: Standup | None = None) -> StandupSettings:
    """A set-up line read and checked against Slack: it posts in `channel_id` unless it names a channel; what it
    does not name of the questions and the mode stays as in `current` (an edit), else classic, by thread."""
    try:
        found = standup_rules.parse_setup(text, default_timezone=deps.settings.pmbot_timezone)
        # An unknown holiday calendar fails here.
        standup_rules.holiday_name(deps.clock().date(), found.country, found.subdivision)
    except standup_rules.SetupError as exc:
        raise UserInputError(str(exc)) from None
    channel = _channel_id(deps, found.channel_id) if found.channel_id else channel_id
    members = [_user_id(deps, member) for member in found.members]
    _check_can_post(deps, channel)
    if found.preset:
        questions = list(standup_rules.PRESETS[found.preset])
    else:
        questions = list(current.questions) if current else list(standup_rules.DEFAULT_QUESTIONS)
    mode = found.mode or (current.mode if current else standup_rules.THREAD)
    return StandupSettings(channel_id=channel, members=list(dict.fromkeys(members)), time=found.time,
                           timezone=found.timezone, workdays=found.workdays, country=found.country,
                           subdivision=found.subdivision, questions=questions,
                           reminder_minutes=found.reminder_minutes, summary_minutes=found.summary_minutes,
                           mode=mode)


def _user_id(deps: Deps, member: str) -> str:
    if not member.startswith("@"):
        return member
    found = deps.slack.find_user(member)
    if found is None:
        raise UserInputError(f"I do not know {member} in this workspace; mention them so Slack completes the name.")
    return found


def _channel_id(deps: Deps, ref: str) -> str:
    if not ref.startswith("#"):
        return ref
    found = deps.slack.resolve_channel(ref)
    if found is None:
        raise UserInputError(f"There is no channel {ref} I can see; invite me there first.")
    return found


def _check_can_post(deps: Deps, channel: str) -> None:
    try:
        info = deps.slack.channel_info(channel)
    except SlackError as exc:
        raise UserInputError(f"I cannot see that channel ({exc.code}). Invite me with `/invite @pmbot` there "
                             "first.") from exc
    if info.get("is_member"):
        return
    if info.get("is_private"):
        raise UserInputError("I am not in that private channel, so I could not post the stand-up. Invite me with "
                             "`/invite @pmbot` there, then set it up again.")
    try:
        deps.slack.join_channel(channel)
    except SlackError as exc:
        raise UserInputError(f"I cannot join that channel ({exc.code}); invite me with `/invite @pmbot`.") from exc


def set_questions(deps: Deps, *, team_id: str, number: int, text: str) -> Standup:
    """Ask a stand-up's members a preset (`classic`, `genai`) or 1 to 6 questions of the team's own, from the next
    answer on (answers already given stay under the questions they answered)."""
    get(deps, team_id, number)
    try:
        questions = standup_rules.parse_questions(text)
    except standup_rules.SetupError as exc:
        raise UserInputError(str(exc)) from None
    return _set(deps, team_id, number, questions=questions)


def set_mode(deps: Deps, *, team_id: str, number: int, mode: str) -> Standup:
    """`thread` (one post at the set time in the stand-up's zone) or `dm` (each member asked by DM at the set time
    in their own zone, the answers gathered in the day's thread)."""
    get(deps, team_id, number)
    if mode.lower() not in standup_rules.MODES:
        raise UserInputError(f"`/standup mode {number} dm` or `/standup mode {number} thread`.")
    return _set(deps, team_id, number, mode=mode.lower())


def _set(deps: Deps, team_id: str, number: int, **values: object) -> Standup:
    with session_scope(deps.engine) as session:
        row = store.set_standup_fields(session, team_id=team_id, standup_id=number, values=values)
    if row is None:
        raise NotFound(NO_SUCH_STANDUP.format(number=number))
    return row


def get(deps: Deps, team_id: str, number: int) -> Standup:
    """The team's stand-up `number`."""
    with session_scope(deps.engine) as session:
        row = store.standup_by_id(session, team_id=team_id, standup_id=number)
    if row is None:
        raise NotFound(NO_SUCH_STANDUP.format(number=number))
    return row


def listing(deps: Deps, team_id: str) -> list[tuple[Standup, datetime | None]]:
    """The team's stand-ups, each with its next post (local, in its zone; None when none is coming)."""
    with session_scope(deps.engine) as session:
        rows = store.standups_of_team(session, team_id=team_id)
    now = deps.clock()
    return [(row, standup_rules.next_post(
        now, clock=row.time, zone=row.timezone, workdays=row.workdays, paused_until=row.paused_until,
        holiday=lambda day, row=row: standup_rules.holiday_name(day, row.country, row.subdivision))) for row in rows]


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
        return store.add_absence(session, team_id=team_id, user_id=user_id, start=start, end=end)


# --- every working day --------------------------------------------------------------------------------------


@dataclass
class Done:
    posted: int = 0
    holidays: int = 0
    reminded: int = 0
    summarised: int = 0
    waiting: int = 0  # posts Slack failed for a reason that passes, to be tried again
    given_up: int = 0  # posts whose window ended before Slack took them, or that Slack refused for good
    retry_at: datetime | None = None  # the earliest next try of a waiting post
    asked: int = 0  # members asked by DM (DM mode)

    def later(self, at: datetime) -> None:
        """Note a post left for a try at `at`."""
        self.waiting += 1
        self.retry_at = at if self.retry_at is None else min(self.retry_at, at)

    def text(self) -> str:
        text = (f"{self.posted} posted, {self.holidays} holiday notices, {self.reminded} reminders, "
                f"{self.summarised} summaries")
        if self.asked:
            text += f", {self.asked} asked by DM"
        if self.waiting:
            text += f", {self.waiting} waiting for Slack"
        if self.given_up:
            text += f", {self.given_up} given up"
        return text


def run_due(deps: Deps, now: datetime) -> Done:
    """Do what is due at `now` for every stand-up of every installed team; one stand-up failing stops no other."""
    done = Done()
    with session_scope(deps.engine) as session:
        standups = store.all_standups(session)
        gone = uninstalled_teams(session)
    # An uninstalled team hears nothing more; DM-mode stand-ups are run by bot.standups.dm.
    for standup in (s for s in standups if s.team_id not in gone and s.mode != standup_rules.DM):
        try:
            _due(deps, standup, now, done)
        except Exception:
            logger.exception("stand-up %s failed at %s", standup.id, now.isoformat())
    return done


def _due(deps: Deps, standup: Standup, now: datetime, done: Done) -> None:
    """Today's post, then its reminders and its summary, each when due at `now` (today in the stand-up's zone)."""
    slot = _todays_post(deps, standup, now)
    if _works_on(standup, slot.day) and slot.open_at(now):
        _post_day(deps, standup, slot, now, done)
    with session_scope(deps.engine) as session:
        day = store.day_of(session, standup_id=standup.id, day=slot.day)
    if day is None or day.kind == MISSED:
        return
    if day.parent_ts is None:  # not in Slack (yet): nothing to remind of or summarise
        if slot.closed_at(now):  # no run took it within its window (they all failed, or none ran)
            _give_up_day(deps, standup, day.id, slot.day, "Slack did not take it before its window closed "
                                                          f"({_utc(slot.end)})", done)
        return
    if day.kind != STANDUP:
        return
    reminders = slot.after(timedelta(minutes=standup.reminder_minutes))
    if now >= reminders.start:
        _remind_round(deps, standup, day, reminders, now, done)
    summary = slot.after(timedelta(minutes=standup.summary_minutes))
    if now >= summary.start:
        _summary_round(deps, standup, day, summary, now, done)


def _todays_post(deps: Deps, standup: Standup, now: datetime) -> Slot:
    """The slot of today's post: its local time today in its zone, open for the misfire grace."""
    grace = timedelta(seconds=deps.settings.pmbot_misfire_grace_seconds)
    return daily_slot(now, at=clock_time(standup.time), zone=ZoneInfo(standup.timezone), grace=grace)


def _works_on(standup: Standup, day: date) -> bool:
    """A working day of the stand-up, not within a pause."""
    paused = standup.paused_until is not None and day <= standup.paused_until
    return not paused and day.weekday() in standup.workdays


# --- the day's post ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DayTry:
    """The outcome of claiming a day's post: ours to try now (`day_id`), or not before `not_before`."""

    kind: str
    day_id: int | None = None
    first: bool = False
    not_before: datetime | None = None


def _post_day(deps: Deps, standup: Standup, slot: Slot, now: datetime, done: Done) -> None:
    """Claim the day's post (its thread, or the holiday line) for one try, with what it shows, then post it."""
    holiday = standup_rules.holiday_name(slot.day, standup.country, standup.subdivision)
    # The lease runs from the later of the run's moment and the clock: a run started late must not hand out a
    # lease that is over before its try is.
    lease_end = max(now, deps.clock()) + ATTEMPT_LEASE
    with session_scope(deps.engine) as session:
        claimed = _claim_day(session, standup.id, slot.day, HOLIDAY if holiday else STANDUP, now, lease_end)
        ours = claimed is not None and claimed.day_id is not None and claimed.kind == STANDUP
        counts = _counts(session, standup, claimed.day_id, slot.day) if ours else None
    if claimed is None:
        return  # posted already (another instance, or an earlier run), or given up
    if claimed.day_id is None:
        if claimed.not_before is not None:  # another try holds it, or it waits out a backoff
            done.later(claimed.not_before)
        return
    try:
        if claimed.kind == HOLIDAY:
            _post_holiday(deps, standup, slot, holiday or "a public holiday", claimed)
            done.holidays += 1
        else:
            _post_parent(deps, standup, slot, claimed, counts)
            done.posted += 1
    except SLACK_FAILURES as exc:
        _day_failed(deps, standup, claimed.day_id, slot, exc, now, done)


def _claim_day(session: Session, standup_id: int, day: date, kind: str, now: datetime,
               lease_end: datetime) -> _DayTry | None:
    """Take the day's post for one try: insert its row (the first try), or take over a row still waiting for
    Slack whose next try is due. None when the post is done or given up."""
    day_id = store.claim_day(session, standup_id=standup_id, day=day, kind=kind, lease_end=lease_end)
    if day_id is not None:
        return _DayTry(kind, day_id, first=True)
    row = store.day_of(session, standup_id=standup_id, day=day)
    if row is None or row.parent_ts is not None or row.kind == MISSED:
        return None
    if store.take_over_day(session, day_id=row.id, kind=row.kind, now=now, lease_end=lease_end):
        return _DayTry(row.kind, row.id)
    return _DayTry(row.kind, not_before=row.posted_at)


def _post_parent(deps: Deps, standup: Standup, slot: Slot, claimed: _DayTry, counts: DayCount | None) -> None:
    text, parts = _parent_message(standup, slot.day, claimed.day_id, counts or DayCount(0, 0, len(standup.members)))
    ts = None if claimed.first else _earlier_post(deps, standup.channel_id, slot,
                                                   lambda message: _is_day_post(message, claimed.day_id))
    if ts is None:
        ts = deps.slack.post_in_channel(standup.channel_id, text=text, blocks=parts).ts
    _posted(deps, claimed.day_id, ts)


def _post_holiday(deps: Deps, standup: Standup, slot: Slot, holiday: str, claimed: _DayTry) -> None:
    # A working day without a stand-up would surprise people: say why, in one line.
    region = standup.country + (f"-{standup.subdivision}" if standup.subdivision else "")
    text = f"No stand-up today: {holiday} ({region})."
    ts = None if claimed.first else _earlier_post(deps, standup.channel_id, slot,
                                                   lambda message: message.get("text") == text)
    if ts is None:
        ts = deps.slack.post_in_channel(standup.channel_id, text=text).ts
    _posted(deps, claimed.day_id, ts)


def _parent_message(standup: Standup, day: date, day_id: int | None, counts: DayCount) -> tuple[str, list[dict]]:
    """The day's thread parent, with the day's own count; its Answer button carries the day's id."""
    text, parts = su_blocks.parent(standup, day, counts.answered, counts.blockers, expected=counts.expected)
    parts[-1]["elements"][0]["value"] = str(day_id)
    return text, parts


def _earlier_post(deps: Deps, channel_id: str, window: Slot, matches: Callable[[dict], bool]) -> str | None:
    """The ts of this day's post if an earlier try got it into Slack although its answer was lost (Slack says a
    failed call may have done part of its work), so it is kept rather than posted twice."""
    try:
        return deps.slack.find_bot_message(channel_id, oldest=(window.start - LOOKBACK_MARGIN).timestamp(),
                                           matches=matches)
    except NotInChannel:
        return None  # pmbot is not in the channel: nothing of it can be there; the post joins first


def _is_day_post(message: dict, day_id: int | None) -> bool:
    """A stand-up's parent carries its day's id on its Answer button."""
    return any(element.get("action_id") == su_blocks.ACTION_ANSWER and element.get("value") == str(day_id)
               for block in message.get("blocks") or [] if block.get("type") == "actions"
               for element in block.get("elements") or [])


def _posted(deps: Deps, day_id: int | None, ts: str) -> None:
    """Slack took the day's post: it is done, and its ts is the thread answers go to."""
    with session_scope(deps.engine) as session:
        store.mark_day_posted(session, day_id=day_id, parent_ts=ts, now=deps.clock())


def _day_failed(deps: Deps, standup: Standup, day_id: int, slot: Slot, exc: Exception, now: datetime,
                done: Done) -> None:
    """After a failed try: wait and try again while the window lasts if the failure passes, else give up."""
    if is_transient(exc) and now < slot.end:
        at = min(now + retry_delay(exc, failing_since=slot.start, now=now), slot.end)
        with session_scope(deps.engine) as session:
            store.put_off_day(session, day_id=day_id, until=at)
        logger.warning("stand-up %s: Slack failed (%s); trying again at %s", standup.id, _why(exc), at.isoformat())
        done.later(at)
        return
    reason = (f"Slack kept failing until its window closed ({_utc(slot.end)}; last: {_why(exc)})"
              if is_transient(exc) else f"Slack refused it ({_why(exc)})")
    _give_up_day(deps, standup, day_id, slot.day, reason, done)


def _give_up_day(deps: Deps, standup: Standup, day_id: int, day: date, reason: str, done: Done) -> None:
    """Mark the day missed (once, whoever gets there first) and say so in the log and to the admins."""
    with session_scope(deps.engine) as session:
        if not store.mark_day_missed(session, day_id=day_id):
            return
    done.given_up += 1
    _tell_admins(deps, standup, f"the stand-up post of {day:%a %d %b}", reason)


# --- reminders and the summary ---------------------------------------------------------------------------------


def _remind_round(deps: Deps, standup: Standup, day: StandupDay, window: Slot, now: datetime, done: Done) -> None:
    """The day's reminders, once: claimed together with whom they go to, then sent."""
    with session_scope(deps.engine) as session:
        if not claim_once(session, StandupDay.reminded, row_id=day.id, value=True):
            return
        answered = store.answered_users(session, day_id=day.id)
        gone = store.away_on(session, team_id=standup.team_id, day=day.day)
    waiting = [user for user in standup.members if user not in answered and user not in gone]
    try:
        done.reminded += _remind(deps, standup, day, waiting)
    except SLACK_FAILURES as exc:
        _flag_failed(deps, standup, day, StandupDay.reminded, exc, now, window, done)


def _remind(deps: Deps, standup: Standup, day: StandupDay, waiting: list[str]) -> int:
    """DM who has not answered. Slack failing for a reason that passes before anyone was reminded is raised, so
    the reminders are tried again later; after the first one went out, a failure is only logged (never twice)."""
    link = deps.slack.permalink(standup.channel_id, day.parent_ts)
    count = 0
    for user in waiting:
        try:
            deps.slack.tell_privately(user, None, text=f"A reminder for today's stand-up in <#{standup.channel_id}>"
                                                     f": <{link}|answer here> (a line per question is enough).")
            count += 1
        except SLACK_FAILURES as exc:
            if count == 0 and is_transient(exc):
                raise
            logger.warning("could not remind %s: %s", user, _why(exc))
    return count


def _summary_round(deps: Deps, standup: Standup, day: StandupDay, window: Slot, now: datetime, done: Done) -> None:
    """The day's summary, once: claimed together with what it says, then posted."""
    with session_scope(deps.engine) as session:
        if not claim_once(session, StandupDay.summarised, row_id=day.id, value=True):
            return
        answers = store.answers_of_day(session, day_id=day.id)
        gone = store.away_on(session, team_id=standup.team_id, day=day.day)
        blockers = store.open_blockers(session, standup_id=standup.id)
    # Whole in the thread already: a thread reply, or a DM-mode answer posted there (or being posted).
    in_thread = frozenset(a.user_id for a in answers if a.message_ts or a.thread_ts)
    try:
        _post_summary(deps, standup, day, answers, gone, blockers, in_thread)
        done.summarised += 1
    except SLACK_FAILURES as exc:
        _flag_failed(deps, standup, day, StandupDay.summarised, exc, now, window, done)


def _post_summary(deps: Deps, standup: Standup, day: StandupDay, answers: list[StandupAnswer], gone: set[str],
                  blockers: list[StandupBlocker], in_thread: frozenset[str] = frozenset()) -> None:
    theirs = [b for b in blockers if b.user_id in standup.members]  # a former member's blockers are not news
    answered = {a.user_id for a in answers}  # an away member who answered anyway is listed as answered only
    made = su_summary.summary(standup, day.day, answers, theirs, sorted((gone & set(standup.members)) - answered),
                              names=deps.names, in_thread=in_thread)
    deps.slack.post_message(standup.channel_id, text=made.text, blocks=made.blocks, thread_ts=day.parent_ts)
    for more in made.replies:  # the whole of the answers the summary folded
        try:
            deps.slack.post_message(standup.channel_id, text=more, thread_ts=day.parent_ts)
        except SLACK_FAILURES as exc:  # the summary is in: trying it again would post it twice
            logger.warning("stand-up %s: a folded answer was not posted: %s", standup.id, _why(exc))
    if standup.digest and day.day.weekday() == 4:  # the weekly digest, on Fridays, once (the summary is claimed)
        try:
            report = participation_report(deps, standup.team_id, standup.channel_id, "week", day.day)
            deps.slack.post_in_channel(standup.channel_id, text=report)
        except SLACK_FAILURES as exc:  # the summary is in: trying it again would post it twice
            logger.error("stand-up %s: the weekly digest was not posted: %s", standup.id, _why(exc))


def _flag_failed(deps: Deps, standup: Standup, day: StandupDay, flag, exc: Exception, now: datetime,
                 window: Slot, done: Done) -> None:
    """Reminders or the summary failed: give the flag back for a later run while the failure passes and the
    window lasts; else keep it (never twice) and tell the admins."""
    what = "the reminders" if flag.key == "reminded" else "the summary"
    if is_transient(exc) and now < window.end:
        with session_scope(deps.engine) as session:
            release_claim(session, flag, row_id=day.id, claimed=True, previous=False)
        at = min(now + retry_delay(exc, failing_since=window.start, now=now), window.end)
        logger.warning("stand-up %s: %s failed (%s); trying again from %s", standup.id, what, _why(exc),
                       at.isoformat())
        done.later(at)
        return
    done.given_up += 1
    reason = (f"Slack kept failing until {_utc(window.end)} (last: {_why(exc)})" if is_transient(exc)
              else f"Slack refused it ({_why(exc)})")
    _tell_admins(deps, standup, f"{what} of {day.day:%a %d %b}", reason)


def _tell_admins(deps: Deps, standup: Standup, what: str, reason: str) -> None:
    text = (f":warning: Stand-up {standup.id} in <#{standup.channel_id}>: {what} did not go out. {reason}. "
            "Nothing more will be tried for it.")
    logger.error("stand-up %s: %s did not go out: %s", standup.id, what, reason)
    with session_scope(deps.engine) as session:
        own = team_settings(session, team_id=standup.team_id)
    deps.slack.tell_admins(deps.settings, text, channel=own.admin_channel_id if own else None)


def _utc(moment: datetime) -> str:
    """A moment as the admins read it: the slots are in the stand-up's zone, the message says UTC."""
    return f"{moment.astimezone(UTC):%H:%M} UTC"


def _why(exc: Exception) -> str:
    """A failure in a few words: Slack's code (`http_500`, `is_archived`), or that Slack could not be reached."""
    return f"`{exc.code}`" if isinstance(exc, SlackError) else "Slack could not be reached"


# --- answers ---------------------------------------------------------------------------------------------


def day_by_parent(deps: Deps, channel_id: str, parent_ts: str) -> tuple[Standup, StandupDay] | None:
    """The stand-up day whose thread in `channel_id` starts at `parent_ts`, if any."""
    with session_scope(deps.engine) as session:
        found = store.thread_day(session, parent_ts=parent_ts)
    if found is None or found[0].channel_id != channel_id:
        return None
    return found


def day_by_id(deps: Deps, team_id: str, day_id: int) -> tuple[Standup, StandupDay]:
    """A day of one of the team's stand-ups, by the id its Answer button carries."""
    with session_scope(deps.engine) as session:
        found = store.day_with_standup(session, day_id=day_id)
    if found is None or found[0].team_id != team_id:
        raise NotFound("That stand-up no longer exists.")
    return found


def record(deps: Deps, standup: Standup, day: StandupDay, *, user_id: str, answers: dict[str, str],
           message_ts: str | None = None) -> StandupAnswer:
    """Store (or replace, for an edit) one person's answers for the day, carry their blocker forward, and show the
    new count on the day's post."""
    answers = {q: redact(text).text[:3000] for q, text in answers.items() if text.strip()}
    blocker = standup_rules.blocker_of(answers, standup.questions)
    now = deps.clock()
    with session_scope(deps.engine) as session:
        zone = _answer_zone(session, standup, day, user_id)
        late = now > standup_rules.local_moment(day.day, standup.time, zone, plus_minutes=standup.summary_minutes)
        row = store.save_answer(session, standup_id=standup.id, day_id=day.id, user_id=user_id, answers=answers,
                                blocker=blocker, late=late, now=now, message_ts=message_ts)
        store.carry_blocker(session, standup_id=standup.id, user_id=user_id, text=blocker, day=day.day,
                            same=standup_rules.same_blocker)
    _refresh_parent(deps, standup, day)
    if standup.mode == standup_rules.DM and message_ts is None and day.parent_ts:
        _post_answer(deps, standup, day, user_id, answers)
    return row


def _answer_zone(session: Session, standup: Standup, day: StandupDay, user_id: str) -> str:
    """The zone whose clock says if an answer is late: in DM mode the zone the person was asked in (or is known
    in), else the stand-up's."""
    if standup.mode != standup_rules.DM:
        return standup.timezone
    prompt = store.prompt_of(session, standup_id=standup.id, day=day.day, user_id=user_id)
    if prompt is not None:
        return prompt.timezone
    known = store.member_zones(session, team_id=standup.team_id, user_ids=[user_id]).get(user_id)
    return known.timezone if known is not None and known.timezone else standup.timezone


def _post_answer(deps: Deps, standup: Standup, day: StandupDay, user_id: str, answers: dict[str, str]) -> None:
    """A DM-mode answer, posted into the day's thread once (claimed on the answer's row, prompt or not); an edit
    updates that message."""
    with session_scope(deps.engine) as session:
        ours = store.claim_answer_post(session, day_id=day.id, user_id=user_id)
        row = store.answer_of(session, day_id=day.id, user_id=user_id)
    if not ours:
        if row is not None and row.thread_ts not in (None, store.POSTING):
            _update_answer(deps, standup, row.thread_ts, user_id, answers)
        return  # else another caller is posting it, and draws the latest answers once it is in
    text = su_summary.answer_text(user_id, answers, standup.questions, names=deps.names)
    try:
        ts = deps.slack.post_in_channel(standup.channel_id, text=text, thread_ts=day.parent_ts).ts
    except SLACK_FAILURES as exc:  # the answer is stored and counted; the summary shows it
        logger.warning("stand-up %s: an answer was not posted in the thread: %s", standup.id, _why(exc))
        ts = None
    with session_scope(deps.engine) as session:
        store.answer_posted(session, day_id=day.id, user_id=user_id, ts=ts)
        latest = store.answer_of(session, day_id=day.id, user_id=user_id)
    if ts is not None and latest is not None and latest.answers != answers:  # edited while it was being posted
        _update_answer(deps, standup, ts, user_id, latest.answers)


def _update_answer(deps: Deps, standup: Standup, ts: str, user_id: str, answers: dict[str, str]) -> None:
    text = su_summary.answer_text(user_id, answers, standup.questions, names=deps.names)
    try:
        deps.slack.update_message(standup.channel_id, ts, text=text)
    except SLACK_FAILURES as exc:
        logger.warning("stand-up %s: an edited answer was not updated in the thread: %s", standup.id, _why(exc))


# Redraws of a day's post that may follow each other when answers arrive at the same moment (see _refresh_parent).
MAX_REDRAWS = 5


def _refresh_parent(deps: Deps, standup: Standup, day: StandupDay) -> None:
    """Show the day's count on its post. Two answers at the same moment each redraw it, and Slack may apply the
    older count last; so after drawing, the count is read again and drawn again until it holds still. The last
    redraw anyone sends is then followed by a read that found nothing newer."""
    shown = None
    for _ in range(MAX_REDRAWS):
        counts = _day_counts(deps, standup, day)
        if counts == shown:
            return
        text, parts = _parent_message(standup, day.day, day.id, counts)
        try:
            deps.slack.update_message(standup.channel_id, day.parent_ts, text=text, blocks=parts)
        except SlackError as exc:
            logger.warning("could not update the stand-up post: %s", exc.code)
            return
        shown = counts


@dataclass(frozen=True)
class DayCount:
    """What a day's post shows: members who answered that day, of them who reported a blocker that day, and the
    members expected to answer (not away that day, unless they answered anyway)."""

    answered: int
    blockers: int
    expected: int


def _day_counts(deps: Deps, standup: Standup, day: StandupDay) -> DayCount:
    """The day's count, as committed now."""
    with session_scope(deps.engine) as session:
        return _counts(session, standup, day.id, day.day)


def _counts(session: Session, standup: Standup, day_id: int | None, day: date) -> DayCount:
    """The count of one day only: yesterday's answers and blockers carried over are not in it, nor the away."""
    members = set(standup.members)
    answered = store.answered_users(session, day_id=day_id) & members if day_id is not None else set()
    blocked = store.blocked_users(session, day_id=day_id) & members if day_id is not None else set()
    gone = store.away_on(session, team_id=standup.team_id, day=day) - answered
    return DayCount(len(answered), len(blocked), len(members - gone))


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
    return standup_rules.split_answer(reply.text, questions)


def blocker(deps: Deps, blocker_id: int) -> StandupBlocker:
    """A carried blocker, by the id its buttons carry."""
    with session_scope(deps.engine) as session:
        row = store.blocker_by_id(session, blocker_id=blocker_id)
    if row is None:
        raise NotFound("That blocker no longer exists.")
    return row


# --- the participation report -------------------------------------------------------------------------------


def participation_report(deps: Deps, team_id: str, channel_id: str, span: str, today: date) -> str:
    """Participation per person and for the team (away days left out), answer delays, on-time streaks and the
    blockers, over the last week or month (see bot/standups/insights.py)."""
    span_days = 7 if span == "week" else 30
    start = today - timedelta(days=span_days - 1)  # the last `span_days` days, today included
    with session_scope(deps.engine) as session:
        standups = store.standups_in_channel(session, team_id=team_id, channel_id=channel_id)
        if not standups:
            raise UserInputError("There is no stand-up in that channel: name one, `/standup report week #team`, "
                                 "or see `/standup list`.")
        absences = store.absences_between(session, team_id=team_id, start=start, end=today)
        loaded = []
        for standup in standups:
            days = store.days_posted(session, standup_id=standup.id, start=start, end=today)
            answers = store.answers_of_days(session, day_ids=[d.id for d in days])
            prompts = store.prompts_between(session, standup_id=standup.id, start=start, end=today)
            loaded.append((standup, days, answers, store.blockers_since(session, standup_id=standup.id, start=start),
                           prompts))
    parts = [insights.standup_report(standup, days, answers, absences, blockers, start, today, names=deps.names,
                                     prompts=prompts)
             for standup, days, answers, blockers, prompts in loaded]
    return f"*Stand-up report — last {span_days} days*\n" + "\n\n".join(parts)
