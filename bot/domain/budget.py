"""Budget rules, pure: money as exact Decimals in the team's number format, periods, forecasts, thresholds, days."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CATEGORIES = ("compute", "data", "annotation", "api", "evaluation", "infra", "people")
THRESHOLDS = (50, 75, 90, 100)
DEFAULT_CURRENCY = "USD"
MAX_AMOUNT = Decimal("1000000000000")
CENT = Decimal("0.01")
# A forecast needs a week of costs behind it (from the period's first cost to today): two expensive days would
# otherwise "forecast" a blown budget and wake people, and a quarter with costs since October is not "too early".
MIN_FORECAST_DAYS = 7
# An entry above this share of the period's spend (and of at least 3 entries) is a one-off: the daily rate is
# taken without it, and it is added once, so a single annual licence does not look like a new burn rate.
ONE_OFF_SHARE = Decimal("0.4")


class MoneyError(ValueError):
    """An amount, currency, date or file we cannot use; the message says what would work."""


# How a team writes numbers (`/pmbot settings`): thousands separator, decimal mark, and an example with and
# without the separator.
NUMBER_FORMATS = {"en": (",", ".", "1,234.56", "1234.56"), "de": (".", ",", "1.234,56", "1234,56")}
_SYMBOLS = re.compile(r"^[$€£¥]|[$€£¥]$")
MAX_DECIMALS = 10


def parse_amount(text: str, *, number_format: str = "en", signed: bool = False) -> Decimal:
    """`1200`, `1,200.50`, `$1200`, `1.2k`, `0.0042` → the exact Decimal (kept to 10 decimals; only totals are
    rounded, for display). `1.234,56` is read in a team that writes numbers that way and asked about in one
    that does not: a number is never silently misread. `signed` allows credits (`-250`)."""
    raw = _SYMBOLS.sub("", text.strip().replace("_", "").replace("\u2212", "-"))
    negative = raw.startswith("-")
    raw = raw[1:] if negative else raw
    raw = _SYMBOLS.sub("", raw)
    multiplier = Decimal(1)
    if raw[-1:].lower() in ("k", "m"):
        multiplier = Decimal(1000) if raw[-1].lower() == "k" else Decimal(1_000_000)
        raw = raw[:-1]
    value = _number(text.strip(), raw, number_format) * multiplier
    if negative and not signed:
        raise MoneyError("An amount must be more than zero.")
    value = -value if negative else value
    if value == 0 and not signed:
        raise MoneyError("An amount must be more than zero.")
    if abs(value) >= MAX_AMOUNT:
        raise MoneyError(f"`{text.strip()}` is too large an amount.")
    if -value.as_tuple().exponent > MAX_DECIMALS:
        value = value.quantize(Decimal(1).scaleb(-MAX_DECIMALS), rounding=ROUND_HALF_UP)
    return value


def _number(shown: str, raw: str, number_format: str) -> Decimal:
    """Digits with the team's separators → Decimal; anything another format would read differently is asked."""
    group, point, example, plain = NUMBER_FORMATS.get(number_format, NUMBER_FORMATS["en"])
    if not re.fullmatch(r"[\d.,]*\d[\d.,]*", raw):
        raise MoneyError(f"`{shown}` is not an amount: write it like {example} or 1200.")
    whole, _, decimals = raw.rpartition(point) if point in raw else (raw, "", "")
    if point in raw and raw.count(point) > 1 or group in decimals:
        raise _ask(shown, example, plain)
    if group in whole and not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})+", whole):
        raise _ask(shown, example, plain)
    if whole and whole[0] == "0" and group in whole:
        raise _ask(shown, example, plain)
    digits = whole.replace(group, "") + ("." + decimals if decimals else "")
    if point not in raw and digits == "":
        raise MoneyError(f"`{shown}` is not an amount: write it like {example} or 1200.")
    try:
        return Decimal(digits or "0")
    except InvalidOperation:
        raise MoneyError(f"`{shown}` is not an amount.") from None


def _ask(shown: str, example: str, plain: str) -> MoneyError:
    return MoneyError(f"I am not sure how to read `{shown}`: this team writes amounts like {example} "
                      f"(`/pmbot settings` changes that). Type it again without thousands separators, like "
                      f"{plain} — nothing was recorded.")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise MoneyError(f"`{text}` is not a currency code (USD, EUR, GBP…).")
    return code


def money(amount: Decimal, currency: str) -> str:
    """`12,345.60 USD`: a total, rounded to the cent for display."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f} {currency}"


def money_exact(amount: Decimal, currency: str) -> str:
    """One entry as recorded: `0.0042 USD` stays 0.0042, `1,200.50 USD` has its cents."""
    if amount == amount.quantize(CENT):
        return money(amount, currency)
    whole, _, decimals = format(abs(amount).normalize(), "f").partition(".")
    return f"{'-' if amount < 0 else ''}{int(whole):,}.{decimals} {currency}"


# --- periods --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def period_for(kind: str, day: date, *, project_start: date | None = None, project_end: date | None = None) -> Period:
    """The period of a budget that holds `day`: its month, its quarter, or the project's dates."""
    if kind == "month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return Period(start, following - timedelta(days=1))
    if kind == "quarter":
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = date(day.year, first_month, 1)
        following = date(day.year + (first_month + 3 > 12), (first_month + 2) % 12 + 1, 1)
        return Period(start, following - timedelta(days=1))
    if kind == "project" and project_start and project_end:
        return Period(project_start, project_end)
    raise MoneyError(f"Unknown budget period `{kind}`.")


# --- spend, forecast, thresholds -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    day: date
    category: str
    amount: Decimal


@dataclass(frozen=True)
class Forecast:
    amount: Decimal | None
    method: str
    reliable: bool  # enough days of costs to alert on it
    rule: str = ""  # why it is not reliable yet, in one line


def spent(entries: list[Entry]) -> Decimal:
    return sum((e.amount for e in entries), Decimal(0))


def by_category(entries: list[Entry]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        totals[entry.category] += entry.amount
    return dict(totals)


def forecast(entries: list[Entry], period: Period, today: date, currency: str) -> Forecast:
    """Spend at the period's end: what is spent, plus the daily rate (without a one-off) for the days left."""
    elapsed = max(1, min(period.days, (today - period.start).days + 1))
    left = period.days - elapsed
    total = spent(entries)
    if not entries:
        return Forecast(Decimal(0), "nothing spent yet", False, f"a forecast needs {MIN_FORECAST_DAYS} days of costs")
    largest = max(entries, key=lambda e: e.amount)
    one_off = len(entries) >= 3 and largest.amount > ONE_OFF_SHARE * total
    recurring = total - largest.amount if one_off else total
    rate = (recurring / elapsed).quantize(CENT, rounding=ROUND_HALF_UP)
    amount = (total + rate * left).quantize(CENT, rounding=ROUND_HALF_UP)
    method = (f"{money(total, currency)} spent + {money(rate, currency)}/day × {left} days left "
              f"(the average of {elapsed} days")
    method += f", leaving out the one-off {money(largest.amount, currency)} on {largest.day:%d %b})" if one_off \
        else ")"
    days_of_data = (min(today, period.end) - min(e.day for e in entries)).days + 1
    rule = f"a forecast needs {MIN_FORECAST_DAYS} days of costs, this period has {days_of_data}"
    return Forecast(amount, method, days_of_data >= MIN_FORECAST_DAYS, rule)


def crossed(spent_amount: Decimal, limit: Decimal) -> list[int]:
    """The alert thresholds (percent of `limit`) that `spent_amount` has reached."""
    if limit <= 0:
        return []
    share = spent_amount * 100 / limit
    return [t for t in THRESHOLDS if share >= t]


def percent(part: Decimal, whole: Decimal) -> str:
    return f"{(part * 100 / whole).quantize(Decimal('1'), rounding=ROUND_HALF_UP)}%" if whole > 0 else "—"


def runs_out(entries: list[Entry], period: Period, today: date, limit: Decimal) -> date | None:
    """The day spend reaches the budget at the current daily rate, if that falls inside the period."""
    total = spent(entries)
    if total >= limit:
        return today
    elapsed = max(1, (today - period.start).days + 1)
    rate = total / elapsed
    if rate <= 0:
        return None
    days = int((limit - total) / rate) + 1
    # Compared in days before a date is made: a sub-cent rate would put the day past the year 9999.
    return today + timedelta(days=days) if days <= (period.end - today).days else None


# --- days -----------------------------------------------------------------------------------------------


def parse_day(text: str, *, today: date, zone: tzinfo | None = None) -> date:
    """`2026-11-28`, `today`, `yesterday`, or an ISO timestamp (`2026-11-01T00:00:00Z`, `…+01:00`), which lands on
    the team's local day. Days outside the budget's period are the caller's to warn about."""
    value = text.strip()
    lowered = value.lower()
    if lowered in ("today", ""):
        return today
    if lowered == "yesterday":
        return today - timedelta(days=1)
    if len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is None or zone is None:
                return moment.date()
            return moment.astimezone(zone).date()
    raise MoneyError(f"`{value[:40]}` is not a date like 2026-11-28 or 2026-11-28T00:00:00Z.")
