"""`/risk` end to end: driver → signed HTTP → Bolt → handler → slack_sdk → sandbox, on both databases."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import date, timedelta

from sqlmodel import select

from bot.risks.blocks import describe_changes
from storage.db import session_scope
from storage.models import LlmUsage, Risk, RiskChange
from tests.conftest import RunningBot
from tests.helpers import bot_env, pmbot
from tests.llm_stub import LlmStub


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def risk_command(bot: RunningBot, text: str, **options) -> dict:
    response = bot.driver.command("/risk", text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def stored(bot: RunningBot) -> list[Risk]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(Risk).order_by(Risk.id)))


def changes(bot: RunningBot) -> list[RiskChange]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(RiskChange).order_by(RiskChange.id)))


def cards(bot: RunningBot, channel: str = "C0GENERAL") -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel and m.get("thread_ts", m["ts"]) == m["ts"]]


def thread(bot: RunningBot, parent: dict) -> list[dict]:
    return [m for m in bot.sandbox.messages if m.get("thread_ts") == parent["ts"] and m["ts"] != parent["ts"]]


def private_notes(bot: RunningBot, user: str = "U0ALICE") -> list[str]:
    return [m["text"] for m in bot.sandbox.ephemeral if m["user"] == user]


def test_quick_add_with_inline_hints_is_complete_at_once(bot: RunningBot) -> None:
    ack = risk_command(bot, "The vendor may retire our fine-tuned model p=4 i=5 owner=<@U0BOB|bob> #vendor "
                            "mitigation=\"evaluate a second provider\" due=2030-01-15")
    assert "R-1" in ack["text"]
    [risk] = stored(bot)
    assert (risk.probability, risk.impact, risk.owner_id, risk.category) == (4, 5, "U0BOB", "vendor")
    assert risk.review_on == date(2030, 1, 15) and risk.mitigation == "evaluate a second provider"
    assert risk.title == "The vendor may retire our fine-tuned model" and risk.intake_step is None
    [card] = cards(bot)
    assert "Critical 20 (P4 × I5)" in dump(card["blocks"])
    assert thread(bot, card) == []  # nothing to ask: the card is the summary, with Edit
    assert "Edit" in dump(card["blocks"])


def test_thread_intake_completes_through_buttons(bot: RunningBot) -> None:
    risk_command(bot, "Annotators may label the eval set inconsistently")
    [card] = cards(bot)
    [risk] = stored(bot)
    assert risk.intake_step == "probability" and risk.category == "data"  # guessed from "label"
    assert "guessed from the text" in dump(card["blocks"])
    bot.driver.press("3 · possible")
    bot.runtime.settle()
    bot.driver.press("4 · major")
    bot.runtime.settle()
    bot.driver.choose("risk.answer.owner", "U0CARLOS")
    bot.runtime.settle()
    bot.driver.press("Skip")  # the mitigation
    bot.runtime.settle()
    [risk] = stored(bot)
    assert (risk.probability, risk.impact, risk.owner_id, risk.mitigation) == (3, 4, "U0CARLOS", None)
    assert risk.intake_step is None and risk.review_on is not None
    texts = [m["text"] for m in thread(bot, card)]
    assert any("✓ Probability: 3 (possible)" in t for t in texts)
    assert any("✓ Mitigation: skipped" in t for t in texts)
    assert "All set" in texts[-1]
    assert "High 12 (P3 × I4)" in dump(cards(bot)[0]["blocks"])
    assert [(c.field_name, c.new_value) for c in changes(bot)][:2] == [("probability", "3"), ("impact", "4")]
    assert [c.field_name for c in changes(bot)][2:] == ["review_on", "owner_id"]


def test_thread_intake_completes_through_typed_replies(bot: RunningBot) -> None:
    risk_command(bot, "Our summariser could leak customer names into shared reports")
    [card] = cards(bot)
    for answer in ("5", "4/5", "<@U0BOB>", "privacy", "Run the PII redactor on every summary before sharing"):
        bot.driver.reply(card["ts"], answer)
        bot.runtime.settle()
    [risk] = stored(bot)
    assert (risk.probability, risk.impact, risk.owner_id, risk.category) == (5, 4, "U0BOB", "privacy")
    assert risk.mitigation == "Run the PII redactor on every summary before sharing"
    assert risk.intake_step is None
    assert "All set" in thread(bot, card)[-1]["text"]


def test_a_bad_typed_answer_gets_a_private_hint_and_the_question_waits(bot: RunningBot) -> None:
    risk_command(bot, "GPU quota might run out before launch")
    [card] = cards(bot)
    bot.driver.reply(card["ts"], "very likely")
    bot.runtime.settle()
    assert any("number from 1 to 5" in t for t in private_notes(bot))
    assert stored(bot)[0].intake_step == "probability"


def test_a_double_press_and_a_repeated_event_record_one_answer(bot: RunningBot) -> None:
    risk_command(bot, "Prompt injection through uploaded PDFs")
    [card] = cards(bot)
    bot.driver.press("4 · likely", times=2)  # a double click: two payloads from the same message
    bot.runtime.settle()
    assert stored(bot)[0].probability == 4  # the second click is claimed away before it reaches the intake
    assert [c.field_name for c in changes(bot)].count("probability") == 1
    _, message = bot.driver.reply(card["ts"], "5", event_id="Ev-same")
    bot.runtime.settle()
    bot.driver.event({"type": "message", "channel": "C0GENERAL", "user": "U0ALICE", "text": "5",
                      "ts": message["ts"], "thread_ts": card["ts"]}, event_id="Ev-same", retry_num=1)
    bot.runtime.settle()
    [risk] = stored(bot)
    assert (risk.probability, risk.impact, risk.intake_step) == (4, 5, "owner")
    assert [c.field_name for c in changes(bot)].count("impact") == 1


def test_two_people_answering_at_once_record_one_answer(bot: RunningBot) -> None:
    risk_command(bot, "Key ML engineer on leave during the launch month")
    [card] = cards(bot)
    results = []

    def answer(user: str, text: str) -> None:
        results.append(bot.driver.reply(card["ts"], text, user=user)[0].status)

    threads = [threading.Thread(target=answer, args=(u, t)) for u, t in (("U0ALICE", "2"), ("U0BOB", "5"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bot.runtime.settle()
    assert results == [200, 200]
    [risk] = stored(bot)
    assert risk.probability in (2, 5) and risk.intake_step == "impact"
    assert [c.field_name for c in changes(bot)].count("probability") == 1
    assert any("answered that question just before you" in t
               for t in private_notes(bot, "U0ALICE") + private_notes(bot, "U0BOB"))
    texts = [m["text"] for m in thread(bot, card)]
    assert sum("✓ Probability" in t for t in texts) == 1 and sum("How bad" in t for t in texts) == 1


def test_the_form_with_bad_values_shows_field_errors_then_saves(bot: RunningBot) -> None:
    risk_command(bot, "")
    view = bot.driver.open_view()
    assert view["callback_id"] == "risk.form_modal"
    refused = bot.driver.submit({"Title": "x", "Review by": "2001-01-01"}).json()
    assert refused["response_action"] == "errors"
    assert set(refused["errors"]) == {"title", "probability", "impact", "review_on"}
    # Like Slack, the modal keeps what was typed before the errors: the past date is cleared by hand.
    ok = bot.driver.submit({"Title": "EU AI Act transparency duties apply to our chatbot", "Probability": "4",
                            "Impact": "4", "Category": "Regulatory and compliance", "Owner": "U0ALICE",
                            "Response": "Mitigate", "Review by": ""})
    assert ok.status == 200
    bot.runtime.settle()
    [risk] = stored(bot)
    assert (risk.probability, risk.impact, risk.category, risk.response, risk.intake_step) == (
        4, 4, "regulatory", "mitigate", None)
    assert (risk.review_on - risk.created_at.date()).days in (6, 7)  # critical: a week (team-local date)
    assert "Critical 16" in dump(cards(bot)[0]["blocks"])


def test_bad_arguments_get_clear_private_answers(bot: RunningBot) -> None:
    assert "Probability is a whole number from 1 to 5" in risk_command(bot, "Model drift p=9")["text"]
    assert "not a field I know" in risk_command(bot, "Model drift colour=red")["text"]
    assert "in the past" in risk_command(bot, "Model drift due=2020-01-01")["text"]
    assert stored(bot) == []
    assert "There is no risk R-99" in risk_command(bot, "show R-99")["text"]
    risk_command(bot, "Model drift after the provider update p=3 i=3")
    assert "not a field I know" in risk_command(bot, "update R-1 colour=red")["text"]
    assert "needs an end date" in risk_command(bot, "accept R-1 because")["text"]
    assert "in the past" in risk_command(bot, "accept R-1 until 2020-01-01 fine")["text"]
    assert "Link a bug" in risk_command(bot, "link R-1 nonsense")["text"]
    assert "There is no bug B-404" in risk_command(bot, "link R-1 B-404")["text"]
    assert "There is no risk R-77" in risk_command(bot, "link R-1 R-77")["text"]
    assert "Say why it is closed" in risk_command(bot, "close R-1")["text"]
    assert "Say why the risk is accepted" in risk_command(bot, "accept R-1 until 2030-01-01")["text"]


def test_update_close_accept_link_and_show_keep_the_history(bot: RunningBot) -> None:
    risk_command(bot, "Hallucinated citations in legal summaries p=3 i=4 owner=<@U0ALICE|alice> #hallucination "
                      "mitigation=\"citation checker\"")
    risk_command(bot, "update R-1 probability=4 owner=<@U0BOB|bob>")
    assert bot.driver.command("/bug", "the citation popover is misaligned").status == 200
    bot.runtime.settle()
    assert "linked to B-1" in risk_command(bot, "link R-1 b-1")["text"]
    risk_command(bot, "accept R-1 until 2030-06-30 the checker catches most of them")
    [risk] = stored(bot)
    assert (risk.probability, risk.owner_id, risk.status, risk.links) == (4, "U0BOB", "accepted", ["B-1"])
    assert risk.accepted_until == date(2030, 6, 30)
    shown = risk_command(bot, "show R-1")["text"]
    assert "Probability: 3 → 4" in shown and "Owner: <@U0ALICE> → <@U0BOB>" in shown
    assert "Status: open → accepted" in shown and "Links: ∅ → B-1" in shown
    risk_command(bot, "close R-1 replaced the feature")
    assert stored(bot)[0].status == "closed"
    assert "closed already" in risk_command(bot, "close R-1 again")["text"]
    notes = [m["text"] for m in thread(bot, cards(bot)[0])]
    assert any("closed R-1: replaced the feature" in n for n in notes)


def test_list_is_sorted_by_score_and_filters(bot: RunningBot) -> None:
    risk_command(bot, "Low one p=1 i=2 #cost")
    risk_command(bot, "Critical one p=5 i=5 #privacy owner=<@U0ALICE|alice>")
    risk_command(bot, "Medium one p=2 i=3 #privacy")
    listed = risk_command(bot, "list")["text"]
    assert listed.index("R-2") < listed.index("R-3") < listed.index("R-1")
    assert "R-1" not in risk_command(bot, "list privacy")["text"]
    assert "R-2" in risk_command(bot, "list mine")["text"] and "R-3" not in risk_command(bot, "list mine")["text"]
    assert "R-2" in risk_command(bot, "list critical")["text"] and "R-1" not in risk_command(bot, "list critical")[
        "text"]


def test_matrix_uploads_a_png(bot: RunningBot) -> None:
    risk_command(bot, "One p=5 i=5")
    risk_command(bot, "Two p=5 i=5")
    risk_command(bot, "Three p=1 i=2")
    risk_command(bot, "matrix")
    [file] = [f for f in bot.sandbox.ws.files.values() if f["name"].endswith(".png")]
    assert file["completed"] and file["content"].startswith(b"\x89PNG")
    assert "C0GENERAL" in file["shares"]["public"]


def test_export_uploads_a_csv_matching_the_register(bot: RunningBot) -> None:
    risk_command(bot, "=cmd|'/C calc' formula injection test p=2 i=2 #security")
    risk_command(bot, "Vendor lock-in p=3 i=3 #vendor owner=<@U0BOB|bob>")
    risk_command(bot, "export")
    [file] = [f for f in bot.sandbox.ws.files.values() if f["name"].endswith(".csv")]
    rows = list(csv.DictReader(io.StringIO(file["content"].decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == ["R-2", "R-1"]
    assert rows[0]["owner"] == "bob" and rows[0]["score"] == "9" and rows[0]["band"] == "medium"
    assert rows[1]["title"].startswith("'=cmd")  # never a live formula in a spreadsheet


def test_pii_in_a_risk_is_redacted_before_it_is_stored(bot: RunningBot) -> None:
    risk_command(bot, "Support bot could echo card 4111 1111 1111 1111 back to users p=2 i=5")
    [risk] = stored(bot)
    assert "4111 1111" not in risk.title and "••••1111" in risk.title
    assert any("removed a card number" in t for t in private_notes(bot))


# --- the review job, run as an operator would: `pmbot jobs run risk_review --now …` ----------------


def dms(bot: RunningBot, user: str) -> list[dict]:
    ims = {c.id for c in bot.sandbox.ws.channels.values() if c.is_im and user in c.members}
    return [m for m in bot.sandbox.messages if m["channel"] in ims]


def run_review(bot: RunningBot, db_url: str, tmp_path, when: date, time: str = "09:30") -> str:
    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url)
    result = pmbot("jobs", "run", "risk_review", "--now", f"{when.isoformat()}T{time}", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_review_job_dms_the_owner_once_a_day_then_tells_the_channel(bot: RunningBot, db_url: str,
                                                                    tmp_path) -> None:
    today = date.today()
    due = today + timedelta(days=2)
    risk_command(bot, f"Provider rate limits during launch p=3 i=3 owner=<@U0BOB|bob> #vendor due={due}")
    risk_command(bot, "Someone else's risk, not due p=2 i=2 owner=<@U0CARLOS|carlos> due=2099-01-01")
    assert "0 reminded" in run_review(bot, db_url, tmp_path, due, "07:00")  # before the team's morning
    assert "1 reminded" in run_review(bot, db_url, tmp_path, due)
    assert "0 reminded" in run_review(bot, db_url, tmp_path, due, "15:00")  # the same day: not again
    [reminder] = dms(bot, "U0BOB")
    assert "Time to review R-1" in reminder["text"] and "Still valid" in dump(reminder["blocks"])
    assert dms(bot, "U0CARLOS") == []
    assert "1 reminded" in run_review(bot, db_url, tmp_path, due + timedelta(days=1))
    assert len(dms(bot, "U0BOB")) == 2
    channel_before = len(cards(bot))
    out = run_review(bot, db_url, tmp_path, due + timedelta(days=3))
    assert "1 escalated" in out
    [notice] = cards(bot)[channel_before:]
    assert "R-1" in notice["text"] and "3 days past its review date" in notice["text"]
    assert "0 escalated" in run_review(bot, db_url, tmp_path, due + timedelta(days=4))


def test_still_valid_moves_the_review_date_by_the_band(bot: RunningBot, db_url: str, tmp_path) -> None:
    today = date.today()
    risk_command(bot, f"Eval set leaks into training data p=4 i=4 owner=<@U0ALICE|alice> due={today}")
    run_review(bot, db_url, tmp_path, today, "23:30")
    [reminder] = dms(bot, "U0ALICE")
    bot.driver.press("Still valid", channel=reminder["channel"])
    bot.runtime.settle()
    [risk] = stored(bot)
    assert risk.review_on == today + timedelta(days=7)  # critical (16): every week
    assert any("still valid" in n["text"] for n in thread(bot, cards(bot)[0]))


def test_review_job_reopens_expired_acceptances_and_nudges_unfinished_intakes(bot: RunningBot, db_url: str,
                                                                             tmp_path) -> None:
    today = date.today()
    risk_command(bot, "Model drift after vendor updates p=2 i=3 owner=<@U0CARLOS|carlos> mitigation=\"weekly evals\"")
    risk_command(bot, f"accept R-1 until {today + timedelta(days=1)} monitored weekly")
    risk_command(bot, "Half-told risk about the GPU budget")  # its intake waits for answers
    out = run_review(bot, db_url, tmp_path, today + timedelta(days=2))
    assert "1 reopened" in out and "1 nudged" in out
    reopened, waiting = stored(bot)
    assert (reopened.status, reopened.accepted_until) == ("open", None)
    assert any("ended on" in m["text"] for m in dms(bot, "U0CARLOS"))
    assert any("still has questions waiting" in m["text"] and "R-2" in m["text"] for m in dms(bot, "U0ALICE"))
    assert "0 nudged" in run_review(bot, db_url, tmp_path, today + timedelta(days=3))
    assert waiting.intake_step is not None
    shown = risk_command(bot, "show R-1")["text"]
    assert "pmbot Status: accepted → open" in shown


# --- the LLM reading the prose ----------------------------------------------------------------------


def test_the_llm_fills_what_the_author_left_out_and_is_never_trusted_blindly(bot_factory) -> None:
    stub = LlmStub()
    try:
        bot = bot_factory(openai_api_key="sk-test-stub", openai_base_url=stub.base_url, pmbot_llm_model="stub-model")
        stub.content = {"probability": 4, "impact": 5, "category": "hallucination"}
        risk_command(bot, "The refund assistant might quote rules we do not have to card 4111 1111 1111 1111 "
                          "holders p=2")
        [risk] = stored(bot)
        assert (risk.probability, risk.impact, risk.category) == (2, 5, "hallucination")  # p=2 was typed: kept
        assert set(risk.guessed) == {"impact", "category"} and risk.intake_step == "owner"
        sent = dump(stub.requests[-1])
        assert "4111 1111" not in sent and "••••1111" in sent and "<risk>" in sent
        stub.content = {"probability": 9, "impact": 3, "category": "hallucination"}  # out of the schema
        risk_command(bot, "Vendor may change tokenizer pricing")
        stub.content = {"probability": 3, "impact": 3, "category": "made-up-category"}
        risk_command(bot, "Our only eval engineer may leave the team")
        stub.mode = "error"
        risk_command(bot, "The provider may have an outage during the demo")
        _, invalid, unknown, down = stored(bot)
        assert (invalid.probability, invalid.impact) == (None, None) and invalid.category == "vendor"  # offline
        assert (unknown.probability, unknown.category) == (3, "people")  # our own guess, not theirs
        assert down.category == "vendor" and down.message_ts  # posted anyway
        with session_scope(bot.runtime.deps.engine) as session:
            usage = session.exec(select(LlmUsage).where(LlmUsage.feature == "risk_intake")).all()
        assert len(usage) == 3  # the calls that reached the model; the 500 has no usage
    finally:
        stub.stop()


def test_edit_opens_the_form_filled_in_and_saves_changes_with_history(bot: RunningBot) -> None:
    risk_command(bot, "Token costs may double with the new model p=3 i=3 #cost owner=<@U0BOB|bob> "
                      "mitigation=\"cache answers\"")
    bot.driver.press("Edit")
    view = bot.driver.open_view()
    assert view["callback_id"] == "risk.form_modal" and "Edit R-1" in dump(view["title"])
    assert bot.driver.submit({"Impact": "5", "Early-warning sign": "weekly spend up 20%"}).status == 200
    bot.runtime.settle()
    [risk] = stored(bot)
    assert (risk.probability, risk.impact, risk.owner_id, risk.mitigation) == (3, 5, "U0BOB", "cache answers")
    assert risk.trigger == "weekly spend up 20%"
    assert [c.field_name for c in changes(bot)] == ["impact", "trigger"]
    assert "High 15 (P3 × I5)" in dump(cards(bot)[0]["blocks"])


def test_review_buttons_close_through_a_form(bot: RunningBot, db_url: str, tmp_path) -> None:
    today = date.today()
    risk_command(bot, f"Annotation vendor may miss the deadline p=3 i=2 owner=<@U0BOB|bob> due={today}")
    run_review(bot, db_url, tmp_path, today, "23:00")
    [reminder] = dms(bot, "U0BOB")
    bot.driver.press("Close", user="U0BOB", channel=reminder["channel"])
    refused = bot.driver.submit({"Why is it closed?": ""}, user="U0BOB").json()
    assert refused["response_action"] == "errors"
    bot.driver.submit({"Why is it closed?": "second vendor signed"}, user="U0BOB")
    bot.runtime.settle()
    [risk] = stored(bot)
    assert (risk.status, risk.close_reason) == ("closed", "second vendor signed")


def test_owners_typed_as_plain_names_are_looked_up(bot: RunningBot) -> None:
    risk_command(bot, "Scraped data may carry licence terms we break p=3 i=4 owner=@bob #ip")
    assert stored(bot)[0].owner_id == "U0BOB"
    assert "I do not know @nobody" in risk_command(bot, "Another one p=1 i=1 owner=@nobody")["text"]
    risk_command(bot, "Latency of the reranker could grow with the index p=2 i=2")
    card = cards(bot)[-1]
    bot.driver.reply(card["ts"], "@carlos")
    bot.runtime.settle()
    assert stored(bot)[-1].owner_id == "U0CARLOS"


def test_long_lists_are_paginated(bot: RunningBot) -> None:
    for n in range(17):
        risk_command(bot, f"Risk number {n} p=2 i=2 #schedule owner=<@U0BOB|bob> mitigation=\"plan {n}\"")
    first = risk_command(bot, "list")
    assert "(1–15 of 17)" in first["text"] and "Next page" in dump(first["blocks"])
    bot.driver.press("Next page")
    bot.runtime.settle()
    assert "(16–17 of 17)" in dump(bot.sandbox.responses)


def test_a_list_of_changes_is_said_in_one_line() -> None:
    changes = [RiskChange(team_id="T0", risk_id=1, user_id="U0ALICE", field_name="probability", old_value="2",
                          new_value="4"),
               RiskChange(team_id="T0", risk_id=1, user_id="U0ALICE", field_name="owner_id", old_value=None,
                          new_value="U0BOB"),
               RiskChange(team_id="T0", risk_id=1, user_id="U0ALICE", field_name="title", old_value="A <b>",
                          new_value="")]
    assert describe_changes(changes) == "probability 2 → 4, owner ∅ → <@U0BOB>, title A &lt;b&gt; → ∅"
