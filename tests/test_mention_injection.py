"""Outbound text is data (issue #19, point 2): what a person writes never pings anyone or hides a link.

Every command, button and form that echoes text gets the mention-injection set in every field, in the form
Slack delivers it: slash-command text with the manifest's `should_escape: true` (typed @channel, @here,
@everyone, a user group, a person and a link arrive as markup; a typed `<` arrives as `&lt;`), thread replies as
message events, and modal inputs as typed (Slack does not encode them). Then everything pmbot sent Slack —
Web API calls, response_url answers and the HTTP answers to Slack's requests — is searched for the set
unescaped. `plain_text` objects, input values and metadata are not parsed by Slack and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.sandbox.driver import Response
from tests.conftest import RunningBot
from tests.llm_stub import LlmStub

pytestmark = pytest.mark.sqlite_only  # formatting, not SQL

# Slash-command text as Slack sends it with should_escape on, for @channel, @here, @everyone, a user group @ml,
# a person @x and a link whose label hides its address (Slack's documented markup; user mentions carry the name).
COMMAND_TEXT = "<!channel> <!here> <!everyone> <!subteam^S1|@ml> <@U0X|x> <https://evil.example|x>"
# The same typed literally: Slack escapes the brackets; pmbot decodes them once into the same markup.
TYPED_TEXT = "&lt;!channel&gt; &lt;@U0X&gt; &lt;https://evil.example|x&gt;"
# A message event (a thread reply): mentions without the name.
MESSAGE_TEXT = "<!channel> <!here> <!everyone> <!subteam^S1> <@U0X> <https://evil.example|x>"
# A modal input: exactly what was typed.
MODAL_TEXT = "<!channel> <!here> <!everyone> <!subteam^S1> <@U0X> <https://evil.example|x>"

# Any of the set, unescaped: the start of the markup is enough (`<@U0X|x>` and `<@U0X>` alike).
UNSAFE = re.compile(r"<(?:!channel|!here|!everyone|!subteam\^S1|@U0X|https://evil\.example)")
# Where Slack does not parse text: the values of inputs and buttons, ids, and metadata.
NOT_SHOWN = frozenset({"value", "initial_value", "action_id", "block_id", "callback_id", "private_metadata",
                       "metadata", "external_id", "channel", "user", "users", "ts", "thread_ts", "trigger_id",
                       "view_id", "hash", "name", "filename", "file_id", "file"})


def shown_texts(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string Slack would parse for markup inside a request or answer, with where it is."""
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return  # shown as it is: `<!channel>` there is only text
        for key, inner in value.items():
            if key not in NOT_SHOWN:
                yield from shown_texts(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from shown_texts(inner, f"{where}[{index}]")
    elif isinstance(value, str):
        yield where, value


def leaks(bot: RunningBot, answers: list[tuple[str, Any]]) -> list[str]:
    """Each place where a sequence of the set reached Slack unescaped."""
    sent = [(call.method, call.args) for call in bot.sandbox.calls]
    sent += [("response_url", payload) for payload in bot.sandbox.responses]
    sent += answers
    found = []
    for origin, payload in sent:
        for where, text in shown_texts(payload, origin):
            hit = UNSAFE.search(text)
            if hit:
                found.append(f"{where}: …{text[max(0, hit.start() - 100):hit.end() + 20]}…")
    return list(dict.fromkeys(found))


class Session:
    """The bot, the driver, and every HTTP answer the bot gave Slack (acks carry text and views too)."""

    def __init__(self, bot: RunningBot):
        self.bot = bot
        self.driver = bot.driver
        self.answers: list[tuple[str, Any]] = []
        post = bot.driver.post

        def recording_post(body: str, content_type: str, **options: Any) -> Response:
            response = post(body, content_type, **options)
            if response.body.strip().startswith("{"):
                self.answers.append(("http answer", response.json()))
            return response

        bot.driver.post = recording_post  # type: ignore[method-assign]

    def command(self, name: str, text: str, **options: Any) -> dict:
        response = self.driver.command(name, text, **options)
        assert response.status == 200, response.body
        self.bot.runtime.settle()
        return response.json() if response.body.strip().startswith("{") else {}

    def press(self, label: str, **options: Any) -> None:
        self.driver.press(label, **options)
        self.bot.runtime.settle()

    def submit(self, values: dict[str, str], **options: Any) -> None:
        assert self.driver.submit(values, **options).status == 200
        self.bot.runtime.settle()

    def reply(self, thread_ts: str, text: str, **options: Any) -> dict:
        _, message = self.driver.reply(thread_ts, text, **options)
        self.bot.runtime.settle()
        return message

    def texts(self) -> str:
        """All that pmbot sent, as one string (to check that a flow really echoed something)."""
        return repr([c.args for c in self.bot.sandbox.calls]) + repr(self.bot.sandbox.responses) + repr(self.answers)

    def top_level(self, channel: str = "C0GENERAL") -> list[dict]:
        return [m for m in self.bot.sandbox.messages
                if m["channel"] == channel and m.get("thread_ts", m["ts"]) == m["ts"] and m.get("bot_id")]


# --- the flows -----------------------------------------------------------------------------------------


def risk_commands(s: Session) -> None:
    future = (date.today() + timedelta(days=200)).isoformat()
    for text in (COMMAND_TEXT, TYPED_TEXT):
        s.command("/risk", f"{text} p=3 i=4 #vendor owner=<@U0BOB|bob> mitigation=\"{text}\"")
    s.command("/risk", f"update R-1 mitigation=\"{COMMAND_TEXT}\" trigger=\"{COMMAND_TEXT}\" "
                       f"title=\"{COMMAND_TEXT}\"")
    s.command("/risk", f"update R-1 description=\"{COMMAND_TEXT}\"")
    s.command("/risk", "link R-1 <https://evil.example|x>")
    s.command("/risk", f"close R-1 {COMMAND_TEXT}")
    s.command("/risk", f"accept R-2 until {future} {COMMAND_TEXT}")
    s.command("/risk", f"category add {COMMAND_TEXT}")
    for text in ("show R-1", "show R-2", "list all", "categories", f"list {COMMAND_TEXT}", f"show {COMMAND_TEXT}",
                 f"matrix {COMMAND_TEXT}", f"update R-2 {COMMAND_TEXT}", f"link R-2 {COMMAND_TEXT}",
                 f"accept R-2 until {COMMAND_TEXT}", f"R-9 {COMMAND_TEXT}"):
        s.command("/risk", text)
    s.driver.open_home("U0ALICE")
    s.bot.runtime.settle()
    assert "&lt;!channel&gt;" in s.texts()


def risk_intake_and_forms(s: Session) -> None:
    s.command("/risk", f"{COMMAND_TEXT} p=3 i=4 owner=<@U0BOB|bob>")  # category, then mitigation, asked in the thread
    [card] = s.top_level()
    s.press("Skip")  # the category
    s.reply(card["ts"], MESSAGE_TEXT)  # the mitigation, typed in the thread
    s.command("/risk", "")  # the form
    s.submit({"Title": MODAL_TEXT, "Description": MODAL_TEXT, "Probability": "2", "Impact": "3",
              "Mitigation plan": MODAL_TEXT, "Early-warning sign": MODAL_TEXT})
    s.press("Edit")
    s.submit({"Title": MODAL_TEXT + " (edited)", "Mitigation plan": MODAL_TEXT + " (edited)"})
    assert "&lt;!channel&gt;" in s.texts()


def risk_reviews(s: Session) -> None:
    today = date.today()
    s.command("/risk", f"{COMMAND_TEXT} p=3 i=3 owner=<@U0ALICE|alice> due={today + timedelta(days=1)}")
    s.command("/risk", f"{COMMAND_TEXT} p=2 i=2 owner=<@U0ALICE|alice> due=2099-01-01")
    s.command("/risk", f"accept R-2 until {today + timedelta(days=1)} {COMMAND_TEXT}")
    s.command("/risk", COMMAND_TEXT)  # half told: its questions wait, its author is nudged
    for days in (2, 12):  # the review prompt, the reopened acceptance, the nudge; then the overdue notice
        morning = datetime.combine(today + timedelta(days=days), datetime.min.time(), UTC).replace(hour=9, minute=30)
        s.bot.runtime.scheduler.run_now("risk_review", morning)
        s.bot.runtime.settle()
    dm = next(c.id for c in s.bot.sandbox.channels.values() if c.is_im and "U0ALICE" in c.members)
    s.press("Close", channel=dm)
    s.submit({"Why is it closed?": MODAL_TEXT})
    assert "Time to review R-1" in s.texts() and "still has questions waiting" in s.texts()


def bug_flows(s: Session) -> None:
    for text in (COMMAND_TEXT, TYPED_TEXT):
        s.command("/bug", f"The export button is misaligned {text}")
    s.driver.choose("Change grade", "2")
    s.submit({"Why?": MODAL_TEXT})
    s.command("/bug", "The export button is misaligned again")  # graded like B-2: its reason is quoted
    s.command("/bug", f"{COMMAND_TEXT} the admin API works without logging in")  # grade 1: the escalation channel
    s.command("/bug", f"close B-1 {COMMAND_TEXT}")
    s.command("/bug", "")
    s.submit({"Title": MODAL_TEXT, "What happened?": MODAL_TEXT, "What did you expect?": MODAL_TEXT,
              "Steps to reproduce": MODAL_TEXT, "Model / prompt version": MODAL_TEXT, "Environment": MODAL_TEXT,
              "Link": "https://docs.example.com/trace " + MODAL_TEXT})
    for text in ("show B-1", "show B-3", "list all", f"show {COMMAND_TEXT}", f"list {COMMAND_TEXT}",
                 f"close {COMMAND_TEXT}", f"link B-1 {COMMAND_TEXT}", f"reopen {COMMAND_TEXT}"):
        s.command("/bug", text)
    s.driver.open_home("U0ALICE")
    s.bot.runtime.settle()
    assert "&lt;!channel&gt;" in s.texts()


def incident_flows(s: Session) -> None:
    s.command("/incident", f"declare {COMMAND_TEXT} grade 2")
    room = next(c.id for c in s.bot.sandbox.channels.values() if c.name.startswith("inc-"))
    for text in (f"note {COMMAND_TEXT}", f"note {TYPED_TEXT}", f"update {COMMAND_TEXT}",
                 f"set model={COMMAND_TEXT} prompt=<!here>", f"link {COMMAND_TEXT}", f"role {COMMAND_TEXT}",
                 f"grade {COMMAND_TEXT}", "status", f"drill {COMMAND_TEXT}", f"{COMMAND_TEXT}"):
        s.command("/incident", text, channel=room)
    _, said = s.driver.say(MESSAGE_TEXT, channel=room, user="U0BOB")
    s.bot.runtime.settle()
    s.driver.react("pushpin", said, user="U0BOB")
    s.bot.runtime.settle()
    s.command("/incident", f"resolve {COMMAND_TEXT}", channel=room)
    s.driver.press("Resolve anyway", channel=room)  # the runbook's steps are still open
    s.bot.runtime.settle()
    s.command("/incident", "list all")
    s.command("/incident", "INC-1 status")
    s.command("/incident", "")
    s.submit({"What is happening?": MODAL_TEXT + " & <b>"})
    assert "&lt;!channel&gt;" in s.texts()
    shown = [c.args.get("purpose") or c.args.get("topic") for c in s.bot.sandbox.calls
             if c.method in ("conversations.setPurpose", "conversations.setTopic")]
    assert len(shown) >= 4 and not any(re.search(r"[<>]|&(?!amp;|lt;|gt;)", text) for text in shown), shown


def standup_flows(s: Session) -> None:
    s.command("/standup", "setup 09:30 UTC mon-fri <@U0ALICE|alice> <@U0BOB|bob> summary=60")
    s.bot.runtime.scheduler.run_now("standup", datetime(2027, 3, 29, 9, 30, tzinfo=UTC))
    s.bot.runtime.settle()
    [parent] = [m for m in s.top_level() if m["text"].startswith("Stand-up —")]
    s.reply(parent["ts"], f"Yesterday: {MESSAGE_TEXT}\nToday: {MESSAGE_TEXT}\nBlockers: {MESSAGE_TEXT}",
            user="U0BOB")
    s.press("Answer", user="U0ALICE")
    s.submit({"What did you do yesterday?": MODAL_TEXT, "What will you do today?": MODAL_TEXT,
              "Anything blocking you?": MODAL_TEXT}, user="U0ALICE")
    s.bot.runtime.scheduler.run_now("standup", datetime(2027, 3, 29, 10, 31, tzinfo=UTC))
    s.bot.runtime.settle()
    s.press("Make it a risk")
    s.submit({"Probability": "2", "Impact": "3"})
    s.press("File as bug")
    s.submit({})
    for text in (f"away {COMMAND_TEXT}", f"pause {COMMAND_TEXT}", f"edit 1 {COMMAND_TEXT}", f"report {COMMAND_TEXT}",
                 f"{COMMAND_TEXT}", "report month", "list"):
        s.command("/standup", text)
    assert "&lt;!channel&gt;" in s.texts()


def budget_flows(s: Session) -> None:
    s.command("/budget", "set 10000 USD month")
    s.command("/cost", f"add 12 compute {date.today().isoformat()} {COMMAND_TEXT}")
    s.command("/cost", f"add 12 compute {TYPED_TEXT}")
    s.command("/cost", f"add 12 {COMMAND_TEXT}")
    s.command("/cost", f"map \"{COMMAND_TEXT}\" compute")
    s.command("/cost", f"import\ndate,category,amount,currency,note\n{date.today()},compute,5,USD,{COMMAND_TEXT}\n")
    s.command("/cost", f"import\ndate,category,amount,currency,note\n{date.today()},{COMMAND_TEXT},5,USD,x\n")
    s.command("/budget", "category add <!channel>")
    for name, text in (("/cost", "list"), ("/cost", "mapping"), ("/budget", "status"), ("/budget", "chart"),
                       ("/cost", f"list {COMMAND_TEXT}"), ("/cost", f"undo {COMMAND_TEXT}"),
                       ("/budget", f"set {COMMAND_TEXT}"), ("/budget", f"report {COMMAND_TEXT}"),
                       ("/budget", f"channel {COMMAND_TEXT}"), ("/budget", f"{COMMAND_TEXT}"),
                       ("/cost", f"{COMMAND_TEXT}")):
        s.command(name, text)
    assert "&lt;!channel&gt;" in s.texts()


def llm_output(s: Session) -> None:
    s.command("/bug", "the refund amounts look odd")  # the stub LLM's reasons carry the set
    assert "the refund amounts are wrong" in s.texts()


def pmbot_flows(s: Session) -> None:
    for text in (COMMAND_TEXT, f"help {COMMAND_TEXT}", f"settings {COMMAND_TEXT}", "status"):
        s.command("/pmbot", text)


FLOWS: dict[str, Callable[[Session], None]] = {
    "risk commands": risk_commands, "risk intake and forms": risk_intake_and_forms, "risk reviews": risk_reviews,
    "bug": bug_flows, "llm output": llm_output, "incident": incident_flows, "stand-up": standup_flows,
    "budget and cost": budget_flows, "pmbot": pmbot_flows,
}
SETTINGS: dict[str, dict[str, str]] = {
    "bug": {"pmbot_escalation_channel": "#ai-escalations"},
    "incident": {"pmbot_incident_channel": "C0RANDOM", "pmbot_incident_responders": "2=U0BOB"},
    "budget and cost": {"pmbot_budget_admins": "U0ALICE"},
}


@pytest.fixture
def llm() -> Iterator[LlmStub]:
    stub = LlmStub()
    stub.grade, stub.reasons = 2, [MODAL_TEXT, "the refund amounts are wrong"]
    yield stub
    stub.stop()


@pytest.mark.parametrize("flow", list(FLOWS))
def test_no_text_a_person_wrote_reaches_slack_as_markup(bot_factory, sandbox, llm: LlmStub, flow: str) -> None:
    sandbox.add_channel("C0ESCAL", "ai-escalations", members={"U0PMBOT"})
    settings = SETTINGS.get(flow, {})
    if flow == "llm output":
        settings = {"openai_api_key": "sk-test-stub", "openai_base_url": llm.base_url, "pmbot_llm_model": "stub"}
    bot = bot_factory(**settings)
    session = Session(bot)
    FLOWS[flow](session)
    found = leaks(bot, session.answers)
    assert found == [], f"{len(found)} unescaped:\n" + "\n".join(found[:40])
