"""Drills: practice incidents from a scenario library, and recurring drill schedules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete

from bot.deps import Deps
from bot.domain import incident as incident_rules
from bot.domain.text import readable
from bot.edge import Reply, Request
from bot.errors import UserInputError
from bot.incidents import blocks as inc_blocks
from bot.incidents import service
from bot.jobs.base import send
from bot.registry import is_number, row_id
from bot.work import run_inline
from storage.db import session_scope
from storage.incidents import drill_schedules
from storage.models import DrillSchedule, Incident

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def handle(request: Request, reply: Reply, deps: Deps, words: list[str]) -> None:
    """`/incident drill [scenario] | scenarios | schedule <when> | schedules | unschedule N`."""
    first = words[0].lower() if words else ""
    if first == "scenarios":
        reply.ack(inc_blocks.scenarios_text())
    elif first == "schedule":
        reply.ack(_schedule(deps, request, " ".join(words[1:])))
    elif first == "schedules":
        reply.ack(_schedules_text(deps, request.team_id))
    elif first == "unschedule" and len(words) == 2 and is_number(words[1]):
        reply.ack(_unschedule(deps, request.team_id, words[1]))
    elif len(words) <= 1:
        key = first or incident_rules.DEFAULT_SCENARIO
        if key not in incident_rules.SCENARIOS:
            raise UserInputError(f"There is no scenario `{readable(key)}`. " + inc_blocks.scenarios_text())
        reply.ack(f"Starting a drill ({incident_rules.SCENARIOS[key].title})… nothing here is real.")
        incident = start(deps, team_id=request.team_id, channel_id=request.channel_id, user_id=request.user_id,
                         delivery_key=request.trigger_id, scenario=key)
        if incident.channel_id is None:  # Slack failed or another process is opening it: the queue finishes it
            reply.later(f"{incident.readable_id} is declared, but its drill room is not open yet (Slack is having "
                        "trouble); I keep trying. `/incident list` shows it once it is.")
            return
        reply.later(f"Drill room ready: <#{incident.channel_id}>. Run it as you would a real incident; "
                    "`/incident resolve` there ends it with a scorecard.")
    else:
        raise UserInputError("`/incident drill [scenario]`, `drill scenarios`, `drill schedule first tue 15:00 "
                             "Europe/Berlin [auto] [with @ana @bob]`, `drill schedules` or `drill unschedule N`.")


def start(deps: Deps, *, team_id: str, channel_id: str, user_id: str, delivery_key: str, scenario: str,
          invitees: list[str] | None = None) -> Incident:
    """`invitees`: who the drill room invites instead of the starter and the grade's responders."""
    chosen = incident_rules.SCENARIOS[scenario]
    declared = service.declare(deps, team_id=team_id, channel_id=channel_id, user_id=user_id,
                               delivery_key=delivery_key, title=chosen.title, grade=chosen.grade, drill=True,
                               scenario=scenario, invitees=invitees)
    opened = run_inline(deps, declared.work_id,
                        lambda: service.open_war_room(deps, declared.incident.id, team_id, invitees=invitees))
    return opened or service.get(deps, team_id, declared.incident.id)


def start_scheduled(deps: Deps, row: DrillSchedule, slot: datetime) -> Incident | None:
    """An automatic drill at its slot: the room with the schedule's participants (or, when it names none, who
    scheduled it and the grade's responders, as any war room), announced where it was scheduled. None when its room
    is not open yet (Slack failed, or another process is opening it): nothing is announced, the caller tries again
    (the same slot finds the same drill)."""
    named = list(dict.fromkeys([row.created_by, *row.participants])) if row.participants else None
    incident = start(deps, team_id=row.team_id, channel_id=row.channel_id, user_id=row.created_by,
                     delivery_key=f"drill-schedule:{row.id}:{slot.isoformat()}", scenario=row.scenario,
                     invitees=named)
    if incident.channel_id is None:
        return None
    people = named or service.responders(deps, incident)
    minutes = deps.settings.pmbot_drill_unattended_minutes
    text = (f"🧪 DRILL — scheduled drill {incident.readable_id} has started: <#{incident.channel_id}> "
            f"(scenario `{row.scenario}`, schedule {row.id}). Invited: {' '.join(f'<@{p}>' for p in people)}. "
            f"Practice only — join and run it as a real incident; if nobody acts in it within {minutes} min it "
            "ends by itself.")
    send(f"the start of drill schedule {row.id}", lambda: deps.slack.post_in_channel(row.channel_id, text=text))
    return incident


def split_participants(deps: Deps, text: str) -> tuple[str, list[str]]:
    """`… with @ana <@U0BOB|bob>` → (the schedule without them, their user ids); an unknown name is an error."""
    people: list[str] = []
    rest: list[str] = []
    said_with = False
    for word in text.split():
        mention = _MENTION.fullmatch(word)
        if word.lower() == "with":
            said_with = True
        elif mention:
            people.append(mention[1])
        elif word.startswith("@") and len(word) > 1:
            user = deps.slack.find_user(word[1:])
            if user is None:
                raise UserInputError(f"I do not know {readable(word)} here; mention people with @: "
                                     "`… auto with @ana @bob`.")
            people.append(user)
        else:
            rest.append(word)
    if said_with and not people:
        raise UserInputError("Say who takes part after `with`: `/incident drill schedule first tue 15:00 "
                             "Europe/Berlin auto with @ana @bob`.")
    return " ".join(rest), list(dict.fromkeys(people))


def _unschedule(deps: Deps, team_id: str, word: str) -> str:
    """`unschedule N`; a number too large to be any schedule's is answered like an unknown one."""
    missing = f"There is no drill schedule {word}: `/incident drill schedules` lists them."
    number = row_id(word, unknown=missing)
    with session_scope(deps.engine) as session:
        gone = session.execute(delete(DrillSchedule).where(DrillSchedule.team_id == team_id,
                                                           DrillSchedule.id == number)).rowcount
    if not gone:
        raise UserInputError(missing)
    return f"Drill schedule {number} removed."


def _schedule(deps: Deps, request: Request, text: str) -> str:
    text, people = split_participants(deps, text)
    try:
        when = incident_rules.parse_drill_schedule(text, default_timezone=deps.settings.pmbot_timezone)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    with session_scope(deps.engine) as session:
        row = DrillSchedule(team_id=request.team_id, channel_id=request.channel_id, description=when.description,
                            day=when.day, day_of_week=when.day_of_week, hour=when.hour, minute=when.minute,
                            timezone=when.timezone, scenario=when.scenario, automatic=when.automatic,
                            created_by=request.user_id, created_at=deps.clock(),
                            participants=list(dict.fromkeys([request.user_id, *people])) if people else [])
        session.add(row)
        session.flush()
        first = next_slot(row, deps.clock())
        number = row.id
    start_note = "starts it by itself" if when.automatic else "reminds you to start it (`/incident drill`)"
    who = ("Participants: " + " ".join(f"<@{p}>" for p in dict.fromkeys([request.user_id, *people])) if people
           else "Participants: you and the grade's responders (add `with @ana @bob` to name them)")
    return (f"Drill schedule {number}: {when.description}, scenario `{when.scenario}`. I announce it here a day and "
            f"an hour before and {start_note}. {who}. First one: {first:%a %d %b %Y %H:%M %Z} "
            f"({incident_rules.starts_in(first, deps.clock(), when.timezone)}).")


def _schedules_text(deps: Deps, team_id: str) -> str:
    with session_scope(deps.engine) as session:
        rows = drill_schedules(session, team_id=team_id)
    if not rows:
        return "No drill schedules. `/incident drill schedule first tue 15:00 Europe/Berlin` adds one."
    now = deps.clock()
    return "*Drill schedules*\n" + "\n".join(
        f"• {r.id}: {r.description} · `{r.scenario}` · {'automatic' if r.automatic else 'reminder only'} · "
        f"<#{r.channel_id}> · next {next_slot(r, now):%a %d %b %H:%M %Z}"
        + (" · with " + " ".join(f"<@{p}>" for p in r.participants) if r.participants else "") for r in rows)


def trigger(row: DrillSchedule) -> CronTrigger:
    return CronTrigger(day=row.day, day_of_week=row.day_of_week, hour=row.hour, minute=row.minute,
                       timezone=ZoneInfo(row.timezone))


def next_slot(row: DrillSchedule, after: datetime) -> datetime:
    """The first drill slot after `after` (in the schedule's time zone)."""
    return trigger(row).get_next_fire_time(None, after + timedelta(seconds=1))
