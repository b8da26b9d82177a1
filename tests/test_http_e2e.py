"""Signed Slack traffic through the real HTTP server and Bolt, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

from tests.conftest import RunningBot


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _help_form(driver) -> str:
    return urlencode({"command": "/pmbot", "text": "help", "team_id": "T0SANDBOX", "user_id": "U0ALICE",
                      "channel_id": "C0GENERAL", "trigger_id": "1.2.3", "response_url": "http://127.0.0.1:9/r"})


def test_forged_signature_is_rejected_with_401(bot: RunningBot) -> None:
    response = bot.driver.post(_help_form(bot.driver), "application/x-www-form-urlencoded",
                               signature="v0=" + "0" * 64)
    assert response.status == 401
    assert bot.sandbox.calls == []


def test_request_signed_with_another_secret_is_rejected(bot: RunningBot) -> None:
    from bot.sandbox import Driver

    intruder = Driver(bot.driver.events_url, "not-the-secret", bot.sandbox)
    assert intruder.command("/pmbot", "help").status == 401


def test_timestamp_older_than_five_minutes_is_rejected(bot: RunningBot) -> None:
    stale = int(time.time()) - 6 * 60
    response = bot.driver.post(_help_form(bot.driver), "application/x-www-form-urlencoded", timestamp=stale)
    assert response.status == 401


def test_pmbot_help_is_acked_with_every_command(bot: RunningBot) -> None:
    response = bot.driver.command("/pmbot", "help")
    assert response.status == 200
    payload = response.json()
    assert payload["response_type"] == "ephemeral"
    for spec in bot.runtime.deps.commands:
        assert f"`{spec.name}`" in payload["text"]
        assert spec.summary in payload["text"]
    assert payload["blocks"][0]["type"] == "section"


def test_pmbot_without_text_shows_help_too(bot: RunningBot) -> None:
    payload = bot.driver.command("/pmbot", "").json()
    assert "`/pmbot`" in payload["text"]


def test_unknown_subcommand_gets_a_clear_private_answer_that_cannot_ping(bot: RunningBot) -> None:
    payload = bot.driver.command("/pmbot", "<!channel> frobnicate").json()
    assert payload["response_type"] == "ephemeral"
    assert "`/pmbot help` lists what I can do" in payload["text"]
    assert "<!channel>" not in payload["text"]
    assert "&lt;!channel&gt;" in payload["text"]


def test_status_is_sent_after_the_ack_through_response_url(bot: RunningBot) -> None:
    response = bot.driver.command("/pmbot", "status")
    assert response.status == 200
    assert response.body == ""  # acked empty; the answer follows
    answers = bot.sandbox.wait_for(lambda: bot.sandbox.responses)
    assert answers, "no response_url post arrived"
    text = answers[0]["text"]
    assert "Database:" in text and "reachable, schema up to date" in text
    assert "Jira: off" in text
    assert answers[0]["response_type"] == "ephemeral"


def test_repeated_slash_command_delivery_is_handled_once(bot: RunningBot) -> None:
    first = bot.driver.command("/pmbot", "status", trigger_id="4242.1")
    again = bot.driver.command("/pmbot", "status", trigger_id="4242.1", retry_num=1)
    assert first.status == 200 and again.status == 200
    bot.sandbox.wait_for(lambda: bot.sandbox.responses)
    time.sleep(0.3)  # give a wrongly handled duplicate the time to show up
    assert len(bot.sandbox.responses) == 1


def test_same_event_delivered_twice_is_handled_once(bot: RunningBot) -> None:
    event = {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"}
    first = bot.driver.event(event, event_id="Ev0DUPLICATE")
    retry = bot.driver.event(event, event_id="Ev0DUPLICATE", retry_num=1)
    assert first.status == 200 and retry.status == 200
    assert bot.sandbox.wait_for(lambda: "U0ALICE" in bot.sandbox.home_views)
    time.sleep(0.3)
    assert len(bot.sandbox.calls_to("views.publish")) == 1
    home_text = json.dumps(bot.sandbox.home_views["U0ALICE"])
    assert "/pmbot" in home_text


def test_a_different_event_is_not_mistaken_for_a_repeat(bot: RunningBot) -> None:
    event = {"type": "app_home_opened", "user": "U0BOB", "channel": "D0BOB", "tab": "home"}
    bot.driver.event(event, event_id="Ev0ONE")
    bot.driver.event(event, event_id="Ev0TWO")
    assert bot.sandbox.wait_for(lambda: len(bot.sandbox.calls_to("views.publish")) == 2)


def test_rate_limited_call_is_retried_after_retry_after(bot: RunningBot) -> None:
    bot.sandbox.rate_limit("views.publish", times=1, retry_after=1)
    bot.driver.event({"type": "app_home_opened", "user": "U0BOB", "tab": "home"})
    assert bot.sandbox.wait_for(lambda: "U0BOB" in bot.sandbox.home_views, timeout=8)
    calls = bot.sandbox.calls_to("views.publish")
    assert len(calls) == 2  # one 429, then the retry


def test_healthz_answers_200_with_json(bot: RunningBot) -> None:
    status, body = _get(bot.url + "/healthz")
    assert status == 200
    assert json.loads(body)["database"] == "ok"


def test_metrics_count_requests_and_ack_latency(bot: RunningBot) -> None:
    bot.driver.command("/pmbot", "help")
    bot.driver.command("/pmbot", "nonsense")
    status, body = _get(bot.url + "/metrics")
    assert status == 200
    assert 'pmbot_requests_total{command="/pmbot",outcome="ok"} 1.0' in body
    assert 'pmbot_requests_total{command="/pmbot",outcome="user_error"} 1.0' in body
    assert 'pmbot_ack_seconds_count{kind="/pmbot"} 2.0' in body


def test_unknown_paths_and_methods(bot: RunningBot) -> None:
    assert _get(bot.url + "/nope")[0] == 404
    assert _get(bot.url + "/slack/events")[0] == 405


def test_healthz_is_503_when_the_database_is_unreachable(sandbox, tmp_path) -> None:
    from bot.app import Service, build
    from tests.conftest import make_settings

    settings = make_settings(slack_api_url=sandbox.api_url,
                             database_url="postgresql://nobody:nothing@127.0.0.1:1/none")
    service = Service(build(settings), host="127.0.0.1", port=0)
    service.start()
    try:
        status, body = _get(f"http://127.0.0.1:{service.http.port}/healthz")
    finally:
        service.stop()
    assert status == 503
    payload = json.loads(body)
    assert (payload["status"], payload["database"]) == ("unavailable", "unreachable")
    assert "nothing" not in body  # no credentials in the answer
