"""Budgets: the arithmetic, pure; then `/budget` and `/cost` end to end, and the weekly report job."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from bot.budgets import service
from bot.domain.bills import file_key
from bot.domain.budget import (
    Entry,
    MoneyError,
    Period,
    by_category,
    crossed,
    forecast,
    money,
    money_exact,
    parse_amount,
    period_for,
    runs_out,
    spent,
)
from storage.budgets import budget_of
from storage.db import session_scope
from storage.models import BudgetAlert, CostEntry
from tests.conftest import RunningBot
from tests.helpers import bot_env, pmbot

D = Decimal
NOV = Period(date(2026, 11, 1), date(2026, 11, 30))


# --- the arithmetic --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("1200", "1200.00"), ("1,200.50", "1200.50"), ("$99.999", "99.999"),
                                             ("1.2k", "1200.00"), ("0.01", "0.01"), ("0.0042", "0.0042")])
def test_amounts_are_exact_decimals(text: str, value: str) -> None:
    assert parse_amount(text) == D(value)


@pytest.mark.parametrize(("text", "number_format", "value"), [
    ("1.234,56", "de", "1234.56"), ("1,234.56", "en", "1234.56"), ("1.234", "de", "1234"), ("1,234", "en", "1234"),
    ("12,5", "de", "12.5"), ("0,0042", "de", "0.0042"), ("1.234.567,8", "de", "1234567.8"), ("€1.200", "de", "1200"),
])
def test_amounts_in_the_teams_number_format(text: str, number_format: str, value: str) -> None:
    assert parse_amount(text, number_format=number_format) == D(value)


@pytest.mark.parametrize(("text", "number_format"), [("1.234,56", "en"), ("1,234.56", "de"), ("12,5", "en"),
                                                     ("12.5", "de"), ("1,23,456", "en"), ("0,125", "en")])
def test_an_amount_another_format_would_read_differently_is_asked_about(text: str, number_format: str) -> None:
    with pytest.raises(MoneyError, match="not sure how to read"):
        parse_amount(text, number_format=number_format)


def test_credits_are_signed_amounts_and_entries_show_exactly() -> None:
    assert parse_amount("-250.00", signed=True) == D("-250")
    assert parse_amount("−250", signed=True) == D("-250")  # Unicode minus, as some sheets copy it
    assert money_exact(D("0.0042"), "USD") == "0.0042 USD"
    assert money_exact(D("-1234.5"), "EUR") == "-1,234.50 EUR"
    assert money(D("0.0042"), "USD") == "0.00 USD"


@pytest.mark.parametrize("text", ["-5", "0", "abc", "1e9", "NaN", "1.2.3", "∞", "10000000000000"])
def test_bad_amounts_are_refused(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text)


def test_sums_are_exact_and_per_category() -> None:
    items = [Entry(date(2026, 11, 1), "api", D("0.10"))] * 3 + [Entry(date(2026, 11, 2), "compute", D("0.20"))]
    assert spent(items) == D("0.50")  # floats would give 0.5000000000000001
    assert by_category(items) == {"api": D("0.30"), "compute": D("0.20")}
    assert money(D("12345.6"), "EUR") == "12,345.60 EUR"


def test_periods() -> None:
    assert period_for("month", date(2026, 2, 14)) == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert period_for("quarter", date(2026, 11, 29)) == Period(date(2026, 10, 1), date(2026, 12, 31))
    assert period_for("quarter", date(2027, 1, 5)) == Period(date(2027, 1, 1), date(2027, 3, 31))
    assert period_for("project", date(2026, 12, 3), project_start=date(2026, 12, 1),
                      project_end=date(2027, 3, 31)).days == 121


def test_forecast_is_robust_to_one_large_one_off() -> None:
    daily = [Entry(date(2026, 11, d), "compute", D("100")) for d in range(1, 11)]
    steady = forecast(daily, NOV, date(2026, 11, 10), "USD")
    assert steady.amount == D("3000.00") and steady.reliable
    licence = [*daily, Entry(date(2026, 11, 5), "data", D("5000"))]
    with_one_off = forecast(licence, NOV, date(2026, 11, 10), "USD")
    assert with_one_off.amount == D("8000.00")  # 6000 spent + 100/day × 20, not 600/day
    assert "leaving out the one-off 5,000.00 USD on 05 Nov" in with_one_off.method


def test_no_forecast_to_rely_on_with_fewer_than_seven_days_of_costs() -> None:
    early = forecast([Entry(date(2026, 11, 1), "compute", D("900"))], NOV, date(2026, 11, 2), "USD")
    assert not early.reliable and early.rule == "a forecast needs 7 days of costs, this period has 2"
    late_start = forecast([Entry(date(2026, 11, 25), "compute", D("900"))], NOV, date(2026, 11, 28), "USD")
    assert not late_start.reliable  # the 28th, but costs only since the 25th
    quarter = Period(date(2026, 10, 1), date(2026, 12, 31))
    costs_since_october = [Entry(date(2026, 10, 1) + timedelta(days=n), "api", D("10")) for n in range(0, 60, 3)]
    assert forecast(costs_since_october, quarter, date(2026, 12, 1), "USD").reliable  # 30 days left: reliable


def test_thresholds_and_run_out_date() -> None:
    assert crossed(D("749.99"), D("1000")) == [50]
    assert crossed(D("750"), D("1000")) == [50, 75]
    assert crossed(D("1200"), D("1000")) == [50, 75, 90, 100]
    items = [Entry(date(2026, 11, d), "api", D("50")) for d in range(1, 11)]
    assert runs_out(items, NOV, date(2026, 11, 10), D("1000")) == date(2026, 11, 21)
    tiny = [Entry(date(2026, 11, 1), "api", D("0.0042"))]  # a rate whose run-out day would be past the year 9999
    assert runs_out(tiny, NOV, date(2026, 11, 30), D("1000")) is None


def test_the_same_file_has_the_same_key_whatever_its_line_endings() -> None:
    content = "date,category,amount,currency,note\n2026-11-02,Amazon EC2,1200.50,USD,GPU\n2026-11-03,api,3,USD,\n"
    assert file_key(content) == file_key(content.replace("\n", "\r\n") + "\n\n")
    assert file_key(content) == file_key("\n\n" + content.replace("\n", "   \n"))
    assert file_key(content) != file_key(content.replace("1200.50", "1200.51"))


# --- end to end -----------------------------------------------------------------------------------


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    return bot_factory(pmbot_budget_admins="U0ALICE")


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def channel_texts(bot: RunningBot, channel: str = "C0GENERAL") -> list[str]:
    return [m["text"] for m in bot.sandbox.messages if m["channel"] == channel]


def costs(bot: RunningBot) -> list[CostEntry]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(CostEntry).order_by(CostEntry.id)))


def test_only_budget_admins_set_a_budget(bot: RunningBot) -> None:
    refused = command(bot, "/budget", "set 10000 USD month", user="U0BOB")
    assert "Only budget admins can set or change a budget" in refused["text"]
    ok = command(bot, "/budget", "set 10000 USD month compute=6000 api=2000")
    assert "Budget set: 10,000.00 USD per month; caps: compute 6,000.00 USD, api 2,000.00 USD" in ok["text"]
    assert "caps add up to more" in command(bot, "/budget", "set 100 compute=200")["text"]
    assert "one budget has one currency" in command(bot, "/budget", "set 100 EUR")["text"]
    assert "is not an amount" in command(bot, "/budget", "set lots")["text"]


def test_costs_add_list_undo_and_bad_input(bot: RunningBot) -> None:
    assert "no budget yet" in command(bot, "/cost", "add 10 api")["text"]
    command(bot, "/budget", "set 10000 USD month")
    today = date.today()
    assert "Recorded 1,200.50 USD on compute" in command(bot, "/cost", "add 1,200.50 compute GPU hours")["text"]
    recorded = command(bot, "/cost", "add 300 OpenAI yesterday tokens", user="U0BOB")["text"]
    assert "Recorded 300.00 USD on OpenAI (api)" in recorded
    unknown = command(bot, "/cost", "add 5 catering")["text"]
    assert "neither a category here" in unknown and '/cost map "catering" compute' in unknown
    future = command(bot, "/cost", f"add 5 api {today + timedelta(days=3)}")["text"]
    assert "Recorded 5.00 USD on api" in future and "is in the future: recorded" in future
    assert "is not an amount" in command(bot, "/cost", "add abc api")["text"]
    assert "zero changes nothing" in command(bot, "/cost", "add 0 api")["text"]
    listed = command(bot, "/cost", "list")["text"]
    assert "1,500.50 USD" in listed and "GPU hours" in listed
    command(bot, "/cost", "undo")  # the future entry
    assert "Removed your entry of 1,200.50 USD" in command(bot, "/cost", "undo")["text"]
    assert [(c.amount, c.user_id) for c in costs(bot)] == [(Decimal("300.00"), "U0BOB")]
    assert "no cost entry here to undo" in command(bot, "/cost", "undo")["text"]


def test_import_all_or_nothing_and_the_same_file_once(bot: RunningBot, db_url: str, tmp_path) -> None:
    command(bot, "/budget", "set 50000 USD month")
    day = date.today().replace(day=1)
    good = f"date,service,amount,currency,note\n{day},Amazon EC2,1000,USD,GPU\n{day},Scale AI,250.25,USD,labels\n"
    bad = f"{day},compute,100,USD,\n{day},catering,5,USD,\n{day},api,abc,USD,\nsoon,api,5,USD,\n"
    refused = command(bot, "/cost", "import\n" + bad)["text"]
    assert "Nothing was imported" in refused and "line 3: `abc` is not an amount" in refused
    assert "line 4: `soon` is not a date" in refused and "line 2" not in refused  # catering: unmapped, no error
    assert costs(bot) == []
    assert "Imported 2 lines from a pmbot cost file: 1,250.25 USD." in command(bot, "/cost", "import\n" + good)[
        "text"]
    assert "imported before" in command(bot, "/cost", "import\n" + good.replace("\n", "\r\n"))["text"]
    path = tmp_path / "bill.csv"
    path.write_text(good, encoding="utf-8")
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url)
    again = pmbot("cost", "import", str(path), "--channel", "C0GENERAL", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "imported before" in again.stderr, again.stderr
    assert sorted(c.category for c in costs(bot)) == ["annotation", "compute"]


def test_an_alert_is_posted_exactly_once_when_75_percent_is_crossed(bot: RunningBot) -> None:
    command(bot, "/budget", "set 1000 USD month")
    command(bot, "/cost", "add 700 compute")
    assert sum("50% of the budget" in t for t in channel_texts(bot)) == 1
    command(bot, "/cost", "add 60 compute")
    command(bot, "/cost", "add 10 compute")
    alerts = [t for t in channel_texts(bot) if "75% of the budget" in t]
    assert len(alerts) == 1 and "760.00 USD of 1,000.00 USD" in alerts[0]


def test_once_per_threshold_per_period_across_a_period_boundary(bot: RunningBot) -> None:
    command(bot, "/budget", "set 1000 USD month")
    deps = bot.runtime.deps
    with session_scope(deps.engine) as session:
        budget = budget_of(session, team_id="T0SANDBOX", channel_id="C0GENERAL")
        for day, amount in ((date(2026, 10, 20), "800"), (date(2026, 11, 3), "500"), (date(2026, 11, 20), "300")):
            session.add(CostEntry(team_id=budget.team_id, budget_id=budget.id, day=day, category="api",
                                  amount=Decimal(amount), user_id="U0ALICE", created_at=deps.clock()))
    assert len(service.check_alerts(deps, budget, date(2026, 10, 25))) == 1  # 80%: 50 and 75 claimed
    assert service.check_alerts(deps, budget, date(2026, 10, 31)) == []
    assert len(service.check_alerts(deps, budget, date(2026, 11, 25))) == 1  # a new period: 80% again
    assert service.check_alerts(deps, budget, date(2026, 11, 26)) == []
    with session_scope(deps.engine) as session:
        sent = session.exec(select(BudgetAlert).where(BudgetAlert.kind == "actual")).all()
    assert sorted((a.period_start.month, a.threshold) for a in sent) == [(10, 50), (10, 75), (11, 50), (11, 75)]


def test_weekly_report_job_posts_the_chart_with_its_summary(bot: RunningBot, db_url: str, tmp_path) -> None:
    today = date.today()
    command(bot, "/budget", "set 20000 USD month compute=8000")
    command(bot, "/budget", f"report {today:%a} 10")
    command(bot, "/cost", "add 1000 compute GPU")
    command(bot, "/cost", "add 500.25 api")
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url)
    at = datetime.combine(today, datetime.min.time(), UTC).replace(hour=10, minute=5)
    before = datetime.combine(today, datetime.min.time(), UTC).replace(hour=9, minute=5)
    early = pmbot("jobs", "run", "budget_report", "--now", before.isoformat(), env=env, cwd=tmp_path)
    assert "0 reports" in early.stdout, early.stderr
    run = pmbot("jobs", "run", "budget_report", "--now", at.isoformat(), env=env, cwd=tmp_path)
    assert "1 reports" in run.stdout, run.stderr
    again = pmbot("jobs", "run", "budget_report", "--now", (at + timedelta(hours=1)).isoformat(), env=env,
                  cwd=tmp_path)
    assert "0 reports" in again.stdout
    [report] = [m for m in bot.sandbox.messages if m["text"].startswith("📊 *Weekly budget report*")]
    assert "Spent 1,500.25 USD (8% of budget)" in report["text"]
    assert "compute: 1,000.00 USD of 8,000.00 USD cap (13%)" in report["text"]
    [png] = [f for f in bot.sandbox.ws.files.values() if f["name"].endswith(".png")]
    assert png["content"].startswith(b"\x89PNG")
    assert report.get("files") == [png["id"]]  # one message: the summary as text, the chart under it


def test_status_and_chart_on_demand(bot: RunningBot) -> None:
    command(bot, "/budget", "set 3000 EUR quarter")
    command(bot, "/cost", "add 100 evaluation human raters")
    status = command(bot, "/budget", "status")["text"]
    assert "Budget 3,000.00 EUR" in status and "evaluation: 100.00 EUR" in status
    command(bot, "/budget", "chart")
    assert any(f["name"].endswith(".png") and f["content"].startswith(b"\x89PNG")
               for f in bot.sandbox.ws.files.values())


def test_the_bots_own_llm_calls_count_as_api_spend(bot: RunningBot) -> None:
    from storage.models import LlmUsage

    command(bot, "/budget", "set 100 USD month")
    with session_scope(bot.runtime.deps.engine) as session:
        session.add(LlmUsage(team_id="T0SANDBOX", feature="bug_grading", model="gpt-4o-mini", prompt_tokens=100_000,
                             completion_tokens=50_000, latency_ms=900, created_at=bot.runtime.deps.clock()))
        session.add(LlmUsage(team_id="T0SANDBOX", feature="postmortem", model="unknown-model", prompt_tokens=10,
                             completion_tokens=10, latency_ms=900, created_at=bot.runtime.deps.clock()))
    status = command(bot, "/budget", "status")["text"]
    assert "api: 0.05 USD" in status  # 100 × 0.00015 + 50 × 0.0006 = 0.015 + 0.03
    assert "unknown-model has no price" in status


def test_a_user_group_of_budget_admins_and_another_alert_channel(bot: RunningBot) -> None:
    assert "Only budget admins" in command(bot, "/budget", "set 500 USD", user="U0CARLOS")["text"]
    refused = command(bot, "/budget", "admins <!subteam^S0ONCALL|@oncall>", user="U0CARLOS")  # not an admin
    assert "Only a workspace admin or a budget admin" in refused["text"]
    command(bot, "/budget", "admins <!subteam^S0ONCALL|@oncall>")  # alice: a workspace admin
    assert "Budget set" in command(bot, "/budget", "set 500 USD", user="U0BOB")["text"]  # bob is in S0ONCALL
    command(bot, "/budget", "channel <#C0RANDOM|random>", user="U0BOB")
    command(bot, "/cost", "add 260 infra", user="U0CARLOS")  # anyone may record a cost
    assert any("50% of the budget" in t for t in channel_texts(bot, "C0RANDOM"))
    assert not any("50% of the budget" in t for t in channel_texts(bot, "C0GENERAL"))


def test_a_channel_typed_by_hand_is_looked_up(bot: RunningBot) -> None:
    command(bot, "/budget", "set 500 USD")
    assert "now go to <#C0RANDOM>" in command(bot, "/budget", "channel #random")["text"]
    assert "no channel #nowhere" in command(bot, "/budget", "channel #nowhere")["text"]
