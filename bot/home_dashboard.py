"""The App Home dashboard: what one person has on their plate in their team, built when they open the tab.

Sections, each capped so the view stays within Slack's limits (100 blocks, 3,000 characters a section): my open
bugs, my risks due for review (with the review job's buttons), incidents I am in, today's stand-ups (with
*Answer*), the budgets of my channels, the team's headline numbers, and a short list of commands. A section with
nothing in it says so in one line, with the command that starts it.

The reads are in `storage/dashboard.py`, bounded and indexed; the budget and quality figures come from their
features' own services. Slack is asked two things, each kept a few minutes per team so opening the Home stays
fast: the workspace's URL (auth.test), the start of every message link, and who is in a channel
(conversations.members), for the budgets of the person's channels and the war rooms they were invited to. When
Slack cannot say who is in a channel, the budgets are left out with a note, never shown unfiltered.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import blocks
from bot.budgets import service as budgets
from bot.bugs.blocks import GRADE_EMOJI
from bot.deps import Deps
from bot.domain import budget as budget_rules
from bot.domain import quality as quality_rules
from bot.domain import standup as standup_rules
from bot.domain.text import escape_user_text, truncate
from bot.errors import ChannelNotFound, IntegrationUnavailable
from bot.gateways.slack_port import SlackPort
from bot.quality import service as quality
from bot.risks import blocks as risk_blocks
from bot.team_locale import team_today
from storage import dashboard as repo
from storage.db import session_scope
from storage.models import Bug, Incident, Risk, Standup
from storage.quality import load_plan, open_breaches
from storage.risks import categories
from storage.standups import away_on, member_zones, prompt_of

logger = logging.getLogger(__name__)

MAX_BUGS = 10
MAX_RISKS = 5  # two blocks each (the risk, its buttons)
MAX_INCIDENTS = 8
MAX_STANDUPS = 5  # one block each (the Answer button rides on it)
MAX_BUDGETS = 5
MAX_BUDGET_CHANNELS = 50  # budgets whose channel membership is checked (one per channel: a handful per team)
MAX_WAR_ROOMS = 10  # active war rooms whose members are checked for "Incidents I am in"
SLACK_KEPT = timedelta(minutes=5)  # how long the workspace URL and a channel's members are kept
TOP_RISKS = 3
MAX_BLOCKS = 100  # Slack's limit for a Home view
TITLE_CHARS = 80

# The Home's own ids for the review buttons: the same buttons the review DM carries (label, value, style), so the
# risk's own handlers do the work, and the Home is published again afterwards so the risk leaves the list.
ACTION_STILL_VALID = "home.risk.still_valid"
ACTION_UPDATE = "home.risk.update"
ACTION_CLOSE = "home.risk.close"
VIEW_RISK_FORM = "home.risk.form"
VIEW_RISK_CLOSE = "home.risk.close_form"
# The stand-up's Answer button and form (the day's id on the button), likewise published again after an answer.
ACTION_ANSWER = "home.standup.answer"
VIEW_ANSWER = "home.standup.answer_form"
HOME_ACTIONS = {risk_blocks.ACTION_STILL_VALID: ACTION_STILL_VALID, risk_blocks.ACTION_UPDATE: ACTION_UPDATE,
                risk_blocks.ACTION_CLOSE: ACTION_CLOSE}


class SlackDown(Exception):
    """Slack could not say who is in a channel (down, rate-limited, a scope missing): the caller leaves out what
    depends on it rather than guess."""


class _Kept:
    """What the Home asks of Slack, kept `SLACK_KEPT` per team on the deps' clock: the workspace URL and channels'
    members. One per Slack port (one per process, or per test's bot), so nothing leaks between them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.urls: dict[str, tuple[datetime, str]] = {}
        self.members: dict[tuple[str, str], tuple[datetime, frozenset[str]]] = {}


_KEPT: weakref.WeakKeyDictionary[SlackPort, _Kept] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _kept(deps: Deps) -> _Kept:
    with _KEPT_LOCK:
        return _KEPT.setdefault(deps.slack, _Kept())


def workspace_url(deps: Deps, team_id: str) -> str | None:
    """The workspace's URL as auth.test says it (`https://acme.slack.com/`), kept a few minutes; None when Slack
    cannot say (asked again next time)."""
    kept, now = _kept(deps), deps.clock()
    with kept.lock:
        found = kept.urls.get(team_id)
    if found is not None and now - found[0] < SLACK_KEPT:
        return found[1]
    try:
        url = deps.slack.identity().get("url") or ""
    except IntegrationUnavailable as exc:
        logger.warning("auth.test failed (%s): the Home's items are not linked this time", getattr(exc, "code", exc))
        return None
    if not url.startswith("https://"):
        return None
    url = url if url.endswith("/") else url + "/"
    with kept.lock:
        kept.urls[team_id] = (now, url)
    return url


def channel_members(deps: Deps, team_id: str, channel: str) -> frozenset[str]:
    """Who is in `channel` (conversations.members), kept a few minutes. A private channel pmbot is not in has
    nobody it may show; `SlackDown` when Slack cannot say."""
    kept, now = _kept(deps), deps.clock()
    with kept.lock:
        found = kept.members.get((team_id, channel))
    if found is not None and now - found[0] < SLACK_KEPT:
        return found[1]
    try:
        members = frozenset(deps.slack.members_of(channel))
    except ChannelNotFound:
        members = frozenset()
    except IntegrationUnavailable as exc:
        raise SlackDown(getattr(exc, "code", str(exc))) from exc
    with kept.lock:
        kept.members[(team_id, channel)] = (now, members)
    return members


@dataclass(frozen=True)
class Links:
    """Message links for one person: `<workspace url>archives/<channel>/p<ts without its dot>`, as Slack writes
    permalinks. Without the workspace URL (Slack did not say) an item is named, not linked; a DM is linked only for
    the person it is with (`dm_of`): nobody else can open it."""

    base: str | None
    viewer: str

    def __call__(self, channel: str | None, ts: str | None, label: str, *, dm_of: str | None = None) -> str:
        if not self.base or not channel or not ts or (channel.startswith("D") and dm_of != self.viewer):
            return f"*{label}*"
        return f"<{self.base}archives/{channel}/p{ts.replace('.', '')}|*{label}*>"


def _title(text: str) -> str:
    return escape_user_text(truncate(text, TITLE_CHARS))


def _age(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _more(shown: int, total: int, command: str) -> list[dict[str, Any]]:
    return [blocks.context(f"and {total - shown} more — `{command}`")] if total > shown else []


# --- the sections -----------------------------------------------------------------------------------------------


def _bug_line(bug: Bug, user_id: str, now: datetime, link: Links) -> str:
    grade = f"{GRADE_EMOJI[bug.grade]} grade {bug.grade}" if bug.grade else "⏳ grading"
    role = "assigned to you" if bug.assignee_id == user_id else "you reported it"
    return (f"• {link(bug.message_channel, bug.message_ts, bug.readable_id, dm_of=bug.reporter_id)} {grade} — "
            f"{_title(bug.title)} · open {_age(bug.created_at, now)} · {role}")


def _bugs(page: repo.Page[Bug], user_id: str, now: datetime, link: Links) -> list[dict[str, Any]]:
    head = f"*🐞 My open bugs* ({page.total})"
    if not page.rows:
        return blocks.sections(f"{head}\nNothing open that you reported or are assigned. "
                               "Report one with `/bug &lt;what went wrong&gt;`.")
    lines = "\n".join(_bug_line(bug, user_id, now, link) for bug in page.rows)
    return [*blocks.sections(f"{head}\n{lines}"), *_more(len(page.rows), page.total, "/bug list mine")]


def _risks(page: repo.Page[Risk], known: dict[str, str], link: Links) -> list[dict[str, Any]]:
    head = f"*⚠️ My risks due for review* ({page.total})"
    if not page.rows:
        return blocks.sections(f"{head}\nNone due today. Your risks: `/risk list mine`; add one with "
                               "`/risk &lt;what could go wrong&gt;`.")
    parts = blocks.sections(head)
    for risk in page.rows:
        _text, prompt = risk_blocks.review_prompt(risk, known)
        buttons = prompt[-1]
        for element in buttons["elements"]:
            element["action_id"] = HOME_ACTIONS[element["action_id"]]
        due = f"due {risk.review_on:%a %d %b}" if risk.review_on else ""
        name = link(risk.message_channel, risk.message_ts, risk.readable_id, dm_of=risk.created_by)
        parts += blocks.sections(f"{name} {risk_blocks.rating(risk)} — {_title(risk.title)} · {due}")
        parts.append({**buttons, "block_id": f"home.risk.{risk.id}"})
    return [*parts, *_more(len(page.rows), page.total, "/risk list mine")]


def _incident_name(incident: Incident, link: Links) -> str:
    """An incident's id, linked to its announcement, or (no announcement channel set) its war room's runbook."""
    if incident.announcement_ts:
        return link(incident.announcement_channel, incident.announcement_ts, incident.readable_id)
    return link(incident.channel_id, incident.runbook_ts, incident.readable_id)


def _incident_line(incident: Incident, user_id: str, now: datetime, link: Links) -> str:
    roles = [name for name, who in (("commander", incident.commander_id), ("comms", incident.comms_id),
                                    ("scribe", incident.scribe_id)) if who == user_id]
    if not roles:
        roles = ["declared it" if incident.declared_by == user_id else "in the war room"]
    room = f" · <#{incident.channel_id}>" if incident.channel_id and not incident.archived else ""
    drill = "🧪 drill " if incident.drill else ""
    name = _incident_name(incident, link)
    return (f"• {drill}{name} grade {incident.grade} · {incident.status} · "
            f"{_age(incident.declared_at, now)} — {_title(incident.title)}{room} · you: {', '.join(roles)}")


def _incidents(page: repo.Page[Incident], user_id: str, now: datetime, link: Links,
               rooms_checked: bool) -> list[dict[str, Any]]:
    head = f"*🚨 Incidents I am in* ({page.total})"
    note = [] if rooms_checked else [blocks.context("Slack did not say who is in the war rooms just now: only "
                                                    "the incidents you hold a role in are listed.")]
    if not page.rows:
        return [*blocks.sections(f"{head}\nNo open incident has you in a role or its war room. Declare one with "
                                 "`/incident declare &lt;what is happening&gt;`."), *note]
    lines = "\n".join(_incident_line(i, user_id, now, link) for i in page.rows)
    return [*blocks.sections(f"{head}\n{lines}"), *note, *_more(len(page.rows), page.total, "/incident list")]


@dataclass(frozen=True)
class _StandupItem:
    standup: Standup
    day: date
    zone: str  # the person's zone for a DM-mode stand-up (their day), else the stand-up's
    today: repo.StandupToday
    asked: bool  # DM mode: their prompt was sent (the thread mode asks everyone with the post)
    away: bool


def _standup_block(item: _StandupItem, link: Links) -> dict[str, Any]:
    s, today = item.standup, item.today
    when = f"<#{s.channel_id}> at {s.time} ({item.zone})"
    name = link(s.channel_id, today.day.parent_ts if today.day else None, f"Stand-up {s.id}")
    if today.day is None:
        return blocks.sections(f"• {name} in {when}: not asked yet today")[0]
    if today.day.kind != "standup":
        return blocks.sections(f"• {name} in {when}: no stand-up today ({today.day.kind})")[0]
    if not today.answered and not item.asked:
        return blocks.sections(f"• {name} in {when}: not asked yet today")[0]
    if today.answered:
        status, label, style = "✅ answered", "Edit answer", None
    elif item.away:
        status, label, style = "🌴 you are away today", "Answer anyway", None
    else:
        status, label, style = "⏳ not answered yet", "Answer", "primary"
    section = blocks.sections(f"• {name} in {when}: {status}")[0]
    section["accessory"] = blocks.button(label, ACTION_ANSWER, str(today.day.id), style)
    return section


def _standups(items: list[_StandupItem], total: int, link: Links) -> list[dict[str, Any]]:
    head = f"*🗓️ Today's stand-ups* ({total})"
    if not items:
        return blocks.sections(f"{head}\nNo stand-up of yours today. Start one with `/standup setup`.")
    return [*blocks.sections(head), *(_standup_block(item, link) for item in items),
            *_more(len(items), total, "/standup list")]


def _budget_line(snap: budgets.Snapshot) -> str:
    b = snap.budget
    m = lambda amount: budget_rules.money(amount, b.currency)  # noqa: E731
    line = (f"• <#{b.channel_id}>: {m(snap.spent)} of {m(b.amount)} spent "
            f"({budget_rules.percent(snap.spent, b.amount)}), {snap.period.start:%d %b} – {snap.period.end:%d %b}")
    if snap.forecast.amount is not None:
        line += (f" · forecast {m(snap.forecast.amount)} ({budget_rules.percent(snap.forecast.amount, b.amount)})"
                 + ("" if snap.forecast.reliable else ", early"))
    if snap.runs_out:
        line += f" · runs out {snap.runs_out:%d %b}"
    return line


def _budgets(found: tuple[list[budgets.Snapshot], int] | None) -> list[dict[str, Any]]:
    if found is None:
        return blocks.sections("*💰 Budgets of my channels*\nSlack did not say which channels you are in just now, "
                               "so no budget is shown; open the Home again in a few minutes, or type "
                               "`/budget status` in a channel.")
    snaps, total = found
    head = f"*💰 Budgets of my channels* ({total})"
    if not snaps:
        return blocks.sections(f"{head}\nNo budget in the channels you are in. Set one in a channel with "
                               "`/budget set 5000 USD month`.")
    lines = "\n".join(_budget_line(s) for s in snaps)
    more = ([blocks.context(f"and {total - len(snaps)} more — type `/budget status` in one of your other "
                            "channels to see its budget")] if total > len(snaps) else [])
    return [*blocks.sections(f"{head}\n{lines}"), *more]


def _quality_line(deps: Deps, team_id: str) -> str | None:
    """The quality status of the team's latest evaluation against its plan; None without a plan."""
    with session_scope(deps.engine) as session:
        found = load_plan(session, team_id=team_id)
        breaches = len(open_breaches(session, team_id=team_id)) if found else 0
    if found is None:
        return None
    latest = quality.latest(deps, team_id)
    if latest is None:
        return "• Quality: a plan, no evaluation yet — `/quality` records one"
    run, before = latest
    verdict = quality_rules.assess(found[1], run.metrics, before.metrics if before else None)
    name = escape_user_text(truncate(f"{run.model} {run.version}".strip(), 60))
    if verdict.go:
        status = "✅ every metric on target"
    else:
        failed = [o.metric.name for o in verdict.failed]
        missing = sum(1 for o in verdict.outcomes if o.status == "missing")
        status = (f"❌ {len(failed)} off target ({escape_user_text(truncate(', '.join(failed), 120))})" if failed
                  else f"⚠️ {missing} not measured")
    return f"• Quality of {name}: {status} · {breaches} open breach{'es' if breaches != 1 else ''}"


def _team(deps: Deps, team_id: str, now: datetime, link: Links) -> list[dict[str, Any]]:
    with session_scope(deps.engine) as session:
        criticals = repo.open_criticals(session, team_id=team_id)
        top = repo.top_risks(session, team_id=team_id, limit=TOP_RISKS)
        active = repo.active_incidents(session, team_id=team_id, limit=3, drills=False)  # drills are practice
    lines = []
    if criticals.count and criticals.oldest is not None:
        oldest = criticals.oldest
        lines.append(f"• Open criticals (grade 1–2): *{criticals.count}* · oldest "
                     f"{link(oldest.message_channel, oldest.message_ts, oldest.readable_id, dm_of=oldest.reporter_id)}"
                     f" ({_age(oldest.created_at, now)}) — {_title(oldest.title)}")
    else:
        lines.append("• Open criticals (grade 1–2): none")
    if top:
        lines.append("• Top risks: " + "; ".join(
            f"{link(r.message_channel, r.message_ts, r.readable_id, dm_of=r.created_by)} {risk_blocks.rating(r)}"
            for r in top))
    else:
        lines.append("• Top risks: none open — `/risk &lt;what could go wrong&gt;` adds one")
    if active.rows:
        lines.append(f"• Active incidents: *{active.total}* — " + "; ".join(
            f"{_incident_name(i, link)} grade {i.grade} {i.status}"
            + (f" <#{i.channel_id}>" if i.channel_id else "")
            for i in active.rows) + (" …" if active.total > len(active.rows) else ""))
    else:
        lines.append("• Active incidents: none")
    quality_line = _quality_line(deps, team_id)
    if quality_line:
        lines.append(quality_line)
    return blocks.sections("*👥 Team*\n" + "\n".join(lines))


def _commands(deps: Deps) -> list[dict[str, Any]]:
    names = " · ".join(f"`{spec.name}`" for spec in deps.commands)
    return [blocks.context(f"Commands: {names} — `/pmbot help` lists what each does. "
                           "This page is rebuilt each time you open it.")]


# --- the view ---------------------------------------------------------------------------------------------------


def _zone_of(standup: Standup, known: str | None, prompt_zone: str | None) -> str:
    """Whose clock says which day it is: in DM mode the person's (the zone they were asked in, else their known
    zone), as the answer's lateness does (`standups.service._answer_zone`); else the stand-up's."""
    if standup.mode != standup_rules.DM:
        return standup.timezone
    for zone in (prompt_zone, known):
        if zone:
            try:
                ZoneInfo(zone)
                return zone
            except (KeyError, ValueError):
                continue
    return standup.timezone


def _my_standups(deps: Deps, team_id: str, user_id: str) -> tuple[list[_StandupItem], int]:
    """The user's stand-ups that meet today, each on its own today: the stand-up's zone's, or in DM mode the
    person's own (the day they are asked for)."""
    now = deps.clock()
    items = []
    with session_scope(deps.engine) as session:
        mine = [s for s in repo.team_standups(session, team_id=team_id) if user_id in (s.members or [])]
        known = member_zones(session, team_id=team_id, user_ids=[user_id]).get(user_id) if any(
            s.mode == standup_rules.DM for s in mine) else None
        away: dict[date, set[str]] = {}
        for standup in mine:
            zone = _zone_of(standup, known.timezone if known else None, None)
            try:
                day = now.astimezone(ZoneInfo(zone)).date()
            except (KeyError, ValueError):
                continue
            if day.weekday() not in (standup.workdays or []) or (standup.paused_until and standup.paused_until >= day):
                continue
            asked = True
            if standup.mode == standup_rules.DM:
                prompt = prompt_of(session, standup_id=standup.id, day=day, user_id=user_id)
                asked = prompt is not None
                zone = prompt.timezone if prompt is not None else zone
            if day not in away:
                away[day] = away_on(session, team_id=team_id, day=day)
            items.append(_StandupItem(standup, day, zone, repo.standup_today(
                session, standup_id=standup.id, day=day, user_id=user_id), asked, user_id in away[day]))
    return items[:MAX_STANDUPS], len(items)


def _my_budgets(deps: Deps, team_id: str, user_id: str, today: date) -> tuple[list[budgets.Snapshot], int] | None:
    """The budgets of the channels the person is in, as Slack says (conversations.members, kept a few minutes);
    None when Slack cannot say: never the team's budgets unfiltered."""
    with session_scope(deps.engine) as session:
        rows = repo.team_budgets(session, team_id=team_id, limit=MAX_BUDGET_CHANNELS)
    try:
        mine = [b for b in rows if user_id in channel_members(deps, team_id, b.channel_id)]
    except SlackDown as exc:
        logger.warning("the budgets on the Home of %s are left out: Slack did not say who is in a channel (%s)",
                       user_id, exc)
        return None
    return [budgets.snapshot(deps, budget, today) for budget in mine[:MAX_BUDGETS]], len(mine)


def _my_incidents(deps: Deps, team_id: str, user_id: str) -> tuple[repo.Page[Incident], bool]:
    """The unresolved incidents the person holds a role in or declared (stored), and those whose war room they
    are in (invited responders: who was invited is not stored, so Slack's member list of the few active war rooms,
    kept a few minutes, says it). The flag is False when Slack could not say."""
    with session_scope(deps.engine) as session:
        roles = repo.my_incidents(session, team_id=team_id, user_id=user_id, limit=MAX_INCIDENTS)
        active = repo.active_incidents(session, team_id=team_id, limit=MAX_WAR_ROOMS)
    has_role = {i.id for i in roles.rows}
    in_room: list[Incident] = []
    checked = True
    for incident in active.rows:
        if incident.id in has_role or user_id in (incident.commander_id, incident.comms_id, incident.scribe_id,
                                                  incident.declared_by):
            continue
        if not incident.channel_id or incident.archived:
            continue
        try:
            if user_id in channel_members(deps, team_id, incident.channel_id):
                in_room.append(incident)
        except SlackDown as exc:
            logger.info("war room %s: members unknown (%s); the Home lists roles only", incident.channel_id, exc)
            checked = False
            break
    rows = sorted([*roles.rows, *in_room], key=lambda i: (i.grade, i.declared_at, i.id))[:MAX_INCIDENTS]
    return repo.Page(rows, roles.total + len(in_room)), checked


def dashboard_view(deps: Deps, *, team_id: str, user_id: str) -> dict[str, Any]:
    """The Home view of one person in one team."""
    now = deps.clock()
    today = team_today(deps, team_id, now)
    link = Links(workspace_url(deps, team_id), user_id)
    with session_scope(deps.engine) as session:
        bugs = repo.my_open_bugs(session, team_id=team_id, user_id=user_id, limit=MAX_BUGS)
        risks = repo.my_due_risks(session, team_id=team_id, user_id=user_id, today=today, limit=MAX_RISKS)
        known = categories(session, team_id=team_id) if risks.rows else {}
    incidents, rooms_checked = _my_incidents(deps, team_id, user_id)
    standups, standup_total = _my_standups(deps, team_id, user_id)
    parts: list[dict[str, Any]] = [
        blocks.header("Your pmbot dashboard"),
        blocks.context(f"<@{user_id}> · {today:%A %d %B %Y}"),
        *_bugs(bugs, user_id, now, link), blocks.divider(),
        *_risks(risks, known, link), blocks.divider(),
        *_incidents(incidents, user_id, now, link, rooms_checked), blocks.divider(),
        *_standups(standups, standup_total, link), blocks.divider(),
        *_budgets(_my_budgets(deps, team_id, user_id, today)), blocks.divider(),
        *_team(deps, team_id, now, link), blocks.divider(),
        *_commands(deps),
    ]
    if len(parts) > MAX_BLOCKS:  # cannot happen with the caps above; kept so a future section cannot break the Home
        logger.warning("home view of %s had %d blocks; cut to %d", user_id, len(parts), MAX_BLOCKS)
        parts = parts[:MAX_BLOCKS]
    return {"type": "home", "blocks": parts}
