"""Edge input at the edge (issue #19, defect 8): what a person or a stranger can send that no code path expects.

Malformed signing headers are refused like any bad signature (401, never a 500); a number no column can hold is
answered like any wrong or unknown number; control characters (a NUL above all, which PostgreSQL refuses in text)
are stripped where text enters; and a CSV line Python's csv module cannot read is a user error naming the line.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, date
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.domain import bills
from bot.domain.budget import MoneyError
from bot.domain.text import from_slack, strip_controls, strip_controls_in
from bot.errors import NotFound, UserInputError
from bot.registry import MAX_ROW_ID, bounded_int, is_number, row_id
from bot.sandbox.driver import FORM
from storage.db import session_scope
from storage.models import Bug, BugGradeChange, CostEntry, Incident, Risk
from tests.conftest import RunningBot

WENT_WRONG = "Something went wrong on our side"
ADMINS_AND_RESPONDERS = {"pmbot_budget_admins": "U0ALICE", "pmbot_incident_channel": "C0RANDOM",
                         "pmbot_incident_responders": "1=S0ONCALL; 2=U0BOB", "pmbot_legal_contacts": "U0CARLOS"}


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    return bot_factory(**ADMINS_AND_RESPONDERS)


def answers(bot: RunningBot, command: str, words: str, **options) -> str:
    """Everything the person is told: the ack's text and whatever came through response_url after it."""
    before = len(bot.sandbox.responses)
    response = bot.driver.command(command, words, **options)
    assert response.status == 200, response.body
    bot.runtime.settle()
    acked = (response.json() if response.body.strip() else {}).get("text", "")
    return "\n".join([acked, *(r.get("text", "") for r in bot.sandbox.responses[before:])])


# --- malformed signing headers -----------------------------------------------------------------------------


def _post_raw(bot: RunningBot, headers: dict[str, bytes]) -> tuple[int, bytes]:
    """POST a command with header values sent as raw bytes (urllib would refuse some of them)."""
    url = urlparse(bot.driver.events_url)
    body = b"command=%2Fpmbot&text=help&team_id=T0SANDBOX&user_id=U0ALICE&channel_id=C0GENERAL"
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.putrequest("POST", url.path)
        conn.putheader("Content-Type", FORM)
        conn.putheader("Content-Length", str(len(body)))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


A_SIGNATURE = b"v0=" + b"0" * 64


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("timestamp", "signature"), [
    (b"abc", A_SIGNATURE), (b"", A_SIGNATURE), (b"1.5", A_SIGNATURE), (b"-5", A_SIGNATURE), (b"1e3", A_SIGNATURE),
    (b"0x10", A_SIGNATURE), (b"9" * 40, A_SIGNATURE), (b"9" * 5000, A_SIGNATURE),
    ("١٧٠٠٠٠٠٠٠٠".encode(), A_SIGNATURE),  # Arabic-Indic digits, which int() would read
    (None, b"v0=\xff" + b"0" * 62),  # a non-ASCII signature: hmac.compare_digest raises TypeError on it
], ids=["letters", "empty", "float", "negative", "exponent", "hex", "huge", "5000-digits", "unicode-digits",
        "non-ascii-signature"])
def test_malformed_signing_headers_are_refused_like_a_bad_signature(bot: RunningBot, caplog, timestamp: bytes | None,
                                                                    signature: bytes) -> None:
    caplog.set_level(logging.INFO)
    stamp = timestamp if timestamp is not None else str(int(time.time())).encode()
    status, body = _post_raw(bot, {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature})
    assert status == 401
    assert json.loads(body) == {"error": "invalid request"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert bot.sandbox.calls == []


# --- numbers: bounded before they reach SQL --------------------------------------------------------------


def test_the_number_helpers() -> None:
    assert is_number("12") and not is_number("²") and not is_number("١٢") and not is_number("-1")
    assert bounded_int("7", low=1, high=9, what="a page") == 7
    for word in ("0", "10", "9" * 5000, "²", "1.5", ""):
        with pytest.raises(UserInputError, match="A page is a whole number from 1 to 9"):
            bounded_int(word, low=1, high=9, what="a page")
    assert row_id(str(MAX_ROW_ID), unknown="none") == MAX_ROW_ID
    for word in (str(MAX_ROW_ID + 1), "0", "9" * 5000):
        with pytest.raises(NotFound, match="There is no thing"):
            row_id(word, unknown="There is no thing")


def test_numbers_no_column_holds_are_answered_like_unknown_ones(bot: RunningBot) -> None:
    huge = "999999999999999999999"
    assert "A page is a whole number from 1 to 100,000" in answers(bot, "/bug", f"list page {huge}")
    assert "A page is a whole number from 1 to 100,000" in answers(bot, "/risk", f"list page {huge}")
    for verb in ("pause", "resume", "remove", "digest"):
        said = answers(bot, "/standup", f"{verb} 99999999999" + (" on" if verb == "digest" else ""))
        assert "There is no stand-up 99999999999: `/standup list` shows them." in said, said
    said = answers(bot, "/standup", "edit 99999999999 <#C0GENERAL> 09:30 UTC mon-fri <@U0BOB>")
    assert "There is no stand-up 99999999999" in said
    assert "There is no stand-up 12: `/standup list` shows them." in answers(bot, "/standup", "pause 12")  # the same
    said = answers(bot, "/incident", "drill unschedule 99999999999")
    assert "There is no drill schedule 99999999999: `/incident drill schedules` lists them." in said


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("command", "words", "expected"), [
    ("/standup", "pause ²", "/standup pause N"),
    ("/standup", "remove " + "9" * 5000, "There is no stand-up 9999"),
    ("/standup", "setup <#C0GENERAL> 09:30 UTC mon-fri <@U0BOB> remind=²", "give minutes from 5 to 720"),
    ("/budget", "report mon ²", "/budget report"),
    ("/bug", "list page ²", "`/bug list [open|closed|all] [grade N] [mine] [page N]`"),
    ("/bug", "list grade 99999999999999999999", "Grades go from 1 to 5"),
], ids=["superscript-id", "5000-digit-id", "superscript-minutes", "superscript-hour", "superscript-page",
        "huge-grade"])
def test_odd_digits_get_an_answer_not_an_error_id(bot: RunningBot, command: str, words: str, expected: str) -> None:
    said = answers(bot, command, words)
    assert WENT_WRONG not in said and expected in said, said


# --- control characters -----------------------------------------------------------------------------------


def test_strip_controls_keeps_text_and_line_breaks() -> None:
    assert strip_controls("a\x00b\x07c\x1b[1m\x7f\x85\x9fd") == "abc[1md"
    assert strip_controls("one\r\ntwo\rthree\n\tfour") == "one\ntwo\nthree\n\tfour"
    assert strip_controls("\ud800x") == "x"  # a lone surrogate: no UTF-8 encoder takes it
    kept = "Grüße 👩‍💻 ١٢ — é\u200b"
    assert strip_controls(kept) == kept
    assert from_slack("&lt;a&gt;\x00 &amp;") == "<a> &"
    assert strip_controls_in({"title": {"title": {"value": "a\x00b"}}, "n": [1, "c\x01"]}) == {
        "title": {"title": {"value": "ab"}}, "n": [1, "c"]}


def _strings(value: Any) -> Iterator[str]:
    """The strings in a column's value, inside JSON too (SQLite hands JSON columns back as text)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _control_characters_stored(engine: Engine) -> list[str]:
    """Every value in every table holding a control character other than a line break or a tab."""
    found = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                found += [f"{table}.{column}: {value!r:.80}" for column, value in row.items()
                          if any(strip_controls(s) != s for s in _strings(value))]
    return found


def test_a_nul_in_text_is_stripped_where_it_enters_and_every_command_succeeds(bot: RunningBot) -> None:
    said = [answers(bot, "/bug", "a\x00b the export button is broken \x07"),
            answers(bot, "/risk", "a\x00b vendor may fail p=2 i=2"),
            answers(bot, "/risk", "close R-1 a\x00b replaced the vendor"),
            answers(bot, "/incident", "declare a\x00b outage of the model grade 2"),
            answers(bot, "/budget", "set 50000 USD month"),
            answers(bot, "/cost", "add 5 api a\x00b tokens"),
            answers(bot, "/cost", 'map "a\x00b service" compute')]
    assert not [s for s in said if WENT_WRONG in s], said
    with session_scope(bot.runtime.deps.engine) as session:
        bug = session.exec(select(Bug)).one()
        risk = session.exec(select(Risk)).one()
        incident = session.exec(select(Incident)).one()
        entry = session.exec(select(CostEntry)).one()
        assert bug.text.startswith("ab the export button")
        assert risk.title.startswith("ab vendor") and risk.close_reason == "ab replaced the vendor"
        assert incident.title.startswith("ab outage")
        assert "ab tokens" in entry.note
        room = incident.channel_id
    assert WENT_WRONG not in answers(bot, "/incident", "note a\x00b the draft policy was indexed", channel=room)
    assert _control_characters_stored(bot.runtime.deps.engine) == []


def test_a_nul_typed_into_a_modal_is_stripped(bot: RunningBot) -> None:
    answers(bot, "/bug", "Responses take 25 seconds at peak")
    bot.driver.choose("Change grade", "2 — High", user="U0BOB")
    bot.runtime.settle()
    assert bot.driver.submit({"Why?": "It blocks\x00 checkout\x1b for every EU customer"}, user="U0BOB").status == 200
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:
        change = session.exec(select(BugGradeChange).where(BugGradeChange.kind == "change")).one()
    assert change.reason == "It blocks checkout for every EU customer"


def test_a_cost_file_with_nul_bytes_imports_with_them_stripped(bot: RunningBot) -> None:
    answers(bot, "/budget", "set 50000 USD month")
    day = date.today().replace(day=1)
    content = f"date,service,amount,currency,note\n{day},Amazon\x00 EC2,10,USD,GPU\x00 hours\x07\n".encode()
    bot.driver.share_file("bill.csv", content, text="this month's bill")
    bot.runtime.settle()
    message = [m for m in bot.sandbox.messages if m.get("files")][-1]
    before = len(bot.sandbox.responses)
    assert bot.driver.shortcut("cost_import_file", message=message).status == 200
    bot.runtime.settle()
    said = "\n".join(r.get("text", "") for r in bot.sandbox.responses[before:])
    assert "Imported 1 line" in said, said
    with session_scope(bot.runtime.deps.engine) as session:
        entry = session.exec(select(CostEntry)).one()
    assert (entry.service, entry.note) == ("Amazon EC2", "GPU hours")


# --- CSV a person pasted ----------------------------------------------------------------------------------

CONTEXT = bills.Context(UTC, date(2026, 11, 5), "USD", None)


def _read(lines: list[str]) -> bills.Summary:
    return bills.read_bill(lines, context=CONTEXT, categorise=lambda _line, _layout: "compute")


@pytest.mark.parametrize(("lines", "expected"), [
    (["date,service,amount\n", "2026-11-01,a,b\rc\n"], "line 2: not CSV I can read (a line break inside a "
                                                       "field that is not in double quotes"),
    (["date,service,amount\n", "2026-11-01,ok,1\n", f'2026-11-01,"{"x" * 140_000}",5\n'],
     "line 3: not CSV I can read (a field longer than 131,072 characters)"),
], ids=["bare-cr", "huge-field"])
def test_csv_the_csv_module_refuses_is_a_user_error_naming_the_line(lines: list[str], expected: str) -> None:
    with pytest.raises(MoneyError) as refused:
        _read(lines)
    assert str(refused.value).startswith(expected)


def test_control_characters_in_a_json_cost_export_are_stripped() -> None:
    document = {"object": "page", "data": [{"object": "bucket", "start_time": 1793577600, "results": [
        {"object": "organization.costs.result", "amount": {"value": 1.5, "currency": "usd"},
         "line_item": "gpt-4o\u0000, input"}]}]}
    summary = _read([json.dumps(document)])
    assert [service for (_day, _category, service, _note) in summary.groups] == ["gpt-4o, input"]


@pytest.mark.sqlite_only
def test_pasted_csv_errors_are_user_errors_naming_the_line(bot: RunningBot) -> None:
    answers(bot, "/budget", "set 50000 USD month")
    said = answers(bot, "/cost", "import a,b\rc")
    assert "Nothing was imported" in said and WENT_WRONG not in said
    huge = answers(bot, "/cost", f'import date,service,amount\n2026-11-01,"{"x" * 140_000}",5')
    assert "Nothing was imported: line 2: not CSV I can read (a field longer than 131,072 characters)" in huge, \
        huge[:300]
