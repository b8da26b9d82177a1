"""`/incident stats` end to end: counts per grade, median and p90 times, follow-ups, trend and the chart, with drills
reported apart and never in the figures; on both databases. The incidents are declared through the sandbox, then
their timestamps set to known values, so every figure is checked against the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.domain import incident_actions as rules
from bot.incidents.stats import DRILLS_SHOWN, drill_lines
from storage.clock import system_clock as utcnow
from storage.db import session_scope
from storage.models import Incident
from tests.conftest import RunningBot
from tests.helpers import MovableClock

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    return bot_factory(pmbot_incident_channel="C0RANDOM")


def incident_command(bot: RunningBot, text: str, **options) -> dict:
    response = bot.driver.command("/incident", text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def set_times(bot: RunningBot, readable_id: str, *, ago: timedelta, ack: timedelta | None,
              mitigated: timedelta | None, resolved: timedelta | None) -> None:
    declared = utcnow() - ago
    with session_scope(bot.runtime.deps.engine) as session:
        session.execute(update(Incident).where(Incident.readable_id == readable_id).values(
            declared_at=declared, acknowledged_at=declared + ack if ack else None,
            mitigated_at=declared + mitigated if mitigated else None,
            resolved_at=declared + resolved if resolved else None, status="resolved" if resolved else "investigating"))


def room(bot: RunningBot, readable_id: str) -> str:
    with session_scope(bot.runtime.deps.engine) as session:
        return session.exec(select(Incident).where(Incident.readable_id == readable_id)).one().channel_id


def test_stats_count_and_time_real_incidents_and_report_drills_apart(bot: RunningBot) -> None:
    for title, grade in (("Wrong refunds", 1), ("Slow answers", 2), ("Wrong language", 2), ("Old outage", 3)):
        incident_command(bot, f"declare {title} grade {grade}")
    incident_command(bot, "drill")  # INC-5
    set_times(bot, "INC-1", ago=10 * DAY, ack=2 * MINUTE, mitigated=30 * MINUTE, resolved=2 * HOUR)
    set_times(bot, "INC-2", ago=5 * DAY, ack=4 * MINUTE, mitigated=60 * MINUTE, resolved=4 * HOUR)
    set_times(bot, "INC-3", ago=3 * DAY, ack=10 * MINUTE, mitigated=None, resolved=1 * HOUR)
    set_times(bot, "INC-4", ago=40 * DAY, ack=1 * MINUTE, mitigated=None, resolved=30 * MINUTE)  # the month before
    set_times(bot, "INC-5", ago=2 * DAY, ack=30 * 1 * timedelta(seconds=1), mitigated=2 * MINUTE, resolved=5 * MINUTE)
    incident_command(bot, "action INC-1 add refund eval cases")
    incident_command(bot, "action INC-1 alert on refund spikes")
    incident_command(bot, "action INC-5 practise the rollback twice")  # a drill's: not counted
    incident_command(bot, "action done A-1")

    text = incident_command(bot, "stats", channel="C0RANDOM")["text"]
    assert "the last 30 days" in text and "drills not counted" in text
    assert "*3 incidents* (↑ 2 vs the period before (1)) — grade 1: 1 · grade 2: 2 · grade 3: 0" in text
    # Acknowledged after 2, 4 and 10 min (the drill's 30 s would make the median 3 min).
    assert "Time to acknowledge: median 4 min, p90 10 min (n=3) · before: median 1 min" in text
    assert "Time to mitigate: median 45 min, p90 1.0 h (n=2)" in text
    assert "Time to resolve: median 2.0 h, p90 4.0 h (n=3) · before: median 30 min" in text
    assert "Follow-up actions of these incidents: 1 open (0 overdue), 1 done" in text
    drills = text.split("*Drills*", 1)[1]
    assert "(1, apart from the figures above)" in drills and "INC-5" in drills and "acknowledged 30 s" in drills
    assert "INC-5" not in text.split("*Drills*", 1)[0]
    assert "The weekly chart follows in this channel, where everyone here sees it" in text
    [chart] = [f for f in bot.sandbox.ws.files.values() if f["name"].startswith("incidents-")]
    assert chart["content"].startswith(b"\x89PNG")

    quarter = incident_command(bot, "stats quarter")["text"]
    assert "the last 90 days" in quarter and "*4 incidents*" in quarter and "grade 3: 1" in quarter


def test_stats_with_nothing_and_bad_periods(bot: RunningBot) -> None:
    text = incident_command(bot, "stats")["text"]
    assert "No incidents in this period" in text and "*Drills*: none" in text
    assert "The weekly chart follows" not in text  # no incident, no chart: nothing promised
    assert "Time to acknowledge: median —, p90 — (n=0)" in text
    assert not [f for f in bot.sandbox.ws.files.values() if f["name"].startswith("incidents-")]
    assert "stats [month|quarter]" in incident_command(bot, "stats year")["text"]


def test_percentiles_windows_and_weeks() -> None:
    assert rules.median([4, 1, 3, 2]) == 2.5 and rules.median([]) is None
    assert rules.p90(list(range(1, 11))) == 9 and rules.p90([7]) == 7
    now = utcnow()
    span = rules.window("month", now)
    assert span.previous.end == span.start and span.end - span.start == 30 * DAY
    monday = rules.week_start(now.date())
    assert monday.weekday() == 0 and now.date() - monday < 7 * DAY


def test_stats_times_come_from_what_people_did_in_the_war_room(bot_factory) -> None:
    """No timestamps set by hand: the clock moves, people act in the room, and the figures follow."""
    clock = MovableClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    bot = bot_factory(pmbot_incident_channel="C0RANDOM")
    clock.drive(bot)
    incident_command(bot, "declare Answers cite retired policies grade 1")  # grade 1: the rollback step first
    incident_command(bot, "drill")  # a drill acted in at once: never in the figures
    drill_room = room(bot, "INC-2")
    incident_command(bot, "note drill started", channel=drill_room)
    war_room = room(bot, "INC-1")
    clock.now += 6 * MINUTE
    incident_command(bot, "note rolling back the retrieval index", channel=war_room)  # acknowledged: 6 min
    clock.now += 14 * MINUTE
    bot.driver.press("Done", channel=war_room)  # the rollback step comes first: mitigated at 20 min
    bot.runtime.settle()
    clock.now += 100 * MINUTE
    incident_command(bot, "resolve index rebuilt from the current policies", channel=war_room)
    bot.driver.press("Resolve anyway", channel=war_room)  # resolved at 2 h
    bot.runtime.settle()
    clock.now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    text = incident_command(bot, "stats", channel="C0RANDOM")["text"]
    assert "*1 incident*" in text and "grade 1: 1" in text
    assert "Time to acknowledge: median 6 min, p90 6 min (n=1)" in text
    assert "Time to mitigate: median 20 min, p90 20 min (n=1)" in text
    assert "Time to resolve: median 2.0 h, p90 2.0 h (n=1)" in text
    assert "INC-2" in text.split("*Drills*", 1)[1] and "INC-2" not in text.split("*Drills*", 1)[0]


def test_the_drill_list_shows_the_latest_ten_and_says_which_ended_by_themselves() -> None:
    start = utcnow() - 20 * DAY
    drills = [Incident(id=n, team_id="T1", readable_id=f"INC-{n}", delivery_key=f"k{n}", title="drill", grade=1,
                       drill=True, scenario="pii-leak", origin_channel="C0GENERAL", declared_by="U0ALICE",
                       commander_id="U0ALICE", declared_at=start + n * HOUR, status="resolved",
                       acknowledged_at=None if n == 12 else start + n * HOUR + MINUTE)
              for n in range(1, 13)]
    lines = drill_lines(drills, [])
    assert lines[0].startswith("*Drills* (12, apart from the figures above)")
    assert lines[1] == "• … 2 earlier drills not shown"
    assert len(lines) == 2 + DRILLS_SHOWN and "INC-3 " in lines[2] and "INC-2 " not in "\n".join(lines)
    assert lines[-1].endswith("(nobody responded: it ended by itself)") and "INC-12" in lines[-1]
    assert not lines[-2].endswith("(nobody responded: it ended by itself)")
