"""The stand-up repository (`storage.standups`) on SQLite and PostgreSQL: a day claimed once, its tries leased,
posted or missed once; settings replaced in place; answers replaced; blockers carried."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from storage import standups as store
from storage.db import session_scope
from storage.models import Standup, StandupBlocker, StandupDay

NOW = datetime(2027, 3, 29, 9, 30, tzinfo=UTC)
MONDAY = date(2027, 3, 29)
SETTINGS = store.StandupSettings(channel_id="C1", members=["U1", "U2"], time="09:30", timezone="UTC",
                                 workdays=[0, 1, 2, 3, 4], country=None, subdivision=None,
                                 questions=["Yesterday?", "Today?", "Blockers?"], reminder_minutes=60,
                                 summary_minutes=240)


def new_standup(engine, team_id: str = "T1") -> int:
    with session_scope(engine) as session:
        return store.create_standup(session, team_id=team_id, settings=SETTINGS, created_by="U1", now=NOW).id


def claim_day(engine, standup_id: int, lease_end: datetime = NOW + timedelta(minutes=2)) -> int | None:
    with session_scope(engine) as session:
        return store.claim_day(session, standup_id=standup_id, day=MONDAY, kind=store.STANDUP, lease_end=lease_end)


def the_day(engine, standup_id: int) -> StandupDay:
    with session_scope(engine) as session:
        day = store.day_of(session, standup_id=standup_id, day=MONDAY)
    assert day is not None
    return day


def test_a_day_is_claimed_once_even_by_schedulers_at_the_same_moment(engine) -> None:
    standup_id = new_standup(engine)
    start = threading.Barrier(4)
    claimed: list[int | None] = []

    def race() -> None:
        start.wait()
        claimed.append(claim_day(engine, standup_id))

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [winner] = [c for c in claimed if c is not None]
    assert claimed.count(None) == 3
    day = the_day(engine, standup_id)
    assert (day.id, day.kind, day.parent_ts, day.reminded, day.summarised) == (winner, "standup", None, False, False)


def test_a_try_holds_the_day_until_its_lease_ends_then_one_other_try_takes_it(engine) -> None:
    standup_id = new_standup(engine)
    day_id = claim_day(engine, standup_id, lease_end=NOW + timedelta(minutes=2))
    assert day_id is not None

    def take_over(now: datetime) -> bool:
        with session_scope(engine) as session:
            return store.take_over_day(session, day_id=day_id, kind=store.STANDUP, now=now,
                                       lease_end=now + timedelta(minutes=2))

    assert not take_over(NOW + timedelta(minutes=1))  # the first try still holds it
    assert take_over(NOW + timedelta(minutes=2))
    assert not take_over(NOW + timedelta(minutes=2))  # taken: the lease moved on
    with session_scope(engine) as session:
        store.put_off_day(session, day_id=day_id, until=NOW + timedelta(minutes=10))  # a backoff
    assert not take_over(NOW + timedelta(minutes=9)) and take_over(NOW + timedelta(minutes=10))


def test_a_posted_day_is_neither_taken_over_nor_missed(engine) -> None:
    standup_id = new_standup(engine)
    day_id = claim_day(engine, standup_id)
    with session_scope(engine) as session:
        store.mark_day_posted(session, day_id=day_id, parent_ts="1700000000.000100", now=NOW)
    with session_scope(engine) as session:
        assert not store.take_over_day(session, day_id=day_id, kind=store.STANDUP, now=NOW + timedelta(hours=1),
                                       lease_end=NOW + timedelta(hours=2))
        assert not store.mark_day_missed(session, day_id=day_id)
        assert store.thread_day(session, parent_ts="1700000000.000100")[1].id == day_id


def test_a_day_is_given_up_once(engine) -> None:
    standup_id = new_standup(engine)
    day_id = claim_day(engine, standup_id)
    with session_scope(engine) as session:
        assert store.mark_day_missed(session, day_id=day_id)
    with session_scope(engine) as session:
        assert not store.mark_day_missed(session, day_id=day_id)
    assert the_day(engine, standup_id).kind == store.MISSED


def test_settings_are_replaced_in_place_and_only_within_the_team(engine) -> None:
    standup_id = new_standup(engine)
    with session_scope(engine) as session:
        row = session.get(Standup, standup_id)
        row.digest, row.paused_until = True, date(2027, 4, 30)
    edited = store.StandupSettings(**{**SETTINGS.__dict__, "channel_id": "C2", "members": ["U3"], "time": "10:00",
                                      "timezone": "Europe/Berlin"})
    with session_scope(engine) as session:
        assert store.update_standup(session, team_id="T2", standup_id=standup_id, settings=edited) is None
        row = store.update_standup(session, team_id="T1", standup_id=standup_id, settings=edited)
    assert row is not None and row.id == standup_id
    with session_scope(engine) as session:
        [stored] = session.exec(select(Standup)).all()
    assert (stored.channel_id, stored.members, stored.time, stored.timezone) == ("C2", ["U3"], "10:00",
                                                                                  "Europe/Berlin")
    assert (stored.digest, stored.paused_until, stored.created_by) == (True, date(2027, 4, 30), "U1")


def test_an_answer_is_replaced_keeping_when_it_first_came(engine) -> None:
    standup_id = new_standup(engine)
    day_id = claim_day(engine, standup_id)

    def save(answers: dict[str, str], *, late: bool, message_ts: str | None) -> None:
        with session_scope(engine) as session:
            store.save_answer(session, standup_id=standup_id, day_id=day_id, user_id="U1", answers=answers,
                              blocker=None, late=late, now=NOW, message_ts=message_ts)

    save({"Today?": "evals"}, late=False, message_ts="1.1")
    save({"Today?": "rollout"}, late=True, message_ts=None)  # an edit through the form, after the summary
    with session_scope(engine) as session:
        [answer] = store.answers_of_day(session, day_id=day_id)
        assert store.answered_users(session, day_id=day_id) == {"U1"}
    assert (answer.answers, answer.late, answer.message_ts) == ({"Today?": "rollout"}, False, "1.1")


def test_a_blocker_is_carried_while_reported_and_solved_when_not(engine) -> None:
    standup_id = new_standup(engine)

    def carry(text: str | None, day: date) -> list[StandupBlocker]:
        with session_scope(engine) as session:
            store.carry_blocker(session, standup_id=standup_id, user_id="U1", text=text, day=day,
                                same=lambda a, b: a.split()[0] == b.split()[0])
        with session_scope(engine) as session:
            return list(session.exec(select(StandupBlocker).order_by(StandupBlocker.id)))

    [quota] = carry("quota for GPUs", MONDAY)
    [quota] = carry("quota still missing", MONDAY + timedelta(days=1))
    assert (quota.text, quota.first_day, quota.last_day) == ("quota still missing", MONDAY, MONDAY + timedelta(days=1))
    quota, legal = carry("legal review", MONDAY + timedelta(days=2))
    assert quota.resolved_on == MONDAY + timedelta(days=2) and legal.resolved_on is None
    with session_scope(engine) as session:
        assert [b.text for b in store.open_blockers(session, standup_id=standup_id)] == ["legal review"]
    _, legal = carry(None, MONDAY + timedelta(days=3))
    assert legal.resolved_on == MONDAY + timedelta(days=3)
