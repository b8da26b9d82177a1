"""Comms plans: add, list, change and remove who gets the project digest when (`/pmbot comms`).

Who may change plans: workspace admins and owners add plans; a plan is changed, paused or removed by an admin or by
the person who added it. Anyone may list them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.comms.cadence import Cadence, PlanText, ScheduleError, parse_plan
from bot.deps import Deps
from bot.digest.service import SECTIONS
from bot.domain.due import Slot
from bot.domain.text import escape_mrkdwn, truncate
from bot.errors import NotAllowed, NotFound, SlackError, UserInputError
from bot.team_locale import team_zone
from storage import comms as repo
from storage.db import session_scope
from storage.models import CommsPlan

CHANNEL, USERGROUP = "channel", "usergroup"
_CHANNEL_REF = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_GROUP_REF = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|@?([^>]*))?>")
MAX_PLANS = 50  # per team; far more than a team reads
# A slot not posted this long after its time (the bot was down, Slack kept failing) is missed, not posted late: a
# 09:00 digest arriving in the evening reads as news it no longer is. The window may cross local midnight.
LATE_LIMIT = timedelta(hours=3)


@dataclass(frozen=True)
class Audience:
    kind: str  # CHANNEL or USERGROUP
    id: str
    name: str

    def shown(self) -> str:
        """As Slack renders it: the channel's link, or the group's handle (not a mention: nobody is pinged)."""
        return f"<#{self.id}>" if self.kind == CHANNEL else f"@{escape_mrkdwn(self.name)}"


def audience_of(plan: CommsPlan) -> Audience:
    return Audience(plan.audience_kind, plan.audience_id, plan.audience_name)


def audience_key(plan: CommsPlan) -> str:
    """The key the plan's digests are remembered under: never reused by a later plan, even one that gets the same
    id (SQLite reuses the highest id once its row is deleted)."""
    return f"plan:{plan.id}:{int(plan.created_at.timestamp())}"


def recent_slots(plan: CommsPlan, now: datetime, zone: ZoneInfo) -> list[Slot]:
    """The plan's slots of yesterday and today (team-local) that have begun by `now`, oldest first, each open for
    LATE_LIMIT after its time; none from before the plan was set up."""
    cadence = cadence_of(plan)
    today = now.astimezone(zone).date()
    found = []
    for day in (today - timedelta(days=1), today):
        start = datetime.combine(day, cadence.at, zone)
        if cadence.falls_on(day, plan.anchor_on) and plan.created_at <= start <= now:
            found.append(Slot(day, start, start + LATE_LIMIT))
    return found


def cadence_of(plan: CommsPlan) -> Cadence:
    hour, minute = (int(part) for part in plan.at_time.split(":"))
    return Cadence(plan.cadence, time(hour, minute), weekday=plan.weekday, day_of_month=plan.day_of_month)


# --- reading what was typed -----------------------------------------------------------------------------------


def resolve_audience(deps: Deps, word: str) -> Audience:
    """A channel (`<#C…|name>` as Slack escapes it, `#name`) or a user group (`<!subteam^S…|@handle>`, `@handle`)."""
    if match := _CHANNEL_REF.fullmatch(word):
        return _postable_channel(deps, match.group(1), match.group(2) or match.group(1))
    if match := _GROUP_REF.fullmatch(word):
        return _known_group(deps, match.group(1), match.group(2) or _handle_of(deps, match.group(1)))
    if word.startswith("#") and len(word) > 1:
        found = deps.slack.resolve_channel(word)
        if found is None:
            raise UserInputError(f"There is no channel {escape_mrkdwn(truncate(word, 40))} I can see. Pick it from "
                                 "Slack's list as you type `#`, and if it is private, invite me first with "
                                 "`/invite @pmbot` there.")
        return _postable_channel(deps, found, word.lstrip("#"))
    if word.startswith("@") and len(word) > 1:
        group = deps.slack.find_usergroup(word)
        if group is None:
            raise UserInputError(f"There is no user group {escape_mrkdwn(truncate(word, 40))} in this workspace. "
                                 "Pick it from Slack's list as you type `@` (a group, not a person).")
        return _known_group(deps, group, word.lstrip("@"))
    if word.startswith("<@"):
        raise UserInputError("A plan goes to a channel or to a user group, not to one person. For one person, "
                             "make a user group or use a channel.")
    raise UserInputError(f"Start with who gets the digest: a #channel or an @user-group, not "
                         f"`{escape_mrkdwn(truncate(word, 40))}`. {EXAMPLE}")


def _postable_channel(deps: Deps, channel: str, name: str) -> Audience:
    """The channel, once pmbot is sure it can post there (joining a public one); else how to fix it."""
    try:
        info = deps.slack.channel_info(channel)
    except SlackError as exc:
        raise UserInputError(f"I cannot see that channel ({exc.code}). Invite me with `/invite @pmbot` in it, "
                             "then add the plan again.") from exc
    name = str(info.get("name") or name)
    if info.get("is_archived"):
        raise UserInputError(f"#{escape_mrkdwn(name)} is archived; pick a channel people read.")
    if not info.get("is_member"):
        if info.get("is_private"):
            raise UserInputError(f"I am not in the private channel #{escape_mrkdwn(name)}, so I could not post "
                                 "there. Invite me with `/invite @pmbot` in it, then add the plan again.")
        try:
            deps.slack.join_channel(channel)
        except SlackError as exc:
            raise UserInputError(f"I cannot join #{escape_mrkdwn(name)} ({exc.code}); invite me with "
                                 "`/invite @pmbot` in it, then add the plan again.") from exc
    return Audience(CHANNEL, channel, truncate(name, 100))


def _handle_of(deps: Deps, group: str) -> str:
    """The group's @handle (Slack may send `<!subteam^S…>` without it); its id when Slack does not say."""
    try:
        groups = deps.slack.usergroups()
    except SlackError:
        return group
    found = next((g for g in groups if g.get("id") == group), None)
    return str((found or {}).get("handle") or (found or {}).get("name") or group)


def _known_group(deps: Deps, group: str, handle: str) -> Audience:
    try:
        deps.slack.usergroup_members(group)
    except SlackError as exc:
        raise UserInputError(f"I cannot read the user group @{escape_mrkdwn(truncate(handle, 40))} ({exc.code}). "
                             "Pick it from Slack's list as you type `@`.") from exc
    return Audience(USERGROUP, group, truncate(handle.lstrip("@"), 100))


def read_plan(words: list[str]) -> PlanText:
    """The schedule and sections after the audience, or UserInputError with how to write them."""
    try:
        return parse_plan(words, known_sections=SECTIONS)
    except ScheduleError as exc:
        raise UserInputError(escape_mrkdwn(str(exc))) from None


def read_sections(words: list[str]) -> tuple[str, ...]:
    """`risks,bugs` or `risks bugs` (or `all`), each one of the digest's sections."""
    names = [n for word in words for n in word.lower().split(",") if n]
    if names == ["all"]:
        return ()
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        what = f"`{escape_mrkdwn(truncate(unknown[0], 30))}` is not a section. " if unknown else ""
        raise UserInputError(f"{what}Sections are {', '.join(SECTIONS)} (or `all`), e.g. "
                             "`/pmbot comms sections 2 risks,budget`.")
    return tuple(dict.fromkeys(names))


EXAMPLE = "For example `/pmbot comms add #leadership weekly mon 09:00`."


# --- the use cases --------------------------------------------------------------------------------------------


def add(deps: Deps, *, team_id: str, user_id: str, words: list[str]) -> CommsPlan:
    """A new plan from `<audience> <cadence> [at HH:MM] [on <weekday>|day N] [sections …]` (admins only)."""
    _require_admin(deps, user_id, "add a comms plan")
    if not words:
        raise UserInputError(f"Say who gets the digest and when. {EXAMPLE}")
    plan_text = read_plan(words[1:])  # the schedule first: a typo is answered without asking Slack
    with session_scope(deps.engine) as session:  # and the limit before pmbot joins a channel for nothing
        if len(repo.team_plans(session, team_id=team_id)) >= MAX_PLANS:
            raise UserInputError(f"This team has {MAX_PLANS} plans already; remove one first.")
    audience = resolve_audience(deps, words[0])
    now, zone = deps.clock(), team_zone(deps, team_id)
    cadence = plan_text.cadence
    with session_scope(deps.engine) as session:
        if len(repo.team_plans(session, team_id=team_id)) >= MAX_PLANS:
            raise UserInputError(f"This team has {MAX_PLANS} plans already; remove one first.")
        twin = repo.same_schedule(session, team_id=team_id, audience_id=audience.id, cadence=cadence.kind,
                                  weekday=cadence.weekday, day_of_month=cadence.day_of_month,
                                  at_time=f"{cadence.at:%H:%M}")
        if twin is not None:
            raise UserInputError(f"Comms plan {twin.id} already sends the digest to {audience.shown()} "
                                 f"{cadence.describe()}; change its sections with `/pmbot comms sections {twin.id} "
                                 "…` instead of adding a second one.")
        plan = repo.add_plan(session, CommsPlan(
            team_id=team_id, audience_kind=audience.kind, audience_id=audience.id, audience_name=audience.name,
            cadence=cadence.kind, weekday=cadence.weekday, day_of_month=cadence.day_of_month,
            at_time=f"{cadence.at:%H:%M}", anchor_on=cadence.first_day(now, zone),
            sections=list(plan_text.sections), created_by=user_id, created_at=now))
        session.expunge(plan)
    return plan


def plans(deps: Deps, *, team_id: str) -> list[CommsPlan]:
    with session_scope(deps.engine) as session:
        rows = repo.team_plans(session, team_id=team_id)
        for row in rows:
            session.expunge(row)
    return rows


def remove(deps: Deps, *, team_id: str, user_id: str, plan_id: int) -> CommsPlan:
    plan = _changeable(deps, team_id, user_id, plan_id)
    with session_scope(deps.engine) as session:
        repo.delete_plan(session, plan_id=plan_id)
    return plan


def set_sections(deps: Deps, *, team_id: str, user_id: str, plan_id: int, sections: tuple[str, ...]) -> CommsPlan:
    _changeable(deps, team_id, user_id, plan_id)
    return _update(deps, team_id, plan_id, sections=list(sections))


def set_paused(deps: Deps, *, team_id: str, user_id: str, plan_id: int, paused: bool) -> CommsPlan:
    """Pause or resume a plan. A resumed plan starts from its next slot: one whose time passed while it was paused
    (today's, or late last night's) is counted as taken, never posted late."""
    plan = _changeable(deps, team_id, user_id, plan_id)
    if not paused and plan.paused:
        now = deps.clock()
        with session_scope(deps.engine) as session:
            for slot in recent_slots(plan, now, team_zone(deps, team_id)):
                repo.mark_slot_taken(session, plan_id=plan_id, slot_on=slot.day)
    return _update(deps, team_id, plan_id, paused=paused)


def _update(deps: Deps, team_id: str, plan_id: int, **values: object) -> CommsPlan:
    with session_scope(deps.engine) as session:
        plan = repo.get_plan(session, team_id=team_id, plan_id=plan_id)
        if plan is None:
            raise NotFound(f"There is no comms plan {plan_id}; `/pmbot comms` lists them.")
        for key, value in values.items():
            setattr(plan, key, value)
        session.add(plan)
        session.flush()
        session.expunge(plan)
    return plan


def _changeable(deps: Deps, team_id: str, user_id: str, plan_id: int) -> CommsPlan:
    with session_scope(deps.engine) as session:
        plan = repo.get_plan(session, team_id=team_id, plan_id=plan_id)
        if plan is not None:
            session.expunge(plan)
    if plan is None:
        raise NotFound(f"There is no comms plan {plan_id}; `/pmbot comms` lists them.")
    if plan.created_by != user_id:
        _require_admin(deps, user_id, f"change comms plan {plan_id}", creator=True)
    return plan


def _require_admin(deps: Deps, user_id: str, what: str, *, creator: bool = False) -> None:
    if deps.slack.is_workspace_admin(user_id):
        return
    who = "workspace admins and the person who added it" if creator else "workspace admins and owners"
    raise NotAllowed(f"Only {who} can {what}.")


# --- how plans read -------------------------------------------------------------------------------------------


def describe(plan: CommsPlan) -> str:
    """`#leadership, weekly on Monday at 09:00, all sections`."""
    sections = ", ".join(plan.sections) if plan.sections else "all sections"
    to = "by DM to each member of " if plan.audience_kind == USERGROUP else ""
    return f"{to}{audience_of(plan).shown()}, {cadence_of(plan).describe()}, {sections}"


def next_post(plan: CommsPlan, now: datetime, zone: ZoneInfo) -> datetime:
    return cadence_of(plan).next_post(now, zone, plan.anchor_on, claimed_on=plan.claimed_on, late=LATE_LIMIT)


def list_text(deps: Deps, *, team_id: str) -> str:
    """Every plan of the team with its next post in team time."""
    rows = plans(deps, team_id=team_id)
    zone = team_zone(deps, team_id)
    if not rows:
        return ("No comms plans yet. Add one with `/pmbot comms add #channel weekly mon 09:00` "
                "(`/pmbot comms help` shows more).")
    now = deps.clock()
    lines = [f"*Comms plans* (times in {zone.key})"]
    for plan in rows:
        when = "paused" if plan.paused else f"next {_when(next_post(plan, now, zone), now, zone)}"
        lines.append(f"• *{plan.id}* — {describe(plan)} — {when}")
    return "\n".join(lines)


def _when(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    if local <= now:
        return f"today {local:%H:%M} (due now)"
    return f"{local:%a %d %b %H:%M}"


def first_post_line(plan: CommsPlan, deps: Deps) -> str:
    zone = team_zone(deps, plan.team_id)
    now = deps.clock()
    return f"First post {_when(next_post(plan, now, zone), now, zone)} ({zone.key})."
