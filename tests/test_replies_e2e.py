"""Thread replies as Slack sends them — formatted text, `file_share`, `thread_broadcast`, `message_changed`,
`message_deleted`, bot messages — for stand-ups and risk intakes, end to end through the sandbox on both
databases. Text goes in as Slack's wire form (`&amp;`), as `Driver.say` sends it unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import select

from storage.db import session_scope
from storage.models import Risk, StandupAnswer, StandupBlocker
from tests.conftest import RunningBot

YESTERDAY, TODAY, BLOCKERS = "What did you do yesterday?", "What will you do today?", "Anything blocking you?"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def run_standups(bot: RunningBot, when: str) -> str:
    [result] = bot.runtime.scheduler.run_now("standup", datetime.fromisoformat(when).astimezone(UTC))
    assert result.status == "ok", result.detail
    bot.runtime.settle()
    return result.detail or ""


def standup_post(bot: RunningBot) -> dict:
    [parent] = [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL" and m["text"].startswith("Stand-up —")]
    return bot.sandbox.ws.message("C0GENERAL", parent["ts"])


def answers(bot: RunningBot) -> dict[str, StandupAnswer]:
    with session_scope(bot.runtime.deps.engine) as session:
        return {a.user_id: a for a in session.exec(select(StandupAnswer))}


def three(answer: StandupAnswer) -> tuple[str | None, str | None, str | None, str | None]:
    return (answer.answers.get(YESTERDAY), answer.answers.get(TODAY), answer.answers.get(BLOCKERS), answer.blocker)


def add_member(bot: RunningBot, user: str, name: str) -> None:
    with bot.sandbox.lock:
        bot.sandbox.ws.add_user(user, name)
        bot.sandbox.ws.channels["C0GENERAL"].members.add(user)


def reminded(bot: RunningBot) -> list[str]:
    ims = {c.id: c for c in bot.sandbox.ws.channels.values() if c.is_im}
    return [next(iter(ims[m["channel"]].members - {"U0PMBOT"})) for m in bot.sandbox.messages
            if m["channel"] in ims and "stand-up" in m["text"]]


def private_notes(bot: RunningBot, user: str = "U0ALICE") -> list[str]:
    """What the bot told `user` privately with chat.postEphemeral (not the acks of their commands)."""
    return [m["text"] for m in bot.sandbox.ephemeral if m["user"] == user and m.get("source") == "chat.postEphemeral"]


# --- stand-ups ---------------------------------------------------------------------------------------------


def test_each_stand_up_answer_form_records_the_right_three_fields_and_blocker(bot: RunningBot) -> None:
    add_member(bot, "U0DANA", "dana")
    add_member(bot, "U0ERIK", "erik")
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0CARLOS|carlos> "
                             "<@U0DANA|dana> <@U0ERIK|erik> summary=240")
    run_standups(bot, "2027-03-29T09:30+00:00")
    parent = standup_post(bot)
    typed = {
        "U0BOB": "*Yesterday:* shipped eval\n*Today:* prompt tuning\n*Blockers:* none",
        "U0ALICE": "- Yesterday: fixed the tokenizer\n- Today: evals\n- Blockers: waiting on GPU quota",
        "U0CARLOS": "Yesterday: fixed the eval Today: prompt tuning Blockers: waiting on legal",
        "U0DANA": "• _Ayer:_ revisión\n• _Hoy:_ despliegue\n• _Bloqueos:_ legal &amp; security",
        "U0ERIK": "1. *Hier* : revue\n2. *Aujourd’hui* : tests\n3. *Blocages* : aucun",
    }
    for user, text in typed.items():
        bot.driver.reply(parent["ts"], text, user=user)
    bot.runtime.settle()
    got = {user: three(answer) for user, answer in answers(bot).items()}
    assert got == {
        "U0BOB": ("shipped eval", "prompt tuning", "none", None),
        "U0ALICE": ("fixed the tokenizer", "evals", "waiting on GPU quota", "waiting on GPU quota"),
        "U0CARLOS": ("fixed the eval", "prompt tuning", "waiting on legal", "waiting on legal"),
        "U0DANA": ("revisión", "despliegue", "legal & security", "legal & security"),
        "U0ERIK": ("revue", "tests", "aucun", None),
    }
    assert "5/5 answered · 3 blockers" in bot.sandbox.ws.message("C0GENERAL", parent["ts"])["text"]
    with session_scope(bot.runtime.deps.engine) as session:
        assert sorted(b.text for b in session.exec(select(StandupBlocker))) == [
            "legal & security", "waiting on GPU quota", "waiting on legal"]
    assert "1 summaries" in run_standups(bot, "2027-03-29T13:31+00:00")
    [summary] = [m for m in bot.sandbox.messages if m.get("thread_ts") == parent["ts"] and "summary" in m["text"]]
    shown = json.dumps(summary["blocks"], ensure_ascii=False)
    assert "<@U0DANA>: legal &amp; security — day 1" in shown and "&amp;amp;" not in shown  # escaped once


def test_a_file_shared_in_the_thread_counts_and_its_author_is_not_reminded(bot: RunningBot) -> None:
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0CARLOS|carlos> remind=60")
    run_standups(bot, "2027-03-29T09:30+00:00")
    parent = standup_post(bot)
    bot.driver.share_file("screenshot.png", PNG, thread_ts=parent["ts"], user="U0BOB")  # a screenshot, no text
    bot.driver.share_file("eval-report.pdf", b"%PDF-1.7", thread_ts=parent["ts"], user="U0ALICE",
                          text="*Yesterday:* eval report attached\n*Today:* prompt tuning\n*Blockers:* none")
    bot.runtime.settle()
    got = answers(bot)
    assert three(got["U0BOB"]) == ("(shared a file: screenshot.png)", None, None, None)
    assert three(got["U0ALICE"]) == ("eval report attached", "prompt tuning", "none", None)
    assert "2/3 answered · 0 blockers" in bot.sandbox.ws.message("C0GENERAL", parent["ts"])["text"]
    assert "1 reminders" in run_standups(bot, "2027-03-29T10:31+00:00")
    assert reminded(bot) == ["U0CARLOS"]


def test_broadcast_replies_edits_and_deletions_in_a_stand_up_thread(bot: RunningBot) -> None:
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob> <@U0CARLOS|carlos> remind=60")
    run_standups(bot, "2027-03-29T09:30+00:00")
    parent = standup_post(bot)
    bot.driver.reply(parent["ts"], "Yesterday: evals\nToday: rollout\nBlockers: waiting on legal", user="U0BOB",
                     broadcast=True)  # "also send to #general": subtype thread_broadcast
    _, alice = bot.driver.reply(parent["ts"], "Yesterday: evals Today: rollout Blockers: GPU quota", user="U0ALICE")
    bot.runtime.settle()
    assert three(answers(bot)["U0ALICE"])[3] == "GPU quota"
    bot.driver.edit(alice, "*Yesterday:* evals\n*Today:* rollout\n*Blockers:* —")  # message_changed
    _, carlos = bot.driver.share_file("trace.png", PNG, thread_ts=parent["ts"], user="U0CARLOS")
    bot.runtime.settle()
    bot.driver.edit(carlos, "- Yesterday: traced the timeout\n- Today: fix it\n- Blockers: waiting on the vendor")
    bot.runtime.settle()
    got = answers(bot)
    assert three(got["U0BOB"]) == ("evals", "rollout", "waiting on legal", "waiting on legal")
    assert three(got["U0ALICE"]) == ("evals", "rollout", "—", None)
    assert three(got["U0CARLOS"]) == ("traced the timeout", "fix it", "waiting on the vendor", "waiting on the vendor")
    assert len(got) == 3
    bot.driver.delete(alice)  # message_deleted: not an answer, and it takes nothing away
    bot.runtime.settle()
    assert three(answers(bot)["U0ALICE"]) == ("evals", "rollout", "—", None)
    assert "3/3 answered · 2 blockers" in bot.sandbox.ws.message("C0GENERAL", parent["ts"])["text"]


def test_a_deleted_reply_is_never_taken_as_an_answer(bot: RunningBot) -> None:
    command(bot, "/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob> remind=60")
    run_standups(bot, "2027-03-29T09:30+00:00")
    parent = standup_post(bot)
    text = "Yesterday: evals\nToday: rollout\nBlockers: none"
    with bot.sandbox.lock:  # a reply whose own event never reached the bot, then deleted: only message_deleted comes
        lost = bot.sandbox.ws.post(bot.sandbox.channels["C0GENERAL"], "U0BOB",
                                   {"text": text, "thread_ts": parent["ts"]})
    bot.driver.delete(lost)
    bot.runtime.settle()
    assert answers(bot) == {}
    assert "2 reminders" in run_standups(bot, "2027-03-29T10:31+00:00")


# --- risk intakes ------------------------------------------------------------------------------------------


def stored_risk(bot: RunningBot) -> Risk:
    with session_scope(bot.runtime.deps.engine) as session:
        [risk] = session.exec(select(Risk)).all()
        return risk


def risk_card(bot: RunningBot) -> dict:
    [card] = [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL" and m["text"] and "R-1" in m["text"]
              and m.get("thread_ts", m["ts"]) == m["ts"]]
    return card


def test_a_risk_intake_is_answered_by_files_shared_in_its_thread(bot: RunningBot) -> None:
    command(bot, "/risk", "Our summariser could leak customer names into shared reports")
    card = risk_card(bot)
    assert stored_risk(bot).intake_step == "probability"
    bot.driver.share_file("usage-graph.png", PNG, thread_ts=card["ts"])  # no text: it cannot be a probability
    bot.runtime.settle()
    assert stored_risk(bot).intake_step == "probability"
    [note] = private_notes(bot)
    assert "cannot read an answer from a file" in note and "number from 1 to 5" in note
    bot.driver.share_file("forecast.png", PNG, text="4", thread_ts=card["ts"])  # the text is the answer
    bot.runtime.settle()
    for answer in ("5", "<@U0BOB>", "privacy"):
        bot.driver.reply(card["ts"], answer)
        bot.runtime.settle()
    assert stored_risk(bot).intake_step == "mitigation"
    bot.driver.share_file("redaction-plan.pdf", b"%PDF-1.7", thread_ts=card["ts"])  # free text: the file is kept
    bot.runtime.settle()
    risk = stored_risk(bot)
    assert (risk.probability, risk.impact, risk.owner_id, risk.category) == (4, 5, "U0BOB", "privacy")
    assert risk.mitigation == "(shared a file: redaction-plan.pdf)" and risk.intake_step is None
    assert len(private_notes(bot)) == 1


def test_a_risk_intake_reads_broadcasts_and_edits_and_ignores_bots_and_deletions(bot: RunningBot) -> None:
    command(bot, "/risk", "Our summariser could leak customer names into shared reports")
    card = risk_card(bot)
    general = bot.sandbox.channels["C0GENERAL"]
    with bot.sandbox.lock:
        other_app = bot.sandbox.ws.post(general, "U0CIBOT", {"text": "4", "thread_ts": card["ts"]})
        lost = bot.sandbox.ws.post(general, "U0ALICE", {"text": "4", "thread_ts": card["ts"]})
    bot.driver.event({"type": "message", "subtype": "bot_message", "text": "4", "ts": other_app["ts"],
                      "thread_ts": card["ts"], "bot_id": "B0CIBOT", "username": "ci", "channel": "C0GENERAL",
                      "channel_type": "channel"})
    bot.driver.event({"type": "message", "text": "4", "user": "U0CIBOT", "bot_id": "B0CIBOT", "ts": other_app["ts"],
                      "thread_ts": card["ts"], "channel": "C0GENERAL", "channel_type": "channel",
                      "bot_profile": {"id": "B0CIBOT", "name": "ci", "app_id": "A0CI", "team_id": "T0SANDBOX"}})
    bot.driver.delete(lost)
    bot.runtime.settle()
    assert (stored_risk(bot).probability, stored_risk(bot).intake_step) == (None, "probability")
    _, first = bot.driver.reply(card["ts"], "4", broadcast=True)  # thread_broadcast
    bot.runtime.settle()
    _, typo = bot.driver.reply(card["ts"], "five")
    bot.runtime.settle()
    assert any("number from 1 to 5" in t for t in private_notes(bot))
    bot.driver.edit(typo, "5")  # fixed by editing the reply: it answers the question it was written for
    bot.runtime.settle()
    assert (stored_risk(bot).probability, stored_risk(bot).impact, stored_risk(bot).intake_step) == (4, 5, "owner")
    bot.driver.edit(first, "2")  # that answer was used already: said privately, nothing changes
    bot.runtime.settle()
    assert "was answered already" in private_notes(bot)[-1] and "/risk update R-1" in private_notes(bot)[-1]
    assert (stored_risk(bot).probability, stored_risk(bot).intake_step) == (4, "owner")
