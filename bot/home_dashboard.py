"""The App Home dashboard: what one person has on their plate in their team, built when they open the tab.

Sections, each capped so the view stays within Slack's limits (100 blocks, 3,000 characters a section): my open
bugs, my risks due for review (with the review job's buttons), incidents I am in, today's stand-ups (with
*Answer*), the budgets of my channels, the team's headline numbers, and a short list of commands. A section with
nothing in it says so in one line, with the command that starts it.

The reads are in `storage/dashboard.py`, bounded and indexed; the budget and quality figures come from their
features' own services.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot import blocks
from bot.budgets import service as budgets
from bot.bugs.blocks import GRADE_EMOJI
from bot.deps import Deps
from bot.domain import budget as budget_rules
from bot.domain import quality as quality_rules
from bot.domain.text import escape_user_text, truncate
from bot.quality import service as quality
from bot.risks import blocks as risk_blocks
from bot.team_locale import team_today
from storage import dashboard as repo
from storage.db import session_scope
from storage.models import Bug, Incident, Risk, Standup
from storage.quality import load_plan, open_breaches
from storage.risks import categories

logger = logging.getLogger(__name__)

MAX_BUGS = 10
MAX_RISKS = 5  # two blocks each (the risk, its buttons)
MAX_INCIDENTS = 8
MAX_STANDUPS = 5  # one block each (the Answer button rides on it)
MAX_BUDGETS = 5
ALL_BUDGETS_UP_TO = 5  # a team with this many budgets or fewer shows them all to everyone
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


def message_link(channel: str | None, ts: str | None, label: str) -> str:
    """A link that opens a message, built from the stored channel and ts without asking Slack (chat.getPermalink
    per item would cost a call each); Slack sends the person to the message in their own workspace."""
    if not channel or not ts:
        return f"*{label}*"
    return f"<https://slack.com/archives/{channel}/p{ts.replace('.', '')}|*{label}*>"


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


def _bug_line(bug: Bug, user_id: str, now: datetime) -> str:
    grade = f"{GRADE_EMOJI[bug.grade]} grade {bug.grade}" if bug.grade else "⏳ grading"
    role = "assigned to you" if bug.assignee_id == user_id else "you reported it"
    return (f"• {message_link(bug.message_channel, bug.message_ts, bug.readable_id)} {grade} — {_title(bug.title)}"
            f" · open {_age(bug.created_at, now)} · {role}")


def _bugs(page: repo.Page[Bug], user_id: str, now: datetime) -> list[dict[str, Any]]:
    head = f"*🐞 My open bugs* ({page.total})"
    if not page.rows:
        return blocks.sections(f"{head}\nNothing open that you reported or are assigned. "
                               "Report one with `/bug &lt;what went wrong&gt;`.")
    lines = "\n".join(_bug_line(bug, user_id, now) for bug in page.rows)
    return [*blocks.sections(f"{head}\n{lines}"), *_more(len(page.rows), page.total, "/bug list mine")]


def _risks(page: repo.Page[Risk], known: dict[str, str]) -> list[dict[str, Any]]:
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
        parts += blocks.sections(f"{message_link(risk.message_channel, risk.message_ts, risk.readable_id)} "
                                 f"{risk_blocks.rating(risk)} — {_title(risk.title)} · {due}")
        parts.append({**buttons, "block_id": f"home.risk.{risk.id}"})
    return [*parts, *_more(len(page.rows), page.total, "/risk list mine")]


def _incident_line(incident: Incident, user_id: str, now: datetime) -> str:
    roles = [name for name, who in (("commander", incident.commander_id), ("comms", incident.comms_id),
                                    ("scribe", incident.scribe_id)) if who == user_id]
    role = ", ".join(roles) or "declared it"
    room = f" · <#{incident.channel_id}>" if incident.channel_id and not incident.archived else ""
    drill = "🧪 drill " if incident.drill else ""
    return (f"• {drill}*{incident.readable_id}* grade {incident.grade} · {incident.status} · "
            f"{_age(incident.declared_at, now)} — {_title(incident.title)}{room} · you: {role}")


def _incidents(page: repo.Page[Incident], user_id: str, now: datetime) -> list[dict[str, Any]]:
    head = f"*🚨 Incidents I am in* ({page.total})"
    if not page.rows:
        return blocks.sections(f"{head}\nNo open incident has you in a role. Declare one with "
                               "`/incident declare &lt;what is happening&gt;`.")
    lines = "\n".join(_incident_line(i, user_id, now) for i in page.rows)
    return [*blocks.sections(f"{head}\n{lines}"), *_more(len(page.rows), page.total, "/incident list")]


@dataclass(frozen=True)
class _StandupItem:
    standup: Standup
    day: date
    today: repo.StandupToday


def _standup_block(item: _StandupItem) -> dict[str, Any]:
    s, today = item.standup, item.today
    when = f"<#{s.channel_id}> at {s.time} ({s.timezone})"
    if today.day is None:
        return blocks.sections(f"• Stand-up {s.id} in {when}: not asked yet today")[0]
    if today.day.kind != "standup":
        return blocks.sections(f"• Stand-up {s.id} in {when}: no stand-up today ({today.day.kind})")[0]
    status = "✅ answered" if today.answered else "⏳ not answered yet"
    section = blocks.sections(f"• Stand-up {s.id} in {when}: {status}")[0]
    label = "Edit answer" if today.answered else "Answer"
    section["accessory"] = blocks.button(label, ACTION_ANSWER, str(today.day.id),
                                         None if today.answered else "primary")
    return section


def _standups(items: list[_StandupItem], total: int) -> list[dict[str, Any]]:
    head = f"*🗓️ Today's stand-ups* ({total})"
    if not items:
        return blocks.sections(f"{head}\nNo stand-up of yours today. Start one with `/standup setup`.")
    return [*blocks.sections(head), *(_standup_block(item) for item in items),
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


def _budgets(snaps: list[budgets.Snapshot], total: int) -> list[dict[str, Any]]:
    head = f"*💰 Budgets of my channels* ({total})"
    if not snaps:
        return blocks.sections(f"{head}\nNo budget in the channels you work in. Set one in a channel with "
                               "`/budget set 5000 USD month`.")
    lines = "\n".join(_budget_line(s) for s in snaps)
    return [*blocks.sections(f"{head}\n{lines}"), *_more(len(snaps), total, "/budget status")]


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


def _team(deps: Deps, team_id: str, now: datetime) -> list[dict[str, Any]]:
    with session_scope(deps.engine) as session:
        criticals = repo.open_criticals(session, team_id=team_id)
        top = repo.top_risks(session, team_id=team_id, limit=TOP_RISKS)
        active = repo.active_incidents(session, team_id=team_id, limit=3)
    lines = []
    if criticals.count and criticals.oldest is not None:
        oldest = criticals.oldest
        lines.append(f"• Open criticals (grade 1–2): *{criticals.count}* · oldest "
                     f"{message_link(oldest.message_channel, oldest.message_ts, oldest.readable_id)} "
                     f"({_age(oldest.created_at, now)}) — {_title(oldest.title)}")
    else:
        lines.append("• Open criticals (grade 1–2): none")
    if top:
        lines.append("• Top risks: " + "; ".join(
            f"{message_link(r.message_channel, r.message_ts, r.readable_id)} {risk_blocks.rating(r)}" for r in top))
    else:
        lines.append("• Top risks: none open — `/risk &lt;what could go wrong&gt;` adds one")
    if active.rows:
        lines.append(f"• Active incidents: *{active.total}* — " + "; ".join(
            f"*{i.readable_id}* grade {i.grade} {i.status}" + (f" <#{i.channel_id}>" if i.channel_id else "")
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


def _my_standups(deps: Deps, team_id: str, user_id: str) -> tuple[list[_StandupItem], int]:
    """The user's stand-ups that meet today, each on its own zone's today (the day its post is for)."""
    now = deps.clock()
    items = []
    with session_scope(deps.engine) as session:
        mine = [s for s in repo.team_standups(session, team_id=team_id) if user_id in (s.members or [])]
        for standup in mine:
            try:
                day = now.astimezone(ZoneInfo(standup.timezone)).date()
            except (KeyError, ValueError):
                continue
            if day.weekday() not in (standup.workdays or []) or (standup.paused_until and standup.paused_until >= day):
                continue
            items.append(_StandupItem(standup, day, repo.standup_today(session, standup_id=standup.id, day=day,
                                                                       user_id=user_id)))
    return items[:MAX_STANDUPS], len(items)


def _my_budgets(deps: Deps, team_id: str, user_id: str, today: date) -> tuple[list[budgets.Snapshot], int]:
    with session_scope(deps.engine) as session:
        page = repo.budgets_for(session, team_id=team_id, user_id=user_id, all_up_to=ALL_BUDGETS_UP_TO,
                                limit=MAX_BUDGETS)
    return [budgets.snapshot(deps, budget, today) for budget in page.rows], page.total


def dashboard_view(deps: Deps, *, team_id: str, user_id: str) -> dict[str, Any]:
    """The Home view of one person in one team."""
    now = deps.clock()
    today = team_today(deps, team_id, now)
    with session_scope(deps.engine) as session:
        bugs = repo.my_open_bugs(session, team_id=team_id, user_id=user_id, limit=MAX_BUGS)
        risks = repo.my_due_risks(session, team_id=team_id, user_id=user_id, today=today, limit=MAX_RISKS)
        incidents = repo.my_incidents(session, team_id=team_id, user_id=user_id, limit=MAX_INCIDENTS)
        known = categories(session, team_id=team_id) if risks.rows else {}
    standups, standup_total = _my_standups(deps, team_id, user_id)
    snaps, budget_total = _my_budgets(deps, team_id, user_id, today)
    parts: list[dict[str, Any]] = [
        blocks.header("Your pmbot dashboard"),
        blocks.context(f"<@{user_id}> · {today:%A %d %B %Y}"),
        *_bugs(bugs, user_id, now), blocks.divider(),
        *_risks(risks, known), blocks.divider(),
        *_incidents(incidents, user_id, now), blocks.divider(),
        *_standups(standups, standup_total), blocks.divider(),
        *_budgets(snaps, budget_total), blocks.divider(),
        *_team(deps, team_id, now), blocks.divider(),
        *_commands(deps),
    ]
    if len(parts) > MAX_BLOCKS:  # cannot happen with the caps above; kept so a future section cannot break the Home
        logger.warning("home view of %s had %d blocks; cut to %d", user_id, len(parts), MAX_BLOCKS)
        parts = parts[:MAX_BLOCKS]
    return {"type": "home", "blocks": parts}
