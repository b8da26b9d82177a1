"""The Slack port: it covers every Web API method pmbot calls, each of its methods names one in Slack's published
spec with arguments slack_sdk takes, the converted packages ask it (never `call(client, "method")`), and the fake
implements it faithfully."""

from __future__ import annotations

import ast
import inspect
from functools import cache
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.errors import MissingScope, NameTaken, NotInChannel, RateLimited, SlackError, SlackUnavailable
from bot.gateways import slack_port
from bot.gateways.slack import build_web_client, find_user, post_in_channel, resolve_channel, tell_privately
from bot.gateways.slack_port import SlackPort
from tests.conftest import make_settings
from tests.fake_slack import BOT_USER, GENERAL, SLACK_METHODS, FakeSlack
from tests.test_scopes import NOT_IN_SPEC, ROOT, called_methods, sdk_methods, source_files, spec_scopes

PORT_SOURCE = Path(slack_port.__file__)
GATEWAY = ROOT / "bot" / "gateways"
# The packages that ask `deps.slack` (issue #20); mirror, standups, jobs and the scheduler follow after their own
# refactors, through the client-taking wrappers in bot/gateways/slack.py until then.
CONVERTED = ("bot/commands", "bot/home.py", "bot/budgets", "bot/bugs", "bot/risks", "bot/incidents", "bot/quality",
             "bot/gateways/names.py")
# Web API methods called outside the port on purpose, and why.
OUTSIDE_THE_PORT = {
    "auth.test": "pmbot doctor's probe reads slack_sdk's own errors; the port has it too (identity)",
}


@cache
def primitives() -> dict[str, list[ast.Call]]:
    """Each SlackPort method that calls Slack → its `call(self._client, "method", …)` nodes."""
    tree = ast.parse(PORT_SOURCE.read_text())
    port = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "SlackPort")
    found: dict[str, list[ast.Call]] = {}
    for fn in port.body:
        if isinstance(fn, ast.FunctionDef):
            calls = [node for node in ast.walk(fn) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                     and node.func.id == "call"]
            if calls:
                found[fn.name] = calls
    return found


def sdk_method(node: ast.Call) -> str:
    method = node.args[1]
    assert isinstance(method, ast.Constant) and isinstance(method.value, str), ast.unparse(node)
    return method.value


def port_api_methods() -> dict[str, frozenset[str]]:
    """Primitive → the Web API methods it calls (`files_upload_v2` is two)."""
    return {name: sdk_methods()[sdk_method(calls[0])] for name, calls in primitives().items()}


def converted_files() -> list[Path]:
    files = []
    for entry in CONVERTED:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


# --- the port against Slack's spec and slack_sdk -------------------------------------------------------------


def test_each_primitive_makes_one_call_by_a_literal_slack_sdk_name() -> None:
    assert len(primitives()) >= 25
    for name, calls in primitives().items():
        assert len(calls) == 1, f"{name} should make one Web API call, makes {len(calls)}"
        assert sdk_method(calls[0]) in sdk_methods(), f"{name}: {sdk_method(calls[0])} is no WebClient method"


def test_each_primitive_names_a_method_in_slacks_published_spec() -> None:
    unknown = {name: sorted(apis - set(spec_scopes()) - set(NOT_IN_SPEC))
               for name, apis in port_api_methods().items() if apis - set(spec_scopes()) - set(NOT_IN_SPEC)}
    assert unknown == {}, "not in Slack's spec (nor explained in test_scopes.NOT_IN_SPEC)"


def test_each_primitive_sends_only_arguments_slack_sdk_takes() -> None:
    """A misspelt argument would reach Slack as an unknown field (or be dropped): caught here without a request."""
    wrong = []
    for name, [node] in primitives().items():
        taken = set(inspect.signature(getattr(WebClient, sdk_method(node))).parameters)
        wrong += [f"{name}: {k.arg}" for k in node.keywords if k.arg is not None and k.arg not in taken]
    assert wrong == []


def test_no_port_method_is_named_like_a_web_client_method() -> None:
    """The scope check (test_scopes) counts `x.chat_postMessage` as a call: port names must not look like one."""
    public = {name for name, _ in inspect.getmembers(SlackPort) if not name.startswith("_")}
    assert public & set(sdk_methods()) == set()


# --- the port covers what pmbot calls ------------------------------------------------------------------------


def test_the_port_offers_every_web_api_method_pmbot_calls() -> None:
    """Also what the packages not converted yet call: each has its named method waiting for it."""
    offered = set().union(*port_api_methods().values())
    outside = called_methods(p for p in source_files() if GATEWAY not in p.parents)
    missing = {api: where[:3] for api, where in outside.items() if api not in offered and api not in OUTSIDE_THE_PORT}
    assert missing == {}, "Web API methods called outside bot/gateways with no SlackPort method"


def test_the_converted_packages_ask_the_port_by_name() -> None:
    """No `call(client, "method")`, no raw client, no slack_sdk in the converted packages."""
    found = []
    for path in converted_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "call":
                found.append(f"{where} call(…)")
            elif isinstance(node, ast.Attribute) and node.attr == "client" \
                    and isinstance(node.value, ast.Name | ast.Attribute):
                found.append(f"{where} .client")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("slack_sdk"):
                found.append(f"{where} imports slack_sdk")
    assert found == []
    assert len(converted_files()) > 15


def test_the_raw_client_helpers_still_answer_as_before(sandbox) -> None:
    """The wrappers kept for the packages not converted yet: same answers, through the port."""
    client = build_web_client(make_settings(slack_api_url=sandbox.api_url))
    posted = post_in_channel(client, "C0GENERAL", text="hello")
    assert set(posted) == {"channel", "ts"} and posted["channel"] == "C0GENERAL"
    assert resolve_channel(client, "#general") == "C0GENERAL"
    assert find_user(client, "@nobody-by-this-name") is None
    tell_privately(client, "U0ALICE", None, text="psst")
    assert sandbox.calls_to("conversations.open") and sandbox.calls_to("chat.postMessage")


# --- the fake ------------------------------------------------------------------------------------------------


def test_the_fake_implements_every_primitive_with_the_ports_signature() -> None:
    for name in primitives():
        assert name in vars(FakeSlack), f"FakeSlack inherits {name}: it would reach a real client"
        assert inspect.signature(getattr(FakeSlack, name)) == inspect.signature(getattr(SlackPort, name)), name
    assert set(SLACK_METHODS) == set(primitives())


def test_the_fakes_errors_carry_the_web_api_method_the_port_calls() -> None:
    for name, apis in port_api_methods().items():
        assert SLACK_METHODS[name] in apis, name


def test_the_fake_refuses_as_slack_does_and_is_translated_like_the_port() -> None:
    fake = FakeSlack()
    fake.add_channel("C0QUIET", "quiet", bot_member=False)
    with pytest.raises(NotInChannel) as refused:
        fake.post_message("C0QUIET", text="hi")
    assert refused.value.method == "chat.postMessage"
    posted = fake.post_in_channel("C0QUIET", text="hi")  # joins, then posts
    assert [c.method for c in fake.calls] == ["post_message", "post_message", "join_channel", "post_message"]
    assert fake.posted_in("C0QUIET")[0]["ts"] == posted.ts
    fake.create_channel("inc-1")
    with pytest.raises(NameTaken):
        fake.create_channel("inc-1")


@pytest.mark.parametrize(("code", "status", "kind"), [
    ("name_taken", 200, NameTaken),
    ("ratelimited", 429, RateLimited),
    ("internal_error", 200, SlackUnavailable),
    ("anything", 503, SlackUnavailable),
    ("missing_scope", 200, MissingScope),
    ("is_archived", 200, SlackError),
])
def test_the_fake_fails_on_request_with_the_typed_error(code: str, status: int, kind: type[SlackError]) -> None:
    fake = FakeSlack()
    fake.fail("create_channel", code, status=status, retry_after=7 if status == 429 else None,
              needed="channels:manage" if code == "missing_scope" else None)
    with pytest.raises(kind) as failed:
        fake.create_channel("inc-1")
    assert type(failed.value) is kind and failed.value.method == "conversations.create"
    if kind is RateLimited:
        assert failed.value.retry_after == 7
    if kind is MissingScope:
        assert failed.value.scope == "channels:manage"
    assert fake.create_channel("inc-1").startswith("C")  # once only


def test_the_fake_finds_its_own_post_across_pages() -> None:
    fake = FakeSlack()
    card = fake.post_message(GENERAL, text="card", metadata={"event_type": "pmbot_card", "event_payload": {"id": 7}})
    for n in range(slack_port.OWN_POST_PAGE_SIZE + 5):
        fake.post_message(GENERAL, text=f"chatter {n}")
    assert fake.find_own_post(GENERAL, event_type="pmbot_card", key=7, oldest=float(card.ts) - 1) == card.ts
    assert len(fake.calls_to("history")) == 2
    assert fake.find_own_post(GENERAL, event_type="pmbot_card", key=8, oldest=float(card.ts) - 1) is None


def test_the_fake_tells_privately_by_dm_when_the_person_is_not_in_the_channel() -> None:
    fake = FakeSlack()
    fake.add_user("U0ANA", "ana", channels=())
    fake.tell_privately("U0ANA", GENERAL, text="only for you")
    assert fake.ephemerals == [] and fake.posted_in("D0ANA")[0]["text"] == "only for you"
    fake.add_user("U0BEN", "ben")
    fake.tell_privately("U0BEN", GENERAL, text="here")
    assert fake.ephemerals == [{"channel": GENERAL, "user": "U0BEN", "text": "here"}]
    assert BOT_USER in fake.channels[GENERAL]["members"]
