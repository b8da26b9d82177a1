"""The driver's people-side actions reach a running bot and the results land in the sandbox.

Thread replies and select menus have no pmbot feature yet (risk intake and stand-ups bring them), so
these tests wire small listeners of their own onto the real Bolt app; everything else is the real path:
driver → signed HTTP → cheroot → Bolt → listener → slack_sdk → sandbox.
"""

from __future__ import annotations

from bot import blocks
from tests.conftest import RunningBot


def test_thread_reply_travels_to_the_bot_and_back(bot: RunningBot) -> None:
    app, client = bot.runtime.bolt, bot.runtime.deps.client
    seen: list[dict] = []

    @app.event("message")
    def on_message(event, say):
        seen.append(event)
        if event.get("thread_ts") and event.get("subtype") is None:
            say(text=f"Noted: {event['text']}", thread_ts=event["thread_ts"])

    parent = client.chat_postMessage(channel="C0GENERAL", text="How likely is this risk? (1-5)")["ts"]
    response, reply = bot.driver.reply(parent, "4")
    assert response.status == 200
    bot.runtime.settle()
    thread = bot.sandbox.ws.thread("C0GENERAL", parent)
    assert [m["text"] for m in thread] == ["How likely is this risk? (1-5)", "4", "Noted: 4"]
    assert thread[-1]["user"] == "U0PMBOT" and thread[-1]["thread_ts"] == parent

    bot.driver.edit(reply, "5")
    bot.driver.reply(parent, "also in channel", broadcast=True)
    bot.runtime.settle()
    assert [e.get("subtype") for e in seen] == [None, "message_changed", "thread_broadcast"]
    assert seen[1]["message"]["text"] == "5"


def test_choosing_from_a_select_reaches_the_bot(bot: RunningBot) -> None:
    app, client = bot.runtime.bolt, bot.runtime.deps.client
    options = [{"text": blocks.plain(f"{n} — {word}"), "value": str(n)}
               for n, word in ((1, "rare"), (3, "possible"), (4, "likely"))]
    select = {"type": "static_select", "action_id": "test.probability", "placeholder": blocks.plain("Probability"),
              "options": options}

    @app.action("test.probability")
    def on_choice(ack, body, respond):
        ack()
        chosen = body["actions"][0]["selected_option"]["value"]
        respond(text=f"Probability set to {chosen}", replace_original=True)

    client.chat_postMessage(channel="C0GENERAL", text="Probability?", blocks=[blocks.actions(select)])
    assert bot.driver.choose("Probability", "4 — likely").status == 200
    bot.runtime.settle()
    assert bot.sandbox.messages[-1]["text"] == "Probability set to 4"


def test_reaction_event_reaches_the_bot(bot: RunningBot) -> None:
    app, client = bot.runtime.bolt, bot.runtime.deps.client
    reactions: list[str] = []

    @app.event("reaction_added")
    def on_reaction(event):
        reactions.append(event["reaction"])

    ts = client.chat_postMessage(channel="C0GENERAL", text="Model v3 rolled back")["ts"]
    bot.driver.react(":pushpin:", bot.sandbox.ws.message("C0GENERAL", ts))
    bot.runtime.settle()
    assert reactions == ["pushpin"]
    assert bot.sandbox.ws.message("C0GENERAL", ts)["reactions"] == [{"name": "pushpin", "users": ["U0ALICE"],
                                                                     "count": 1}]
