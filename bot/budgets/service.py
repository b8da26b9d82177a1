"""Budget use cases: set (admins only), record costs, import files, watch thresholds, report."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from bot.budgets import chart
from bot.deps import Deps
from bot.domain import budget as rules
from bot.domain.pii import redact
from bot.domain.text import escape_mrkdwn
from bot.errors import NotAllowed, NotFound, SlackError, UserInputError
from bot.gateways.slack import call, is_workspace_admin, post_in_channel, upload_file
from bot.settings import llm_prices
from bot.teams import team_today
from storage.budgets import (
    add_entry,
    admin_group,
    budget_of,
    claim_alert,
    entries,
    first_budget_id,
    last_entry_by,
    llm_usage_between,
    record_import,
    set_admin_group,
)
from storage.db import session_scope
from storage.models import Budget, CostEntry

logger = logging.getLogger(__name__)

_PERIOD = re.compile(r"^(month|monthly|quarter|quarterly|project)$", re.I)
_PERIODS = {"month": "month", "monthly": "month", "quarter": "quarter", "quarterly": "quarter", "project": "project"}
_CAP = re.compile(r"^([a-z][a-z0-9_-]{1,31})=(\S+)$", re.I)


# --- who may change a budget -------------------------------------------------------------------------


def is_budget_admin(deps: Deps, team_id: str, user_id: str) -> bool:
    if user_id in deps.settings.pmbot_budget_admins.replace(",", " ").split():
        return True
    with session_scope(deps.engine) as session:
        group = admin_group(session, team_id=team_id)
    if group:
        try:
            return user_id in call(deps.client, "usergroups_users_list", usergroup=group).get("users", [])
        except SlackError as exc:
            logger.warning("budget admin group %s cannot be read: %s", group, exc.code)
    return False


def require_admin(deps: Deps, team_id: str, user_id: str) -> None:
    if not is_budget_admin(deps, team_id, user_id):
        raise NotAllowed("Only budget admins can set or change a budget (PMBOT_BUDGET_ADMINS, or the group set "
                         "with `/budget admins @group`). Ask one of them.")


def set_admins(deps: Deps, *, team_id: str, user_id: str, usergroup: str) -> None:
    if not (is_workspace_admin(deps.client, user_id) or is_budget_admin(deps, team_id, user_id)):
        raise NotAllowed("Only a workspace admin or a budget admin can choose the budget admins.")
    with session_scope(deps.engine) as session:
        set_admin_group(session, team_id=team_id, usergroup_id=usergroup, user_id=user_id, now=deps.clock())


# --- setting it --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SetLine:
    amount: Decimal
    currency: str | None
    period: str
    start: date | None
    end: date | None
    caps: dict[str, Decimal]


def _parse_set(text: str) -> _SetLine:
    words = text.split()
    if not words:
        raise UserInputError("Say how much: `/budget set 20000 USD month compute=8000`.")
    amount = _amount(words[0])
    currency, period, start, end, caps = None, "month", None, None, {}
    i = 1
    while i < len(words):
        word = words[i]
        if _PERIOD.match(word):
            period = _PERIODS[word.lower()]
            if period == "project":
                start, end = _project_dates(words[i + 1:i + 3])
                i += 2
        elif cap := _CAP.match(word):
            caps[cap[1].lower()] = _amount(cap[2])
        elif currency is None and re.fullmatch(r"[A-Za-z]{3}", word):
            currency = word.upper()
        else:
            raise UserInputError(f"I did not understand `{escape_mrkdwn(word)}`. "
                                 "Example: `/budget set 20000 USD month compute=8000 api=3000`.")
        i += 1
    if sum(caps.values(), Decimal(0)) > amount:
        raise UserInputError("The category caps add up to more than the budget.")
    return _SetLine(amount, currency, period, start, end, caps)


def set_budget(deps: Deps, *, team_id: str, channel_id: str, user_id: str, text: str) -> Budget:
    """`/budget set 20000 USD month compute=8000 api=3000` (also quarter, or project 2026-12-01 2027-03-31)."""
    require_admin(deps, team_id, user_id)
    line = _parse_set(text)
    if line.period == "project" and line.end is not None and line.end < team_today(deps, team_id):
        raise UserInputError("The project has ended already; give an end date that is still to come.")
    with session_scope(deps.engine) as session:
        budget = budget_of(session, team_id=team_id, channel_id=channel_id)
        own = list(budget.categories) if budget else []
        unknown = [c for c in line.caps if c not in (*rules.CATEGORIES, *own)]
        if unknown:
            raise UserInputError(f"Unknown categories: {', '.join(unknown)}. Known: "
                                 f"{', '.join((*rules.CATEGORIES, *own))} (`/budget category add <name>`).")
        if budget is None:
            budget = Budget(team_id=team_id, channel_id=channel_id, post_channel_id=channel_id, amount=line.amount,
                            currency=line.currency or rules.DEFAULT_CURRENCY, period=line.period, set_by=user_id)
        elif line.currency and line.currency != budget.currency:
            raise UserInputError(f"This budget is in {budget.currency}; one budget has one currency.")
        budget.amount, budget.period = line.amount, line.period
        budget.project_start, budget.project_end = line.start, line.end
        budget.caps = {k: str(v) for k, v in line.caps.items()}
        budget.set_by, budget.updated_at = user_id, deps.clock()
        session.add(budget)
        session.flush()
        return budget


def _amount(text: str) -> Decimal:
    try:
        return rules.parse_amount(text)
    except rules.MoneyError as exc:
        raise UserInputError(str(exc)) from None


def _project_dates(words: list[str]) -> tuple[date, date]:
    try:
        start, end = (date.fromisoformat(w) for w in words)
    except ValueError:
        raise UserInputError("A project budget needs its dates: `project 2026-12-01 2027-03-31`.") from None
    if end <= start:
        raise UserInputError("The project's end date must come after its start.")
    return start, end


def budget_here(deps: Deps, team_id: str, channel_id: str) -> Budget:
    with session_scope(deps.engine) as session:
        budget = budget_of(session, team_id=team_id, channel_id=channel_id)
    if budget is None:
        raise NotFound("This channel has no budget yet. A budget admin sets one with `/budget set 20000 USD month`.")
    return budget


def categories_of(budget: Budget) -> list[str]:
    return [*rules.CATEGORIES, *[c for c in budget.categories or [] if c not in rules.CATEGORIES]]


# --- costs --------------------------------------------------------------------------------------------


def add_cost(deps: Deps, budget: Budget, *, user_id: str, delivery_key: str, text: str) -> CostEntry:
    """`/cost add 1200.50 compute [2026-11-20] [note]` in the channel of `budget`."""
    team_id = budget.team_id
    words = text.split()
    if len(words) < 2:
        raise UserInputError("Say how much and on what: `/cost add 1200 compute 2026-11-20 GPU hours`.")
    today = team_today(deps, team_id)
    try:
        amount = rules.parse_amount(words[0])
        category = rules.category_for(words[1], categories_of(budget))
        if category is None:
            raise rules.MoneyError(f"`{words[1]}` is not a category here: {', '.join(categories_of(budget))}.")
        day, rest = today, words[2:]
        if rest and re.fullmatch(r"\d{4}-\d{2}-\d{2}|today|yesterday", rest[0].lower()):
            day, rest = rules.parse_day(rest[0], today=today), rest[1:]
    except rules.MoneyError as exc:
        raise UserInputError(str(exc)) from None
    entry = CostEntry(team_id=team_id, budget_id=budget.id, day=day, category=category, amount=amount,
                      note=redact(" ".join(rest)).text[:200], user_id=user_id, delivery_key=delivery_key,
                      created_at=deps.clock())
    with session_scope(deps.engine) as session:
        stored = add_entry(session, entry)
    return stored or entry


def undo(deps: Deps, *, team_id: str, channel_id: str, user_id: str) -> CostEntry:
    budget = budget_here(deps, team_id, channel_id)
    with session_scope(deps.engine) as session:
        entry = last_entry_by(session, budget_id=budget.id, user_id=user_id)
        if entry is None:
            raise UserInputError("You have no cost entry here to undo.")
        session.delete(entry)
        return entry


def import_costs(deps: Deps, budget: Budget, *, user_id: str, content: str) -> int:
    """A whole file or nothing: every bad line is reported by number; the same file twice counts once."""
    today = team_today(deps, budget.team_id)
    rows, errors = rules.parse_cost_csv(content, categories=categories_of(budget), currency=budget.currency,
                                        today=today)
    if errors:
        shown = errors[:20] + ([f"…and {len(errors) - 20} more"] if len(errors) > 20 else [])
        raise UserInputError("Nothing was imported. Fix these lines and import the file again:\n"
                             + "\n".join(f"• {e}" for e in shown))
    with session_scope(deps.engine) as session:
        batch = record_import(session, team_id=budget.team_id, budget_id=budget.id,
                              file_key=rules.file_key(content), rows=len(rows), user_id=user_id, now=deps.clock())
        if batch is None:
            raise UserInputError("This file was imported before; nothing was added twice.")
        for row in rows:
            session.add(CostEntry(team_id=budget.team_id, budget_id=budget.id, day=row.day, category=row.category,
                                  amount=row.amount, note=redact(row.note).text[:200], user_id=user_id,
                                  import_id=batch.id, created_at=batch.created_at))
    return len(rows)


# --- the numbers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    budget: Budget
    today: date
    period: rules.Period
    entries: list[rules.Entry]
    spent: Decimal
    by_category: dict[str, Decimal]
    forecast: rules.Forecast
    runs_out: date | None
    this_week: Decimal
    last_week: Decimal
    movers: list[tuple[str, Decimal]]
    llm_note: str


def snapshot(deps: Deps, budget: Budget, today: date | None = None) -> Snapshot:
    today = today or team_today(deps, budget.team_id)
    period = rules.period_for(budget.period, today, project_start=budget.project_start,
                              project_end=budget.project_end)
    end = min(today, period.end)
    with session_scope(deps.engine) as session:
        rows = entries(session, budget_id=budget.id, start=period.start, end=end)
        counted = [rules.Entry(r.day, r.category, r.amount) for r in rows]
        llm, llm_note = _llm_entries(deps, session, budget, period.start, end)
    counted += llm
    week_start = today - timedelta(days=today.weekday())
    this_week = rules.spent([e for e in counted if e.day >= week_start])
    last_week = rules.spent([e for e in counted if week_start - timedelta(days=7) <= e.day < week_start])
    movers = _movers(counted, week_start)
    total = rules.spent(counted)
    return Snapshot(budget, today, period, counted, total, rules.by_category(counted),
                    rules.forecast(counted, period, today, budget.currency),
                    rules.runs_out(counted, period, today, budget.amount), this_week, last_week, movers, llm_note)


def _llm_entries(deps: Deps, session, budget: Budget, start: date, end: date) -> tuple[list[rules.Entry], str]:
    """The bot's own LLM calls, priced per model, as API spend in the team's first budget (counted once)."""
    if first_budget_id(session, team_id=budget.team_id) != budget.id:
        return [], ""
    prices = llm_prices(deps.settings.pmbot_llm_prices)
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    unpriced = set()
    for usage in llm_usage_between(session, team_id=budget.team_id, start=start, end=end):
        price = prices.get(usage.model)
        if price is None:
            unpriced.add(usage.model)
            continue
        cost = (Decimal(usage.prompt_tokens or 0) * price[0] + Decimal(usage.completion_tokens or 0) * price[1]) / 1000
        per_day[usage.created_at.date()] += cost
    cents = {day: amount.quantize(rules.CENT, rounding=ROUND_HALF_UP) for day, amount in per_day.items()}
    found = [rules.Entry(day, "api", amount) for day, amount in sorted(cents.items()) if amount > 0]
    note = f"pmbot's own LLM calls are counted as api ({', '.join(sorted(unpriced))} has no price in " \
           "PMBOT_LLM_PRICES and is left out)" if unpriced else ""
    return found, note


def _movers(counted: list[rules.Entry], week_start: date) -> list[tuple[str, Decimal]]:
    """The three categories whose spend changed most from last week to this week."""
    this = rules.by_category([e for e in counted if e.day >= week_start])
    last = rules.by_category([e for e in counted if week_start - timedelta(days=7) <= e.day < week_start])
    changes = {c: this.get(c, Decimal(0)) - last.get(c, Decimal(0)) for c in set(this) | set(last)}
    return sorted(((c, d) for c, d in changes.items() if d), key=lambda cd: abs(cd[1]), reverse=True)[:3]


def status_text(snap: Snapshot) -> str:
    b, m = snap.budget, lambda amount: rules.money(amount, snap.budget.currency)
    period = f"{snap.period.start:%d %b} – {snap.period.end:%d %b %Y}"
    lines = [f"*Budget {m(b.amount)}* for {period} · as of {snap.today:%d %b %Y}",
             f"Spent {m(snap.spent)} ({rules.percent(snap.spent, b.amount)} of budget) · this week "
             f"{m(snap.this_week)} vs last week {m(snap.last_week)} · burn rate "
             f"{m(snap.spent / max(1, (snap.today - snap.period.start).days + 1))}/day"]
    if snap.forecast.amount is not None:
        lines.append(f"Forecast at period end: {m(snap.forecast.amount)} "
                     f"({rules.percent(snap.forecast.amount, b.amount)}) — {snap.forecast.method}"
                     + ("" if snap.forecast.reliable else " · too early in the period to rely on"))
    if snap.runs_out:
        lines.append(f"At this rate the budget runs out on {snap.runs_out:%a %d %b}.")
    for category, value in sorted(snap.by_category.items(), key=lambda kv: kv[1], reverse=True):
        cap = b.caps.get(category)
        capped = f" of {m(Decimal(cap))} cap ({rules.percent(value, Decimal(cap))})" if cap else ""
        lines.append(f"• {category}: {m(value)}{capped}")
    if snap.movers:
        lines.append("Biggest movers this week: " + ", ".join(f"{c} {'+' if d > 0 else '−'}{m(abs(d))}"
                                                                for c, d in snap.movers))
    if snap.llm_note:
        lines.append(f"_{snap.llm_note}_")
    return "\n".join(lines)


# --- alerts and reports ---------------------------------------------------------------------------------


def check_alerts(deps: Deps, budget: Budget, today: date | None = None) -> list[str]:
    """Post each threshold reached for the first time this period (total, caps, forecast); return what was sent."""
    snap = snapshot(deps, budget, today)
    m = lambda amount: rules.money(amount, budget.currency)  # noqa: E731
    sent = []
    scopes = [("total", snap.spent, budget.amount)] + [
        (c, snap.by_category.get(c, Decimal(0)), Decimal(cap)) for c, cap in (budget.caps or {}).items()]
    with session_scope(deps.engine) as session:
        for scope, value, limit in scopes:
            new = [t for t in rules.crossed(value, limit)
                   if claim_alert(session, budget_id=budget.id, period_start=snap.period.start, scope=scope,
                                  kind="actual", threshold=t, now=deps.clock())]
            if new:
                what = "the budget" if scope == "total" else f"the {scope} cap"
                sent.append(f"⚠️ Spend has reached {max(new)}% of {what}: {m(value)} of {m(limit)} "
                            f"({snap.period.start:%d %b} – {snap.period.end:%d %b}).")
        forecast = snap.forecast
        # No forecast alert on too little data: see MIN_FORECAST_DAYS in bot.domain.budget.
        if forecast.reliable and forecast.amount is not None and forecast.amount >= budget.amount and claim_alert(
                session, budget_id=budget.id, period_start=snap.period.start, scope="total", kind="forecast",
                threshold=100, now=deps.clock()):
            sent.append(f"📈 The forecast for {snap.period.end:%d %b} is {m(forecast.amount)}, over the budget of "
                        f"{m(budget.amount)}: {forecast.method}.")
    for text in sent:
        try:
            post_in_channel(deps.client, budget.post_channel_id, text=text)
        except SlackError as exc:
            logger.warning("could not post a budget alert: %s", exc.code)
    return sent


def post_report(deps: Deps, budget: Budget, today: date | None = None) -> str:
    """The weekly post: the summary as a message, the chart in its thread."""
    snap = snapshot(deps, budget, today)
    text = "📊 Weekly budget report\n" + status_text(snap)
    posted = post_in_channel(deps.client, budget.post_channel_id, text=text)
    png = chart.budget_png(snap)
    upload_file(deps.client, posted["channel"], content=png, filename=f"budget-{snap.today.isoformat()}.png",
                title=f"Budget {snap.today.isoformat()}", thread_ts=posted["ts"])
    return text
