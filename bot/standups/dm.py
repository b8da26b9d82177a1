"""DM-mode stand-ups: each member is asked by DM at the stand-up's time in *their own* zone (their Slack profile's
`tz`; the stand-up's zone when Slack does not say), and their answer is posted into the day's team thread as it
comes.

A day D of a DM-mode stand-up is the day each member not away on D is asked at the set local time on D in their
zone. The team's thread for D is posted in the channel just before the first of them is asked (while anyone not
asked yet is inside their own window: a scheduler down at the earliest member's moment costs only that member), so
every prompt can point at it, and is claimed like a thread-mode day (`service._post_day`). Each person's prompt is
claimed by inserting their (stand-up, day, person) row, so two schedulers send one DM. Reminders come
`reminder_minutes` after *their* prompt (and not after their summary window), an answer is late after *their*
summary window, and the day's summary is posted once every member's window is over.

A person's zone is asked of Slack (users.info) at most once a day per person and kept in `member_zone`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.deps import Deps
from bot.domain import standup as standup_rules
from bot.domain.due import Slot
from bot.gateways.slack import is_transient
from bot.standups import blocks as su_blocks
from bot.standups import service
from storage import standups as store
from storage.db import session_scope
from storage.models import Standup, StandupDay, StandupPrompt
from storage.repos import claim_once, release_claim, uninstalled_teams
from storage.standups import MISSED, STANDUP

logger = logging.getLogger(__name__)

# How long after a person's summary window a message typed in the DM still answers their prompt (late).
TYPED_LATE = timedelta(hours=8)

# How long a person's zone, as Slack said it, is kept before Slack is asked again.
ZONE_KEPT = timedelta(days=1)


def run_due(deps: Deps, now: datetime, done: service.Done | None = None) -> service.Done:
    """Do what is due at `now` for every DM-mode stand-up of every installed team; one failing stops no other."""
    done = done if done is not None else service.Done()
    with session_scope(deps.engine) as session:
        standups = [s for s in store.all_standups(session) if s.mode == standup_rules.DM]
        gone = uninstalled_teams(session)
    for standup in (s for s in standups if s.team_id not in gone):
        try:
            _due(deps, standup, now, done)
        except Exception:
            logger.exception("stand-up %s (DM) failed at %s", standup.id, now.isoformat())
    return done


def member_zones(deps: Deps, standup: Standup, now: datetime) -> dict[str, str]:
    """Each member's zone: from their Slack profile, kept a day; the stand-up's zone when Slack does not say (or
    names a zone this machine does not know). Slack failing leaves what was kept, and is asked again next run."""
    with session_scope(deps.engine) as session:
        known = store.member_zones(session, team_id=standup.team_id, user_ids=list(standup.members))
    zones = {}
    for user in standup.members:
        row = known.get(user)
        zone = row.timezone if row is not None else None
        if row is None or now - row.checked_at >= ZONE_KEPT:
            try:
                zone = _valid_zone(deps.slack.user_info(user).get("tz"))
            except service.SLACK_FAILURES as exc:
                logger.warning("stand-up %s: no time zone for %s from Slack: %s", standup.id, user, service._why(exc))
            else:
                with session_scope(deps.engine) as session:
                    store.save_member_zone(session, team_id=standup.team_id, user_id=user, timezone=zone, now=now)
        zones[user] = zone or standup.timezone
    return zones


def _valid_zone(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return standup_rules.check_timezone(name)
    except standup_rules.SetupError:
        return None


def _due(deps: Deps, standup: Standup, now: datetime, done: service.Done) -> None:
    """The days whose moments may fall around `now` (members' zones span a day either side of UTC)."""
    if not standup.members:
        return
    zones = member_zones(deps, standup, now)
    today = now.date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        if service._works_on(standup, day):
            _day(deps, standup, day, zones, now, done)


def _day(deps: Deps, standup: Standup, day, zones: dict[str, str], now: datetime, done: service.Done) -> None:
    with session_scope(deps.engine) as session:
        away = store.away_on(session, team_id=standup.team_id, day=day)
        row = store.day_of(session, standup_id=standup.id, day=day)
        prompted = set(store.prompts_of_day(session, standup_id=standup.id, day=day))
    moments = {user: standup_rules.local_moment(day, standup.time, zones[user]) for user in standup.members
               if user not in away}  # an away member is not waited for, nor asked
    if not moments:
        return
    first, last = min(moments.values()), max(moments.values())
    if now < first:
        return
    grace = timedelta(seconds=deps.settings.pmbot_misfire_grace_seconds)
    # The thread goes up just before the first ask: while anyone not asked yet is inside their own window.
    waiting = [moment for user, moment in moments.items() if user not in prompted]
    thread_end = max(waiting, default=first) + grace
    due = [moment for moment in waiting if moment <= now <= moment + grace]
    if (row is None or (row.parent_ts is None and row.kind != MISSED)) and due:
        # From the earliest moment: an earlier try (whose post Slack may have taken) came no sooner.
        service._post_day(deps, standup, Slot(day, first, thread_end), now, done)
        with session_scope(deps.engine) as session:
            row = store.day_of(session, standup_id=standup.id, day=day)
    if row is None or row.kind == MISSED:
        return
    if row.parent_ts is None:  # the thread is not in Slack (yet): nobody is asked before it is
        if now > thread_end:
            service._give_up_day(deps, standup, row.id, day, "Slack did not take it before the last member's "
                                                             f"window closed ({service._utc(thread_end)})", done)
        return
    if row.kind != STANDUP:
        return  # a public holiday: the one line said so, nobody is asked
    _people(deps, standup, row, moments, zones, now, grace, done)
    summary_at = last + timedelta(minutes=standup.summary_minutes)
    if now >= summary_at:
        service._summary_round(deps, standup, row, Slot(day, summary_at, summary_at + grace), now, done)


def _people(deps: Deps, standup: Standup, row: StandupDay, moments: dict[str, datetime], zones: dict[str, str],
            now: datetime, grace: timedelta, done: service.Done) -> None:
    """Ask who is due now; remind who was asked, has not answered and whose reminder time came."""
    with session_scope(deps.engine) as session:
        prompts = store.prompts_of_day(session, standup_id=standup.id, day=row.day)
        answered = store.answered_users(session, day_id=row.id)
        away = store.away_on(session, team_id=standup.team_id, day=row.day)
    for user, moment in moments.items():
        if user in away or user in answered:
            continue
        prompt = prompts.get(user)
        if prompt is None:
            if moment <= now <= moment + grace:
                _ask(deps, standup, row, user, zones[user], now, done)
            continue
        asked_at = standup_rules.local_moment(row.day, standup.time, prompt.timezone)
        remind_at = asked_at + timedelta(minutes=standup.reminder_minutes)
        if prompt.dm_ts and not prompt.reminded and remind_at <= now < asked_at + timedelta(
                minutes=standup.summary_minutes):
            _remind(deps, standup, row, prompt, done)


def _ask(deps: Deps, standup: Standup, row: StandupDay, user: str, zone: str, now: datetime,
         done: service.Done) -> None:
    """One person's DM, claimed once; Slack failing for a reason that passes gives the claim back for a later run
    within their window."""
    with session_scope(deps.engine) as session:
        prompt_id = store.claim_prompt(session, standup_id=standup.id, day=row.day, user_id=user, timezone=zone,
                                       now=now)
    if prompt_id is None:
        return  # another scheduler (or an earlier run) asked them
    text, parts = su_blocks.dm_prompt(standup, row.day, row.id)
    try:
        posted = deps.slack.post_message(deps.slack.open_dm(user), text=text, blocks=parts)
    except service.SLACK_FAILURES as exc:
        logger.warning("stand-up %s: could not ask %s by DM: %s", standup.id, user, service._why(exc))
        if is_transient(exc):
            with session_scope(deps.engine) as session:
                store.release_prompt(session, prompt_id=prompt_id)
        return
    with session_scope(deps.engine) as session:
        store.prompt_sent(session, prompt_id=prompt_id, channel=posted.channel, ts=posted.ts)
    done.asked += 1


def _remind(deps: Deps, standup: Standup, row: StandupDay, prompt: StandupPrompt, done: service.Done) -> None:
    """One person's reminder, claimed once on their prompt."""
    with session_scope(deps.engine) as session:
        if not claim_once(session, StandupPrompt.reminded, row_id=prompt.id, value=True):
            return
    text, parts = su_blocks.dm_prompt(standup, row.day, row.id, reminder=True)
    try:
        deps.slack.post_message(prompt.dm_channel or deps.slack.open_dm(prompt.user_id), text=text, blocks=parts)
    except service.SLACK_FAILURES as exc:
        logger.warning("stand-up %s: could not remind %s: %s", standup.id, prompt.user_id, service._why(exc))
        if is_transient(exc):
            with session_scope(deps.engine) as session:
                release_claim(session, StandupPrompt.reminded, row_id=prompt.id, claimed=True, previous=False)
        return
    done.reminded += 1


# --- answers typed in the DM ----------------------------------------------------------------------------------


def typed_answer(deps: Deps, event: dict) -> bool:
    """The first message a member types in pmbot's DM after being asked: their answer for the day of the last
    prompt there while that day is open (not summarised, and at most TYPED_LATE after their window; later they
    hear the day is closed and when the next prompt comes), sorted into the questions as a thread reply would be,
    posted into the day's thread. Once they answered, a later message ("thanks!") changes nothing: they hear that
    the Answer button changes an answer.
    False when it answers no prompt (other features may read it); edits and deletions are left alone."""
    message = event
    if message.get("subtype") not in (None, "file_share") or message.get("bot_id"):
        return False
    user, text, channel = message.get("user") or "", (message.get("text") or "").strip(), event.get("channel") or ""
    if not user or not text or not channel:
        return False
    with session_scope(deps.engine) as session:
        prompt = store.latest_prompt(session, dm_channel=channel, user_id=user)
        found = store.day_with_standup(session, day_id=_day_id(session, prompt)) if prompt is not None else None
    if found is None:
        return False
    standup, day = found
    if standup.mode != standup_rules.DM or user not in standup.members or day.kind != STANDUP:
        return False
    now = deps.clock()
    window_end = standup_rules.local_moment(day.day, standup.time, prompt.timezone,
                                            plus_minutes=standup.summary_minutes)
    if day.summarised or now > window_end + TYPED_LATE:  # that day is closed: the text answers nothing
        _closed(deps, standup, day, prompt, channel, now)
        return True
    with session_scope(deps.engine) as session:
        answered = user in store.answered_users(session, day_id=day.id)
    if answered:
        said = (f"You answered the stand-up of {day.day:%a %d %b} already; to change it, press *Answer* in my "
                "message above.")
    else:
        service.record(deps, standup, day, user_id=user, answers=standup_rules.split_answer(text, standup.questions))
        said = (f"Thanks — your answer for {day.day:%a %d %b} is in the stand-up thread in <#{standup.channel_id}>."
                " To change it, press *Answer* in my message above.")
    try:
        deps.slack.post_message(channel, text=said)
    except service.SLACK_FAILURES as exc:
        logger.warning("stand-up %s: no thanks for %s: %s", standup.id, user, service._why(exc))
    return True


def _closed(deps: Deps, standup: Standup, day: StandupDay, prompt: StandupPrompt, channel: str,
            now: datetime) -> None:
    """A message typed after the prompt's day closed: it answers nothing; say when the next prompt comes."""
    nxt = standup_rules.next_post(
        now, clock=standup.time, zone=prompt.timezone, workdays=standup.workdays, paused_until=standup.paused_until,
        holiday=lambda d: standup_rules.holiday_name(d, standup.country, standup.subdivision))
    when = f"{nxt:%a %d %b} at {nxt:%H:%M} ({prompt.timezone})" if nxt is not None else "when the stand-up resumes"
    said = (f"The stand-up of {day.day:%a %d %b} is closed, so this message is not an answer. "
            f"Your next prompt comes {when}.")
    try:
        deps.slack.post_message(channel, text=said)
    except service.SLACK_FAILURES as exc:
        logger.warning("stand-up %s: could not tell %s the day is closed: %s", standup.id, prompt.user_id,
                       service._why(exc))


def _day_id(session, prompt: StandupPrompt) -> int:
    row = store.day_of(session, standup_id=prompt.standup_id, day=prompt.day)
    return row.id if row is not None else 0
