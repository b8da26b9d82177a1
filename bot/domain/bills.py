"""Cost files as teams have them: pmbot's own CSV, and the bills cloud and model providers export.

The layout is recognised from the header row (or the JSON's shape); each reader turns its rows into
`BillLine`s — a local day, a service as the bill names it, an exact amount, a currency — streamed, so a
million-line Cost and Usage Report needs no more memory than its distinct days × services. `summarise` adds
them up per day, service and category, skipping zero lines and naming every line it cannot read.

Column names are the providers' published ones (see tests/data/bills/LAYOUTS.md for the sources).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from bot.domain.budget import MAX_AMOUNT, MoneyError, parse_amount, parse_currency, parse_day
from bot.domain.text import strip_controls, strip_controls_in

UNMAPPED = "unmapped"
MAX_ERRORS = 20
# The cost APIs' JSON is read whole (a month of daily buckets is well under 1 MB); a bigger file is refused.
MAX_JSON_CHARS = 64 * 1024**2

# --- services → categories ------------------------------------------------------------------------------

# Good defaults, by the names bills use: CUR product codes, Cost Explorer and console service names, GCP
# service descriptions, Azure meter categories, model APIs. A team changes any of them with `/cost map`.
DEFAULT_SERVICES: dict[str, str] = {
    # AWS: CUR product codes, product names, Cost Explorer names
    "amazonec2": "compute", "amazon ec2": "compute", "ec2": "compute", "ec2-instances": "compute",
    "amazon elastic compute cloud": "compute", "amazon elastic compute cloud - compute": "compute",
    "amazonsagemaker": "compute", "amazon sagemaker": "compute", "sagemaker": "compute",
    "awslambda": "infra", "aws lambda": "infra", "lambda": "infra",
    "ec2-other": "infra", "ec2 - other": "infra", "amazon elastic block store": "infra",
    "amazons3": "data", "amazon s3": "data", "s3": "data", "amazon simple storage service": "data",
    "amazonbedrock": "api", "amazon bedrock": "api", "bedrock": "api",
    "amazoncloudwatch": "infra", "amazon cloudwatch": "infra", "cloudwatch": "infra",
    "awsdatatransfer": "infra", "aws data transfer": "infra", "data transfer": "infra",
    "amazonvpc": "infra", "amazon virtual private cloud": "infra", "amazoneks": "infra",
    "amazon elastic kubernetes service": "infra", "amazon eks": "infra", "amazonecr": "infra",
    "amazon ec2 container registry (ecr)": "infra", "amazon elastic container registry": "infra",
    "amazonecs": "infra", "amazon elastic container service": "infra", "awselb": "infra",
    "elastic load balancing": "infra", "amazonroute53": "infra", "amazon route 53": "infra",
    "awskms": "infra", "aws key management service": "infra", "awssecretsmanager": "infra",
    "aws secrets manager": "infra", "awscloudtrail": "infra", "aws cloudtrail": "infra",
    "amazonrds": "data", "amazon relational database service": "data", "relational database service": "data",
    "amazondynamodb": "data", "amazon dynamodb": "data", "dynamodb": "data", "amazonredshift": "data",
    "amazon redshift": "data", "amazonathena": "data", "amazon athena": "data", "awsglue": "data",
    "aws glue": "data", "amazonkinesis": "data", "amazon kinesis": "data", "amazonopensearchservice": "data",
    "amazon opensearch service": "data", "amazonefs": "data", "amazon elastic file system": "data",
    "amazonmturk": "annotation", "amazon mechanical turk": "annotation", "mechanical turk": "annotation",
    "amazonsagemakergroundtruth": "annotation", "sagemaker ground truth": "annotation",
    "tax": "infra",
    # Google Cloud
    "compute engine": "compute", "google compute engine": "compute", "vertex ai": "compute",
    "cloud tpu": "compute", "cloud storage": "data", "bigquery": "data", "cloud sql": "data",
    "cloud run": "infra", "cloud functions": "infra", "kubernetes engine": "infra", "networking": "infra",
    "cloud logging": "infra", "cloud monitoring": "infra", "artifact registry": "infra",
    "gemini api": "api", "generative language api": "api", "cloud natural language api": "api",
    # Azure meter categories and services
    "virtual machines": "compute", "azure machine learning": "compute", "machine learning": "compute",
    "azure openai": "api", "azure openai service": "api", "cognitive services": "api", "foundry models": "api",
    "azure ai services": "api", "storage": "data", "azure blob storage": "data", "bandwidth": "infra",
    "azure kubernetes service": "infra", "azure monitor": "infra", "log analytics": "infra",
    "container registry": "infra", "virtual network": "infra", "load balancer": "infra",
    "azure cosmos db": "data", "sql database": "data", "azure databricks": "data",
    # Model APIs and others teams pay
    "openai": "api", "anthropic": "api", "cohere": "api", "mistral": "api", "gemini": "api",
    "lambda labs": "compute", "coreweave": "compute", "runpod": "compute", "gpu": "compute",
    "scale ai": "annotation", "labelbox": "annotation", "surge ai": "annotation",
    "snowflake": "data", "databricks": "data",
    "weights & biases": "evaluation", "wandb": "evaluation", "langsmith": "evaluation", "braintrust": "evaluation",
    "datadog": "infra",
}


def fold(name: str) -> str:
    """The key a service name is known by: case, spacing and a `($)` column suffix do not matter."""
    name = re.sub(r"\s*\((?:\$|usd|eur|gbp)\)\s*$", "", name.strip(), flags=re.I)
    return re.sub(r"\s+", " ", name).lower()[:128]


def default_category(service: str) -> str | None:
    return DEFAULT_SERVICES.get(fold(service))


# --- lines -----------------------------------------------------------------------------------------


class BillLine(NamedTuple):  # a tuple: a million of them are made and dropped in a big import
    line: int
    day: date
    service: str  # as the bill names it
    amount: Decimal  # in `currency`; negative for credits and refunds
    currency: str
    note: str = ""
    alias: str = ""  # a second name to map by (a CUR product code beside its product name)


class LineError(NamedTuple):
    line: int
    message: str


Row = tuple[int, list[str]]
Reader = Callable[[Iterator[Row], list[str], "Context"], Iterator["BillLine | LineError"]]


@dataclass(frozen=True)
class Context:
    zone: tzinfo
    today: date
    currency: str  # the budget's, for files that do not say
    number_format: str = "en"  # the team's, for amounts in pmbot's own layout (people type those)


@dataclass(frozen=True)
class Layout:
    key: str
    label: str  # "an AWS Cost and Usage Report"
    needs: tuple[str, ...]  # header names that identify it (folded)
    read: Reader | None  # None: a JSON layout, read by `_json_bill`
    default_category: str | None = None  # for services nobody mapped (a model API bill is all "api")
    keep_notes: bool = False  # a person's own lines keep their notes; a bill's lines are summed per service


# --- small readers' helpers ------------------------------------------------------------------------


def _cell(fields: list[str], index: int | None) -> str:
    return fields[index].strip() if index is not None and index < len(fields) else ""


def _columns(header: list[str]) -> dict[str, int]:
    return {fold(h.lstrip("\ufeff")): i for i, h in enumerate(header)}


def _first(columns: dict[str, int], *names: str) -> int | None:
    """The first of `names` the header has; a name ending in `(` matches any currency suffix (`cost (€)`)."""
    for name in names:
        if name in columns:
            return columns[name]
        if name.endswith("("):
            found = next((i for column, i in columns.items() if column.startswith(name)), None)
            if found is not None:
                return found
    return None


class _Days(dict):
    """Bill dates → days, remembered (a CUR has few distinct start times; `days[cell]` is a dict lookup).

    A timestamp at midnight (`2026-11-01T00:00:00Z`) is the start of a provider's billing day or month, which
    providers count in UTC: it stays on the day it names, or November's credits would land on 31 October for a
    team west of UTC. Any other time lands on the team's local day."""

    def __init__(self, context: Context, *, us_dates: bool = False):
        super().__init__()
        self.zone, self.today, self.us_dates = context.zone, context.today, us_dates

    def __missing__(self, text: str) -> date:
        day = self[text] = self._read(text)
        return day

    def _read(self, text: str) -> date:
        value = text.strip()
        if not value:
            raise MoneyError("the date is empty")
        if self.us_dates and (found := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)):
            return date(int(found[3]), int(found[1]), int(found[2]))
        if found := re.fullmatch(r"(\d{4})(\d{2})(\d{2})", value):  # Azure's query API writes 20261103
            return date(int(found[1]), int(found[2]), int(found[3]))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", value):
            value += "Z"  # bills write UTC; a timestamp without an offset is UTC too
        value = re.sub(r"\s*UTC$", "Z", value)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]00:00(:00(\.0+)?)?(Z|[+-]\d{2}:?\d{2})", value):
            return parse_day(value[:10], today=self.today)
        return parse_day(value, today=self.today, zone=self.zone)


_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _money(text: str) -> Decimal:
    """A bill's amount: digits with a `.`, maybe signed or in exponent form (`1.2E-7`), `1,234.56` with its
    thousands; empty is zero. A comma that is not a thousands separator (`12,50`) is an error, not 1250."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        cleaned = text.strip()
        if _THOUSANDS.fullmatch(cleaned):
            cleaned = cleaned.replace(",", "")
        try:
            value = Decimal(cleaned) if cleaned else Decimal(0)
        except InvalidOperation:
            raise MoneyError(f"`{text.strip()[:40]}` is not an amount") from None
    if not value.is_finite() or abs(value) >= MAX_AMOUNT:
        raise MoneyError(f"`{text.strip()[:40]}` is not an amount I can use")
    return value


def _line(number: int, make: Callable[[], BillLine]) -> BillLine | LineError:
    try:
        return make()
    except (MoneyError, ValueError) as exc:
        return LineError(number, str(exc))
    except (AttributeError, TypeError):
        return LineError(number, "a value of the wrong kind (a text where a number or an object belongs)")


# --- the layouts -------------------------------------------------------------------------------------


def _read_pmbot(rows: Iterator[Row], _header: list[str], context: Context) -> Iterator[BillLine | LineError]:
    """`date, category (or service), amount, currency, note`, with or without that header."""
    days = _Days(context)
    for number, fields in rows:
        if len(fields) < 3:
            yield LineError(number, "needs at least date, category and amount")
            continue

        def make(fields=fields, number=number) -> BillLine:
            amount = parse_amount(fields[2], number_format=context.number_format, signed=True)
            currency = parse_currency(fields[3]) if len(fields) > 3 and fields[3].strip() else context.currency
            return BillLine(number, days[fields[0]], fields[1].strip()[:128], amount, currency,
                            note=fields[4].strip()[:200] if len(fields) > 4 else "")
        yield _line(number, make)


def _pick(fields: list[str], indexes: list[int]) -> str:
    """The first non-empty of these cells."""
    for i in indexes:
        if value := fields[i].strip():
            return value
    return ""


def _per_row(date_cols: tuple[str, ...], service_cols: tuple[str, ...], cost_cols: tuple[str, ...],
             currency_cols: tuple[str, ...], *, us_dates: bool = False,
             alias_cols: tuple[str, ...] = (), kind_col: str = "", credits_col: str = "",
             summary_kinds: tuple[str, ...] = (), scale: Decimal = Decimal(1)) -> Reader:
    """A reader for the layouts with one cost per row, by their column names."""

    def read(rows: Iterator[Row], header: list[str], context: Context) -> Iterator[BillLine | LineError]:
        columns = _columns(header)
        when, cost = _first(columns, *date_cols), _first(columns, *cost_cols)
        if when is None or cost is None:
            raise MoneyError(f"the file has no {'date' if when is None else 'cost'} column I know")
        credits_at = columns.get(credits_col) if credits_col else None
        services = [columns[c] for c in service_cols if c in columns]
        aliases = [columns[c] for c in alias_cols if c in columns]
        currencies = [i for i in [_first(columns, *currency_cols)] if i is not None]
        kind_at = columns.get(kind_col)
        used = [i for i in (when, cost, credits_at, kind_at, *services, *aliases, *currencies) if i is not None]
        width, days, scaled = max(used) + 1, _Days(context, us_dates=us_dates), scale != 1
        pad = [""] * width
        for number, fields in rows:  # the hot loop of a million-line bill: plain indexing, few calls
            if len(fields) < width:
                fields = fields + pad
            kind = fields[kind_at].strip().lower() if kind_at is not None else ""
            if kind and kind in summary_kinds:
                continue  # a total or rounding row: the lines are counted, not their sum again
            try:
                amount = _money(fields[cost])
                if scaled:
                    amount *= scale
                if credits_at is not None:
                    amount += _credits(fields[credits_at])
                service, alias = _pick(fields, services), _pick(fields, aliases)
                if kind == "tax":
                    service, alias = "Tax", ""
                currency = _pick(fields, currencies).upper() or context.currency
                line = BillLine(number, days[fields[when]], service or "(no service)", amount, currency, "", alias)
            except (MoneyError, ValueError) as exc:
                yield LineError(number, str(exc))
                continue
            yield line

    return read


def _read_cost_explorer(rows: Iterator[Row], header: list[str], context: Context
                        ) -> Iterator[BillLine | LineError]:
    """One column per service (`EC2-Instances($)`), a `Service total` row, a row per day; the total column
    is the sum of the others and is left out."""
    services = [(i, re.sub(r"\s*\(\$\)\s*$", "", name.strip())) for i, name in enumerate(header)
                if i > 0 and not fold(name).startswith("total cost")]
    days = _Days(context)
    for number, fields in rows:
        if fold(_cell(fields, 0)) in ("service total", "total"):
            continue
        try:
            day = days[_cell(fields, 0)]
        except MoneyError as exc:
            yield LineError(number, str(exc))
            continue
        found = 0
        for index, name in services:
            try:
                amount = _money(_cell(fields, index))
            except MoneyError as exc:
                yield LineError(number, f"{exc} (column {name})")
                found += 1
                continue
            if amount:  # an empty or zero cell is no cost, not a line
                found += 1
                yield BillLine(number, day, name, amount, "USD")  # Cost Explorer's CSV is in USD: `($)`
        if not found:
            yield BillLine(number, day, "(no service)", Decimal(0), "USD")  # a day without cost: counted, skipped


def _credits(text: str) -> Decimal:
    """GCP's `credits` cell: a JSON array of `{name, amount}`; their sum (negative)."""
    if not text.strip() or text.strip() in ("[]", "null"):
        return Decimal(0)
    try:
        items = json.loads(text)
        return sum((Decimal(str(item.get("amount") or 0)) for item in items), Decimal(0))
    except (ValueError, TypeError, AttributeError, InvalidOperation):
        raise MoneyError(f"`{text[:40]}` is not a credits list") from None


CUR_LEGACY = Layout(
    "aws-cur", "an AWS Cost and Usage Report",
    ("lineitem/unblendedcost", "lineitem/usagestartdate"),
    _per_row(("lineitem/usagestartdate",), ("product/productname", "lineitem/productcode"),
             ("lineitem/unblendedcost",), ("lineitem/currencycode",),
             alias_cols=("lineitem/productcode",), kind_col="lineitem/lineitemtype"))
CUR_2 = Layout(
    "aws-cur2", "an AWS Cost and Usage Report (CUR 2.0)",
    ("line_item_unblended_cost", "line_item_usage_start_date"),
    _per_row(("line_item_usage_start_date",), ("product_product_name", "line_item_product_code"),
             ("line_item_unblended_cost",), ("line_item_currency_code",),
             alias_cols=("line_item_product_code",), kind_col="line_item_line_item_type"))
COST_EXPLORER = Layout("aws-cost-explorer", "an AWS Cost Explorer export", ("service",), _read_cost_explorer)
GCP_COST_TABLE = Layout(
    "gcp-billing", "a Google Cloud cost table export",
    ("service description", "sku description", "usage start date"),
    _per_row(("usage start date",), ("service description",),
             ("unrounded cost", "unrounded cost (", "cost", "cost ("), (), alias_cols=("service id",),
             kind_col="cost type", summary_kinds=("rounding error", "total")))
GCP_BIGQUERY = Layout(
    "gcp-billing-bigquery", "a Google Cloud billing export (BigQuery)",
    ("service.description", "cost", "usage_start_time"),
    _per_row(("usage_start_time",), ("service.description",), ("cost",), ("currency",),
             alias_cols=("service.id",), credits_col="credits",
             kind_col="cost_type"))
AZURE = Layout(
    "azure", "an Azure cost export",
    ("date", "costinbillingcurrency"),
    _per_row(("date",), ("metercategory", "servicename", "productordername", "productname"),
             ("costinbillingcurrency",), ("billingcurrencycode", "billingcurrency"), us_dates=True,
             alias_cols=("servicefamily",)))
AZURE_LEGACY = Layout(
    "azure-legacy", "an Azure cost export (older schema)",
    ("pretaxcost",),
    _per_row(("usagedatetime", "usagedate", "date"), ("metercategory", "servicename", "consumedservice"),
             ("pretaxcost",), ("currency",), us_dates=True))
FOCUS = Layout(
    "focus", "a FOCUS cost export",
    ("billedcost", "chargeperiodstart", "billingcurrency"),
    _per_row(("chargeperiodstart",), ("servicename",), ("billedcost",), ("billingcurrency",)))
PMBOT = Layout("pmbot", "a pmbot cost file", ("date",), _read_pmbot, keep_notes=True)

# Most specific first: a header is taken by the first layout whose columns it has.
CSV_LAYOUTS = (CUR_LEGACY, CUR_2, GCP_BIGQUERY, GCP_COST_TABLE, AZURE, AZURE_LEGACY, FOCUS, COST_EXPLORER, PMBOT)
KNOWN = ("pmbot's own (date, category or service, amount, currency, note); AWS Cost and Usage Report (legacy and "
         "2.0); AWS Cost Explorer CSV; Google Cloud billing export (cost table or BigQuery); Azure cost export "
         "(actual or amortized); FOCUS; the OpenAI and Anthropic cost APIs' JSON")


def layout_of(header: list[str]) -> Layout | None:
    """The layout a header row belongs to, or None."""
    names = {fold(h.lstrip("\ufeff")) for h in header}
    if fold(header[0].lstrip("\ufeff")) in ("date", "day") and len(header) <= 6:
        return PMBOT
    # Cost Explorer's first header cell is "Service" and the others end in "($)".
    for layout in CSV_LAYOUTS:
        if layout is COST_EXPLORER:
            if fold(header[0].lstrip("\ufeff")) == "service" and any(h.strip().endswith("($)") for h in header):
                return layout
            continue
        if all(n in names for n in layout.needs):
            return layout
    return None


# --- reading a whole file ---------------------------------------------------------------------------


@dataclass
class Summary:
    """What a file holds, added up: one group per (day, category, service)."""

    layout: Layout
    lines: int = 0
    skipped: int = 0  # zero-cost lines
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    groups: dict[tuple[date, str, str, str], list] = field(default_factory=dict)  # (day, category, service,
    # note) → [amount, lines]
    currencies: dict[str, int] = field(default_factory=dict)  # currency → first line
    unmapped: set[str] = field(default_factory=set)
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    last_line: int = -1
    categories: dict[tuple[str, str], str] = field(default_factory=dict)  # (service, alias) → category, remembered

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"line {line}: {message}")


class FileKey:
    """The same file (whatever its line endings, trailing blanks or surrounding empty lines) has the same key,
    computed while the file streams past."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._blank = 0
        self._started = False

    def lines(self, lines: Iterable[str]) -> Iterator[str]:
        """Pass the lines through, hashing each as it goes (the same normalisation as `add`, inlined: this runs
        once per line of a million-line bill)."""
        update = self._hash.update
        for line in lines:
            text = line.rstrip()
            if text and self._started and not self._blank:
                update(b"\n" + text.encode())
            else:
                self.add(line)
            yield line

    def add(self, line: str) -> None:
        text = line.rstrip()
        if not text:
            self._blank += self._started
            return
        if self._started:
            self._hash.update(b"\n" * (self._blank + 1))
        else:
            text = text.lstrip()
        self._hash.update(text.encode())
        self._started, self._blank = True, 0

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def file_key(content: str) -> str:
    key = FileKey()
    for line in content.splitlines():
        key.add(line)
    return key.hexdigest()


def read_bill(lines: Iterable[str], *, context: Context, categorise: Callable[[BillLine, Layout], str],
              key: FileKey | None = None) -> Summary:
    """Stream a cost file (CSV lines, or one JSON document) into a Summary. `categorise` names each line's
    category (the team's mapping, the defaults, or UNMAPPED). Raises MoneyError for a file that is no layout
    it knows, naming the ones it does."""
    try:
        return _read_bill(lines, context, categorise, key or FileKey())
    except csv.Error as exc:
        raise MoneyError(f"the file is not CSV I can read ({exc})") from None
    except UnicodeDecodeError:
        raise MoneyError("the file is not UTF-8 text: export it again as CSV (UTF-8)") from None


def _read_bill(lines: Iterable[str], context: Context, categorise: Callable[[BillLine, Layout], str],
               key: FileKey) -> Summary:
    stream = key.lines(lines)
    first = next((line for line in stream if line.strip()), None)
    if first is None:
        raise MoneyError("the file has no cost lines")
    if first.lstrip("\ufeff \t").startswith(("{", "[")):
        return _json_bill(first + _bounded(stream, MAX_JSON_CHARS), context, categorise)
    rows = _rows(first, stream)
    layout, header, rows, preamble = _find_header(rows)
    if preamble.get("currency"):  # a cost table names its currency above the header
        context = Context(context.zone, context.today, preamble["currency"].strip().upper()[:3], context.number_format)
    summary = Summary(layout)
    for item in layout.read(rows, header, context):
        _count(summary, item, layout, categorise)
    if not summary.lines and not summary.error_count:
        raise MoneyError("the file has no cost lines")
    return summary


PREAMBLE_ROWS = 20


def _find_header(rows: Iterator[Row]) -> tuple[Layout, list[str], Iterator[Row], dict[str, str]]:
    """The header row (after up to 20 preamble rows such as a cost table's `Currency,USD`), or pmbot's own layout
    when the first row is already a cost line."""
    preamble: dict[str, str] = {}
    first: list[str] | None = None
    for _ in range(PREAMBLE_ROWS):
        found = next(rows, None)
        if found is None:
            break
        number, header = found
        first = first or header
        if layout := layout_of(header):
            return layout, header, rows, preamble
        if not preamble and _looks_like_date(header[0]):
            return PMBOT, [], _prepend(found, rows), preamble
        if len(header) >= 2:
            preamble[fold(header[0])] = header[1]
    shown = ", ".join(f"`{h.strip()[:40]}`" for h in (first or [])[:5])
    raise MoneyError(f"I do not know this file's layout (its first columns: {shown}). I read: {KNOWN}.")


def _count(summary: Summary, item: BillLine | LineError, layout: Layout,
           categorise: Callable[[BillLine, Layout], str]) -> None:
    if item.line != summary.last_line:  # a Cost Explorer row holds many services: it is one line
        summary.lines += 1
        summary.last_line = item.line
    if isinstance(item, LineError):
        summary.error(item.line, item.message)
        return
    if not item.amount:
        summary.skipped += 1
        return
    if item.currency not in summary.currencies:
        summary.currencies[item.currency] = item.line
    named = (item.service, item.alias)
    category = summary.categories.get(named)
    if category is None:
        category = summary.categories[named] = categorise(item, layout)
    if category == UNMAPPED:
        summary.unmapped.add(item.service)
    key = (item.day, category, item.service, item.note if layout.keep_notes else "")
    group = summary.groups.get(key)
    if group is None:
        summary.groups[key] = [item.amount, 1]
    else:
        group[0] += item.amount
        group[1] += 1
    summary.totals[item.currency] += item.amount


def _rows(first: str, stream: Iterator[str]) -> Iterator[Row]:
    """CSV rows with their line numbers (a quoted field may span lines); blank rows are passed over. Control
    characters are stripped from each line first (a NUL cannot be stored); a line CSV cannot read is a
    MoneyError naming it."""
    reader = csv.reader(strip_controls(line) for line in _prepend(first, stream))
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MoneyError(f"line {reader.line_num}: {_csv_problem(exc)}") from None
        if fields and "".join(fields).strip():
            yield reader.line_num, fields


def _csv_problem(error: csv.Error) -> str:
    """What Python's csv module says, in the words of someone fixing a spreadsheet."""
    said = str(error)
    if "new-line character seen in unquoted field" in said:
        said = "a line break inside a field that is not in double quotes: quote the field, or remove the break"
    elif "field larger than field limit" in said:
        said = f"a field longer than {csv.field_size_limit():,} characters"
    return f"not CSV I can read ({said})"


def _prepend(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _looks_like_date(text: str) -> bool:
    return bool(re.match(r"\s*(\d{4}-\d{2}-\d{2}(?!\d)|(today|yesterday)\b)", text.lstrip("\ufeff"), re.I))


# --- JSON: the OpenAI and Anthropic cost APIs ------------------------------------------------------------


def _bounded(stream: Iterator[str], limit: int) -> str:
    parts, size = [], 0
    for line in stream:
        size += len(line)
        if size > limit:
            raise MoneyError(f"the JSON file is larger than {limit // 1024**2} MB; export a shorter period")
        parts.append(line)
    return "".join(parts)


def _json_bill(text: str, context: Context, categorise: Callable[[BillLine, Layout], str]) -> Summary:
    try:
        document = strip_controls_in(json.loads(text, parse_float=Decimal))  # a `\u0000` cannot be stored
    except ValueError as exc:
        raise MoneyError(f"the file looks like JSON but is not ({exc.msg} at line {exc.lineno})") from None
    pages = document if isinstance(document, list) else [document]
    buckets = [b for page in pages if isinstance(page, dict) and isinstance(page.get("data"), list)
               for b in page["data"] if isinstance(b, dict) and isinstance(b.get("results") or [], list)]
    first = next((r for b in buckets for r in b.get("results") or []), None)
    if first is None and not buckets:
        raise MoneyError(f"I do not know this JSON's layout. I read: {KNOWN}.")
    anthropic = isinstance(first, dict) and not isinstance(first.get("amount"), dict)
    layout = ANTHROPIC_JSON if anthropic else OPENAI_JSON
    summary = Summary(layout)
    number = 0
    for bucket in buckets:
        for result in bucket.get("results") or []:
            number += 1
            line = _json_line(number, bucket, result, anthropic, context) if isinstance(result, dict) else \
                LineError(number, "a result that is not an object")
            _count(summary, line, layout, categorise)
    return summary


def _json_line(number: int, bucket: dict, result: dict, anthropic: bool, context: Context) -> BillLine | LineError:
    def make() -> BillLine:
        if anthropic:  # amounts in cents, as a decimal string
            amount = _money(str(result.get("amount") or "0")) / 100
            currency = str(result.get("currency") or "USD").upper()
            service = result.get("description") or result.get("model") or "Anthropic API"
            start = str(bucket.get("starting_at") or "")
        else:
            value = result.get("amount") or {}
            amount = _money(str(value.get("value") or "0"))
            currency = str(value.get("currency") or "usd").upper()
            service = result.get("line_item") or "OpenAI API"
            start = bucket.get("start_time")
        day = (datetime.fromtimestamp(start, UTC).astimezone(context.zone).date() if isinstance(start, int | float)
               else _Days(context)[str(start)])
        return BillLine(number, day, str(service)[:128], amount, currency)
    return _line(number, make)


OPENAI_JSON = Layout("openai", "an OpenAI cost export", (), None, default_category="api")  # read by _json_bill
ANTHROPIC_JSON = Layout("anthropic", "an Anthropic cost export", (), None, default_category="api")


# --- pasted lines ---------------------------------------------------------------------------------------

_ROW_START = re.compile(r"\s+(?=(?:\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?|today|yesterday)\s*,)",
                        re.I)


def split_pasted(text: str) -> list[str]:
    """Lines pasted into `/cost import`, however Slack joined them: a row starts at each date followed by a
    comma, even where the newline became a space."""
    rows = []
    for line in text.splitlines():
        rows.extend(part for part in _ROW_START.split(line) if part.strip())
    return rows
