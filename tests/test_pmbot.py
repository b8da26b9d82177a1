"""`/pmbot` end to end: driver → signed HTTP → Bolt → handler → slack_sdk → sandbox."""

from __future__ import annotations

import json

from sqlmodel import select

from storage.db import session_scope
from storage.models import TeamSettings
from tests.conftest import RunningBot


def test_help_button_shows_the_status(bot: RunningBot) -> None:
    bot.driver.command("/pmbot", "help")  # answered in the ack; shown to alice as an ephemeral message
    assert bot.driver.press("Show status").status == 200
    bot.runtime.settle()
    status = [m for m in bot.sandbox.ephemeral if m["source"] == "response_url"]
    assert len(status) == 1 and "Database:" in status[0]["text"] and status[0]["user"] == "U0ALICE"


def test_settings_modal_validates_then_saves(bot: RunningBot) -> None:
    assert bot.driver.command("/pmbot", "settings").status == 200
    bot.runtime.settle()
    view = bot.driver.open_view("U0ALICE")
    assert view["callback_id"] == "pmbot.settings"
    field = view["blocks"][0]["element"]
    assert field["initial_value"] == "UTC"

    refused = bot.driver.submit({"Team time zone": "Mars/Olympus"})
    assert refused.json()["response_action"] == "errors"
    assert "Mars/Olympus" in refused.json()["errors"]["timezone"]
    assert bot.driver.open_view("U0ALICE")["errors"]  # still open, with the message under the field

    saved = bot.driver.submit({"Team time zone": "Europe/Berlin", "Admin channel": "C0GENERAL"})
    assert saved.status == 200 and saved.body == ""
    bot.runtime.settle()
    assert bot.sandbox.ws.view_stacks["U0ALICE"] == []
    with session_scope(bot.runtime.deps.engine) as session:
        row = session.exec(select(TeamSettings)).one()
    assert (row.team_id, row.timezone, row.admin_channel_id, row.updated_by) == (
        "T0SANDBOX", "Europe/Berlin", "C0GENERAL", "U0ALICE")
    notes = [m["text"] for m in bot.sandbox.ephemeral if m["user"] == "U0ALICE"]
    assert any("Saved: team time zone Europe/Berlin" in n for n in notes)

    bot.driver.command("/pmbot", "status")
    bot.runtime.settle()
    assert "Team time zone: Europe/Berlin" in bot.sandbox.responses[-1]["text"]


def test_settings_are_for_admins_only(bot: RunningBot) -> None:
    response = bot.driver.command("/pmbot", "settings", user="U0BOB")
    bot.runtime.settle()
    assert response.status == 200
    assert bot.sandbox.calls_to("views.open") == []
    assert "Only workspace admins" in bot.sandbox.responses[-1]["text"]


def test_settings_modal_still_checks_the_admin_on_submit(bot: RunningBot) -> None:
    bot.driver.command("/pmbot", "settings")
    bot.runtime.settle()
    bot.sandbox.users["U0ALICE"].is_admin = False  # demoted while the modal was open
    answer = bot.driver.submit({"Team time zone": "Europe/Berlin"}).json()
    assert answer["response_action"] == "update"
    assert "Only workspace admins" in json.dumps(answer["view"])


def test_pmbot_says_hello_when_added_to_a_channel(bot: RunningBot) -> None:
    bot.sandbox.add_channel("C0AIPROJ", "ai-project", members={"U0ALICE"})
    bot.driver.join("U0PMBOT", "C0AIPROJ")
    bot.runtime.settle()
    hello = [m for m in bot.sandbox.messages if m["channel"] == "C0AIPROJ"]
    assert len(hello) == 1 and "/pmbot help" in hello[0]["text"]

    bot.driver.press("Show commands", channel="C0AIPROJ")
    bot.runtime.settle()
    shown = [m for m in bot.sandbox.ephemeral if m["channel"] == "C0AIPROJ"]
    assert len(shown) == 1 and "`/pmbot`" in shown[0]["text"]


def test_someone_else_joining_is_not_greeted(bot: RunningBot) -> None:
    bot.driver.join("U0CARLOS", "C0RANDOM")
    bot.runtime.settle()
    assert [m for m in bot.sandbox.messages if m["channel"] == "C0RANDOM"] == []
