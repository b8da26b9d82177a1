"""Budgets on real cloud bills (#16): provider exports through Slack's *Import costs* shortcut and the CLI, the
service mapping, money read exactly and in the team's format, alerts that survive Slack being down, budgets seen
where people look. Fixture files are in the providers' published layouts (tests/data/bills/LAYOUTS.md); each
expected total is computed here, independently, from the provider's cost column."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from bot.domain import bills
from bot.domain.budget import MoneyError
from storage.db import session_scope
from storage.models import BudgetAlert, CostEntry, CostImport
from tests.conftest import RunningBot
from tests.helpers import bot_env, free_port, pmbot

BILLS = Path(__file__).parent / "data" / "bills"
D = Decimal


def _csv_rows(name: str, skip: int = 0) -> list[dict[str, str]]:
    with open(BILLS / name, encoding="utf-8-sig", newline="") as handle:
        for _ in range(skip):
            next(handle)
        return list(csv.DictReader(handle))


def _sum(values) -> Decimal:
    return sum((D(v) for v in values if v), D(0))


# The total a budget should count, from each provider's own cost column (see LAYOUTS.md).
def _expected(name: str) -> Decimal:
    if name == "aws_cur_legacy.csv":
        return _sum(r["lineItem/UnblendedCost"] for r in _csv_rows(name))
    if name == "aws_cur2.csv":
        return _sum(r["line_item_unblended_cost"] for r in _csv_rows(name))
    if name == "aws_cost_explorer.csv":
        return _sum(r["Total costs($)"] for r in _csv_rows(name) if r["Service"] != "Service total")
    if name == "gcp_billing.csv":
        return _sum(r["Unrounded Cost ($)"] for r in _csv_rows(name, skip=8)
                    if r["Cost type"] not in ("Rounding error", "Total"))
    if name == "gcp_billing_bigquery.csv":
        return sum((D(r["cost"]) + sum((D(str(c["amount"])) for c in json.loads(r["credits"])), D(0))
                    for r in _csv_rows(name)), D(0))
    if name.startswith("azure"):
        return _sum(r["costInBillingCurrency"] for r in _csv_rows(name))
    document = json.loads((BILLS / name).read_text(), parse_float=D)
    if name == "openai_costs.json":
        return sum((D(str(x["amount"]["value"])) for b in document["data"] for x in b["results"]), D(0))
    return sum((D(x["amount"]) for b in document["data"] for x in b["results"]), D(0)) / 100  # cents


def _lines(name: str) -> int:
    if name.endswith(".json"):
        return sum(len(b["results"]) for b in json.loads((BILLS / name).read_text())["data"])
    if name == "gcp_billing.csv":
        return sum(r["Cost type"] not in ("Rounding error", "Total") for r in _csv_rows(name, skip=8))
    return sum(r.get("Service") != "Service total" for r in _csv_rows(name))


FORMATS = [  # file, what the reply calls it, the budget's currency, a service the defaults do not know
    ("aws_cur_legacy.csv", "an AWS Cost and Usage Report", "USD", "AWS Support (Business)"),
    ("aws_cur2.csv", "an AWS Cost and Usage Report (CUR 2.0)", "USD", "AWSSupportBusiness"),
    ("aws_cost_explorer.csv", "an AWS Cost Explorer export", "USD", "Support (Business)"),
    ("gcp_billing.csv", "a Google Cloud cost table export", "USD", "Cloud Key Management Service (KMS)"),
    ("gcp_billing_bigquery.csv", "a Google Cloud billing export (BigQuery)", "USD",
     "Cloud Key Management Service (KMS)"),
    ("azure_actual.csv", "an Azure cost export", "EUR", "Azure Bot Service"),
    ("azure_amortized.csv", "an Azure cost export", "USD", "Azure Bot Service"),
    ("openai_costs.json", "an OpenAI cost export", "USD", None),
    ("anthropic_costs.json", "an Anthropic cost export", "USD", None),
]


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    return bot_factory(pmbot_budget_admins="U0ALICE")


def command(bot: RunningBot, name: str, text: str, **options) -> str:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response).get("text", "")


def entries(bot: RunningBot) -> list[CostEntry]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(CostEntry).order_by(CostEntry.id)))


def shared(bot: RunningBot, name: str, content: bytes, **options) -> dict:
    """A person shares a file in #general; the message as Slack stores it."""
    bot.driver.share_file(name, content, text="November's bill", **options)
    bot.runtime.settle()
    return [m for m in bot.sandbox.messages if m.get("files")][-1]


def shortcut_replies(bot: RunningBot, message: dict, user: str = "U0ALICE") -> str:
    before = len(bot.sandbox.responses)
    response = bot.driver.shortcut("cost_import_file", message=message, user=user)
    assert response.status == 200
    bot.runtime.settle()
    return "\n".join(r.get("text", "") for r in bot.sandbox.responses[before:])


# One format runs on PostgreSQL too (the exact NUMERIC(24,10) sums); the readers do not touch SQL.
@pytest.mark.parametrize(("name", "label", "currency", "unknown"),
                         [FORMATS[0], *(pytest.param(*f, marks=pytest.mark.sqlite_only) for f in FORMATS[1:])],
                         ids=[f[0] for f in FORMATS])
def test_each_provider_export_imports_through_the_shortcut_to_the_cent(bot: RunningBot, name: str, label: str,
                                                                       currency: str, unknown: str | None) -> None:
    command(bot, "/budget", f"set 50000 {currency} month")
    message = shared(bot, name, (BILLS / name).read_bytes())
    reply = shortcut_replies(bot, message)
    expected = _expected(name)
    shown = f"{expected.quantize(D('0.01'), rounding=ROUND_HALF_UP):,.2f} {currency}"
    assert f"Imported {_lines(name):,} lines from {label}: {shown}" in reply, reply
    stored = entries(bot)
    assert sum((e.amount for e in stored), D(0)) == expected  # exact, not only to the cent
    if unknown:
        assert f"`{unknown}`" in reply and " unmapped)." in reply
        assert {e.category for e in stored if e.service == unknown} == {"unmapped"}
    else:
        assert "unmapped" not in reply and {e.category for e in stored} == {"api"}
    downloads = [d for d in bot.sandbox.downloads if d.status == 200]
    assert downloads and all(d.token == bot.runtime.deps.client.token for d in downloads)
    assert "imported before" in shortcut_replies(bot, message)  # the same file twice counts once


@pytest.mark.sqlite_only
def test_bill_lines_land_in_their_categories(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    shortcut_replies(bot, shared(bot, "cur.csv", (BILLS / "aws_cur_legacy.csv").read_bytes()))
    by_service = {e.service: e.category for e in entries(bot)}
    assert by_service["Amazon Elastic Compute Cloud"] == "compute"
    assert by_service["Amazon SageMaker"] == "compute"
    assert by_service["Tax"] == "infra"
    assert by_service["Amazon Simple Storage Service"] == "data"
    credit = [e for e in entries(bot) if e.amount < 0]
    assert credit and credit[0].amount == D("-150")


@pytest.mark.sqlite_only
def test_a_file_that_is_no_bill_gets_one_clear_answer(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    reply = shortcut_replies(bot, shared(bot, "people.csv", b"name,email,team\nAda,ada@example.org,ml\n"))
    assert "I do not know this file's layout (its first columns: `name`, `email`, `team`)" in reply
    assert "AWS Cost and Usage Report" in reply and "line 2" not in reply
    assert "no file" in shortcut_replies(bot, {**bot.sandbox.messages[-1], "files": []})
    assert entries(bot) == []


def test_mapping_is_shown_and_changed_and_moves_what_was_imported(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    shortcut_replies(bot, shared(bot, "ce.csv", (BILLS / "aws_cost_explorer.csv").read_bytes()))
    shown = command(bot, "/cost", "mapping")
    assert "Unmapped (counted as `unmapped`): `Support (Business)`" in shown and "• compute:" in shown
    moved = command(bot, "/cost", "map “Support (Business)” infra")  # Slack's smart quotes
    assert "Support (Business) now counts in infra" in moved and "moved there" in moved
    assert {e.category for e in entries(bot) if e.service == "Support (Business)"} == {"infra"}
    assert "Your team's choices: Support (Business) → infra" in command(bot, "/cost", "mapping")
    assert "is not a category here" in command(bot, "/cost", 'map "Amazon SageMaker" gpus')
    assert "Amazon SageMaker now counts in api" in command(bot, "/cost", "map Amazon SageMaker api")
    assert "on Amazon SageMaker (api)" in command(bot, "/cost", "add 1200 Amazon SageMaker endpoint")


@pytest.mark.sqlite_only
def test_services_with_several_words_work_in_cost_add(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    today = date.today()
    assert "Recorded 1,800.50 USD on Amazon EC2 (compute)" in command(bot, "/cost", "add 1800.50 Amazon EC2 GPU nodes")
    assert "on Amazon Elastic Compute Cloud (compute)" in command(bot, "/cost", "add 5 Amazon Elastic Compute Cloud")
    assert "on AmazonBedrock (api)" in command(bot, "/cost", f"add 7 AmazonBedrock {today} claude")
    assert "on EC2-Other (infra)" in command(bot, "/cost", "add 3 EC2-Other")
    assert "a credit of 250.00 USD on Amazon EC2 (compute)" in command(bot, "/cost", "add -250 Amazon EC2 refund")
    notes = [(e.service, e.note) for e in entries(bot)]
    assert ("Amazon EC2", "GPU nodes") in notes and ("AmazonBedrock", "claude") in notes


def test_sub_cent_amounts_add_up_exactly_and_credits_count_negative(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    day = date.today().replace(day=1)
    rows = "".join(f"{day},api,0.125,USD,call {n}\n" for n in range(40))
    reply = command(bot, "/cost", f"import date,category,amount,currency,note\n{rows}{day},compute,-250.00,USD,credit\n"
                                  f"{day},api,0,USD,free\n{day}T00:00:00Z,api,0.0042,USD,\n")
    assert "Imported 43 lines from a pmbot cost file: -244.9958 USD" not in reply  # totals are rounded for display
    assert "Imported 43 lines from a pmbot cost file: -245.00 USD" in reply and "1 zero-cost line skipped" in reply
    assert sum((e.amount for e in entries(bot) if e.category == "api"), D(0)) == D("5.0042")
    assert "Recorded 0.0042 USD on api" in command(bot, "/cost", "add 0.0042 api")


@pytest.mark.sqlite_only
def test_iso_timestamps_land_on_the_teams_local_day(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    day = date.today().replace(day=1) + timedelta(days=1)  # the 2nd, so the 1st stays in the period
    command(bot, "/cost", f"import {day}T03:00:00+05:00,api,1,USD,\n{day}T22:30:00Z,api,2,USD,")
    assert [(e.day, e.amount) for e in entries(bot)] == [(day - timedelta(days=1), D(1)), (day, D(2))]


@pytest.mark.sqlite_only
def test_pasted_lines_are_split_however_slack_joined_them(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 EUR month")
    day = date.today()
    earlier = day - timedelta(days=1) if day.day > 1 else day
    reply = command(bot, "/cost", f"import {earlier},Amazon SageMaker,1200,EUR,endpoint {day},OpenAI,300,EUR,API")
    assert "Imported 2 lines from a pmbot cost file: 1,500.00 EUR" in reply
    assert sorted((e.service, e.amount, e.note) for e in entries(bot)) == [
        ("Amazon SageMaker", D(1200), "endpoint"), ("OpenAI", D(300), "API")]


def test_another_currency_needs_its_rate_and_one_file_holds_one_currency(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 EUR month")
    day = date.today()
    asked = command(bot, "/cost", f"import {day},compute,100,USD,")
    assert "the file is in USD, the budget in EUR" in asked and "--rate USD=0.92" in asked
    mixed = command(bot, "/cost", f"import {day},compute,100,USD,\n{day},api,5,EUR,")
    assert "one file holds one currency" in mixed and "EUR (from line 2)" in mixed
    done = command(bot, "/cost", f"import --rate USD=0.92 {day},compute,100,USD,\n{day},api,0.5,USD,")
    assert "Imported 2 lines from a pmbot cost file: 92.46 EUR (from 100.50 USD)" in done
    assert sum((e.amount for e in entries(bot)), D(0)) == D("92.46")
    with session_scope(bot.runtime.deps.engine) as session:
        batch = session.exec(select(CostImport)).one()
    assert (batch.currency, batch.rate, batch.format, batch.lines) == ("USD", D("0.92"), "pmbot", 2)


def _set_number_format(bot: RunningBot, label_start: str) -> None:
    command(bot, "/pmbot", "settings")
    view = bot.driver.open_view()
    [select_block] = [b for b in view["blocks"] if b.get("block_id") == "number_format"]
    option = next(o["text"]["text"] for o in select_block["element"]["options"] if o["text"]["text"].startswith(
        label_start))
    assert bot.driver.submit({"number_format": option}).status == 200
    bot.runtime.settle()


@pytest.mark.sqlite_only
def test_amounts_typed_in_the_teams_number_format(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 EUR month")
    asked = command(bot, "/cost", "add 1.234,56 api")
    assert "not sure how to read `1.234,56`" in asked and entries(bot) == []
    _set_number_format(bot, "1.234,56")
    assert "Recorded 1,234.56 EUR on api" in command(bot, "/cost", "add 1.234,56 api")
    assert "not sure how to read `1,234.56`" in command(bot, "/cost", "add 1,234.56 api")
    assert "Recorded 12.50 EUR" in command(bot, "/cost", "add 12,5 api")
    assert [e.amount for e in entries(bot)] == [D("1234.56"), D("12.5")]


@pytest.mark.sqlite_only
def test_a_cost_outside_the_period_is_recorded_with_a_warning(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    reply = command(bot, "/cost", "add 40 api 2025-06-01 old invoice")
    start = date.today().replace(day=1)
    assert "Recorded 40.00 USD on api for 2025-06-01" in reply
    assert f"2025-06-01 is before this budget's period ({start:%d %b %Y} –" in reply and "not counted" in reply
    assert "Spent 0.00 USD" in command(bot, "/budget", "status")


@pytest.mark.sqlite_only
def test_status_in_the_alert_channel_and_alerts_there(bot: RunningBot) -> None:
    command(bot, "/budget", "set 1000 USD month")
    command(bot, "/budget", "channel <#C0RANDOM|random>")
    assert "Budget 1,000.00 USD" in command(bot, "/budget", "status", channel="C0RANDOM")
    assert "no budget yet" in command(bot, "/budget", "status", channel="C0NOWHERE")


def test_a_workspace_admin_starts_when_no_budget_admin_is_named(bot_factory) -> None:
    bot = bot_factory(pmbot_budget_admins="")
    bot.sandbox.add_usergroup("S0PMLEADS", "pm-leads", ["U0BOB"])
    assert "Only budget admins" in command(bot, "/budget", "set 500 USD", user="U0CARLOS")
    assert "Budget set" in command(bot, "/budget", "set 500 USD")  # alice: a workspace admin
    named = command(bot, "/budget", "admins @pm-leads <@U0CARLOS>")
    assert "Budget admins: <!subteam^S0PMLEADS>, <@U0CARLOS>" in named
    assert "Budget set" in command(bot, "/budget", "set 600 USD", user="U0BOB")  # by the group
    assert "Budget set" in command(bot, "/budget", "set 700 USD", user="U0CARLOS")  # by name
    assert "no user group or person called `@nobody`" in command(bot, "/budget", "admins @nobody")
    assert "Budget admins: <@U0BOB>" in command(bot, "/budget", "admins @bob")


def test_an_alert_stored_while_slack_is_down_is_posted_once_by_the_job(bot: RunningBot, db_url: str,
                                                                      tmp_path: Path) -> None:
    command(bot, "/budget", "set 1000 USD month")
    path = tmp_path / "nov.csv"
    path.write_text(f"date,category,amount,currency,note\n{date.today()},compute,600,USD,GPU\n", encoding="utf-8")
    down = bot_env(DATABASE_URL=db_url, SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    result = pmbot("cost", "import", str(path), "--channel", "C0GENERAL", env=down, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Imported 1 line from a pmbot cost file: 600.00 USD" in result.stdout
    assert "1 alert(s) could not be posted now" in result.stdout
    assert not any("50% of the budget" in m["text"] for m in bot.sandbox.messages)
    from bot.jobs import budget_report  # the hourly job, run in the bot's own process (two runs: posted once)

    now = datetime.combine(date.today(), datetime.min.time(), UTC).replace(hour=12)
    assert "1 delayed alerts posted" in budget_report.run(bot.runtime.deps, now=now)
    assert "delayed" not in budget_report.run(bot.runtime.deps, now=now + timedelta(hours=1))
    assert sum("50% of the budget" in m["text"] for m in bot.sandbox.messages) == 1
    with session_scope(bot.runtime.deps.engine) as session:
        alert = session.exec(select(BudgetAlert).where(BudgetAlert.threshold == 50)).one()
    assert alert.posted_at is not None and alert.attempts >= 1


@pytest.mark.sqlite_only
def test_the_cli_takes_a_channel_by_name_and_a_rate(bot: RunningBot, db_url: str, tmp_path: Path) -> None:
    command(bot, "/budget", "set 50000 EUR month")
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url)
    bill = tmp_path / "cur.csv"
    bill.write_bytes((BILLS / "aws_cur_legacy.csv").read_bytes())
    done = pmbot("cost", "import", str(bill), "--channel", "#general", "--rate", "USD=0.9", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    converted = (_expected("aws_cur_legacy.csv") * D("0.9")).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert f"from an AWS Cost and Usage Report: {converted:,.2f} EUR" in done.stdout
    nowhere = pmbot("cost", "import", str(bill), "--channel", "#nowhere", env=env, cwd=tmp_path)
    assert nowhere.returncode == 2 and "no budget in channel #nowhere" in nowhere.stderr


# --- the readers, without Slack -----------------------------------------------------------------------


def _read(text: str) -> bills.Summary:
    from zoneinfo import ZoneInfo
    context = bills.Context(ZoneInfo("Europe/Berlin"), date(2026, 11, 30), "USD")
    return bills.read_bill(io.StringIO(text), context=context,
                           categorise=lambda line, layout: bills.default_category(line.service) or bills.UNMAPPED)


def test_every_bad_line_is_named_and_nothing_is_dropped() -> None:
    summary = _read("date,category,amount\n2026-11-01,api,1\n2026-13-01,api,2\n2026-11-02,api,two\n2026-11-03\n")
    assert summary.lines == 4 and summary.error_count == 3
    assert [e.split(":")[0] for e in summary.errors] == ["line 3", "line 4", "line 5"]


def test_a_header_after_a_preamble_and_a_bom_is_found() -> None:
    assert _read("\ufeffCurrency,EUR,\nTotal amount due,\"€1,00\",\n" + (BILLS / "gcp_billing.csv").read_text()
                 .split("\n", 8)[8]).layout.key == "gcp-billing"
    with pytest.raises(MoneyError, match="layout"):
        _read("a,b\n" * 30)


def test_the_monday_report_compares_the_last_whole_week_with_the_one_before(bot: RunningBot) -> None:
    from bot.budgets import service
    from storage.budgets import budget_of

    command(bot, "/budget", "set 50000 USD month")
    deps = bot.runtime.deps
    with session_scope(deps.engine) as session:
        budget = budget_of(session, team_id="T0SANDBOX", channel_id="C0GENERAL")
        for day, category, amount in ((16, "compute", "3000"), (20, "compute", "3000"), (24, "compute", "900"),
                                      (29, "api", "300"), (30, "api", "5")):
            session.add(CostEntry(team_id=budget.team_id, budget_id=budget.id, day=date(2026, 11, day),
                                  category=category, amount=D(amount), user_id="U0ALICE", created_at=deps.clock()))
    text = service.post_report(deps, budget, date(2026, 11, 30))  # a Monday
    assert "Week 23 Nov – 29 Nov: 1,200.00 USD · the week before: 6,000.00 USD" in text
    assert "Biggest changes from the week before: compute −5,100.00 USD, api +300.00 USD" in text
    assert "too early" not in text
    [posted] = [m for m in bot.sandbox.messages if m["text"].startswith("📊 *Weekly budget report*")]
    assert posted["files"] and "Spent 7,205.00 USD" in posted["text"]


def test_focus_and_older_azure_exports() -> None:
    focus = _read("BillingAccountId,ChargePeriodStart,ChargePeriodEnd,ServiceName,ChargeCategory,BilledCost,"
                  "EffectiveCost,BillingCurrency\n"
                  "acc-1,2026-11-03T00:00:00Z,2026-11-04T00:00:00Z,Amazon SageMaker,Usage,12.5,11,USD\n"
                  "acc-1,2026-11-04T00:00:00Z,2026-11-05T00:00:00Z,Amazon Bedrock,Usage,0.0042,0.0042,USD\n"
                  "acc-1,2026-11-04T00:00:00Z,2026-11-05T00:00:00Z,Amazon SageMaker,Credit,-2.5,-2.5,USD\n")
    assert focus.layout.key == "focus" and focus.totals["USD"] == D("10.0042") and focus.lines == 3
    older = _read("UsageDate,ServiceName,MeterCategory,PreTaxCost,Currency\n20261103,Virtual Machines,"
                  "Virtual Machines,100.25,EUR\n20261104,Storage,Storage,0.75,EUR\n")
    assert older.layout.key == "azure-legacy" and older.totals["EUR"] == D(101)
    assert sorted(day for day, *_ in older.groups) == [date(2026, 11, 3), date(2026, 11, 4)]


def test_the_bot_token_only_goes_to_slacks_file_host() -> None:
    from bot.budgets.files import slack_file_host

    api = "http://127.0.0.1:4567/api/"
    assert slack_file_host("https://files.slack.com/files-pri/T1-F1/download/bill.csv", "https://slack.com/api/")
    assert slack_file_host("http://127.0.0.1:4567/files-pri/T1-F1/bill.csv", api)
    assert not slack_file_host("http://files.slack.com/files-pri/T1-F1/bill.csv", api)  # not https
    assert not slack_file_host("https://drive.example.com/bill.csv", api)
    assert not slack_file_host("http://127.0.0.1:9999/bill.csv", api)


def test_undo_an_import_and_a_repeated_month_to_date_export_is_pointed_out(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    day = date.today()
    first = command(bot, "/cost", f"import {day},Amazon EC2,100,USD,")
    assert "already had costs" not in first
    again = command(bot, "/cost", f"import {day},Amazon EC2,100,USD,\n{day},AmazonS3,5,USD,")
    assert f"{day.isoformat()} already had costs from an earlier import of a pmbot cost file" in again
    assert "/cost undo import" in again
    undone = command(bot, "/cost", "undo import")
    assert "Took back your import" in undone and "2 lines, 105.00 USD" in undone
    assert sum((e.amount for e in entries(bot)), D(0)) == D(100)
    assert "no import here to undo" in command(bot, "/cost", "undo import", user="U0BOB")


@pytest.mark.sqlite_only
def test_the_teams_choice_wins_over_a_default_for_either_name(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    command(bot, "/cost", "map AmazonS3 infra")  # the CUR's product code; its lines carry the product name too
    shortcut_replies(bot, shared(bot, "cur.csv", (BILLS / "aws_cur_legacy.csv").read_bytes()))
    assert {e.category for e in entries(bot) if e.service == "Amazon Simple Storage Service"} == {"infra"}


@pytest.mark.sqlite_only
def test_text_in_errors_is_escaped_once(bot: RunningBot) -> None:
    command(bot, "/budget", "set 50000 USD month")
    reply = command(bot, "/cost", "add 5 R&D <!channel> cluster")
    assert "R&amp;D" in reply and "&amp;amp;" not in reply and "<!channel>" not in reply


def test_bills_at_midnight_utc_stay_on_their_day_west_of_utc() -> None:
    from zoneinfo import ZoneInfo

    context = bills.Context(ZoneInfo("America/New_York"), date(2026, 11, 30), "USD")
    summary = bills.read_bill(io.StringIO("date,category,amount\n2026-11-01T00:00:00Z,api,1\n"
                                          "2026-11-01T03:00:00Z,api,2\n2026-11-01 00:00:00 UTC,api,4\n"),
                              context=context, categorise=lambda line, layout: "api")
    assert sorted((day, amount) for (day, *_), (amount, _n) in summary.groups.items()) == [
        (date(2026, 10, 31), D(2)), (date(2026, 11, 1), D(5))]


@pytest.mark.parametrize(("text", "message"), [
    ("date,category,amount\n2026-11-01,api,\"12,50\"\n", "`12,50` is not an amount"),
    ("date,category,amount\n2026-11-01,api,1E+18\n", "not an amount"),
    ("date,category,amount\n,api,1\n", "the date is empty"),
])
def test_bill_cells_that_cannot_be_read_are_named(text: str, message: str) -> None:
    if "12,50" in text:  # a decimal comma in a bill's CSV is an error, never 1250
        cur = ("lineItem/UsageStartDate,lineItem/ProductCode,lineItem/UnblendedCost,lineItem/CurrencyCode\n"
               "2026-11-01T00:00:00Z,AmazonEC2,\"12,50\",USD\n2026-11-01T00:00:00Z,AmazonEC2,\"1,234.5\",USD\n")
        summary = _read(cur)
        assert summary.errors == ["line 2: `12,50` is not an amount"] and summary.totals["USD"] == D("1234.5")
        return
    summary = _read(text.replace("date,category,amount\n", "lineItem/UsageStartDate,lineItem/ProductCode,"
                                 "lineItem/UnblendedCost\n") if "1E+18" in text else text)
    assert summary.error_count == 1 and message in summary.errors[0]


def test_broken_files_get_an_answer_not_a_crash() -> None:
    with pytest.raises(MoneyError, match="not CSV I can read"):
        _read("date,category,amount\n2026-11-01,api,\"" + "x" * 200_000 + "\n")
    assert _read('{"data": ["a", {"results": [1]}]}').errors == [
        "line 1: a result that is not an object"]


@pytest.mark.sqlite_only
def test_a_file_that_is_not_utf8_is_refused_by_the_cli(bot: RunningBot, db_url: str, tmp_path: Path) -> None:
    command(bot, "/budget", "set 50000 USD month")
    path = tmp_path / "latin1.csv"
    path.write_bytes("date,category,amount,currency,note\n2026-11-02,api,5,USD,café crème\n".encode("cp1252"))
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url)
    result = pmbot("cost", "import", str(path), "--channel", "C0GENERAL", env=env, cwd=tmp_path)
    assert result.returncode == 1 and "not UTF-8 text" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.sqlite_only
def test_an_alert_slack_will_never_take_is_given_up_not_retried_forever(bot: RunningBot) -> None:
    from bot.budgets import service

    command(bot, "/budget", "set 1000 USD month")
    command(bot, "/budget", "channel <#C0RANDOM|random>")
    bot.sandbox.channels["C0RANDOM"].is_archived = True
    command(bot, "/cost", "add 600 compute")
    tries = len([c for c in bot.sandbox.calls_to("chat.postMessage") if c.args.get("channel") == "C0RANDOM"])
    assert tries == 1
    assert service.post_alerts(bot.runtime.deps) == 0
    assert len([c for c in bot.sandbox.calls_to("chat.postMessage") if c.args.get("channel") == "C0RANDOM"]) == 1
    with session_scope(bot.runtime.deps.engine) as session:
        alert = session.exec(select(BudgetAlert).where(BudgetAlert.threshold == 50)).one()
    assert alert.posted_at is None and alert.attempts == service.MAX_ALERT_ATTEMPTS


@pytest.mark.sqlite_only
def test_a_sub_cent_spend_still_gets_a_status(bot: RunningBot) -> None:
    command(bot, "/budget", "set 1000 USD month")
    command(bot, "/cost", f"add 0.0042 api {date.today().replace(day=1)}")
    status = command(bot, "/budget", "status")
    assert "Spent 0.00 USD (0% of budget)" in status and "runs out" not in status
