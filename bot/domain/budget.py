"""Budget rules, pure: money as Decimal, periods, categories, forecasts, thresholds and cost CSVs."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CATEGORIES = ("compute", "data", "annotation", "api", "evaluation", "infra", "people")
THRESHOLDS = (50, 75, 90, 100)
DEFAULT_CURRENCY = "USD"
MAX_AMOUNT = Decimal("1000000000000")
CENT = Decimal("0.01")
# A forecast needs this much of the period behind it: a week of a month, or a fifth of a longer period.
# Two expensive days at the start of a month would otherwise "forecast" a blown budget and wake people.
MIN_FORECAST_DAYS = 7
MIN_FORECAST_SHARE = Decimal("0.2")
# An entry above this share of the period's spend (and of at least 3 entries) is a one-off: the daily rate is
# taken without it, and it is added once, so a single annual licence does not look like a new burn rate.
ONE_OFF_SHARE = Decimal("0.4")

# Cloud bills name services, not our categories.
SERVICE_CATEGORIES = {
    "amazon ec2": "compute", "ec2": "compute", "amazon sagemaker": "compute", "sagemaker": "compute",
    "compute engine": "compute", "google compute engine": "compute", "vertex ai": "compute",
    "azure machine learning": "compute", "virtual machines": "compute", "lambda labs": "compute",
    "coreweave": "compute", "runpod": "compute", "gpu": "compute",
    "amazon s3": "infra", "s3": "infra", "cloud storage": "infra", "aws lambda": "infra", "cloud run": "infra",
    "amazon cloudwatch": "infra", "kubernetes engine": "infra", "amazon eks": "infra", "datadog": "infra",
    "openai": "api", "anthropic": "api", "azure openai": "api", "amazon bedrock": "api", "bedrock": "api",
    "gemini api": "api", "cohere": "api", "mistral": "api",
    "scale ai": "annotation", "labelbox": "annotation", "mechanical turk": "annotation", "surge ai": "annotation",
    "bigquery": "data", "snowflake": "data", "amazon redshift": "data", "databricks": "data",
    "weights & biases": "evaluation", "langsmith": "evaluation", "braintrust": "evaluation",
}


class MoneyError(ValueError):
    """An amount, currency, date or file we cannot use; the message says what would work."""


def parse_amount(text: str) -> Decimal:
    """`1200`, `1,200.50`, `$1200`, `1.2k` → a positive Decimal rounded to cents."""
    raw = text.strip().replace("_", "")
    cleaned = re.sub(r"^[$€£¥]|[$€£¥]$", "", raw).replace(",", "")
    multiplier = Decimal(1)
    if cleaned[-1:].lower() in ("k", "m"):
        multiplier = Decimal(1000) if cleaned[-1].lower() == "k" else Decimal(1_000_000)
        cleaned = cleaned[:-1]
    if not re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        raise MoneyError(f"`{text}` is not an amount: write it like 1200 or 1,200.50.")
    try:
        value = (Decimal(cleaned) * multiplier).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise MoneyError(f"`{text}` is not an amount.") from None
    if value <= 0:
        raise MoneyError("An amount must be more than zero.")
    if value >= MAX_AMOUNT:
        raise MoneyError(f"`{text}` is too large an amount.")
    return value


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise MoneyError(f"`{text}` is not a currency code (USD, EUR, GBP…).")
    return code


def money(amount: Decimal, currency: str) -> str:
    """`12,345.60 USD`."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f} {currency}"


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
    reliable: bool  # enough of the period has passed to alert on it


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
        return Forecast(Decimal(0), "nothing spent yet", False)
    largest = max(entries, key=lambda e: e.amount)
    one_off = len(entries) >= 3 and largest.amount > ONE_OFF_SHARE * total
    recurring = total - largest.amount if one_off else total
    rate = (recurring / elapsed).quantize(CENT, rounding=ROUND_HALF_UP)
    amount = (total + rate * left).quantize(CENT, rounding=ROUND_HALF_UP)
    method = (f"{money(total, currency)} spent + {money(rate, currency)}/day × {left} days left "
              f"(the average of {elapsed} days")
    method += f", leaving out the one-off {money(largest.amount, currency)} on {largest.day:%d %b})" if one_off \
        else ")"
    reliable = elapsed >= MIN_FORECAST_DAYS or Decimal(elapsed) >= MIN_FORECAST_SHARE * period.days
    return Forecast(amount, method, reliable)


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
    day = today + timedelta(days=int((limit - total) / rate) + 1)
    return day if day <= period.end else None


# --- cost files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostRow:
    line: int
    day: date
    category: str
    amount: Decimal
    currency: str
    note: str


def file_key(content: str) -> str:
    """The same file (whatever its line endings or trailing blanks) always has the same key."""
    normalised = "\n".join(line.rstrip() for line in content.strip().splitlines())
    return hashlib.sha256(normalised.encode()).hexdigest()


def category_for(name: str, categories: tuple[str, ...] | list[str]) -> str | None:
    key = name.strip().lower()
    if key in categories:
        return key
    return SERVICE_CATEGORIES.get(key)


def parse_cost_csv(content: str, *, categories: list[str], currency: str, today: date) -> tuple[list[CostRow],
                                                                                                   list[str]]:
    """Rows of `date, category (or service), amount, currency, note`; errors name the line. A header is
    optional; the currency must be the budget's."""
    rows: list[CostRow] = []
    errors: list[str] = []
    reader = csv.reader(io.StringIO(content.strip()))
    for number, fields in enumerate(reader, start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        if number == 1 and fields[0].strip().lower() in ("date", "day"):
            continue  # the header
        if len(fields) < 3:
            errors.append(f"line {number}: needs at least date, category and amount")
            continue
        try:
            rows.append(_cost_row(number, fields, categories, currency, today))
        except MoneyError as exc:
            errors.append(f"line {number}: {exc}")
    if not rows and not errors:
        errors.append("the file has no cost lines")
    return rows, errors


def _cost_row(number: int, fields: list[str], categories: list[str], currency: str, today: date) -> CostRow:
    day = parse_day(fields[0], today=today)
    category = category_for(fields[1], categories)
    if category is None:
        raise MoneyError(f"`{fields[1].strip()}` is neither a category ({', '.join(categories)}) nor a service "
                         "I know")
    amount = parse_amount(fields[2])
    row_currency = parse_currency(fields[3]) if len(fields) > 3 and fields[3].strip() else currency
    if row_currency != currency:
        raise MoneyError(f"the amount is in {row_currency}, the budget in {currency}")
    note = fields[4].strip()[:200] if len(fields) > 4 else ""
    return CostRow(number, day, category, amount, row_currency, note)


def parse_day(text: str, *, today: date) -> date:
    value = text.strip().lower()
    if value in ("today", ""):
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise MoneyError(f"`{text.strip()}` is not a date like 2026-11-28.") from None
    if day > today:
        raise MoneyError(f"{day.isoformat()} is in the future.")
    return day
