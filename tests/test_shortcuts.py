"""The shortcuts of #23 end to end: a `message_action` or `shortcut` payload as Slack sends it (driver.shortcut),
the form pmbot opens, its submission, and what is filed, through the sandbox on both databases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import delete, select

from bot import commands
from bot.incidents import service
from bot.manifest import build_manifest
from bot.mirror import outbox
from storage.db import session_scope
from storage.models import Bug, Incident, IncidentEvent, Risk
from tests.conftest import RunningBot
from tests.jira_stub import SETTINGS as JIRA_SETTINGS
from tests.jira_stub import JiraStub

RESPONDERS = {"pmbot_incident_responders": "2=U0BOB"}
# As Slack stores a message: `<`, `>` and `&` escaped once, a mention as `<@U…>` with no name.
SAID = ("The summary bot answered &lt;b&gt;Q3 &amp; Q4&lt;/b&gt; with <@U0CARLOS>'s phone +1 415 555 2671 "
        "in it.\nIt happens on every long thread.")


@pytest.fixture
def bot(bot_factory) -> RunningBot:
    return bot_factory(**RESPONDERS)


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def rows(bot: RunningBot, model) -> list:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(model).order_by(model.id)))


def elements(view: dict) -> dict[str, dict]:
    """A modal's input elements by block id."""
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


def context_text(view: dict) -> str:
    return " ".join(e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"])


def cards(bot: RunningBot, channel: str) -> list[dict]:
    return [m for m in bot.sandbox.messages if m["channel"] == channel and m.get("bot_id")
            and m.get("thread_ts", m["ts"]) == m["ts"]]


def private_notes(bot: RunningBot, user: str = "U0ALICE") -> str:
    """What `user` was told privately: ephemeral messages (a response_url's too) and DMs from pmbot."""
    dms = {c.id for c in bot.sandbox.ws.channels.values() if c.id.startswith("D") and user in c.members}
    return " ".join([m["text"] for m in bot.sandbox.ephemeral if m["user"] == user]
                    + [m["text"] for m in bot.sandbox.messages if m["channel"] in dms])


def permalink(message: dict) -> str:
    return f"https://sandbox.slack.local/archives/{message['channel']}/p{message['ts'].replace('.', '')}"


def use(bot: RunningBot, callback_id: str, message: dict | None = None, user: str = "U0ALICE") -> dict:
    """Use a shortcut (on `message`, or from anywhere) and return the modal it opened."""
    response = bot.driver.shortcut(callback_id, message=message, user=user)
    assert (response.status, response.body) == (200, "")
    bot.runtime.settle()  # a form opens at once, then is redrawn with the message's link and names
    return bot.driver.open_view(user)


def submit_twice(bot: RunningBot, values: dict[str, str], user: str = "U0ALICE") -> None:
    """Submit the open form, then the same form again, as Slack does when it retries a submission or Submit is
    pressed twice: the second must not file anything more."""
    view = bot.driver.open_view(user)
    for _ in range(2):
        with bot.sandbox.lock:
            bot.sandbox.ws.view_stacks[user] = [view["id"]]
        assert bot.driver.submit(values, user=user).status == 200
        bot.runtime.settle()


# --- File as bug --------------------------------------------------------------------------------------------


def test_file_as_bug_fills_the_form_from_the_message_and_files_it_once(bot: RunningBot) -> None:
    _, said = bot.driver.say(SAID, user="U0BOB")
    view = use(bot, "bug_from_message", said)
    assert view["callback_id"] == "bug.from_message"
    inputs = elements(view)
    # Decoded once (not `&lt;b&gt;`, not `&amp;lt;`), the mention shown as the name, the link to the message.
    assert inputs["title"]["initial_value"].startswith("The summary bot answered <b>Q3 & Q4</b> with @carlos's")
    assert inputs["what"]["initial_value"] == ("The summary bot answered <b>Q3 & Q4</b> with @carlos's phone "
                                               "+1 415 555 2671 in it.\nIt happens on every long thread.")
    # The author as a mention (a modal's mrkdwn renders the name), and the link to the message.
    assert f"From a message by <@U0BOB> (<{permalink(said)}|open it>)." in context_text(view)
    submit_twice(bot, {"Title": "Summaries leak phone numbers"})
    [bug] = rows(bot, Bug)
    assert (bug.title, bug.reporter_id, bug.channel_id) == ("Summaries leak phone numbers", "U0ALICE", "C0GENERAL")
    assert "555 2671" not in bug.text and "<b>Q3 & Q4</b>" in bug.text
    assert f"Filed from a message by @bob: {permalink(said)}" in bug.text
    assert (bug.details["source_author"], bug.details["source_link"]) == ("U0BOB", permalink(said))
    assert len(cards(bot, "C0GENERAL")) == 1  # the card in the message's channel, once
    assert private_notes(bot).count("Got it: *B-1*") == 1


def test_file_as_bug_on_a_file_a_long_text_and_a_bots_message(bot: RunningBot) -> None:
    _, shared = bot.driver.share_file("trace.png", b"\x89PNG", user="U0BOB")
    view = use(bot, "bug_from_message", shared)
    assert "only a file: trace.png" in context_text(view) and "initial_value" not in elements(view)["what"]
    refused = bot.driver.submit({"Title": "Trace"}).json()
    assert set(refused["errors"]) == {"what"}  # it asks for words, as /bug's form does
    bot.driver.close()

    _, long = bot.driver.say("The model loops. " * 300, user="U0BOB")
    view = use(bot, "bug_from_message", long)
    assert len(elements(view)["what"]["initial_value"]) == 3000
    assert "longer than a form field holds" in context_text(view)
    bot.driver.close()

    with bot.sandbox.lock:
        alert = bot.sandbox.ws.post(bot.sandbox.channels["C0GENERAL"], "U0GRAFANA", {"text": "p95 latency 9 s"})
        alert.update(bot_id="B0GRAFANA", subtype="bot_message", bot_profile={"id": "B0GRAFANA", "name": "Grafana"})
    view = use(bot, "bug_from_message", alert)
    assert "the bot Grafana" in context_text(view)
    bot.driver.submit({"Title": "Latency alert", "What happened?": "p95 latency went to 9 s after the deploy"})
    bot.runtime.settle()
    [bug] = rows(bot, Bug)
    assert "Filed from a message by Grafana" in bug.text and bug.details["source_bot"] == "Grafana"


@pytest.mark.parametrize(("channel", "hint"), [("G0SECRET", "invite me"),
                                              ("D0ALICEBOB", "I can't post in a direct message between people")])
def test_a_bug_from_a_place_pmbot_cannot_post_reaches_the_reporter_privately(bot: RunningBot, channel: str,
                                                                            hint: str) -> None:
    bot.sandbox.add_channel(channel, "secret", members={"U0ALICE", "U0BOB"}, is_private=True)
    _, said = bot.driver.say("The export drops every row after 10,000", channel=channel, user="U0BOB")
    use(bot, "bug_from_message", said)
    assert bot.driver.submit().status == 200
    bot.runtime.settle()
    [bug] = rows(bot, Bug)
    assert bug.channel_id == channel and bug.message_ts is None and cards(bot, channel) == []
    told = private_notes(bot)
    assert hint in told and "Here is the card, just for you" in told


# --- Report a bug (global) ----------------------------------------------------------------------------------


def test_report_a_bug_asks_where_to_post_and_files_like_bug(bot: RunningBot) -> None:
    view = use(bot, "bug_report_anywhere")
    assert view["callback_id"] == "bug.report_anywhere"
    assert elements(view)["channel"]["type"] == "conversations_select"
    details = {"Title": "Citations point to the wrong page",
               "What happened?": "Every answer about the handbook cites page 1, whatever the page is"}
    refused = bot.driver.submit(details).json()
    assert set(refused["errors"]) == {"channel"}  # a global shortcut knows no channel: it must be chosen
    submit_twice(bot, {**details, "Post the card in": "C0GENERAL"})
    [bug] = rows(bot, Bug)
    assert (bug.channel_id, bug.title) == ("C0GENERAL", "Citations point to the wrong page")
    assert len(cards(bot, "C0GENERAL")) == 1
    # Said when the card is not posted yet: as what will happen, not as done.
    assert "I will post its card in <#C0GENERAL> (or tell you if I cannot)" in private_notes(bot)


# --- File as risk -------------------------------------------------------------------------------------------


def test_file_as_risk_fills_the_form_and_saves_through_risks_flow(bot: RunningBot) -> None:
    _, said = bot.driver.say("Our LLM vendor may retire the model we tuned &amp; tested\nwe would need weeks",
                             user="U0BOB")
    view = use(bot, "risk_from_message", said)
    assert view["callback_id"] == "risk.form_modal"  # /risk's own form
    inputs = elements(view)
    assert inputs["title"]["initial_value"] == "Our LLM vendor may retire the model we tuned & tested"
    assert inputs["description"]["initial_value"].endswith("tested\nwe would need weeks\n\n(From a message by @bob)")
    assert permalink(said) in context_text(view)
    refused = bot.driver.submit().json()
    assert set(refused["errors"]) == {"probability", "impact"}  # asked as /risk's form asks them
    submit_twice(bot, {"Probability": "3", "Impact": "4"})
    [risk] = rows(bot, Risk)
    assert (risk.title, risk.probability, risk.impact, risk.channel_id) == (
        "Our LLM vendor may retire the model we tuned & tested", 3, 4, "C0GENERAL")
    assert risk.links == [permalink(said)] and risk.description.endswith("(From a message by @bob)")
    assert len([c for c in cards(bot, "C0GENERAL") if "R-1" in c["text"]]) == 1


# --- Add to incident timeline -------------------------------------------------------------------------------


def declare(bot: RunningBot, text: str) -> Incident:
    assert bot.driver.command("/incident", f"declare {text}").status == 200
    bot.runtime.settle()
    return rows(bot, Incident)[-1]


def test_add_to_timeline_without_an_open_incident_says_so(bot: RunningBot) -> None:
    _, said = bot.driver.say("rollback done", user="U0BOB")
    view = use(bot, "incident_timeline_from_message", said)
    assert "no open incident" in dump(view["blocks"]) and not elements(view)


def test_add_to_timeline_adds_the_message_once_at_its_time(bot: RunningBot) -> None:
    declare(bot, "Summaries invent figures grade 2")
    incident = declare(bot, "Answers cite the wrong policy grade 3")
    _, said = bot.driver.say("Rolled back to v11; <@U0CARLOS> checks +1 415 555 2671 callers", user="U0BOB")
    view = use(bot, "incident_timeline_from_message", said)
    select_ = elements(view)["incident"]
    assert [o["value"] for o in select_["options"]] == [str(incident.id), str(incident.id - 1)]
    assert select_["options"][0]["text"]["text"] == "INC-2 · Answers cite the wrong policy"
    assert elements(view)["entry"]["initial_value"] == "Rolled back to v11; @carlos checks +1 415 555 2671 callers"
    submit_twice(bot, {"Incident": "INC-2 · Answers cite the wrong policy"})
    [entry] = [e for e in rows(bot, IncidentEvent) if e.kind == "pinned"]
    assert entry.incident_id == incident.id and entry.source_ts == said["ts"] and entry.user_id == "U0ALICE"
    assert entry.text.startswith("@bob: Rolled back to v11; @carlos checks") and "555 2671" not in entry.text
    assert entry.text.endswith(f"({permalink(said)})")
    assert entry.at.timestamp() == pytest.approx(float(said["ts"]), abs=1)
    told = private_notes(bot)
    assert "Added to the timeline of *INC-2*" in told and "on the timeline of *INC-2* already" in told


def test_a_stale_timeline_form_is_answered_on_the_field(bot: RunningBot) -> None:
    first = declare(bot, "Summaries invent figures grade 2")
    second = declare(bot, "Answers cite the wrong policy grade 3")
    _, said = bot.driver.say("Rolled back to v11", user="U0BOB")
    use(bot, "incident_timeline_from_message", said)
    service.resolve(bot.runtime.deps, first, user_id="U0ALICE", summary="figures fixed", skipped=True)
    refused = bot.driver.submit({"Incident": f"{first.readable_id} · Summaries invent figures"}).json()
    assert "was resolved since this form opened" in refused["errors"]["incident"]
    with session_scope(bot.runtime.deps.engine) as session:
        session.exec(delete(IncidentEvent).where(IncidentEvent.incident_id == second.id))
        session.exec(delete(Incident).where(Incident.id == second.id))
    refused = bot.driver.submit({"Incident": f"{second.readable_id} · Answers cite the wrong policy"}).json()
    assert "no longer exists" in refused["errors"]["incident"]
    assert [e for e in rows(bot, IncidentEvent) if e.kind == "pinned"] == []


# --- Declare incident (global) ------------------------------------------------------------------------------


def test_declare_incident_from_anywhere_opens_the_war_room_with_the_responders(bot: RunningBot) -> None:
    view = use(bot, "incident_declare_anywhere")
    assert view["callback_id"] == "incident.declare_modal"  # /incident's own form
    assert elements(view)["responders"]["type"] == "multi_users_select"
    refused = bot.driver.submit({"What is happening?": "x"}).json()
    assert "title" in refused["errors"]
    submit_twice(bot, {"What is happening?": "Chatbot quotes retired prices", "Grade": "2",
                       "Also invite": "U0CARLOS"})
    [incident] = rows(bot, Incident)
    assert (incident.title, incident.grade, incident.declared_by) == ("Chatbot quotes retired prices", 2, "U0ALICE")
    room = bot.sandbox.ws.channels[incident.channel_id]
    assert {"U0ALICE", "U0BOB", "U0CARLOS"} <= room.members  # the declarer, grade 2's responder, the one named
    assert incident.runbook_ts in room.pins


# --- the manifest -------------------------------------------------------------------------------------------


def test_the_manifest_lists_the_shortcuts_with_their_scopes() -> None:
    manifest = build_manifest(commands.specs())
    shortcuts = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert {k: shortcuts[k]["type"] for k in ("bug_from_message", "bug_report_anywhere", "risk_from_message",
                                              "incident_timeline_from_message", "incident_declare_anywhere")} == {
        "bug_from_message": "message", "bug_report_anywhere": "global", "risk_from_message": "message",
        "incident_timeline_from_message": "message", "incident_declare_anywhere": "global"}
    assert all(len(s["name"]) <= 24 and len(s["description"]) <= 150 for s in shortcuts.values())
    assert {"commands", "chat:write", "users:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])


# --- second read: what the review found (#23 point 2) -----------------------------------------------------


def say_in(bot: RunningBot, channel: str, text: str, user: str = "U0BOB") -> dict:
    """A message in a conversation pmbot is not in (a private channel, a DM between people)."""
    if channel not in bot.sandbox.ws.channels:
        bot.sandbox.add_channel(channel, "secret", members={"U0ALICE", "U0BOB"}, is_private=True)
    return bot.driver.say(text, channel=channel, user=user)[1]


def test_long_texts_with_ampersands_are_cut_as_plain_text(bot: RunningBot) -> None:
    line = "R&amp;D sees Q3 &amp; Q4 totals drift "  # as Slack stores it: `&` escaped once
    _, said = bot.driver.say(line * 120, user="U0BOB")
    view = use(bot, "bug_from_message", said)
    what, title = elements(view)["what"]["initial_value"], elements(view)["title"]["initial_value"]
    assert len(what) == 3000 and what.endswith("…") and what.startswith("R&D sees Q3 & Q4")
    assert len(title) == 150 and title.endswith("…")  # not backed off to the last `&`
    bot.driver.close()

    title = "R&D dashboards show stale totals for every team in the EMEA & APAC regions"
    incident = declare(bot, f"{title} grade 2")
    view = use(bot, "incident_timeline_from_message", said)
    assert elements(view)["incident"]["options"][0]["text"]["text"] == f"{incident.readable_id} · {title[:59]}…"
    entry_text = elements(view)["entry"]["initial_value"]
    submit_twice(bot, {"Incident": f"{incident.readable_id} · {title[:59]}…"})
    [entry] = [e for e in rows(bot, IncidentEvent) if e.kind == "pinned"]
    assert entry.text.startswith("@bob: R&D sees Q3 & Q4") and entry_text in entry.text  # the text is never re-cut
    assert entry.text.endswith(f"({permalink(said)})")


def test_the_timeline_submission_asks_slack_nothing_and_does_not_acknowledge(bot: RunningBot) -> None:
    incident = declare(bot, "Answers cite the wrong policy grade 3")
    assert rows(bot, Incident)[-1].acknowledged_at is None
    _, said = bot.driver.say("Rolled back to v11", user="U0BOB")
    use(bot, "incident_timeline_from_message", said)
    asked = len(bot.sandbox.calls)
    submit_twice(bot, {"Incident": f"{incident.readable_id} · Answers cite the wrong policy"})
    assert [c.method for c in bot.sandbox.calls[asked:] if c.method == "users.info"] == []
    [entry] = [e for e in rows(bot, IncidentEvent) if e.kind == "pinned"]
    assert entry.text.startswith("@bob: Rolled back to v11")  # named when the form opened
    # Adding a message is not answering the incident: stats and drill scorecards still wait for a person.
    assert rows(bot, Incident)[-1].acknowledged_at is None


def test_a_bots_message_and_a_message_pmbot_cannot_see_go_on_the_timeline(bot: RunningBot) -> None:
    incident = declare(bot, "Answers cite the wrong policy grade 3")
    option = f"{incident.readable_id} · Answers cite the wrong policy"
    with bot.sandbox.lock:
        alert = bot.sandbox.ws.post(bot.sandbox.channels["C0GENERAL"], "U0GRAFANA", {"text": "p95 latency 9 s"})
        alert.update(bot_id="B0GRAFANA", subtype="bot_message", bot_profile={"id": "B0GRAFANA", "name": "Grafana"})
    use(bot, "incident_timeline_from_message", alert)
    submit_twice(bot, {"Incident": option})
    secret = say_in(bot, "G0SECRET", "Vendor confirms the outage on their side")
    view = use(bot, "incident_timeline_from_message", secret)
    assert "open it" not in context_text(view)  # Slack gives no link to a conversation pmbot cannot see
    submit_twice(bot, {"Incident": option})
    entries = [e.text for e in rows(bot, IncidentEvent) if e.kind == "pinned"]
    assert entries == [f"Grafana: p95 latency 9 s ({permalink(alert)})",
                       "@bob: Vendor confirms the outage on their side"]


def test_declare_incident_keeps_the_chosen_people_for_the_queued_work(bot_factory) -> None:
    bot = bot_factory(pmbot_incident_responders="2=S0ONCALL")
    use(bot, "incident_declare_anywhere")
    bot.sandbox.fail("usergroups.users.list", times=1, status=200, error="fatal_error")
    submit_twice(bot, {"What is happening?": "Chatbot quotes retired prices", "Grade": "2",
                       "Also invite": "U0CARLOS"})
    [incident] = rows(bot, Incident)
    # The grade's user groups are expanded by the queued work (after the war room exists), not before the
    # incident is stored: a Slack failure there can no longer lose the declaration.
    methods = [c.method for c in bot.sandbox.calls]
    assert methods.index("conversations.create") < methods.index("usergroups.users.list")
    assert {"U0ALICE", "U0CARLOS"} <= bot.sandbox.ws.channels[incident.channel_id].members


def test_file_as_bug_without_a_link_and_the_redacted_risk(bot: RunningBot) -> None:
    secret = say_in(bot, "G0SECRET", "The export drops every row after 10,000")
    view = use(bot, "bug_from_message", secret)
    assert "From a message by <@U0BOB>." in context_text(view) and "open it" not in context_text(view)
    bot.driver.submit()
    bot.runtime.settle()
    [bug] = rows(bot, Bug)
    assert "Filed from a message by @bob." in bug.text and "source_link" not in bug.details

    _, said = bot.driver.say("Churn may rise: ask dana.lee@example.com for the Q3 &amp; Q4 figures", user="U0BOB")
    view = use(bot, "risk_from_message", said)
    submit_twice(bot, {"Probability": "2", "Impact": "3"})
    [risk] = rows(bot, Risk)
    assert "dana.lee@example.com" not in risk.description + risk.title and "Q3 & Q4" in risk.title
    assert risk.links == [permalink(said)]
    assert not [m for m in bot.sandbox.messages if "linked" in m.get("text", "")]  # stored with it, not added later


@pytest.mark.parametrize(("channel", "hint"), [("G0SECRET", "invite me"),
                                              ("D0ALICEBOB", "I can't post in a direct message between people")])
def test_a_risk_from_a_place_pmbot_cannot_post_is_saved_and_shown_privately(bot: RunningBot, channel: str,
                                                                          hint: str) -> None:
    said = say_in(bot, channel, "The vendor may drop our region")
    view = use(bot, "risk_from_message", said)
    assert "privately" in context_text(view)  # where the card goes, said as what will happen
    submit_twice(bot, {"Probability": "3", "Impact": "3"})
    [risk] = rows(bot, Risk)
    assert risk.channel_id == channel and risk.message_ts is None and risk.links == []
    told = private_notes(bot)
    assert hint in told
    assert "R-1 is saved, but its card is not posted" in told and "Here is the card, just for you" in told


def test_file_as_risk_keeps_the_link_when_the_card_cannot_be_posted(bot: RunningBot) -> None:
    _, said = bot.driver.say("Our only GPU supplier may slip a quarter", channel="C0RANDOM", user="U0BOB")
    bot.sandbox.channels["C0RANDOM"].is_archived = True  # archived after the message: pmbot cannot post there
    use(bot, "risk_from_message", said)
    submit_twice(bot, {"Probability": "4", "Impact": "4"})
    [risk] = rows(bot, Risk)
    assert risk.links == [permalink(said)] and risk.message_ts is None
    assert "Here is the card, just for you" in private_notes(bot)


def test_the_risk_forms_notes_say_where_the_card_goes_and_escape_file_names(bot: RunningBot) -> None:
    _, shared = bot.driver.share_file("<!channel> plan&budget.xlsx", b"PK", user="U0BOB")
    view = use(bot, "risk_from_message", shared)
    notes = context_text(view)
    assert "&lt;!channel&gt; plan&amp;budget.xlsx" in notes and "<!channel>" not in notes
    assert "Its card will be posted in <#C0GENERAL>" in notes
    bot.driver.close()
    with bot.sandbox.lock:
        alert = bot.sandbox.ws.post(bot.sandbox.channels["C0GENERAL"], "U0GRAFANA", {"text": ""})
        alert.update(bot_id="B0GRAFANA", subtype="bot_message", bot_profile={"id": "B0GRAFANA", "name": "Grafana"},
                     attachments=[{"fallback": "Disk 91% full on db-2", "color": "danger"}])
    view = use(bot, "risk_from_message", alert)
    assert elements(view)["title"]["initial_value"] == "Disk 91% full on db-2"
    assert "the form holds what its attachment says" in context_text(view)
    assert "say what could go wrong" not in context_text(view)


def test_a_long_bugs_card_show_and_jira_name_the_message_and_its_author(bot_factory) -> None:
    jira = JiraStub()
    try:
        bot = bot_factory(**RESPONDERS, jira_url=jira.url, jira_user=jira.user, jira_api_token=jira.token,
                          pmbot_admin_channel="C0RANDOM", **JIRA_SETTINGS)
        _, said = bot.driver.say("The summary drops the last rows of every table. " * 80, user="U0BOB")
        use(bot, "bug_from_message", said)
        bot.driver.submit({"Title": "Summaries drop table rows"})
        bot.runtime.settle()
        [card] = cards(bot, "C0GENERAL")
        source = f"From a message by <@U0BOB> (<{permalink(said)}|open it>)"
        assert source in dump(card["blocks"])  # though the report's own last line is past the card's excerpt
        shown = bot.driver.answer(bot.driver.command("/bug", "show B-1"))
        assert source in dump(shown)
        outbox.deliver(bot.runtime.deps, now=bot.runtime.deps.clock() + timedelta(minutes=5))
        bot.runtime.settle()
        [issue] = jira.issues.values()
        assert "filed from a message by: @bob" in issue.fields["description"]
        assert "U0BOB" not in issue.fields["description"]
    finally:
        jira.down()


@pytest.mark.parametrize("callback_id", ["bug_from_message", "risk_from_message", "incident_timeline_from_message"])
def test_the_form_opens_before_slack_is_asked_for_the_link_and_the_names(bot: RunningBot, callback_id: str) -> None:
    declare(bot, "Answers cite the wrong policy grade 3")
    _, said = bot.driver.say("Checked with <@U0CARLOS>: the cache is stale", user="U0BOB")
    bot.sandbox.delay("chat.getPermalink", 3.5)  # longer than a trigger lives: asked first, the form never opened
    asked = len(bot.sandbox.calls)
    view = use(bot, callback_id, said)
    methods = [c.method for c in bot.sandbox.calls[asked:]]
    assert methods.index("views.open") < methods.index("chat.getPermalink") < methods.index("views.update")
    assert methods.index("views.open") < methods.index("users.info")
    # Redrawn in place: the link and the names are there, in the same form.
    assert permalink(said) in context_text(view) and "@carlos" in dump(view["blocks"])
    # What opened first had no inputs: Slack keeps an unchanged input's first value across views.update, so a form
    # first drawn with ids would have kept "@U0CARLOS" where the person sees it.
    opened = next(c.args["view"] for c in bot.sandbox.calls[asked:] if c.method == "views.open")
    assert not [b for b in opened["blocks"] if b["type"] == "input"] and "submit" not in opened
    assert view["id"] == bot.driver.open_view()["id"] and bot.sandbox.ws.view_stacks["U0ALICE"] == [view["id"]]
