"""Paging the on-call end to end: `/incident` through the sandbox, the page through the paging stand-in (PagerDuty's
Events API v2 or Opsgenie's Alert API, checked as the real services check), on both databases."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from sqlmodel import select

from bot.doctor import OFF, OK, check_paging
from bot.settings import ConfigError, load_settings
from storage.db import session_scope
from storage.models import Incident, IncidentEvent, WorkItem
from tests.conftest import RunningBot, make_settings
from tests.helpers import bot_env, pmbot
from tests.paging_stub import PagingStub

ROUTING_KEY = "R0UT1NGKEYF0RTHEAIPLATF0RMTEAM42"  # 32 characters, as PagerDuty's integration keys are
GENIE_KEY = "7c1f2e9a-4b8d-4e21-9a3c-5d6e7f8a9b0c"
WRONG_KEY = "W0RNGKEYW0RNGKEYW0RNGKEYW0RNGK99"
PROVIDERS = ("pagerduty", "opsgenie")


@pytest.fixture
def stub() -> PagingStub:
    running = PagingStub(routing_keys=(ROUTING_KEY,), genie_keys=(GENIE_KEY,))
    yield running
    running.stop()


def paging_settings(provider: str, stub: PagingStub, *, key: str | None = None, **extra) -> dict:
    values = {"pmbot_paging_provider": provider, "pmbot_work_poll_seconds": 0.2, "pmbot_admin_channel": "C0GENERAL",
              "pmbot_incident_channel": "C0RANDOM", **extra}
    if provider == "pagerduty":
        values |= {"pmbot_pagerduty_routing_key": key or ROUTING_KEY, "pmbot_pagerduty_url": stub.url}
    else:
        values |= {"pmbot_opsgenie_api_key": key or GENIE_KEY, "pmbot_opsgenie_api_url": stub.url,
                   "pmbot_opsgenie_responders": "team:AI platform; user:ana@example.com"}
    return values


def command(bot: RunningBot, text: str, **options) -> dict:
    response = bot.driver.command("/incident", text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def incidents(bot: RunningBot) -> list[Incident]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(Incident).order_by(Incident.id)))


def page_events(bot: RunningBot, incident: Incident) -> list[str]:
    with session_scope(bot.runtime.deps.engine) as session:
        found = session.exec(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                         IncidentEvent.kind == "page").order_by(IncidentEvent.id))
        return [e.text for e in found]


def eventually(bot: RunningBot, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for the work queue to get there (a retry waits out its backoff: seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the work queue never got there"
        time.sleep(0.1)
        bot.runtime.settle()


def work(bot: RunningBot, kind: str) -> list[WorkItem]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(WorkItem).where(WorkItem.kind == kind)))


def triggers(stub: PagingStub, provider: str) -> list:
    return stub.accepted("trigger" if provider == "pagerduty" else "create")


def resolves(stub: PagingStub, provider: str) -> list:
    return stub.accepted("resolve" if provider == "pagerduty" else "close")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_grade_1_incident_pages_the_on_call_and_resolving_it_resolves_the_page(
        bot_factory, stub: PagingStub, provider: str) -> None:
    bot = bot_factory(**paging_settings(provider, stub))
    command(bot, "declare Chatbot shows &lt;b&gt;other users'&lt;/b&gt; orders to <@U0BOB|bob> grade 1")
    eventually(bot, lambda: len(triggers(stub, provider)) == 1)
    [incident] = incidents(bot)
    key = f"pmbot-{incident.team_id}-INC-1"
    [page] = triggers(stub, provider)
    name = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}[provider]
    eventually(bot, lambda: page_events(bot, incident) == [f"Paged the on-call via {name}"])
    if provider == "pagerduty":
        assert page.body["dedup_key"] == key and page.body["payload"]["severity"] == "critical"
        assert page.body["payload"]["summary"] == "INC-1 (grade 1): Chatbot shows <b>other users'</b> orders to @bob"
        assert stub.alerts[key].status == "triggered"
    else:
        assert page.headers["authorization"] == f"GenieKey {GENIE_KEY}"
        assert page.body["alias"] == key and page.body["priority"] == "P1"
        assert page.body["responders"] == [{"type": "team", "name": "AI platform"},
                                           {"type": "user", "username": "ana@example.com"}]
        assert stub.alerts[key].status == "open"

    room = incidents(bot)[0].channel_id
    bot.driver.press("Done", channel=room)  # the rollback step: mitigated, so the page is acknowledged
    bot.runtime.settle()
    eventually(bot, lambda: len(stub.accepted("acknowledge")) == 1)
    assert stub.alerts[key].status == "acknowledged"
    command(bot, "resolve rolled back to v11", channel=room)
    bot.driver.press("Resolve anyway", channel=room)  # the rest of the runbook is left open
    eventually(bot, lambda: len(resolves(stub, provider)) == 1)
    assert stub.alerts[key].status == ("resolved" if provider == "pagerduty" else "closed")
    eventually(bot, lambda: page_events(bot, incident) == [f"Paged the on-call via {name}",
                                                           "Page acknowledged (mitigated)", "Page resolved"])
    assert len(triggers(stub, provider)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_grade_3_is_not_paged_until_its_grade_is_raised_to_1(bot_factory, stub: PagingStub, provider: str) -> None:
    bot = bot_factory(**paging_settings(provider, stub))
    command(bot, "declare Summaries a little slow grade 3")
    [incident] = incidents(bot)
    time.sleep(0.5)  # a poll or two: nothing is queued, so nothing may arrive
    bot.runtime.settle()
    assert stub.requests == [] and work(bot, "incident.page") == []

    command(bot, "grade 1", channel=incident.channel_id)
    eventually(bot, lambda: len(triggers(stub, provider)) == 1)
    [page] = triggers(stub, provider)
    said = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}[provider]
    eventually(bot, lambda: any(f"Paged the on-call via {said}" in m["text"] for m in bot.sandbox.messages
                                if m["channel"] == incident.channel_id))
    if provider == "pagerduty":
        assert page.body["payload"]["severity"] == "critical"
    else:
        assert page.body["priority"] == "P1"
    command(bot, "grade 3", channel=incident.channel_id)
    command(bot, "grade 1", channel=incident.channel_id)  # the same incident: still one page
    time.sleep(0.5)
    bot.runtime.settle()
    assert len(triggers(stub, provider)) == 1


def test_grade_2_pages_when_the_grades_say_so_and_drills_never_page(bot_factory, stub: PagingStub) -> None:
    bot = bot_factory(**paging_settings("pagerduty", stub, pmbot_paging_grades="1,2"))
    command(bot, "drill pii-leak")
    [drill] = incidents(bot)
    assert drill.drill and drill.grade == 1
    command(bot, "resolve drill over", channel=drill.channel_id)
    bot.driver.press("Resolve anyway", channel=drill.channel_id)
    command(bot, "declare Retrieval returns stale policy pages grade 2")
    eventually(bot, lambda: len(triggers(stub, "pagerduty")) == 1)
    [page] = triggers(stub, "pagerduty")
    assert page.body["dedup_key"].endswith("-INC-2") and page.body["payload"]["severity"] == "error"
    assert page_events(bot, drill) == [] and [w.ref_id for w in work(bot, "incident.page")] == [incidents(bot)[1].id]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_page_while_the_service_is_down_is_retried_and_delivered_once(
        bot_factory, stub: PagingStub, provider: str) -> None:
    bot = bot_factory(**paging_settings(provider, stub))
    stub.stop()
    ack = command(bot, "declare Agent loops on refunds grade 1")
    assert "INC-1" in ack["text"]  # the declaration never waits for the page
    [incident] = incidents(bot)
    assert incident.channel_id  # nor does the war room
    eventually(bot, lambda: any("cannot be reached" in (w.last_error or "") for w in work(bot, "incident.page")))
    delayed = [m["text"] for m in bot.sandbox.ephemeral if m["user"] == "U0ALICE" and "not paged yet" in m["text"]]
    assert len(delayed) == 1 and "INC-1" in delayed[0] and "cannot be reached" in delayed[0]
    stub.outage = [503, 429]
    stub.retry_after = "1"
    stub.start()
    eventually(bot, lambda: len(triggers(stub, provider)) == 1, timeout=40)
    assert [r.status for r in stub.requests] == [503, 429, 202]
    eventually(bot, lambda: page_events(bot, incident) != [])
    time.sleep(0.5)
    bot.runtime.settle()
    assert len(triggers(stub, provider)) == 1 and len(page_events(bot, incident)) == 1
    [item] = work(bot, "incident.page")
    assert item.done_at is not None and item.attempts == 4


def test_resolving_before_the_page_went_out_sends_neither(bot_factory, stub: PagingStub) -> None:
    bot = bot_factory(**paging_settings("pagerduty", stub))
    stub.stop()
    command(bot, "declare Ranking model serves yesterday's weights grade 1")
    [incident] = incidents(bot)
    eventually(bot, lambda: any(w.last_error for w in work(bot, "incident.page")))
    command(bot, "resolve false alarm", channel=incident.channel_id)
    bot.driver.press("Resolve anyway", channel=incident.channel_id)
    stub.start()
    eventually(bot, lambda: all(w.done_at for w in work(bot, "incident.page") + work(bot, "incident.unpage"))
               and len(work(bot, "incident.unpage")) == 1)
    assert stub.accepted() == [] and page_events(bot, incident) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refused_key_is_told_to_the_admins_once_and_in_doctor(
        bot_factory, stub: PagingStub, provider: str, db_url: str, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = WRONG_KEY if provider == "pagerduty" else "00000000-1111-2222-3333-444444444444"
    settings = paging_settings(provider, stub, key=bad)
    bot = bot_factory(**settings)
    command(bot, "declare Voice bot reads out card numbers grade 1")
    command(bot, "declare Voice bot hangs up on everyone grade 1")
    eventually(bot, lambda: len(work(bot, "paging.refused")) == 1 and all(
        w.done_at for w in work(bot, "incident.page") + work(bot, "paging.refused")))
    time.sleep(0.3)
    bot.runtime.settle()
    told = [m["text"] for m in bot.sandbox.messages if m["channel"] == "C0GENERAL"]
    assert len(told) == 1, told
    name, setting = (("PagerDuty", "PMBOT_PAGERDUTY_ROUTING_KEY") if provider == "pagerduty"
                     else ("Opsgenie", "PMBOT_OPSGENIE_API_KEY"))
    assert name in told[0] and setting in told[0] and ("INC-1" in told[0] or "INC-2" in told[0])
    for incident in incidents(bot):
        [entry] = page_events(bot, incident)
        assert entry.startswith(f"Paging via {name} failed")
    assert len(stub.requests) == 2 and stub.accepted() == []
    everything = caplog.text + " ".join(m["text"] for m in bot.sandbox.messages) + " ".join(
        w.last_error or "" for w in work(bot, "incident.page"))
    assert bad not in everything

    env = bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url,
                  **{name.upper(): str(value) for name, value in settings.items()})
    doctor = pmbot("doctor", env=env, cwd=tmp_path)
    assert doctor.returncode == 1
    assert f"✗ paging: {name} refused the key in {setting}" in doctor.stdout and bad not in doctor.stdout
    fixed = paging_settings(provider, stub)
    assert check_paging(make_settings(database_url=db_url, **fixed)).status == OK


def test_doctor_says_paging_is_off_when_no_provider_is_set(db_url: str) -> None:
    check = check_paging(make_settings(database_url=db_url))
    assert check.status == OFF and "PMBOT_PAGING_PROVIDER" in check.detail


@pytest.mark.parametrize(("values", "said"), [
    ({"PMBOT_PAGING_PROVIDER": "pagerduty"}, "PMBOT_PAGERDUTY_ROUTING_KEY is not set"),
    ({"PMBOT_PAGING_PROVIDER": "opsgenie"}, "PMBOT_OPSGENIE_API_KEY is not set"),
    ({"PMBOT_PAGING_PROVIDER": "victorops", "PMBOT_PAGERDUTY_ROUTING_KEY": "x"}, "pagerduty or opsgenie"),
    ({"PMBOT_PAGING_GRADES": "1,4"}, "PMBOT_PAGING_GRADES"),
    ({"PMBOT_PAGING_GRADES": ""}, "PMBOT_PAGING_GRADES"),
    ({"PMBOT_OPSGENIE_RESPONDERS": "squad:SRE"}, "team:SRE"),
    ({"PMBOT_OPSGENIE_API_URL": "api.eu.opsgenie.com"}, "PMBOT_OPSGENIE_API_URL must be an http(s) URL"),
])
def test_paging_settings_that_cannot_work_are_refused_with_a_line_to_act_on(
        monkeypatch: pytest.MonkeyPatch, values: dict[str, str], said: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    assert said in str(raised.value)


def test_the_stand_in_refuses_what_the_real_services_refuse(stub: PagingStub) -> None:
    """The stand-in is only worth its checks: each published rule, broken once, is refused as the service does."""
    import requests

    def enqueue(**body) -> requests.Response:
        return requests.post(stub.url + "/v2/enqueue", json=body, timeout=5)

    good = {"summary": "INC-9 (grade 1): model leaks emails", "source": "pmbot:T0", "severity": "critical"}
    assert enqueue(routing_key=ROUTING_KEY, event_action="trigger", dedup_key="k", payload=good).status_code == 202
    assert enqueue(event_action="trigger", payload=good).status_code == 400
    assert enqueue(routing_key=ROUTING_KEY, event_action="escalate", dedup_key="k").status_code == 400
    assert enqueue(routing_key=ROUTING_KEY, event_action="resolve").status_code == 400  # no dedup_key
    long = enqueue(routing_key=ROUTING_KEY, event_action="trigger", payload=good | {"summary": "x" * 1025})
    assert long.status_code == 400 and "1024" in " ".join(long.json()["errors"])
    assert enqueue(routing_key=ROUTING_KEY, event_action="trigger", payload=good | {"severity": "high"}
                   ).status_code == 400
    assert enqueue(routing_key=WRONG_KEY, event_action="trigger", payload=good).json()["errors"] == [
        "Invalid routing key"]

    def alert(body: dict, key: str | None = GENIE_KEY, path: str = "/v2/alerts") -> requests.Response:
        headers = {"Authorization": f"GenieKey {key}"} if key else {}
        return requests.post(stub.url + path, json=body, headers=headers, timeout=5)

    assert alert({"message": "INC-9 leaks", "alias": "a1"}).status_code == 202
    assert alert({"message": "INC-9 leaks"}, key=None).status_code == 401
    assert alert({"message": "INC-9 leaks"}, key=GENIE_KEY[::-1]).status_code == 401
    assert alert({"message": "m" * 131}).status_code == 422
    assert alert({"message": "x", "priority": "P0"}).status_code == 422
    assert alert({"message": "x", "responders": [{"type": "squad", "name": "SRE"}]}).status_code == 422
    assert alert({}, path="/v2/alerts/a1/close?identifierType=name").status_code == 422
    assert alert({}, path="/v2/alerts/a1/close?identifierType=alias").status_code == 202
    assert stub.alerts["a1"].status == "closed"


def test_a_long_title_is_cut_to_what_opsgenie_takes(bot_factory, stub: PagingStub) -> None:
    bot = bot_factory(**paging_settings("opsgenie", stub))
    title = "The support assistant quotes refund terms from the 2019 policy " * 3
    command(bot, f"declare {title.strip()} grade 1")
    eventually(bot, lambda: len(triggers(stub, "opsgenie")) == 1)
    [page] = triggers(stub, "opsgenie")
    assert len(page.body["message"]) == 130 and page.body["message"].endswith("…")
    assert title.strip()[:150] in page.body["description"]


@pytest.mark.parametrize("line", [
    f"POST /v2/alerts headers={{'Authorization': 'GenieKey {GENIE_KEY}'}}",
    f'body={{"routing_key": "{ROUTING_KEY}", "event_action": "trigger"}}',
    f"routing_key={ROUTING_KEY}&event_action=resolve",
])
def test_paging_keys_are_redacted_from_any_log_line(line: str) -> None:
    """Belt and braces: pmbot never logs a key, and a line that holds one anyway (a library's debug output) is
    masked, the Opsgenie key too although it is a uuid (which log lines otherwise keep)."""
    import io

    from bot.logs import configure_logging

    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", stream)
        logging.getLogger("urllib3.connectionpool").debug(line)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    written = stream.getvalue()
    assert "[redacted]" in written and GENIE_KEY not in written and ROUTING_KEY not in written


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_reopened_incident_pages_the_on_call_again_and_its_next_resolve_resolves_that_page(
        bot_factory, stub: PagingStub, provider: str) -> None:
    bot = bot_factory(**paging_settings(provider, stub))
    command(bot, "declare Checkout bot refunds twice grade 1")
    eventually(bot, lambda: len(triggers(stub, provider)) == 1)
    [incident] = incidents(bot)
    key, room = f"pmbot-{incident.team_id}-INC-1", incident.channel_id
    name = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}[provider]
    command(bot, "resolve refunds paused", channel=room)
    bot.driver.press("Resolve anyway", channel=room)
    bot.runtime.settle()
    eventually(bot, lambda: len(resolves(stub, provider)) == 1)

    command(bot, "reopen", channel=room)  # it is back: the on-call is paged again, with the same key
    eventually(bot, lambda: len(triggers(stub, provider)) == 2)
    again = triggers(stub, provider)[-1]
    assert (again.body.get("dedup_key") or again.body.get("alias")) == key
    assert stub.alerts[key].status == ("triggered" if provider == "pagerduty" else "open")
    eventually(bot, lambda: "Paged the on-call again via " + name + " (reopened)" in page_events(bot, incident))
    assert any("Paged the on-call again" in m["text"] for m in bot.sandbox.messages if m["channel"] == room)

    command(bot, "resolve refunds fixed for good", channel=room)
    bot.driver.press("Resolve anyway", channel=room)
    bot.runtime.settle()
    eventually(bot, lambda: len(resolves(stub, provider)) == 2)
    assert stub.alerts[key].status == ("resolved" if provider == "pagerduty" else "closed")
    eventually(bot, lambda: page_events(bot, incident).count("Page resolved") == 2)
    assert len(triggers(stub, provider)) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_rejected_page_with_a_valid_key_is_told_once_escaped_and_doctor_stays_ok(
        bot_factory, stub: PagingStub, provider: str, db_url: str) -> None:
    settings = paging_settings(provider, stub)
    bot = bot_factory(**settings)
    command(bot, "declare Voice bot reads out card numbers grade 3")
    stub.outage = [422]
    stub.outage_message = "Field <!channel> is not *valid* <@U0BOB>"
    command(bot, "grade 1", channel=incidents(bot)[0].channel_id)  # paged now, with its war room open
    eventually(bot, lambda: all(w.done_at for w in work(bot, "incident.page")) and len(work(bot, "incident.page")))
    [incident] = incidents(bot)
    name = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}[provider]
    eventually(bot, lambda: len(page_events(bot, incident)) == 1)
    [entry] = page_events(bot, incident)
    assert entry.startswith(f"Paging via {name} failed") and "HTTP 422" in entry
    [said] = [m["text"] for m in bot.sandbox.messages
              if m["channel"] == incident.channel_id and "Could not page" in m["text"]]
    assert "&lt;!channel&gt;" in said and "<!channel>" not in said and "<@U0BOB>" not in said
    assert "rejected the page (HTTP 422)" in said and "admins" not in said
    assert work(bot, "paging.refused") == []  # not a refused key: no admin notice, doctor stays OK
    assert [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL"] == []
    assert check_paging(make_settings(database_url=db_url, **settings)).status == OK


def test_a_refused_key_notice_escapes_the_services_words(bot_factory, stub: PagingStub) -> None:
    bot = bot_factory(**paging_settings("opsgenie", stub))
    stub.outage = [401]
    stub.outage_message = "Key <!here> is *unknown*"
    command(bot, "declare Voice bot hangs up on everyone grade 1")
    eventually(bot, lambda: len(work(bot, "paging.refused")) == 1 and all(
        w.done_at for w in work(bot, "paging.refused")))
    [told] = [m["text"] for m in bot.sandbox.messages if m["channel"] == "C0GENERAL"]
    assert "&lt;!here&gt;" in told and "<!here>" not in told
