"""Budget use cases: set (admins only), record costs, import files, watch thresholds, report."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from sqlalchemy import insert

from bot.budgets import chart
from bot.deps import Deps
from bot.domain import bills
from bot.domain import budget as budget_rules
from bot.domain.pii import redact
from bot.domain.text import escape_user_text
from bot.errors import IntegrationUnavailable, NotAllowed, NotFound, SlackError, UserInputError
from bot.settings import llm_prices
from bot.team_locale import team_number_format, team_prefs, team_today
from storage.budgets import (
    add_entry,
    budget_admins,
    budget_of,
    budgets_posting_to,
    claim_alert,
    entries,
    first_budget_id,
    imported_days,
    last_entry_by,
    last_import_by,
    llm_tokens_per_day,
    recategorise,
    record_import,
    release_alert,
    remove_import,
    service_mappings,
    set_budget_admins,
    set_service_mapping,
    take_alert,
    team_budgets,
    team_services,
    unposted_alerts,
)
from storage.db import session_scope
from storage.models import Budget, BudgetAlert, CostEntry, CostImport

logger = logging.getLogger(__name__)

MAX_ALERT_ATTEMPTS = 48  # hourly: two days of Slack being unreachable before an alert is given up

_PERIOD = re.compile(r"^(month|monthly|quarter|quarterly|project)$", re.I)
_PERIODS = {"month": "month", "monthly": "month", "quarter": "quarter", "quarterly": "quarter", "project": "project"}
_CAP = re.compile(r"^([a-z][a-z0-9_-]{1,31})=(\S+)$", re.I)


# --- who may change a budget -------------------------------------------------------------------------


def is_budget_admin(deps: Deps, team_id: str, user_id: str) -> bool:
    """PMBOT_BUDGET_ADMINS, the people and the group named with `/budget admins`; when none of those is set, the
    workspace's admins and owners (someone must be able to start)."""
    configured = deps.settings.pmbot_budget_admins.replace(",", " ").split()
    if user_id in configured:
        return True
    with session_scope(deps.engine) as session:
        group, people = budget_admins(session, team_id=team_id)
    if user_id in people:
        return True
    if group:
        try:
            if user_id in deps.slack.usergroup_members(group):
                return True
        except SlackError as exc:
            logger.warning("budget admin group %s cannot be read: %s", group, exc.code)
    if not configured and not group and not people:
        return _workspace_admin(deps, user_id)
    return False


def _workspace_admin(deps: Deps, user_id: str) -> bool:
    try:
        return deps.slack.is_workspace_admin(user_id)
    except IntegrationUnavailable as exc:
        logger.warning("cannot tell whether %s is a workspace admin: %s", user_id, exc)
        return False


def require_admin(deps: Deps, team_id: str, user_id: str) -> None:
    if not is_budget_admin(deps, team_id, user_id):
        raise NotAllowed("Only budget admins can set or change a budget: the people and group named with "
                         "`/budget admins`, or PMBOT_BUDGET_ADMINS (while none is named, workspace admins and "
                         "owners). Ask one of them.")


def set_admins(deps: Deps, *, team_id: str, user_id: str, usergroup: str | None, people: list[str]) -> None:
    if not (_workspace_admin(deps, user_id) or is_budget_admin(deps, team_id, user_id)):
        raise NotAllowed("Only a workspace admin or a budget admin can choose the budget admins.")
    with session_scope(deps.engine) as session:
        set_budget_admins(session, team_id=team_id, usergroup_id=usergroup, user_ids=people, user_id=user_id,
                          now=deps.clock())


# --- setting it --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SetLine:
    amount: Decimal
    currency: str | None
    period: str
    start: date | None
    end: date | None
    caps: dict[str, Decimal]


def _parse_set(text: str, number_format: str = "en") -> _SetLine:
    words = text.split()
    if not words:
        raise UserInputError("Say how much: `/budget set 20000 USD month compute=8000`.")
    amount = _amount(words[0], number_format)
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
            caps[cap[1].lower()] = _amount(cap[2], number_format)
        elif currency is None and re.fullmatch(r"[A-Za-z]{3}", word):
            currency = word.upper()
        else:
            raise UserInputError(f"I did not understand `{word}`. "
                                 "Example: `/budget set 20000 USD month compute=8000 api=3000`.")
        i += 1
    if sum(caps.values(), Decimal(0)) > amount:
        raise UserInputError("The category caps add up to more than the budget.")
    return _SetLine(amount, currency, period, start, end, caps)


def set_budget(deps: Deps, *, team_id: str, channel_id: str, user_id: str, text: str) -> Budget:
    """`/budget set 20000 USD month compute=8000 api=3000` (also quarter, or project 2026-12-01 2027-03-31)."""
    require_admin(deps, team_id, user_id)
    line = _parse_set(text, team_number_format(deps, team_id))
    if line.period == "project" and line.end is not None and line.end < team_today(deps, team_id):
        raise UserInputError("The project has ended already; give an end date that is still to come.")
    with session_scope(deps.engine) as session:
        budget = budget_of(session, team_id=team_id, channel_id=channel_id)
        own = list(budget.categories) if budget else []
        unknown = [c for c in line.caps if c not in (*budget_rules.CATEGORIES, *own)]
        if unknown:
            raise UserInputError(f"Unknown categories: {', '.join(unknown)}. Known: "
                                 f"{', '.join((*budget_rules.CATEGORIES, *own))} (`/budget category add <name>`).")
        if budget is None:
            budget = Budget(team_id=team_id, channel_id=channel_id, post_channel_id=channel_id, amount=line.amount,
                            currency=line.currency or budget_rules.DEFAULT_CURRENCY, period=line.period, set_by=user_id)
        elif line.currency and line.currency != budget.currency:
            raise UserInputError(f"This budget is in {budget.currency}; one budget has one currency.")
        budget.amount, budget.period = line.amount, line.period
        budget.project_start, budget.project_end = line.start, line.end
        budget.caps = {k: str(v) for k, v in line.caps.items()}
        budget.set_by, budget.updated_at = user_id, deps.clock()
        session.add(budget)
        session.flush()
        return budget


def _amount(text: str, number_format: str = "en") -> Decimal:
    """A budget or a cap: positive, in cents."""
    try:
        return budget_rules.cents(budget_rules.parse_amount(text, number_format=number_format))
    except budget_rules.MoneyError as exc:
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
    """The budget of this channel, or the one whose alerts and reports are posted here."""
    with session_scope(deps.engine) as session:
        budget = budget_of(session, team_id=team_id, channel_id=channel_id)
        posting = [] if budget else budgets_posting_to(session, team_id=team_id, channel_id=channel_id)
    if budget is not None:
        return budget
    if len(posting) == 1:
        return posting[0]
    if posting:
        raise UserInputError("Several budgets post here: " + ", ".join(f"<#{b.channel_id}>" for b in posting)
                             + ". Run `/budget` in the channel of the one you mean.")
    raise NotFound("This channel has no budget yet. A budget admin sets one with `/budget set 20000 USD month`.")


def categories_of(budget: Budget) -> list[str]:
    return [*budget_rules.CATEGORIES, *[c for c in budget.categories or [] if c not in budget_rules.CATEGORIES]]


# --- services on bills → categories ------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    """How this team's bills land in a budget's categories: its own choices over the built-in defaults."""

    categories: tuple[str, ...]
    own: dict[str, str]  # folded service → category

    def category(self, service: str, alias: str = "", fallback: str | None = None) -> str | None:
        """The team's choice for either name first, then a category's own name, then the built-in defaults."""
        keys = [bills.fold(name) for name in (service, alias) if name]
        found = ([self.own.get(k) for k in keys] + keys + [bills.DEFAULT_SERVICES.get(k) for k in keys]
                 + [fallback])
        return next((c for c in found if c in self.categories), None)

    def of_line(self, line: bills.BillLine, layout: bills.Layout) -> str:
        return self.category(line.service, line.alias, layout.default_category) or bills.UNMAPPED


def mapping_for(deps: Deps, budget: Budget) -> Mapping:
    with session_scope(deps.engine) as session:
        own = {m.service_key: m.category for m in service_mappings(session, team_id=budget.team_id)}
    return Mapping(tuple(categories_of(budget)), own)


def mapping_text(deps: Deps, team_id: str, budget: Budget) -> str:
    """`/cost mapping`: the team's own choices, the services on its bills with where they count, the defaults."""
    with session_scope(deps.engine) as session:
        own = service_mappings(session, team_id=team_id)
        seen = team_services(session, team_id=team_id)
    lines = ["*Where services on your bills count*"]
    if own:
        lines.append("Your team's choices: " + ", ".join(f"{escape_user_text(m.service)} → {m.category}" for m in own))
    unmapped = sorted({s for s, c in seen if c == bills.UNMAPPED})
    if unmapped:
        lines.append("Unmapped (counted as `unmapped`): "
                     + ", ".join(f"`{escape_user_text(s)}`" for s in unmapped[:20]))
    defaults: dict[str, list[str]] = defaultdict(list)
    for name, category in bills.DEFAULT_SERVICES.items():
        defaults[category].append(name)
    lines.append("Built in (any spelling, case does not matter):")
    for category in categories_of(budget):
        if defaults.get(category):
            names = sorted(defaults[category], key=len)
            lines.append(f"• {category}: {', '.join(names[:12])}" + (f" and {len(names) - 12} more"
                                                                         if len(names) > 12 else ""))
    lines.append("Model API bills (OpenAI, Anthropic) count in api. Change one with "
                 "`/cost map \"Amazon SageMaker\" compute`.")
    return "\n".join(lines)


def map_service(deps: Deps, budget: Budget, *, user_id: str, service_name: str, category: str) -> str:
    """`/cost map "Amazon SageMaker" compute`: the team's choice, applied to the entries it already has."""
    if not service_name or len(service_name) > 128:
        raise UserInputError("Name the service as the bill does and the category: "
                             "`/cost map \"Amazon SageMaker\" compute`.")
    if category not in categories_of(budget):
        raise UserInputError(f"`{category[:40]}` is not a category here: "
                             f"{', '.join(categories_of(budget))} (`/budget category add <name>` adds one).")
    key = bills.fold(service_name)
    if key in categories_of(budget):
        raise UserInputError(f"`{service_name}` is a category already; name a service.")
    with session_scope(deps.engine) as session:
        set_service_mapping(session, team_id=budget.team_id, service_key=key, service=service_name,
                            category=category, user_id=user_id, now=deps.clock())
        same = sorted({s for s, _ in team_services(session, team_id=budget.team_id) if bills.fold(s) == key})
        having = [b.id for b in team_budgets(session, team_id=budget.team_id) if category in categories_of(b)]
        moved = recategorise(session, budget_ids=having, services=same, category=category)
    text = f"{escape_user_text(service_name)} now counts in {category}"
    return text + (f"; {moved} entr{'y' if moved == 1 else 'ies'} already recorded moved there." if moved else ".")


# --- costs --------------------------------------------------------------------------------------------

_DATE_WORD = re.compile(r"\d{4}-\d{2}-\d{2}|today|yesterday", re.I)
_QUOTED = re.compile(r'^["“”„\']([^"“”„\']{1,128})["“”„\']\s*')


@dataclass(frozen=True)
class Recorded:
    entry: CostEntry
    warning: str


def add_cost(deps: Deps, budget: Budget, *, user_id: str, delivery_key: str, text: str) -> Recorded:
    """`/cost add 1200.50 compute [2026-11-20] [note]`; a service works in place of the category, however many
    words it has (`/cost add 1800.50 Amazon EC2 GPU nodes`), and a credit is negative (`/cost add -250 …`)."""
    team_id = budget.team_id
    amount_word, _, rest = text.strip().partition(" ")
    if not amount_word or not rest.strip():
        raise UserInputError("Say how much and on what: `/cost add 1200 compute 2026-11-20 GPU hours`.")
    prefs = team_prefs(deps, team_id)
    today = prefs.today(deps.clock())
    try:
        amount = budget_rules.parse_amount(amount_word, number_format=prefs.number_format, signed=True)
        if amount == 0:
            raise budget_rules.MoneyError("An amount of zero changes nothing; nothing was recorded.")
        service, category, words = _service_words(mapping_for(deps, budget), rest.strip())
        day = today
        if words and _DATE_WORD.fullmatch(words[0]):
            day, words = budget_rules.parse_day(words[0], today=today), words[1:]
    except budget_rules.MoneyError as exc:
        raise UserInputError(str(exc)) from None
    entry = CostEntry(team_id=team_id, budget_id=budget.id, day=day, category=category, amount=amount,
                      service=service, note=redact(" ".join(words)).text[:200], user_id=user_id,
                      delivery_key=delivery_key, created_at=deps.clock())
    with session_scope(deps.engine) as session:
        stored = add_entry(session, entry)
    return Recorded(stored or entry, _out_of_period(budget, [day], today))


def _service_words(mapping: Mapping, text: str) -> tuple[str, str, list[str]]:
    """(service as typed, or "" for a category; its category; the words after it). The longest run of words
    that names a category or a known service wins; a quoted name is taken whole."""
    if quoted := _QUOTED.match(text):
        name, words = quoted[1].strip(), text[quoted.end():].split()
        category = mapping.category(name)
        if category is None and words and words[0].lower() in mapping.categories:
            category, words = words[0].lower(), words[1:]
        if category is None:
            raise budget_rules.MoneyError(_unknown_service(name, mapping))
        return ("" if bills.fold(name) in mapping.categories else name), category, words
    words = text.split()
    for length in range(min(6, len(words)), 0, -1):
        name = " ".join(words[:length])
        category = mapping.category(name)
        if category is not None:
            return ("" if bills.fold(name) in mapping.categories else name), category, words[length:]
    raise budget_rules.MoneyError(_unknown_service(words[0], mapping))


def _unknown_service(name: str, mapping: Mapping) -> str:
    # Raised to the edge, which makes the whole message inert (escape_user_text): not escaped here as well.
    return (f"`{name[:60]}` is neither a category here ({', '.join(mapping.categories)}) nor a service I know. "
            f"Teach me the service with `/cost map \"{name[:60]}\" compute` (or another category); "
            "`/cost mapping` shows the ones I know.")


def _out_of_period(budget: Budget, days: list[date], today: date) -> str:
    """A warning for costs dated before the budget's current period or after today (recorded all the same)."""
    period = budget_rules.period_for(budget.period, today, project_start=budget.project_start,
                                     project_end=budget.project_end)
    shown = f"{period.start:%d %b %Y} – {period.end:%d %b %Y}"
    before = sorted(d for d in days if d < period.start)
    future = sorted(d for d in days if d > today)
    notes = []
    if before:
        verb = "is" if len(set(before)) == 1 else "are"
        notes.append(f"{_dates(before)} {verb} before this budget's period ({shown}): recorded, but not counted in it")
    if future:
        notes.append(f"{_dates(future)} {'is' if len(set(future)) == 1 else 'are'} in the future: recorded, and "
                     f"counted {'when the day comes' if period.contains(future[0]) else 'in the period it falls in'}")
    return "; ".join(notes)


def _dates(days: list[date]) -> str:
    distinct = sorted(set(days))
    return distinct[0].isoformat() if len(distinct) == 1 else \
        f"costs dated {distinct[0].isoformat()} to {distinct[-1].isoformat()}"


def undo(deps: Deps, budget: Budget, *, user_id: str) -> CostEntry:
    with session_scope(deps.engine) as session:
        entry = last_entry_by(session, budget_id=budget.id, user_id=user_id)
        if entry is None:
            raise UserInputError("You have no cost entry here to undo.")
        session.delete(entry)
        return entry


@dataclass(frozen=True)
class Rate:
    currency: str  # the file's
    value: Decimal  # 1 unit of `currency` in the budget's currency


def parse_rate(text: str) -> Rate:
    """`USD=0.92`: one US dollar is 0.92 of the budget's currency."""
    found = re.fullmatch(r"\s*([A-Za-z]{3})\s*[=:]\s*([0-9]{1,9}(?:\.[0-9]{1,10})?)\s*", text or "")
    if not found or Decimal(found[2]) <= 0:
        raise UserInputError(f"`{(text or '')[:40]}` is not a rate: write it like `--rate USD=0.92` "
                             "(one USD is 0.92 of the budget's currency).")
    return Rate(found[1].upper(), Decimal(found[2]))


@dataclass
class Imported:
    """What an import did, for the reply in Slack and on the command line."""

    label: str
    lines: int
    entries: int
    skipped: int
    unmapped: list[str]
    total: Decimal
    currency: str
    source: tuple[Decimal, str] | None = None  # the file's own total and currency, when a rate converted it
    warning: str = ""
    extra: list[str] = field(default_factory=list)

    def text(self) -> str:
        """`imported 51 lines from an AWS Cost and Usage Report: 14,386.34 USD (3 unmapped)`."""
        line = (f"Imported {self.lines:,} line{'s' * (self.lines != 1)} from {self.label}: "
                f"{budget_rules.money(self.total, self.currency)}")
        if self.source:
            line += f" (from {budget_rules.money(*self.source)})"
        if self.unmapped:
            line += f" ({len(self.unmapped)} unmapped)"
        lines = [line + "."]
        if self.skipped:
            lines.append(f"{self.skipped:,} zero-cost line{'s' * (self.skipped != 1)} skipped.")
        if self.unmapped:
            shown = ", ".join(f"`{escape_user_text(s[:60])}`" for s in self.unmapped[:8])
            more = f" and {len(self.unmapped) - 8} more" if len(self.unmapped) > 8 else ""
            lines.append(f"Unmapped services, counted as `unmapped`: {shown}{more}. "
                         "`/cost map \"<service>\" <category>` moves them.")
        if self.warning:
            lines.append(f"Note: {self.warning}.")
        return "\n".join(lines + self.extra)


def import_costs(deps: Deps, budget: Budget, *, user_id: str, lines: Iterable[str], rate: Rate | None = None
                 ) -> Imported:
    """A cost file in any layout `bot.domain.bills` reads, streamed: all of it or nothing (every bad line is named);
    the same file twice counts once. Bill lines are stored per day, service and category."""
    prefs = team_prefs(deps, budget.team_id)
    today = prefs.today(deps.clock())
    context = bills.Context(prefs.zone, today, budget.currency, prefs.number_format)
    mapping, key = mapping_for(deps, budget), bills.FileKey()
    try:
        summary = bills.read_bill(lines, context=context, categorise=mapping.of_line, key=key)
    except budget_rules.MoneyError as exc:
        raise UserInputError(f"Nothing was imported: {exc}") from None
    if summary.error_count:
        more = summary.error_count - len(summary.errors)
        raise UserInputError(f"Nothing was imported from {summary.layout.label}. Fix these lines and import the file "
                             "again:\n" + "\n".join(f"• {e}" for e in summary.errors)
                             + (f"\n…and {more:,} more" if more > 0 else ""))
    factor, source = _conversion(summary, budget, rate)
    rows = [{"team_id": budget.team_id, "budget_id": budget.id, "day": day, "category": category,
             "amount": (amount * factor).quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP),
             "service": "" if bills.fold(service) in mapping.categories else service[:128], "lines": count,
             "note": redact(note).text[:200] if note else _note(summary.layout, count), "user_id": user_id}
            for (day, category, service, note), (amount, count) in summary.groups.items()]
    total = sum((r["amount"] for r in rows), Decimal(0))
    if any(abs(r["amount"]) >= budget_rules.MAX_AMOUNT for r in rows):
        raise UserInputError("Nothing was imported: the amounts add up to more than pmbot can keep "
                             f"({budget_rules.money(budget_rules.MAX_AMOUNT, budget.currency)} a day and service).")
    with session_scope(deps.engine) as session:
        batch = record_import(session, CostImport(
            team_id=budget.team_id, budget_id=budget.id, file_key=key.hexdigest(), rows=len(rows),
            format=summary.layout.key, lines=summary.lines, skipped=summary.skipped, unmapped=len(summary.unmapped),
            currency=source[1] if source else budget.currency, rate=rate.value if source and rate else None,
            user_id=user_id, created_at=deps.clock()))
        if batch is None:
            raise UserInputError("This file was imported before; nothing was added twice.")
        repeated = imported_days(session, budget_id=budget.id, format=summary.layout.key,
                                 days={r["day"] for r in rows})
        for row in rows:
            row.update(import_id=batch.id, created_at=batch.created_at)
        if rows:
            session.execute(insert(CostEntry), rows)
    extra = [f"{_dates(sorted(repeated)).replace('costs dated ', '')} already had costs from an earlier import of "
             f"{summary.layout.label}: if this file repeats them (a month-to-date export), `/cost undo import` takes "
             "this one back."] if repeated else []
    return Imported(summary.layout.label, summary.lines, len(rows), summary.skipped, sorted(summary.unmapped), total,
                    budget.currency, source, _out_of_period(budget, [g[0] for g in summary.groups], today), extra)


def undo_import(deps: Deps, budget: Budget, *, user_id: str) -> tuple[CostImport, Decimal]:
    """`/cost undo import`: take back your last import into this budget, all its lines."""
    with session_scope(deps.engine) as session:
        batch = last_import_by(session, budget_id=budget.id, user_id=user_id)
        if batch is None:
            raise UserInputError("You have no import here to undo.")
        total = remove_import(session, import_id=batch.id)
        session.expunge(batch)
    return batch, total


def _conversion(summary: bills.Summary, budget: Budget, rate: Rate | None) -> tuple[Decimal, tuple | None]:
    """One file, one currency: the budget's, or another with its rate given."""
    currencies = sorted(summary.currencies, key=summary.currencies.get)
    if len(currencies) > 1:
        raise UserInputError("Nothing was imported: one file holds one currency, this one has "
                             + ", ".join(f"{c} (from line {summary.currencies[c]})" for c in currencies)
                             + ". Split it by currency and import each with its rate.")
    if not currencies or currencies[0] == budget.currency:
        if rate and currencies and rate.currency != currencies[0]:
            raise UserInputError(f"Nothing was imported: the rate is for {rate.currency}, the file is in "
                                 f"{currencies[0]}.")
        return Decimal(1), None
    currency = currencies[0]
    if rate is None or rate.currency != currency:
        raise UserInputError(f"Nothing was imported: the file is in {currency}, the budget in {budget.currency}. "
                             f"Import it with its rate, e.g. `--rate {currency}=0.92` (one {currency} in "
                             f"{budget.currency}); the rate is recorded with the lines.")
    return rate.value, (summary.totals[currency], currency)


def _note(layout: bills.Layout, count: int) -> str:
    return f"{count:,} line{'s' * (count != 1)} of {layout.label}"[:200]


# --- the numbers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    """Seven days of costs by cost date, and the seven before them."""

    end: date  # inclusive
    spent: Decimal
    before: Decimal
    movers: list[tuple[str, Decimal]]  # the categories that changed most between the two

    @property
    def start(self) -> date:
        return self.end - timedelta(days=6)


@dataclass(frozen=True)
class Snapshot:
    budget: Budget
    today: date
    period: budget_rules.Period
    entries: list[budget_rules.Entry]
    spent: Decimal
    by_category: dict[str, Decimal]
    forecast: budget_rules.Forecast
    runs_out: date | None
    week: Week
    llm_note: str


def snapshot(deps: Deps, budget: Budget, today: date | None = None, *, week_end: date | None = None) -> Snapshot:
    """The budget's numbers as of `today`. The week compared is the seven days to `week_end` (today, or for the
    weekly report the day before it: the last whole week) against the seven before."""
    today = today or team_today(deps, budget.team_id)
    period = budget_rules.period_for(budget.period, today, project_start=budget.project_start,
                                     project_end=budget.project_end)
    end = min(today, period.end)
    week_end = week_end or today
    first = min(period.start, week_end - timedelta(days=13))
    known, llm_note = period_entries(deps, budget, first, max(end, week_end))
    counted = [e for e in known if period.start <= e.day <= end]
    total = budget_rules.spent(counted)
    return Snapshot(budget, today, period, counted, total, budget_rules.by_category(counted),
                    budget_rules.forecast(counted, period, today, budget.currency),
                    budget_rules.runs_out(counted, period, today, budget.amount), _week(known, week_end), llm_note)


def period_entries(deps: Deps, budget: Budget, start: date, end: date) -> tuple[list[budget_rules.Entry], str]:
    """The budget's spend from `start` to `end` (days, both included): its recorded costs and, in the team's first
    budget, pmbot's own priced LLM calls as `api`; and a note when some calls have no price. `/budget` and
    `/pmbot report` both count spend with it, so their figures agree."""
    with session_scope(deps.engine) as session:
        rows = entries(session, budget_id=budget.id, start=start, end=end)
        known = [budget_rules.Entry(r.day, r.category, r.amount) for r in rows]
        llm, llm_note = _llm_entries(deps, session, budget, start, end)
    return known + llm, llm_note


def _week(known: list[budget_rules.Entry], end: date) -> Week:
    start, before_start = end - timedelta(days=6), end - timedelta(days=13)
    this = [e for e in known if start <= e.day <= end]
    before = [e for e in known if before_start <= e.day < start]
    now, then = budget_rules.by_category(this), budget_rules.by_category(before)
    changes = {c: now.get(c, Decimal(0)) - then.get(c, Decimal(0)) for c in set(now) | set(then)}
    movers = sorted(((c, d) for c, d in changes.items() if budget_rules.cents(d)), key=lambda cd: abs(cd[1]),
                    reverse=True)[:3]
    return Week(end, budget_rules.spent(this), budget_rules.spent(before), movers)


def _llm_entries(deps: Deps, session, budget: Budget, start: date, end: date) -> tuple[list[budget_rules.Entry], str]:
    """The bot's own LLM calls, priced per model, as API spend in the team's first budget (counted once)."""
    if first_budget_id(session, team_id=budget.team_id) != budget.id:
        return [], ""
    prices = llm_prices(deps.settings.pmbot_llm_prices)
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    unpriced = set()
    for day, model, given, taken in llm_tokens_per_day(session, team_id=budget.team_id, start=start, end=end):
        price = prices.get(model)
        if price is None:
            unpriced.add(model)
            continue
        per_day[day] += (Decimal(given) * price[0] + Decimal(taken) * price[1]) / 1000
    cents = {day: amount.quantize(budget_rules.CENT, rounding=ROUND_HALF_UP) for day, amount in per_day.items()}
    found = [budget_rules.Entry(day, "api", amount) for day, amount in sorted(cents.items()) if amount > 0]
    note = f"pmbot's own LLM calls are counted as api ({', '.join(sorted(unpriced))} has no price in " \
           "PMBOT_LLM_PRICES and is left out)" if unpriced else ""
    return found, note


def status_text(snap: Snapshot) -> str:
    b, m = snap.budget, lambda amount: budget_rules.money(amount, snap.budget.currency)
    period = f"{snap.period.start:%d %b} – {snap.period.end:%d %b %Y}"
    week = snap.week
    days_in = max(1, (min(snap.today, snap.period.end) - snap.period.start).days + 1)
    lines = [f"*Budget {m(b.amount)}* for {period} · as of {snap.today:%d %b %Y}",
             f"Spent {m(snap.spent)} ({budget_rules.percent(snap.spent, b.amount)} of budget) · burn rate "
             f"{m(snap.spent / days_in)}/day",
             f"Week {week.start:%d %b} – {week.end:%d %b}: {m(week.spent)} · the week before: {m(week.before)}"]
    if snap.forecast.amount is not None:
        lines.append(f"Forecast at period end: {m(snap.forecast.amount)} "
                     f"({budget_rules.percent(snap.forecast.amount, b.amount)}) — {snap.forecast.method}"
                     + ("" if snap.forecast.reliable else f" · too early to rely on: {snap.forecast.rule}"))
    if snap.runs_out:
        lines.append(f"At this rate the budget runs out on {snap.runs_out:%a %d %b}.")
    for category, value in sorted(snap.by_category.items(), key=lambda kv: kv[1], reverse=True):
        cap = b.caps.get(category)
        capped = f" of {m(Decimal(cap))} cap ({budget_rules.percent(value, Decimal(cap))})" if cap else ""
        lines.append(f"• {category}: {m(value)}{capped}")
    if week.movers:
        lines.append("Biggest changes from the week before: " + ", ".join(
            f"{c} {'+' if d > 0 else '−'}{m(abs(d))}" for c, d in week.movers))
    if snap.llm_note:
        lines.append(f"_{snap.llm_note}_")
    return "\n".join(lines)


# --- alerts and reports ---------------------------------------------------------------------------------


def check_alerts(deps: Deps, budget: Budget, today: date | None = None) -> list[str]:
    """Store each threshold reached for the first time this period (total, caps, forecast) with its text, then
    post what is unposted; return the texts newly stored. Slack being down loses nothing: the hourly job posts
    what is left (`post_pending_alerts`)."""
    snap = snapshot(deps, budget, today)
    stored = [text for kind, scope, threshold, text in _alerts_due(snap)
              if _claim(deps, budget, snap.period.start, kind, scope, threshold, text)]
    post_alerts(deps, budget_id=budget.id)
    return list(dict.fromkeys(stored))  # 50 % and 75 % reached at once: one alert, the higher


def _alerts_due(snap: Snapshot) -> list[tuple[str, str, int, str]]:
    budget = snap.budget
    m = lambda amount: budget_rules.money(amount, budget.currency)  # noqa: E731
    due = []
    scopes = [("total", snap.spent, budget.amount)] + [
        (c, snap.by_category.get(c, Decimal(0)), Decimal(cap)) for c, cap in (budget.caps or {}).items()]
    for scope, value, limit in scopes:
        reached = budget_rules.crossed(value, limit)
        if reached:
            what = "the budget" if scope == "total" else f"the {scope} cap"
            text = (f"⚠️ Spend has reached {max(reached)}% of {what}: {m(value)} of {m(limit)} "
                    f"({snap.period.start:%d %b} – {snap.period.end:%d %b}).")
            due.extend(("actual", scope, t, text) for t in reached)
    forecast = snap.forecast
    # No forecast alert on too little data: see MIN_FORECAST_DAYS in bot.domain.budget.
    if forecast.reliable and forecast.amount is not None and forecast.amount >= budget.amount:
        due.append(("forecast", "total", 100, f"📈 The forecast for {snap.period.end:%d %b} is {m(forecast.amount)}, "
                                               f"over the budget of {m(budget.amount)}: {forecast.method}."))
    return due


def _claim(deps: Deps, budget: Budget, period_start: date, kind: str, scope: str, threshold: int, text: str) -> bool:
    """Store the alert, once per budget, period, scope, kind and threshold; `post_alerts` posts it."""
    with session_scope(deps.engine) as session:
        return claim_alert(session, BudgetAlert(
            budget_id=budget.id, period_start=period_start, scope=scope, kind=kind, threshold=threshold,
            text=text[:600], channel_id=budget.post_channel_id, created_at=deps.clock()))


def unposted_count(deps: Deps, budget_id: int) -> int:
    with session_scope(deps.engine) as session:
        return len(unposted_alerts(session, budget_id=budget_id, max_attempts=MAX_ALERT_ATTEMPTS))


class _Waiting(NamedTuple):
    id: int
    channel_id: str
    text: str
    group: tuple  # (budget, period, scope, kind): of one group only the highest threshold is posted
    threshold: int


# Slack's answers that another try will not change: the alert is given up at once (and logged).
_PERMANENT = {"channel_not_found", "is_archived", "not_in_channel", "account_inactive", "invalid_auth",
              "token_revoked", "team_not_found", "restricted_action"}


def post_alerts(deps: Deps, *, budget_id: int | None = None, budget_ids: list[int] | None = None) -> int:
    """Post the stored alerts Slack has not taken yet, each once; return how many went out. One Slack cannot take
    is tried again by the hourly job, up to MAX_ALERT_ATTEMPTS times, or given up at once when Slack says it
    never will (an archived channel)."""
    with session_scope(deps.engine) as session:
        waiting = [_Waiting(a.id, a.channel_id, a.text, (a.budget_id, a.period_start, a.scope, a.kind), a.threshold)
                   for a in unposted_alerts(session, budget_id=budget_id, max_attempts=MAX_ALERT_ATTEMPTS)
                   if budget_ids is None or a.budget_id in budget_ids]
    posted = 0
    for alert in _highest_only(waiting, deps):
        with session_scope(deps.engine) as session:
            if not take_alert(session, alert_id=alert.id, now=deps.clock()):
                continue  # another worker has it
        try:
            deps.slack.post_in_channel(alert.channel_id, text=alert.text)
            posted += 1
        except IntegrationUnavailable as exc:
            permanent = getattr(exc, "code", None) in _PERMANENT
            logger.warning("budget alert %s not posted (%s)%s", alert.id, exc,
                           "; given up" if permanent else "; the hourly job tries again")
            with session_scope(deps.engine) as session:
                release_alert(session, alert_id=alert.id, give_up=MAX_ALERT_ATTEMPTS if permanent else None)
    return posted


def _highest_only(waiting: list[_Waiting], deps: Deps) -> list[_Waiting]:
    """Of the unposted alerts of one budget, period, scope and kind only the highest threshold is worth posting;
    the lower ones are marked posted without a word (75 % is news; 50 % an hour later is noise)."""
    best: dict[tuple, _Waiting] = {}
    for alert in waiting:
        if alert.group not in best or alert.threshold > best[alert.group].threshold:
            best[alert.group] = alert
    for alert in waiting:
        if best[alert.group] is not alert:
            with session_scope(deps.engine) as session:
                take_alert(session, alert_id=alert.id, now=deps.clock())
    return sorted(best.values(), key=lambda a: a.id)


def post_report(deps: Deps, budget: Budget, today: date | None = None) -> str:
    """The weekly post: the chart with the summary as its message (the text alone when files cannot be shared).
    Its week is the last whole one: the seven days before the report's day."""
    today = today or team_today(deps, budget.team_id)
    snap = snapshot(deps, budget, today, week_end=today - timedelta(days=1))
    text = "📊 *Weekly budget report*\n" + status_text(snap)
    try:
        deps.slack.upload_in_channel(budget.post_channel_id, content=chart.budget_png(snap),
                                     filename=f"budget-{snap.today.isoformat()}.png",
                                     title=f"Budget {snap.today.isoformat()}", comment=text)
    except SlackError as exc:
        logger.warning("budget chart not shared (%s); posting the summary alone", exc.code)
        deps.slack.post_in_channel(budget.post_channel_id, text=text)
    return text
