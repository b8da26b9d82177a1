"""`/pmbot report [from] [to]` end to end, on both databases: a project is seeded through the storage repositories at
known moments (bugs of several grades opened and closed in different weeks, incidents with known response times, risks
closed, accepted and left open, a budget with costs, a quality plan with runs), the command is typed, and the markdown
file the sandbox received is read back: its tables must hold the numbers the data gives, in the team's time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.domain import quality as quality_rules
from storage.budgets import add_entry
from storage.bugs import create_bug
from storage.db import session_scope
from storage.incidents import create_action, create_incident, set_action_done
from storage.models import Budget, Bug, CostEntry, Incident, QualityBreach
from storage.quality import add_run, save_plan
from storage.repos import save_team_settings
from storage.risks import apply_changes, create_risk
from tests.conftest import RunningBot
from tests.helpers import MovableClock

TEAM = "T0SANDBOX"
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
BREAKING = "Refunds | wrong\namounts `x` **big** for <@U0BOB|bob>, mail jane.doe@example.com"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    running = MovableClock(NOW).drive(bot_factory())
    with session_scope(running.runtime.deps.engine) as session:
        save_team_settings(session, team_id=TEAM, timezone="Europe/Berlin", admin_channel_id=None,
                           updated_by="U0ALICE", now=NOW)
    return running


def report(bot: RunningBot, text: str, *, channel: str = "C0GENERAL") -> tuple[str, str | None]:
    """The private answer, and the markdown file uploaded by this command (None when there was none)."""
    before = set(bot.sandbox.ws.files)
    response = bot.driver.command("/pmbot", f"report {text}".strip(), channel=channel)
    assert response.status == 200
    bot.runtime.settle()
    answer = bot.driver.answer(response).get("text", "")
    # Only files shared somewhere: an upload Slack refused (not_in_channel, before joining) leaves an unshared one.
    new = [f for key, f in bot.sandbox.ws.files.items() if key not in before and f["shares"]]
    assert len(new) <= 1
    return answer, new[0]["content"].decode("utf-8") if new else None


# --- seeding -----------------------------------------------------------------------------------------------


def seed_bug(session, key: str, grade: int, created: str, closed: str | None = None) -> None:
    bug, _ = create_bug(session, team_id=TEAM, delivery_key=key, channel_id="C0GENERAL", reporter_id="U0ALICE",
                        title=f"bug {key}", text=f"bug {key}", details={}, pii=[], now=at(created))
    values = {"grade": grade}
    if closed:
        values |= {"status": "closed", "closed_at": at(closed), "closed_by": "U0ALICE"}
    session.execute(update(Bug).where(Bug.id == bug.id).values(**values))


def seed_incident(session, key: str, grade: int, declared: str, *, ack: timedelta | None = None,
                  mitigated: timedelta | None = None, resolved: timedelta | None = None, drill: bool = False,
                  title: str | None = None) -> Incident:
    start = at(declared)
    incident, _ = create_incident(
        session, team_id=TEAM, delivery_key=key, title=title or f"incident {key}", grade=grade, drill=drill,
        origin_channel="C0GENERAL", declared_by="U0ALICE", commander_id="U0ALICE", declared_at=start,
        acknowledged_at=start + ack if ack else None, mitigated_at=start + mitigated if mitigated else None,
        resolved_at=start + resolved if resolved else None,
        status="resolved" if resolved else ("mitigated" if mitigated else "investigating"))
    return incident


def seed_risk(session, key: str, created: str, probability: int, impact: int, *, owner: str | None = None,
              title: str | None = None, moves: tuple[tuple[str, dict], ...] = ()) -> None:
    risk, _ = create_risk(session, team_id=TEAM, delivery_key=key, now=at(created), channel_id="C0GENERAL",
                          title=title or f"risk {key}", probability=probability, impact=impact, owner_id=owner,
                          created_by="U0ALICE")
    for when, changes in moves:
        apply_changes(session, risk=risk, user_id="U0ALICE", changes=changes, now=at(when))


def seed_project(bot: RunningBot) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        # Berlin is UTC+2 until 25 Oct: 23:30 UTC on 31 Aug is 1 Sep there, 23:30 UTC on 31 Oct is 1 Nov (UTC+1).
        seed_bug(session, "b1", 1, "2026-08-31T23:30", "2026-09-03T23:30")  # week of 1 Sep, closed in 3 days
        seed_bug(session, "b2", 2, "2026-09-08T10:00", "2026-09-10T10:00")  # week of 7 Sep, 2 days
        seed_bug(session, "b3", 2, "2026-09-15T10:00", "2026-09-23T10:00")  # week of 14 Sep, closed week of 21 Sep
        seed_bug(session, "b4", 3, "2026-10-20T10:00")  # week of 19 Oct, open at the end
        seed_bug(session, "b5", 1, "2026-08-20T10:00")  # before the period, open at its end
        seed_bug(session, "b6", 4, "2026-10-31T23:30")  # 1 Nov in Berlin: after the period
        seed_bug(session, "b7", 2, "2026-10-01T10:00", "2026-11-05T10:00")  # closed after the end: open then

        first = seed_incident(session, "i1", 1, "2026-09-05T08:00", ack=5 * MINUTE, mitigated=30 * MINUTE,
                              resolved=2 * HOUR, title=BREAKING)
        seed_incident(session, "i2", 2, "2026-10-10T12:00", ack=15 * MINUTE, resolved=6 * HOUR)
        seed_incident(session, "i3", 2, "2026-10-28T09:00", ack=1 * MINUTE)  # still investigating
        seed_incident(session, "i4", 1, "2026-09-20T09:00", ack=MINUTE, resolved=HOUR, drill=True)
        seed_incident(session, "i5", 3, "2026-08-10T09:00", ack=MINUTE, resolved=HOUR)  # before the period
        for n in (1, 2):
            action, _ = create_action(session, team_id=TEAM, delivery_key=f"a{n}", incident_id=first.id,
                                      title=f"follow-up {n}", owner_id="U0BOB", created_by="U0ALICE",
                                      created_at=at("2026-09-06T10:00"))
        set_action_done(session, action_id=action.id, user_id="U0BOB", at=at("2026-09-20T10:00"))

        seed_risk(session, "r1", "2026-08-01T10:00", 4, 5, title="Vendor lock-in", moves=(
            ("2026-09-15T10:00", {"status": "closed", "close_reason": "Vendor | signed\ntwo-year `deal`"}),))
        seed_risk(session, "r2", "2026-08-01T10:00", 3, 3, title="Annotation backlog", moves=(
            ("2026-10-02T10:00", {"status": "accepted", "response": "accept", "accepted_until": date(2027, 3, 31),
                                  "close_reason": "the cost of avoiding it is higher"}),))
        seed_risk(session, "r3", "2026-09-10T10:00", 5, 4, title=BREAKING, owner="U0BOB")
        seed_risk(session, "r4", "2026-08-15T10:00", 2, 2, title="Slow labelling", moves=(
            ("2026-09-01T10:00", {"status": "mitigating"}),))
        seed_risk(session, "r5", "2026-11-03T10:00", 5, 5, title="Too new")
        seed_risk(session, "r6", "2026-08-01T10:00", 3, 4, title="GPU shortage", moves=(
            ("2026-11-10T10:00", {"status": "closed", "close_reason": "bought"}),))

        budget = Budget(team_id=TEAM, channel_id="C0GENERAL", post_channel_id="C0GENERAL", amount=Decimal("10000"),
                        currency="USD", period="quarter", caps={"compute": "6000"}, set_by="U0ALICE", updated_at=NOW)
        session.add(budget)
        session.flush()
        for n, (day, category, amount) in enumerate((("2026-09-10", "compute", "1000"),
                                                     ("2026-10-05", "compute", "2000"),
                                                     ("2026-10-20", "api", "500.50"),
                                                     ("2026-11-02", "compute", "700"))):
            add_entry(session, CostEntry(team_id=TEAM, budget_id=budget.id, day=date.fromisoformat(day),
                                         category=category, amount=Decimal(amount), user_id="U0ALICE",
                                         delivery_key=f"cost{n}", created_at=NOW))

        plan = quality_rules.plan([quality_rules.metric("hallucination_rate", "%", 5, direction="lower", grade=2),
                                   quality_rules.metric("accuracy", "%", 90, direction="higher", grade=3)])
        save_plan(session, team_id=TEAM, channel_id="C0GENERAL", plan=plan, template=None, user_id="U0ALICE",
                  now=at("2026-08-01T10:00"))
        for when, values in (("2026-08-01T12:00", {"hallucination_rate": 9.0, "accuracy": 80.0}),
                             ("2026-09-12T12:00", {"hallucination_rate": 4.0, "accuracy": 91.0}),
                             ("2026-10-12T12:00", {"hallucination_rate": 7.5, "accuracy": 92.0})):
            run, _ = add_run(session, team_id=TEAM, model="support-bot", version=when[:10], dataset="golden",
                             metrics=values, source="api", recorded_by="api", now=at(when))
        session.add(QualityBreach(team_id=TEAM, metric="hallucination_rate", model="support-bot", first_run_id=run.id,
                                  last_run_id=run.id, opened_at=at("2026-10-12T12:00")))


# --- reading the file back --------------------------------------------------------------------------------------


def section(markdown: str, heading: str) -> str:
    """The text under `heading` (e.g. `### Opened`) up to the next heading of its level or higher."""
    level = len(heading.split(" ", 1)[0])
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next((i for i in range(start + 1, len(lines))
                if re.match(rf"#{{1,{level}}} ", lines[i])), len(lines))
    return "\n".join(lines[start + 1:end])


def rows(text: str) -> list[list[str]]:
    """The cells of the markdown table in `text`, header first, the separator row left out."""
    found = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|(---\|)+", line):
            found.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return found


def tables(text: str) -> list[list[list[str]]]:
    """Each markdown table in `text`, as `rows` gives it."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("|"):
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [rows("\n".join(block)) for block in blocks if block]


def by_first(table: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in table[1:]}


# --- the tests --------------------------------------------------------------------------------------------------


def test_the_report_holds_the_projects_numbers(bot: RunningBot) -> None:
    seed_project(bot)
    answer, markdown = report(bot, "2026-09-01 2026-10-31")
    assert answer == "Report for 01 Sep 2026 – 31 Oct 2026 uploaded here: `project-report-20260901-20261031.md`."
    assert markdown is not None
    [uploaded] = [f for f in bot.sandbox.ws.files.values() if f["name"] == "project-report-20260901-20261031.md"]
    assert "C0GENERAL" in str(uploaded["shares"])

    assert markdown.startswith("# Project report — \\#general\n")
    assert "**Period:** 01 Sep 2026 – 31 Oct 2026 (team time, Europe/Berlin" in markdown
    assert "**Generated:** 2026-11-15 13:00 team time" in markdown
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert [h for h in headings if h.startswith("## ")] == [
        "## Summary", "## Budget vs actual", "## Bugs over time", "## Incidents over time", "## Risks",
        "## Quality against the plan", "## Lessons learned"]

    # Budget: the report period touches two quarters (partly each): a row for each, against its own budget.
    periods, categories = tables(section(markdown, "### Budget of"))
    assert by_first(periods) == {
        "01 Jul 2026 – 30 Sep 2026 (partial)": ["10,000.00 USD", "1,000.00 USD", "1,000.00 USD", "10%",
                                                "ended with 9,000.00 USD left"],
        "01 Oct 2026 – 31 Dec 2026 (partial)": ["10,000.00 USD", "2,500.50 USD", "2,500.50 USD", "25%",
                                                "running, 7,499.50 USD left on 31 Oct"],
        "**Total**": ["20,000.00 USD", "**3,500.50 USD**", "**3,500.50 USD**", "18%", ""]}
    # Per category: the report period holds Sep and Oct costs; the quarter (Oct – Dec) to 31 Oct holds Oct's only.
    budget = by_first(categories)
    assert budget["compute"] == ["6,000.00 USD", "3,000.00 USD", "2,000.00 USD", "33%"]
    assert budget["api"] == ["—", "500.50 USD", "500.50 USD", "—"]
    assert budget["**All**"] == ["—", "**3,500.50 USD**", "**2,500.50 USD**", "—"]
    budget_text = section(markdown, "### Budget of")
    # 2,500.50 over 31 days is 80.66/day; 61 days are left of the quarter: 2,500.50 + 4,920.26.
    assert "Forecast at the budget period's end: 7,420.76 USD (74%)" in budget_text
    assert "Budget period 01 Oct – 31 Dec 2026, as of 31 Oct 2026: spent 2,500.50 USD, 25% of 10,000.00 USD" \
        in budget_text
    assert "lasts the period" in budget_text

    # Bugs per week (Mondays), by grade, in Berlin time.
    opened = rows(section(markdown, "### Opened"))
    assert opened[0] == ["Week of", "Grade 1 Critical", "Grade 2 High", "Grade 3 Medium", "Grade 4 Low",
                         "Grade 5 Informational", "All"]
    weeks = by_first(opened)
    assert list(weeks)[:9] == ["2026-09-01", "2026-09-07", "2026-09-14", "2026-09-21", "2026-09-28", "2026-10-05",
                               "2026-10-12", "2026-10-19", "2026-10-26"]
    assert weeks["2026-09-01"] == ["1", "0", "0", "0", "0", "1"]
    assert weeks["2026-09-07"] == ["0", "1", "0", "0", "0", "1"]
    assert weeks["2026-09-14"] == ["0", "1", "0", "0", "0", "1"]
    assert weeks["2026-09-28"] == ["0", "1", "0", "0", "0", "1"]
    assert weeks["2026-10-19"] == ["0", "0", "1", "0", "0", "1"]
    assert weeks["2026-10-26"] == ["0", "0", "0", "0", "0", "0"]  # b6 is 1 Nov in Berlin
    assert weeks["**Total**"] == ["1", "3", "1", "0", "0", "**5**"]
    closed = by_first(rows(section(markdown, "### Closed")))
    assert closed["2026-09-01"] == ["1", "0", "0", "0", "0", "1"]
    assert closed["2026-09-07"] == ["0", "1", "0", "0", "0", "1"]
    assert closed["2026-09-21"] == ["0", "1", "0", "0", "0", "1"]
    assert closed["**Total**"] == ["1", "2", "0", "0", "0", "**3**"]
    still_open = by_first(rows(section(markdown, "### Open at the end of the period")))
    assert still_open["1 Critical"] == ["1"] and still_open["2 High"] == ["1"] and still_open["3 Medium"] == ["1"]
    assert still_open["4 Low"] == ["0"] and still_open["**All**"] == ["**3**"]
    to_close = by_first(rows(section(markdown, "### Time to close")))
    assert to_close == {"1 Critical": ["1", "3.0 d"], "2 High": ["2", "5.0 d"]}

    # Incidents: the drill and the one before the period are left out.
    incidents = rows(section(markdown, "## Incidents over time").split("###")[0])
    assert incidents[0] == ["Incident", "Title", "Grade", "Declared", "Duration", "Follow-ups open / done"]
    listed = by_first(incidents)
    assert list(listed) == ["INC-1", "INC-2", "INC-3"]
    assert listed["INC-1"][1:] == ["1", "2026-09-05 10:00", "2 h 00 min", "1 / 1"]
    assert listed["INC-2"][1:] == ["2", "2026-10-10 14:00", "6 h 00 min", "0 / 0"]
    assert listed["INC-3"][1].startswith("2") and listed["INC-3"][3] == "not resolved (investigating), open for 18.1 d"
    # Incidents in the bugs' buckets (weeks here), every week listed.
    per_week = by_first(rows(section(markdown, "### Per week")))
    assert list(per_week) == list(weeks)[:-1]
    assert per_week["2026-09-01"] == ["1", "0", "0", "1"]
    assert per_week["2026-10-05"] == ["0", "1", "0", "1"] and per_week["2026-10-26"] == ["0", "1", "0", "1"]
    assert per_week["2026-09-07"] == ["0", "0", "0", "0"]
    assert sum(int(row[-1]) for row in per_week.values()) == 3
    assert by_first(rows(section(markdown, "### Response times"))) == {
        "Time to acknowledge": ["5 min", "15 min", "3"], "Time to mitigate": ["30 min", "30 min", "1"],
        "Time to resolve": ["4.0 h", "6.0 h", "2"]}
    assert "Drills are not counted (1 in the period)." in markdown

    # Risks: closed and accepted by their history; open at the end by their status then.
    closed_risks = by_first(rows(section(markdown, "### Closed in the period")))
    assert list(closed_risks) == ["R-1"]
    assert closed_risks["R-1"][:3] == ["Vendor lock-in", "2026-09-15", "@alice"]
    accepted = by_first(rows(section(markdown, "### Accepted in the period")))
    assert accepted == {"R-2": ["Annotation backlog", "9 (medium)", "2026-10-02", "@alice", "2027-03-31",
                                "the cost of avoiding it is higher"]}
    open_risks = rows(section(markdown, "### Still open at the end"))
    assert [(r[0], r[2], r[3], r[4]) for r in open_risks[1:]] == [
        ("R-3", "20 (critical)", "open", "@bob"), ("R-6", "12 (high)", "open", "—"),
        ("R-4", "4 (low)", "mitigating", "—")]

    quality = by_first(rows(section(markdown, "## Quality against the plan")))
    assert quality["hallucination\\_rate"] == ["support-bot", "≤ 5 %", "2", "1 of 2", "7.5 % (2026-10-12)",
                                               "**off target**"]
    assert quality["accuracy"] == ["support-bot", "≥ 90 %", "2", "2 of 2", "92 % (2026-10-12)", "within target"]
    assert "Breaches: 1 opened and 0 closed in the period; 1 open at its end." in markdown

    summary = section(markdown, "## Summary")
    assert "Bugs: 5 reported, 3 closed; 3 open at the end (1 critical)." in summary
    assert "Incidents: 3 (grade 1: 1, grade 2: 2, grade 3: 0); 1 follow-up still open." in summary
    assert "Risks: 1 closed, 1 accepted in the period; 3 open at the end." in summary
    assert "Quality: metrics within target at each model's latest run: support-bot 1 of 2; 1 breach opened." \
        in summary
    assert "**What went well:**" in section(markdown, "## Lessons learned")


def test_table_breaking_text_stays_in_its_cell(bot: RunningBot) -> None:
    seed_project(bot)
    _answer, markdown = report(bot, "2026-09-01 2026-10-31")
    assert markdown is not None
    assert "<@" not in markdown and "U0BOB" not in markdown  # mentions are names in a file
    assert "jane.doe@example.com" not in markdown  # personal data masked
    incidents = rows(section(markdown, "## Incidents over time").split("###")[0])
    assert all(len(row) == 6 for row in incidents)  # the `|` and the line break did not add cells or rows
    title = by_first(incidents)["INC-1"][0]
    assert title.startswith("Refunds \\| wrong amounts \\`x\\` \\*\\*big\\*\\* for @bob, mail ")
    closed_risks = rows(section(markdown, "### Closed in the period"))
    assert all(len(row) == 5 for row in closed_risks)
    assert closed_risks[1][4] == "Vendor \\| signed two-year \\`deal\\`"
    open_risks = rows(section(markdown, "### Still open at the end"))
    assert all(len(row) == 5 for row in open_risks)


@pytest.mark.parametrize(("text", "says"), [
    ("2026-10-31 2026-09-01", "The start, 31 Oct 2026, comes after the end, 01 Sep 2026."),
    ("2026-12-01", "01 Dec 2026 is in the future (today is 15 Nov 2026 for this team)"),
    ("2026-09-01 2026-11-16", "16 Nov 2026 is in the future"),
    ("banana", "not `banana`"),
    ("2026-02-30", "`2026-02-30` is not a date of the calendar."),
    ("0d", "A report covers 1 to 1,098 days, not 0."),
    ("2020-01-01 2026-10-31", "A report covers at most 1,098 days"),
    ("2026-09-01 2026-10-31 extra", "`/pmbot report [from] [to]`"),
])
def test_wrong_periods_are_answered_and_nothing_is_uploaded(bot: RunningBot, text: str, says: str) -> None:
    answer, markdown = report(bot, text)
    assert says in answer
    assert markdown is None
    if "extra" not in text:
        assert "/pmbot report last month" in answer  # examples come with the error


def test_named_periods(bot: RunningBot) -> None:
    answer, markdown = report(bot, "last month")
    assert answer.startswith("Report for 01 Oct 2026 – 31 Oct 2026 uploaded")
    assert markdown is not None and "Week of" in markdown
    answer, markdown = report(bot, "this quarter")
    assert answer.startswith("Report for 01 Oct 2026 – 15 Nov 2026 uploaded")
    answer, markdown = report(bot, "30d")
    assert answer.startswith("Report for 17 Oct 2026 – 15 Nov 2026 uploaded")
    # 15 Nov 2026 is a Sunday.
    answer, markdown = report(bot, "this week")
    assert answer.startswith("Report for 09 Nov 2026 – 15 Nov 2026 uploaded")
    answer, markdown = report(bot, "Last  Week")
    assert answer.startswith("Report for 02 Nov 2026 – 08 Nov 2026 uploaded")
    answer, markdown = report(bot, "this year")
    assert answer.startswith("Report for 01 Jan 2026 – 15 Nov 2026 uploaded")
    answer, markdown = report(bot, "last year")
    assert answer.startswith("Report for 01 Jan 2025 – 31 Dec 2025 uploaded")
    answer, markdown = report(bot, "next week")
    assert markdown is None and "the named periods are `this week`, `last week`" in answer
    answer, markdown = report(bot, "2026-01-01")
    assert answer.startswith("Report for 01 Jan 2026 – 15 Nov 2026 uploaded")
    assert markdown is not None and "| Month |" in markdown and "| Jan 2026 |" in markdown  # > 12 weeks: months


def test_an_empty_project_gets_a_report_that_says_so(bot: RunningBot) -> None:
    answer, markdown = report(bot, "")
    # No activity recorded: the last 90 days.
    assert answer == "Report for 18 Aug 2026 – 15 Nov 2026 uploaded here: `project-report-20260818-20261115.md`."
    assert markdown is not None
    assert "No budget is set for this team." in markdown
    assert "No incident was declared in the period." in markdown
    assert "No bug was closed in the period." in markdown
    assert by_first(rows(section(markdown, "### Opened")))["**Total**"][-1] == "**0**"
    assert "## Quality against the plan" not in markdown  # no plan, nothing to measure against
    assert "Bugs: 0 reported, 0 closed; 0 open at the end (0 critical)." in markdown


def test_ungraded_bugs_get_a_column_of_their_own(bot: RunningBot) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        bug, _ = create_bug(session, team_id=TEAM, delivery_key="u1", channel_id="C0GENERAL", reporter_id="U0ALICE",
                            title="still grading", text="still grading", details={}, pii=[],
                            now=at("2026-10-14T10:00"))
    _answer, markdown = report(bot, "last month")
    assert markdown is not None
    opened = rows(section(markdown, "### Opened"))
    assert opened[0][-2:] == ["Grade ungraded", "All"]
    assert by_first(opened)["2026-10-12"] == ["0", "0", "0", "0", "0", "1", "1"]
    assert by_first(rows(section(markdown, "### Open at the end")))["ungraded"] == ["1"]


def test_no_dates_start_at_the_first_activity(bot: RunningBot) -> None:
    seed_project(bot)  # the earliest row: risks created on 1 Aug 2026
    answer, _markdown = report(bot, "")
    assert answer.startswith("Report for 01 Aug 2026 – 15 Nov 2026 uploaded")
    with session_scope(bot.runtime.deps.engine) as session:
        [budget_id] = session.exec(select(Budget.id)).all()
        add_entry(session, CostEntry(team_id=TEAM, budget_id=budget_id, day=date(2026, 7, 14), category="data",
                                     amount=Decimal("12"), user_id="U0ALICE", created_at=NOW))
    answer, _markdown = report(bot, "")
    assert answer.startswith("Report for 14 Jul 2026 – 15 Nov 2026 uploaded")


def test_a_channel_the_bot_is_not_in_gets_the_file_too(bot: RunningBot) -> None:
    answer, markdown = report(bot, "last month", channel="C0RANDOM")
    assert answer.startswith("Report for 01 Oct 2026 – 31 Oct 2026 uploaded")
    assert markdown is not None and markdown.startswith("# Project report — \\#random")


def test_help_and_a_typo(bot: RunningBot) -> None:
    spec = next(s for s in bot.runtime.deps.commands if s.name == "/pmbot")
    assert "report [from] [to]" in spec.usage_hint
    assert any(form == "report [from] [to]" and "last month" in what for form, what in spec.usage)
    answer, markdown = report(bot, "help")
    assert markdown is None
    assert answer.startswith("*/pmbot report [from] [to]*") and "`/pmbot report this quarter`" in answer
    response = bot.driver.command("/pmbot", "reprot 2026-09-01")
    bot.runtime.settle()
    assert "Did you mean `/pmbot report [from] [to]`?" in bot.driver.answer(response)["text"]


# --- where it was typed ---------------------------------------------------------------------------------------


def private_texts(bot: RunningBot, channel: str) -> list[str]:
    return [m["text"] for m in bot.sandbox.ephemeral if m["channel"] == channel]


def test_a_private_channel_pmbot_is_not_in_gets_the_invite_hint(bot: RunningBot) -> None:
    bot.sandbox.add_channel("G0SECRET", "secret", members={"U0ALICE", "U0BOB"}, is_private=True)
    answer, markdown = report(bot, "last month", channel="G0SECRET")
    assert markdown is None
    assert "invite me with `/invite @pmbot`" in answer


def test_a_dm_between_people_says_where_to_run_it(bot: RunningBot) -> None:
    answer, markdown = report(bot, "last month", channel="D0ALICEBOB")
    assert markdown is None
    assert "direct message between people" in answer and "in a channel, or in your DM with me" in answer


def test_my_dm_with_the_bot_gets_the_file(bot: RunningBot) -> None:
    with bot.sandbox.lock:
        dm = bot.sandbox.ws.api_conversations_open({"users": "U0ALICE"})["channel"]["id"]
    answer, markdown = report(bot, "last month", channel=dm)
    assert answer.startswith("Report for 01 Oct 2026 – 31 Oct 2026 uploaded")
    assert markdown is not None and "## Bugs over time" in markdown


def test_a_long_period_counts_bugs_per_month(bot: RunningBot) -> None:
    seed_project(bot)
    _answer, markdown = report(bot, "2026-08-01 2026-10-31")  # 92 days: more than 12 weeks
    assert markdown is not None and "Counted per month" in markdown
    opened = by_first(rows(section(markdown, "### Opened")))
    assert list(opened) == ["Aug 2026", "Sep 2026", "Oct 2026", "**Total**"]
    assert opened["Aug 2026"] == ["1", "0", "0", "0", "0", "1"]  # b5; b1 is 1 Sep in Berlin
    assert opened["Sep 2026"] == ["1", "2", "0", "0", "0", "3"]
    assert opened["Oct 2026"] == ["0", "1", "1", "0", "0", "2"]
    closed = by_first(rows(section(markdown, "### Closed")))
    assert closed["Sep 2026"] == ["1", "2", "0", "0", "0", "3"] and closed["**Total**"][-1] == "**3**"
    # Incidents per month too, the month without any listed.
    _answer, markdown = report(bot, "2026-07-01 2026-10-31")
    assert markdown is not None
    assert by_first(rows(section(markdown, "### Per month"))) == {
        "Jul 2026": ["0", "0", "0", "0"], "Aug 2026": ["0", "0", "1", "1"], "Sep 2026": ["1", "0", "0", "1"],
        "Oct 2026": ["0", "2", "0", "2"]}


# --- the queries at scale ------------------------------------------------------------------------------------


def test_bug_counts_match_the_rows_and_leave_other_teams_out(engine) -> None:
    """Opened / closed per bucket and grade and open at the end, by the database, against the same counts in
    Python over 700 bugs of two teams at uneven hours (some on a bucket's first moment)."""
    from storage.reports import bug_flow, bugs_open_at, close_times

    start = at("2026-09-01T00:00")
    edges = [start + n * 7 * DAY for n in range(9)] + [at("2026-11-01T00:00")]
    made = []
    with session_scope(engine) as session:
        for n in range(700):
            team = TEAM if n % 7 else "T0OTHER"
            created = at("2026-08-20T00:00") + n * 2 * HOUR  # every edge is some bug's very moment
            closed = created + (n % 13) * DAY if n % 3 == 0 else None
            grade = (None, 1, 2, 3, 4, 5)[n % 6]
            session.add(Bug(team_id=team, readable_id=f"B-{n}", delivery_key=f"scale-{n}", channel_id="C0GENERAL",
                            reporter_id="U0ALICE", title="t", text="t", grade=grade, created_at=created,
                            status="closed" if closed else "open", closed_at=closed))
            made.append((team, grade, created, closed))
    with session_scope(engine) as session:
        opened, closed_counts = bug_flow(session, team_id=TEAM, edges=edges)
        open_at_end = bugs_open_at(session, team_id=TEAM, at=edges[-1])
        times = close_times(session, team_id=TEAM, start=edges[0], end=edges[-1])

    def bucket(moment: datetime) -> int | None:
        if not edges[0] <= moment < edges[-1]:
            return None
        return max(i for i, edge in enumerate(edges[:-1]) if edge <= moment)

    mine = [m for m in made if m[0] == TEAM]
    want_opened: dict = {}
    want_closed: dict = {}
    for _team, grade, created, closed in mine:
        if bucket(created) is not None:
            want_opened[(bucket(created), grade)] = want_opened.get((bucket(created), grade), 0) + 1
        if closed and bucket(closed) is not None:
            want_closed[(bucket(closed), grade)] = want_closed.get((bucket(closed), grade), 0) + 1
    assert opened == want_opened and closed_counts == want_closed
    want_open: dict = {}
    for _team, grade, created, closed in mine:
        if created < edges[-1] and (closed is None or closed >= edges[-1]):
            want_open[grade] = want_open.get(grade, 0) + 1
    assert open_at_end == want_open
    def order(pair: tuple) -> tuple:
        return (pair[0] or 0, pair[1])

    assert sorted(times, key=order) == sorted(((g, (c - o).total_seconds()) for _t, g, o, c in mine
                                               if c and edges[0] <= c < edges[-1]), key=order)


# --- budgets: the spend `/budget` counts, per budget period, and only budgets this channel may see -------------------


def seed_budget(session, channel: str, amount: str, period: str, costs: tuple[tuple[str, str, str], ...], *,
                project: tuple[date, date] | None = None) -> None:
    budget = Budget(team_id=TEAM, channel_id=channel, post_channel_id=channel, amount=Decimal(amount), currency="USD",
                    period=period, caps={}, set_by="U0ALICE", updated_at=NOW,
                    project_start=project[0] if project else None, project_end=project[1] if project else None)
    session.add(budget)
    session.flush()
    for day, category, value in costs:
        add_entry(session, CostEntry(team_id=TEAM, budget_id=budget.id, day=date.fromisoformat(day), category=category,
                                     amount=Decimal(value), user_id="U0ALICE", delivery_key=f"{channel}-{day}-{value}",
                                     created_at=NOW))


def test_each_budget_period_is_set_against_its_own_spend_with_pmbots_llm_calls(bot: RunningBot) -> None:
    from storage.models import LlmUsage

    with session_scope(bot.runtime.deps.engine) as session:
        seed_budget(session, "C0GENERAL", "10000", "month", (("2026-09-10", "compute", "9000"),
                                                              ("2026-10-05", "compute", "2000")))
        # 1,000,000 prompt tokens of gpt-4o-mini at 0.00015 each per 1,000: 0.15 of api, as `/budget` counts it.
        session.add(LlmUsage(team_id=TEAM, feature="bug_grading", model="gpt-4o-mini", prompt_tokens=1_000_000,
                             completion_tokens=0, latency_ms=900, created_at=at("2026-10-07T10:00")))
    _answer, markdown = report(bot, "2026-09-01 2026-10-31")
    assert markdown is not None
    periods, categories = tables(section(markdown, "### Budget of"))
    assert by_first(periods) == {
        "01 Sep 2026 – 30 Sep 2026": ["10,000.00 USD", "9,000.00 USD", "9,000.00 USD", "90%",
                                      "ended with 1,000.00 USD left"],
        "01 Oct 2026 – 31 Oct 2026": ["10,000.00 USD", "2,000.15 USD", "2,000.15 USD", "20%",
                                      "ended with 7,999.85 USD left"],
        "**Total**": ["20,000.00 USD", "**11,000.15 USD**", "**11,000.15 USD**", "55%", ""]}
    assert by_first(categories)["api"] == ["—", "0.15 USD", "0.15 USD", "—"]
    assert by_first(categories)["**All**"] == ["—", "**11,000.15 USD**", "**2,000.15 USD**", "—"]
    assert "The budget period ended on 31 Oct 2026 with 7,999.85 USD left." in markdown
    assert "A partial budget period" not in markdown  # September and October are whole months here
    assert "Budget of \\#general: 11,000.15 USD spent in the report period; 55% of the 20,000.00 USD budgeted " \
           "for the 2 budget periods it touches." in section(markdown, "## Summary")
    # `/budget` on 31 Oct counts the same api spend.
    from bot.budgets.service import period_entries

    with session_scope(bot.runtime.deps.engine) as session:
        [budget] = session.exec(select(Budget)).all()
    known, _note = period_entries(bot.runtime.deps, budget, date(2026, 10, 1), date(2026, 10, 31))
    assert sum(e.amount for e in known) == Decimal("2000.15")


def test_a_finished_overspent_project_budget_reads_overspent(bot: RunningBot) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        seed_budget(session, "C0GENERAL", "1000", "project", (("2026-08-25", "compute", "400"),
                                                                ("2026-09-10", "compute", "800")),
                    project=(date(2026, 8, 20), date(2026, 9, 30)))
    _answer, markdown = report(bot, "2026-09-01 2026-10-31")
    assert markdown is not None
    periods, _categories = tables(section(markdown, "### Budget of"))
    # The project began before the report period: partial; its spend counts from its first day.
    assert by_first(periods)["20 Aug 2026 – 30 Sep 2026 (partial)"] == [
        "1,000.00 USD", "800.00 USD", "1,200.00 USD", "120%", "overspent by 200.00 USD"]
    assert by_first(periods)["**Total**"][-1] == "1 overspent"
    assert "A partial budget period begins before the report period or ends after it" in markdown
    assert "- Overspent by 200.00 USD." in markdown
    assert "runs out on" not in markdown
    assert "(1 overspent)." in section(markdown, "## Summary")


def test_budgets_of_other_private_channels_are_left_out(bot: RunningBot) -> None:
    bot.sandbox.add_channel("G0SECRET", "secret", members={"U0PMBOT", "U0ALICE"}, is_private=True)
    bot.sandbox.add_channel("G0HIDDEN", "hidden", members={"U0PMBOT", "U0ALICE"}, is_private=True)
    with session_scope(bot.runtime.deps.engine) as session:
        for channel, amount in (("C0GENERAL", "100"), ("C0RANDOM", "200"), ("G0SECRET", "300"), ("G0HIDDEN", "400")):
            seed_budget(session, channel, amount, "month", (("2026-10-05", "compute", "10"),))
    _answer, markdown = report(bot, "last month")
    assert markdown is not None
    headings = [line for line in markdown.splitlines() if line.startswith("### Budget of")]
    assert headings == ["### Budget of \\#general: 100.00 USD per month",
                        "### Budget of \\#random: 200.00 USD per month"]
    assert "secret" not in markdown and "hidden" not in markdown and "300.00" not in markdown
    assert "2 budgets of private channels are left out of this file" in markdown
    # Typed in a private channel: its own budget is there, the other private one is not.
    _answer, markdown = report(bot, "last month", channel="G0SECRET")
    assert markdown is not None
    headings = [line for line in markdown.splitlines() if line.startswith("### Budget of")]
    assert headings == ["### Budget of \\#general: 100.00 USD per month",
                        "### Budget of \\#random: 200.00 USD per month",
                        "### Budget of \\#secret: 300.00 USD per month"]
    assert "hidden" not in markdown and "1 budget of a private channel is left out of this file" in markdown


def test_mentions_without_a_label_are_named_in_every_title(bot: RunningBot) -> None:
    title = "Ask <@U0BOB> about the <@U0CARLOS> refunds"
    with session_scope(bot.runtime.deps.engine) as session:
        seed_incident(session, "i1", 2, "2026-10-05T10:00", title=title)
        seed_risk(session, "r1", "2026-10-01T10:00", 2, 2, title=title, moves=(
            ("2026-10-02T10:00", {"status": "closed", "close_reason": "done"}),))
        seed_risk(session, "r2", "2026-10-01T10:00", 2, 2, title=title, moves=(
            ("2026-10-03T10:00", {"status": "accepted", "response": "accept", "close_reason": "fine"}),))
        seed_risk(session, "r3", "2026-10-01T10:00", 2, 2, title=title)
    _answer, markdown = report(bot, "last month")
    assert markdown is not None
    assert "U0BOB" not in markdown and "U0CARLOS" not in markdown
    named = "Ask @bob about the @carlos refunds"
    assert by_first(rows(section(markdown, "## Incidents over time").split("###")[0]))["INC-1"][0] == named
    assert by_first(rows(section(markdown, "### Closed in the period")))["R-1"][0] == named
    assert by_first(rows(section(markdown, "### Accepted in the period")))["R-2"][0] == named
    assert by_first(rows(section(markdown, "### Still open at the end")))["R-3"][0] == named


def test_a_risk_created_mitigating_reads_mitigating_then(bot: RunningBot) -> None:
    """No change is recorded for the status a risk is created with: before its first change, the status that change
    left is the one it had."""
    with session_scope(bot.runtime.deps.engine) as session:
        closing = ("2026-11-05T10:00", {"status": "closed", "close_reason": "x"})
        for key, moves in (("r1", ()), ("r2", (("2026-11-05T10:00", {"status": "open"}),)),
                           ("r3", (("2026-10-10T10:00", {"status": "open"}), closing))):
            risk, _ = create_risk(session, team_id=TEAM, delivery_key=key, now=at("2026-10-01T10:00"),
                                  channel_id="C0GENERAL", title=f"risk {key}", probability=2, impact=2,
                                  status="mitigating", created_by="U0ALICE")
            for when, changes in moves:
                apply_changes(session, risk=risk, user_id="U0ALICE", changes=changes, now=at(when))
    _answer, markdown = report(bot, "last month")
    assert markdown is not None
    open_risks = by_first(rows(section(markdown, "### Still open at the end")))
    # R-1 never changed: its status now; R-2 was mitigating until 5 Nov; R-3 was set open on 10 Oct.
    assert {key: row[2] for key, row in open_risks.items()} == {"R-1": "mitigating", "R-2": "mitigating",
                                                                "R-3": "open"}


def test_quality_is_counted_per_model(bot: RunningBot) -> None:
    """Two models against one plan: each one's runs, latest value and verdict on their own, whichever ran last."""
    with session_scope(bot.runtime.deps.engine) as session:
        plan = quality_rules.plan([quality_rules.metric("accuracy", "%", 90, direction="higher", grade=3)])
        save_plan(session, team_id=TEAM, channel_id="C0GENERAL", plan=plan, template=None, user_id="U0ALICE",
                  now=at("2026-09-01T10:00"))
        for when, model, value in (("2026-10-02T12:00", "support-bot", 95.0), ("2026-10-03T12:00", "support-bot", 93.0),
                                   ("2026-10-04T12:00", "intent-tagger", 70.0)):
            add_run(session, team_id=TEAM, model=model, version="v" + when[8:10], dataset="golden",
                    metrics={"accuracy": value}, source="api", recorded_by="api", now=at(when))
    _answer, markdown = report(bot, "last month")
    assert markdown is not None
    quality = rows(section(markdown, "## Quality against the plan"))
    assert quality[0] == ["Metric", "Model", "Target", "Runs", "Within target", "Latest", "Latest verdict"]
    assert quality[1:] == [["accuracy", "intent-tagger", "≥ 90 %", "1", "0 of 1", "70 % (v04)", "**off target**"],
                           ["accuracy", "support-bot", "≥ 90 %", "2", "2 of 2", "93 % (v03)", "within target"]]
    assert "Quality: metrics within target at each model's latest run: intent-tagger 0 of 1; support-bot 1 of 1;" \
        in section(markdown, "## Summary")


def test_no_dates_start_on_the_teams_day_west_of_utc(bot: RunningBot) -> None:
    """A cost's day is already the team's; a moment is turned into the team's day before the two are compared."""
    with session_scope(bot.runtime.deps.engine) as session:
        save_team_settings(session, team_id=TEAM, timezone="America/New_York", admin_channel_id=None,
                           updated_by="U0ALICE", now=NOW)
        seed_budget(session, "C0GENERAL", "1000", "month", (("2026-08-01", "compute", "10"),))
    answer, _markdown = report(bot, "")
    assert answer.startswith("Report for 01 Aug 2026 – 15 Nov 2026 uploaded")  # not 31 Jul (00:00 UTC in New York)
    with session_scope(bot.runtime.deps.engine) as session:
        seed_bug(session, "b1", 2, "2026-08-01T03:00")  # 31 Jul, 23:00 in New York
    answer, _markdown = report(bot, "")
    assert answer.startswith("Report for 31 Jul 2026 – 15 Nov 2026 uploaded")


def test_bug_buckets_are_grouped_by_name_not_by_a_repeated_case(engine) -> None:
    """GROUP BY a second copy of the CASE works only while the driver binds both copies' edges as one parameter."""
    from sqlalchemy import event

    from storage.reports import bug_flow

    statements: list[str] = []

    def keep(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with session_scope(engine) as session:
            bug_flow(session, team_id=TEAM, edges=[at("2026-09-01T00:00"), at("2026-09-08T00:00"),
                                                   at("2026-09-15T00:00")])
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    grouped = [s.upper().split("GROUP BY", 1)[1] for s in statements if "GROUP BY" in s.upper()]
    assert len(grouped) == 2 and not any("CASE" in g for g in grouped)


def test_a_reopened_bug_is_said_to_count_as_open(bot: RunningBot) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        seed_bug(session, "b1", 2, "2026-10-05T10:00", "2026-10-06T10:00")
        seed_bug(session, "b2", 2, "2026-10-05T10:00", "2026-10-07T10:00")
        # b2 is reopened on 3 Nov: Slack's reopen clears its close.
        session.execute(update(Bug).where(Bug.delivery_key == "b2").values(status="open", closed_at=None,
                                                                           closed_by=None))
    _answer, markdown = report(bot, "last month")
    assert markdown is not None
    assert by_first(rows(section(markdown, "### Closed")))["**Total**"][-1] == "**1**"
    assert by_first(rows(section(markdown, "### Open at the end")))["**All**"] == ["**1**"]  # b2
    assert "A bug reopened since is counted by its state now" in section(markdown, "## Bugs over time")
