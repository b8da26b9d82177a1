"""The driver's people-side actions reach a running bot and the results land in the sandbox.

Thread replies go through the real `/risk` intake. The select-menu test wires a small listener of its
own onto the real Bolt app; everything else is the real path: driver → signed HTTP → cheroot → Bolt →
listener → slack_sdk → sandbox.
"""

from __future__ import annotations

import json

from sqlmodel import select

from storage.db import session_scope
from storage.models import IncidentEvent
from tests.conftest import RunningBot


def test_thread_reply_travels_to_the_bot_and_back(bot: RunningBot) -> None:
    """The real `/risk` intake: a typed reply answers, an edit is not a second answer, a broadcast reply is."""
    assert bot.driver.command("/risk", "The eval harness may stop matching production traffic").status == 200
    bot.runtime.settle()
    parent = next(m["ts"] for m in bot.sandbox.messages
                  if "R-1" in m["text"] and m.get("thread_ts", m["ts"]) == m["ts"])
    response, reply = bot.driver.reply(parent, "4")
    assert response.status == 200
    bot.runtime.settle()
    thread = bot.sandbox.ws.thread("C0GENERAL", parent)
    assert [m["user"] for m in thread[-2:]] == ["U0ALICE", "U0PMBOT"]
    assert thread[-2]["text"] == "4" and "How bad would it be" in thread[-1]["text"]
    assert all(m["thread_ts"] == parent for m in thread[1:])

    bot.driver.edit(reply, "5")  # message_changed: not a new answer
    bot.runtime.settle()
    bot.driver.reply(parent, "2", broadcast=True)  # "also send to channel" still answers
    bot.runtime.settle()
    thread = bot.sandbox.ws.thread("C0GENERAL", parent)
    assert "✓ Probability: 4" in " ".join(m["text"] for m in thread)
    assert "✓ Impact: 2" in " ".join(m["text"] for m in thread)


def test_choosing_from_a_select_reaches_the_bot(bot: RunningBot) -> None:
    """The bug card's grade select: choosing an option sends block_actions with the selected option."""
    assert bot.driver.command("/bug", "the logo looks blurry on the login page").status == 200
    bot.runtime.settle()
    assert bot.driver.choose("Change grade", "2 — High").status == 200
    bot.runtime.settle()
    view = bot.driver.open_view()
    assert view["callback_id"] == "bug.change_grade_modal" and "2 — High" in json.dumps(view, ensure_ascii=False)


def test_reaction_event_reaches_the_bot(bot: RunningBot) -> None:
    """The real timeline: 📌 in a war room is recorded; the same reaction elsewhere is not pmbot's business."""
    assert bot.driver.command("/incident", "declare Model v3 answers in the wrong language grade 3").status == 200
    bot.runtime.settle()
    room = next(c.id for c in bot.sandbox.ws.channels.values() if c.name.startswith("inc-"))
    client = bot.runtime.deps.client
    in_room = client.chat_postMessage(channel=room, text="Model v3 rolled back")["ts"]
    bot.driver.react(":pushpin:", bot.sandbox.ws.message(room, in_room))
    ts = client.chat_postMessage(channel="C0GENERAL", text="Model v3 rolled back")["ts"]
    bot.driver.react(":pushpin:", bot.sandbox.ws.message("C0GENERAL", ts))
    bot.runtime.settle()
    with session_scope(bot.runtime.deps.engine) as session:
        pinned = session.exec(select(IncidentEvent).where(IncidentEvent.kind == "pinned")).all()
    assert [(e.text, e.source_ts) for e in pinned] == [("Model v3 rolled back", in_room)]
    assert bot.sandbox.ws.message("C0GENERAL", ts)["reactions"] == [{"name": "pushpin", "users": ["U0ALICE"],
                                                                     "count": 1}]
