"""No personal data in the log (issue #19, defect 3): refused requests, encoded values, readable tracebacks.

The corpus holds 35 invented values of every kind `bot.domain.pii` knows, in the shapes people type them.
Each goes into a `/bug` report that the bot refuses (a forged signature, a stale timestamp), because that is
where slack_bolt logs the whole request body. None may reach the log in any form it could be written in:
as typed, URL-encoded as Slack sends a form, or JSON-escaped.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from stdnum import iban, luhn
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.us import ssn

from bot.logs import RedactingFormatter, configure_logging, redact
from bot.sandbox import Driver, SlackSandbox
from tests.conftest import SIGNING_SECRET
from tests.helpers import ServeProcess, bot_env
from tests.slack_payloads import FORM, JSON, as_command, as_interaction, slash_command

# (kind, what the reporter writes before it, the value). Invented values; checksums valid where one exists.
CORPUS = [
    ("card", "charged twice on card", "4539 1488 0343 6400"),
    ("card", "card number", "5425-2334-3010-9101"),
    ("card", "amex", "371449635398431"),
    ("card", "discover", "6011 0009 9013 9424"),
    ("card", "visa from the receipt:", "4917618400273515"),
    ("email", "reach me at", "late.user@example.net"),
    ("email", "cc", "jane.roe+bugs@example.org"),
    ("email", "the export shows", "m.okafor@mail.example.com"),
    ("email", "contact", "dev-ops_lead@example.co.uk"),
    ("email", "mail", "zoe.lindqvist@example.io"),
    ("phone", "call", "+1 415 555 0142"),
    ("phone", "office", "(212) 555-0187"),
    ("phone", "uk desk", "+44 20 7946 0321"),
    ("phone", "mobil", "+49 151 23456789"),
    ("phone", "portable", "+33 6 12 34 56 78"),
    ("phone", "movil", "+34 612 345 678"),
    ("iban", "refund to", "DE28 7602 6000 4815 1623 42"),
    ("iban", "account", "gb93zexb40051671829304"),
    ("iban", "IBAN", "NL30ZEXB0684197253"),
    ("iban", "konto", "at61 1904 3002 3457 3201"),
    ("national_id", "SSN", "536-22-8471"),
    ("national_id", "DNI", "48213965P"),
    ("national_id", "NIE", "Y4829163M"),
    ("national_id", "NIR", "2 85 05 75 123 456 23"),
    ("password", "password:", "Winter2026!"),
    ("password", "DB_PASSWORD=", "supersecret123"),
    ("password", "login admin /", "P@ssw0rd!2024"),
    ("password", "postgresql://app:", "s3cr3t-Pw9"),
    ("password", "SMTP_SECRET=", "q8Zr4xK2mN7v"),
    ("password", "deploy user: ci-bot /", "Hunter#2026x"),
    ("token", "bot token", "xoxb-2048-4096-Zk3mQ8vN1pR7sT2w"),
    ("token", "user token", "xoxp-1111-2222-3333-aB9cD8eF7gH6"),
    ("token", "app token", "xapp-1-A0PMBOT-1234-f00dfacecafe0123"),
    ("token", "openai key", "sk-proj-Tq4Wm8Zx2Lp6Rv9Nc3Hb7Yd1"),
    ("token", "anthropic key", "sk-ant-api03-Xy7Qw2Er5Ty8Ui1Op4As"),
]
REFUSED = "Invalid request signature detected"


def report(context: str, value: str) -> str:
    """A `/bug` text with the value where a reporter would put it (`DB_PASSWORD=x`, a URL's user part)."""
    if context.startswith("postgresql://"):
        return f"checkout broke after the deploy, {context}{value}@db.example.com:5432/shop please check"
    joiner = "" if context.endswith("=") else " "
    return f"checkout broke after the deploy, {context}{joiner}{value} please check"


def written_forms(value: str) -> set[str]:
    """Every way the value can stand in a log line: as typed, form- and URL-encoded, JSON-escaped."""
    return {value, quote_plus(value), quote(value), quote(value, safe=""), json.dumps(value)[1:-1],
            value.replace("@", "\\u0040"), quote_plus(json.dumps(value)[1:-1])}


def leaks(log: str) -> list[str]:
    return [value for _, _, value in CORPUS if any(form in log for form in written_forms(value))]


def test_the_corpus_is_35_valid_values_of_every_kind() -> None:
    assert len(CORPUS) == 35 == len({value for _, _, value in CORPUS})
    values = {kind: [value for k, _, value in CORPUS if k == kind] for kind, _, _ in CORPUS}
    assert all(luhn.is_valid(re.sub(r"\D", "", card)) for card in values["card"])
    assert all(iban.is_valid(number) for number in values["iban"])
    assert any(number.islower() for number in values["iban"]) and any(n.isupper() for n in values["iban"])
    assert ssn.is_valid(values["national_id"][0]) and dni.is_valid(values["national_id"][1])
    assert nie.is_valid(values["national_id"][2]) and nir.is_valid(values["national_id"][3])


# --- the formatter alone: encoded values are masked even if a body reaches it -----------------------------


def _slash_form(text: str) -> str:
    body, _ = as_command(slash_command("/bug", text, user="U0ALICE", channel="C0GENERAL", channel_name="general",
                                       response_url="https://hooks.slack.example/commands/T0/1/x",
                                       trigger_id="1337.42.abcd"))
    return body


def _event_json(text: str) -> str:
    """An Events API body written by an encoder that escapes `@` and quotes (`\\u0040`, `\\"`)."""
    body = json.dumps({"type": "event_callback", "event": {"type": "message", "text": f'"{text}"'}})
    return body.replace("@", "\\u0040")


def _interaction_form(text: str) -> str:
    body, _ = as_interaction({"type": "block_actions", "actions": [{"action_id": "note", "value": text}]})
    return body


@pytest.mark.parametrize("encode", [str, _slash_form, _event_json, _interaction_form],
                         ids=["typed", "slash-command-form", "escaped-json", "interaction-form"])
def test_the_formatter_masks_every_value_however_it_is_encoded(encode) -> None:
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    lines = []
    for _, context, value in CORPUS:
        body = encode(report(context, value))
        record = logging.LogRecord("slack_bolt.RequestVerification", logging.INFO, __file__, 1,
                                   f"{REFUSED} (signature: v0={'ab' * 32}, timestamp: 1767225600, body: {body})",
                                   None, None)
        lines.append(formatter.format(record))
    log = "\n".join(lines)
    assert leaks(log) == []
    assert log.count(f"signature: v0={'ab' * 32}, timestamp: 1767225600") == 35


# --- what the formatter must leave alone -------------------------------------------------------------------


def _fail_deep_inside() -> None:
    raise TimeoutError("Slack answered 503 for request 123e4567-e89b-12d3-a456-426614174000 (error id 4155552671)")


def test_a_traceback_prints_exactly_as_python_wrote_it() -> None:
    try:
        _fail_deep_inside()
    except TimeoutError:
        record = logging.LogRecord("bot", logging.ERROR, __file__, 7, "report R-12 failed (error id 4155552671)",
                                   None, sys.exc_info())
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record)
    redacted = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record)
    assert redacted == plain
    assert f'File "{__file__}", line' in redacted


@pytest.mark.parametrize("line", [
    'Traceback (most recent call last):\n  File "/work/main/bot/app.py", line 12, in build\n'
    '  File "/usr/lib/python3.11/x.py", line 3, in <module>',
    '  File "/work/main/.venv/lib/python3.11/site-packages/slack_bolt/middleware/request_verification/'
    'request_verification.py", line 51, in process',
    "import from /usr/local/lib/python3.12/site-packages/sentence_transformers/models/Transformer.py failed",
    "2026-03-01 09:15:02,417 INFO bot.scheduler: claimed standup-digest for 2026-03-01T09:15:00+00:00",
    f"{REFUSED} (signature: v0=7f3c1a9e5b2d4f6081a3c5e7f9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5f7, "
    "timestamp: 1767225600, body: [withheld: 412 characters])",
    "report 5b0c2f6e-8a41-4d7e-9c3b-2f1e0d9c8b7a graded 2 in 1530 ms, error id 4155552671, line 1234567",
    "pmbot 1.14.2 / slack_bolt 1.30.0 / python 3.11.9 and/or later",
])
def test_paths_numbers_ids_and_signatures_are_left_alone(line: str) -> None:
    assert redact(line) == line


# --- configure_logging: bodies withheld at the source ----------------------------------------------------


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """configure_logging on a stream; the root logger and the levels it changes are put back afterwards."""
    root = logging.getLogger()
    names = ("slack_sdk", "apscheduler", "slack_bolt.RequestVerification", "slack_bolt.App")
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in names}
    stream = io.StringIO()
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_bolt_and_slack_sdk_bodies_are_withheld_but_the_refusal_is_kept(log_stream: io.StringIO) -> None:
    configure_logging("DEBUG", stream=log_stream)
    body = _slash_form(report("reach me at", "late.user@example.net"))
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.DEBUG)
    logging.getLogger("slack_bolt.RequestVerification").info(
        "%s (signature: %s, timestamp: %s, body: %s)", REFUSED, "v0=" + "c4" * 32, "1767225600", body)
    logging.getLogger("slack_bolt.App").setLevel(logging.DEBUG)
    logging.getLogger("slack_bolt.App").debug('Responding with status: 200 body: "%s" (3 millis)', body)
    parsed = {"text": "reach me at late.user@example.net"}
    logging.getLogger("slack_bolt.App").warning(
        "A global middleware (dedupe) skipped calling either `next()` or `next_()` without providing a response "
        "for the request (%s)", parsed)
    logging.getLogger("slack_sdk.web.base_client").info("Received the following response - status: 200, body: %s",
                                                        '{"ok": true, "text": "late.user@example.net"}')
    log = log_stream.getvalue()
    assert f"{REFUSED} (signature: v0={'c4' * 32}, timestamp: 1767225600, body: [withheld: {len(body)} characters])" \
        in log
    assert 'Responding with status: 200 body: [withheld:' in log
    assert f"for the request ([withheld: {len(str(parsed))} characters])" in log
    assert "status: 200, body: [withheld:" in log
    assert "late.user" not in log and "example.net" not in log


# --- the running bot -------------------------------------------------------------------------------------


def test_refused_bug_reports_leave_none_of_the_35_values_in_the_log(sandbox: SlackSandbox, tmp_path: Path) -> None:
    server = ServeProcess(bot_env(SLACK_API_URL=sandbox.api_url, PMBOT_LOG_LEVEL="INFO"), tmp_path)
    statuses, signatures = [], set()
    try:
        server.wait_healthy()
        events_url = server.url + "/slack/events"
        ours, intruder = Driver(events_url, SIGNING_SECRET, sandbox), Driver(events_url, "an-old-secret", sandbox)
        stale = int(time.time()) - 10 * 60  # clock skew: signed right, but too old
        for _, context, value in CORPUS:
            text = report(context, value)
            statuses.append(intruder.command("/bug", text).status)  # a rotated signing secret
            statuses.append(ours.command("/bug", text, timestamp=stale).status)
            body = _event_json(text)
            signatures.add(intruder.signer.generate_signature(timestamp=str(stale), body=body))
            statuses.append(intruder.post(body, JSON, timestamp=stale).status)
            statuses.append(ours.post(_interaction_form(text), FORM, signature="v0=" + "0" * 64).status)
        assert server.terminate() == 0
    finally:
        server.stop()
    log = server.log()
    assert statuses == [401] * 4 * len(CORPUS)
    assert log.count(REFUSED) == 4 * len(CORPUS)  # each refusal is still in the log …
    assert log.count("body: [withheld: ") == 4 * len(CORPUS)  # … without its body
    assert all(signature in log for signature in signatures)  # signatures print whole, as sent
    assert leaks(log) == []
