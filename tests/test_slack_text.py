"""Text exactly as Slack sends it (escaped `&`, `<`, `>`; mentions as markup), through every surface: cards,
`show`, Jira, files, CSV, forms. And typos or bare sub-commands that must not file anything."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.mirror import outbox
from storage.clock import system_clock
from storage.db import session_scope
from storage.models import Bug, Risk
from tests.conftest import RunningBot
from tests.jira_stub import SETTINGS, JiraStub
from tests.test_risk import dms, run_review

# What Slack sends for `Export fails when the file name has & or <1> in it` (command text is escaped).
WIRE = "Export fails when the file name has &amp; or &lt;1&gt; in it"
TYPED = "Export fails when the file name has & or <1> in it"
SHOWN = "Export fails when the file name has &amp; or &lt;1&gt; in it"  # mrkdwn: escaped once, shown as typed


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def stored(bot: RunningBot, model) -> list:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(model)))


def top_level(bot: RunningBot, channel: str = "C0GENERAL") -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel and m.get("thread_ts", m["ts"]) == m["ts"]]


@pytest.fixture
def jira():
    stub = JiraStub()
    yield stub
    stub.down()


def test_escaped_text_is_decoded_once_and_shown_once_escaped_everywhere(bot_factory, jira: JiraStub) -> None:
    bot = bot_factory(jira_url=jira.url, jira_user=jira.user, jira_api_token=jira.token, **SETTINGS)
    command(bot, "/bug", WIRE)
    [bug] = stored(bot, Bug)
    assert bug.text == TYPED and bug.title.startswith("Export fails")
    [card] = top_level(bot)
    shown = dump(card["blocks"]) + card["text"]
    assert SHOWN in shown and "&amp;amp;" not in shown and "&amp;lt;" not in shown
    show = command(bot, "/bug", "show B-1")
    assert SHOWN in dump(show) and "&amp;amp;" not in dump(show)
    outbox.deliver(bot.runtime.deps, now=system_clock())
    [issue] = jira.issues.values()
    description = issue.fields["description"]
    assert TYPED in description and "&amp;" not in description and "&lt;" not in description


def test_dollars_stars_and_non_latin_text_round_trip(bot: RunningBot) -> None:
    typed = "模型 shows $5 *twice* — ошибка & <b> in Ελληνικά"
    command(bot, "/bug", typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    [bug] = stored(bot, Bug)
    assert bug.text == typed
    [card] = top_level(bot)
    assert "模型 shows $5 *twice* — ошибка &amp; &lt;b&gt; in Ελληνικά" in dump(card["blocks"])


@pytest.mark.parametrize(("name", "text", "answer"), [
    ("/bug", "lst", "Did you mean `/bug list"),
    ("/bug", "show 5", "`/bug show B-12`"),
    ("/bug", "close", "`/bug close B-12 [resolution]`"),
    ("/risk", "updte R-1 p=2", "Did you mean `/risk update"),
    ("/risk", "show", "`/risk show R-3`"),
])
def test_typos_and_bare_sub_commands_file_nothing_and_answer_privately(bot: RunningBot, name: str, text: str,
                                                                       answer: str) -> None:
    ack = command(bot, name, text)
    assert ack.get("response_type", "ephemeral") == "ephemeral"
    assert answer in ack["text"] and "Nothing was filed" in ack["text"]
    assert stored(bot, Bug) == [] and stored(bot, Risk) == []
    assert top_level(bot) == []  # nothing public: no card, no intake thread to nag anyone later


def test_report_files_text_that_begins_with_a_sub_command_word(bot: RunningBot) -> None:
    ack = command(bot, "/bug", "report close button does nothing on Safari")
    assert "B-1" in ack["text"]
    [bug] = stored(bot, Bug)
    assert bug.text == "close button does nothing on Safari"


def test_files_csv_and_forms_name_people_instead_of_showing_ids(bot: RunningBot) -> None:
    command(bot, "/risk", "Vendor raises GPU prices p=3 i=4 owner=<@U0ALICE|alice> mitigation=\"&lt;none yet&gt;\"")
    command(bot, "/risk", "export")
    [export] = [f for f in bot.sandbox.ws.files.values() if f["name"].endswith(".csv")]
    rows = list(csv.DictReader(io.StringIO(export["content"].decode("utf-8-sig"))))
    assert rows[0]["owner"] == "alice" and rows[0]["created_by"] == "alice"
    assert rows[0]["mitigation"] == "<none yet>"  # decoded once, written as typed
    assert "U0ALICE" not in export["content"].decode("utf-8-sig")


def test_the_postmortem_file_names_people(bot: RunningBot) -> None:
    command(bot, "/incident", "declare Summaries mention &lt;internal&gt; notes grade 2")
    room = [m for m in bot.sandbox.channels.values() if m.name.startswith("inc-")][0].id
    command(bot, "/incident", "role <@U0BOB|bob> comms", channel=room)
    command(bot, "/incident", "note asked <@U0CARLOS> to check <#C0RANDOM|random>", channel=room)
    command(bot, "/incident", "resolve rolled back", channel=room)
    bot.driver.press("Resolve anyway", channel=room)  # the runbook's steps are still open
    bot.runtime.settle()
    [document] = [f for f in bot.sandbox.ws.files.values() if f["name"] == "postmortem-INC-1.md"]
    text = document["content"].decode()
    assert "comms: nobody → @bob" in text and "asked @carlos to check #random" in text
    assert "Summaries mention <internal> notes" in text
    assert "<@" not in text and "<#" not in text and "&lt;" not in text


def test_a_closed_risk_never_nags_its_author_for_its_unfinished_intake(bot: RunningBot, db_url: str,
                                                                       tmp_path) -> None:
    command(bot, "/risk", "Half-told risk about the GPU budget")  # its intake waits for answers
    command(bot, "/risk", "close R-1 filed by mistake")
    out = run_review(bot, db_url, tmp_path, date.today() + timedelta(days=2))
    assert "0 nudged" in out
    assert not any("still has questions waiting" in m["text"] for m in dms(bot, "U0ALICE"))


def test_make_it_a_risk_names_the_person_in_the_form(bot: RunningBot) -> None:
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0BOB|bob> summary=60")
    bot.runtime.scheduler.run_now("standup", datetime(2027, 3, 29, 9, 30, tzinfo=UTC))
    bot.runtime.settle()
    [parent] = [m for m in top_level(bot) if m["text"].startswith("Stand-up —")]
    bot.driver.reply(parent["ts"], "1. evals\n2. evals\n3. waiting on &lt;legal&gt; &amp; <@U0CARLOS>", user="U0BOB")
    bot.runtime.settle()
    bot.runtime.scheduler.run_now("standup", datetime(2027, 3, 29, 10, 31, tzinfo=UTC))
    bot.runtime.settle()
    bot.driver.press("Make it a risk")
    bot.runtime.settle()
    view = bot.driver.open_view()
    shown = dump(view)
    assert "Blocker reported by @bob" in shown and "waiting on <legal> & @carlos" in shown
    assert "<@" not in shown


def test_chart_labels_show_dollars_as_text_not_math() -> None:
    from bot.charts import render

    seen: list[bool] = []

    def draw(figure) -> None:
        axes = figure.subplots()
        title = axes.set_title("spent $1,200 of $5,000 on R&D <eval> $x^2$")
        seen.append(title.get_parse_math())

    assert render(draw, size=(3, 2)).startswith(b"\x89PNG")
    assert seen == [False]


def test_a_web_address_as_slack_sends_it_is_a_link(bot: RunningBot) -> None:
    command(bot, "/risk", "Vendor raises GPU prices p=3 i=4")
    ack = command(bot, "/risk", "link R-1 <https://docs.example.com/vendor-terms>")
    assert "R-1 is linked to https://docs.example.com/vendor-terms" in ack["text"]
    [risk] = stored(bot, Risk)
    assert risk.links == ["https://docs.example.com/vendor-terms"]
