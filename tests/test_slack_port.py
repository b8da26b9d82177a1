"""The Slack port: it covers every Web API method pmbot calls, each of its methods names one in Slack's published
spec with arguments slack_sdk takes, every package outside the gateways asks it (never `call(client, "method")`, never
the raw client but where OUTSIDE_THE_PORT says why), and the fake implements it faithfully."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.errors import MissingScope, NameTaken, NotInChannel, RateLimited, SlackError, SlackUnavailable
from bot.gateways import slack_port
from bot.gateways.slack_port import SlackPort, build_web_client
from tests.conftest import make_settings
from tests.fake_slack import BOT_USER, GENERAL, SLACK_METHODS, FakeSlack
from tests.test_scopes import (
    BOLT_HELPERS,
    NOT_IN_SPEC,
    ROOT,
    called_methods,
    sdk_methods,
    source_files,
    spec_scopes,
)

PORT_SOURCE = Path(slack_port.__file__)
GATEWAY = ROOT / "bot" / "gateways"
# What asks `deps.slack` (issue #20): every module under bot/ but the gateways, which hold the port and the client it
# wraps, and the sandbox, which is Slack's stand-in; names.py is the gateway that asks the port.
CONVERTED = ("bot", "bot/gateways/names.py")
NOT_CONVERTED = ("bot/gateways", "bot/sandbox")
# The raw client's uses left in the converted packages on purpose, (module, what) → why. Each must still be there,
# so an excuse cannot outlive its use.
OUTSIDE_THE_PORT = {
    ("bot/app.py", ".client"): "Bolt's App(client=…) is built over the raw WebClient; Bolt, not pmbot, calls it",
    ("bot/deps.py", ".client"): "the port is built over Deps.client (`SlackPort(self.client)`) when no fake is given",
    ("bot/deps.py", "imports slack_sdk"): "Deps.client's type (WebClient), under TYPE_CHECKING only",
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
    """The modules CONVERTED names, less those under NOT_CONVERTED unless named themselves."""
    skipped = [ROOT / entry for entry in NOT_CONVERTED]
    files = []
    for entry in CONVERTED:
        path = ROOT / entry
        files += [p for p in sorted(path.rglob("*.py")) if not any(folder in p.parents for folder in skipped)] \
            if path.is_dir() else [path]
    return files


def raw_slack_uses(path: Path) -> Iterator[tuple[str, str]]:
    """(what, where) for each way `path` reaches Slack but through the port: `call(…)`, a `.client`, slack_sdk
    imported, a WebClient method called by name (`client.auth_test()`), or Bolt's `say()`. A method's name as a
    string is no call (services label their port calls `"chat_update"` in the log)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "call":
            yield "call(…)", where
        elif isinstance(node, ast.Attribute) and node.attr == "client" \
                and isinstance(node.value, ast.Name | ast.Attribute):
            yield ".client", where
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("slack_sdk") \
                or isinstance(node, ast.Import) and any(a.name.startswith("slack_sdk") for a in node.names):
            yield "imports slack_sdk", where
        elif isinstance(node, ast.Attribute) and node.attr in sdk_methods():
            yield node.attr, where
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BOLT_HELPERS:
            yield f"{node.func.id}()", where


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
    """Also what the uses left outside the port (OUTSIDE_THE_PORT) call: each has its named method."""
    offered = set().union(*port_api_methods().values())
    outside = called_methods(p for p in source_files() if GATEWAY not in p.parents)
    missing = {api: where[:3] for api, where in outside.items() if api not in offered}
    assert missing == {}, "Web API methods called outside bot/gateways with no SlackPort method"


def test_the_converted_packages_ask_the_port_by_name() -> None:
    """No `call(client, "method")`, no raw client, no slack_sdk, no WebClient method outside the gateways, but the
    uses OUTSIDE_THE_PORT explains."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in converted_files():
        for what, where in raw_slack_uses(path):
            found.setdefault((str(path.relative_to(ROOT)), what), []).append(where)
    unexplained = sorted(f"{where} {what}" for (module, what), wheres in found.items()
                         if (module, what) not in OUTSIDE_THE_PORT for where in wheres)
    assert unexplained == []
    assert set(OUTSIDE_THE_PORT) - set(found) == set(), "OUTSIDE_THE_PORT explains a use that is gone"
    assert len(converted_files()) > 60


def test_the_check_sees_every_way_around_the_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "bot" / "around.py"
    module.parent.mkdir()
    module.write_text("import slack_sdk\nfrom slack_sdk.errors import SlackApiError\n\n\n"
                      "def run(deps, say):\n"
                      "    call(deps.client, 'chat_update', channel='C1', ts='1.0', text='x')\n"
                      "    deps.runtime.client.auth_test()\n"
                      "    say('hello')\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert sorted(what for what, _ in raw_slack_uses(module)) == [
        ".client", ".client", "auth_test", "call(…)", "imports slack_sdk", "imports slack_sdk", "say()"]


def test_the_port_over_slack_sdks_client_answers_through_http(sandbox) -> None:
    """The port over the WebClient the composition root builds, against the sandbox's Web API."""
    port = SlackPort(build_web_client(make_settings(slack_api_url=sandbox.api_url)))
    posted = port.post_in_channel("C0GENERAL", text="hello")
    assert posted.channel == "C0GENERAL" and posted.ts
    assert port.resolve_channel("#general") == "C0GENERAL"
    assert port.find_user("@nobody-by-this-name") is None
    port.tell_privately("U0ALICE", None, text="psst")
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
