"""Scopes checked, not remembered.

Every Slack Web API method the code can call is found in the source (not listed by hand), looked up in Slack's
published spec for the scopes it needs, and checked against the bot scopes of `pmbot manifest`. When Slack answers
`missing_scope` anyway, the admin channel hears it once per scope.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest
import slack_sdk.web.client

from bot import commands
from bot.manifest import build_manifest
from bot.mirror import outbox
from tests.conftest import RunningBot
from tests.jira_stub import SETTINGS, JiraStub

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = (ROOT / "bot", ROOT / "storage")
SANDBOX = ROOT / "bot" / "sandbox"  # the Slack stand-in: it answers calls, it makes none
# Slack's official Web API spec (OpenAPI 2.0, 2020), vendored with the harness spec: the harness replaced the
# per-method scopes with bearer auth, this file still has them (`security: [{slackAuth: [...]}]`).
SPEC = Path(__file__).parent / "specs" / "slack_web_openapi_v2.json"

# Methods newer than the 2020 spec, with the bot-token scopes Slack's method pages (docs.slack.dev/reference/methods)
# list for them. Each must name at least one scope: a method Slack documents without a scope belongs in the spec.
NOT_IN_SPEC: dict[str, tuple[str, ...]] = {
    "bookmarks.add": ("bookmarks:write",),  # channel bookmarks, 2021: the war room's Jira link
    "files.getUploadURLExternal": ("files:write",),  # files_upload_v2, step 1 (files.upload's successor, 2022)
    "files.completeUploadExternal": ("files:write",),  # files_upload_v2, step 3
}

# The 2020 spec names the scopes of classic apps. A bot token of today's apps uses the granular scope Slack put in
# their place (docs.slack.dev/reference/scopes: "files:write replaces both files:write:user and files:write:bot").
# None: a user token's scope, never granted to a bot, so it is no alternative for us.
GRANULAR: dict[str, str | None] = {
    "chat:write:bot": "chat:write",
    "chat:write:user": None,
    "files:write:user": "files:write",
    "channels:write": "channels:manage",  # create, archive, invite, topic and purpose of public channels
}
# Where one classic scope split in two: joining a public channel is channels:join, not channels:manage.
GRANULAR_FOR_METHOD: dict[tuple[str, str], str] = {("conversations.join", "channels:write"): "channels:join"}

# The spec lists one scope per kind of conversation for the conversations.* methods (channels: public,
# groups: private, im: direct message, mpim: group DM); the one needed is the one of the kind we call it on.
# Each entry says how we call the method; `test_the_conversation_kinds_match_how_the_code_calls` checks the
# arguments that decide it.
CONVERSATION_KINDS: dict[str, frozenset[str]] = {
    # War rooms: public channels pmbot creates (conversations_create without is_private), runs and archives.
    "conversations.create": frozenset({"channels"}),
    "conversations.invite": frozenset({"channels"}),
    "conversations.setTopic": frozenset({"channels"}),
    "conversations.setPurpose": frozenset({"channels"}),
    "conversations.archive": frozenset({"channels"}),
    "conversations.unarchive": frozenset({"channels"}),
    # The text of a message pinned in a war room.
    "conversations.history": frozenset({"channels"}),
    "conversations.replies": frozenset({"channels"}),
    # Finding a channel by name (types=public_channel,private_channel); a stand-up's channel may be private.
    "conversations.list": frozenset({"channels", "groups"}),
    "conversations.info": frozenset({"channels", "groups"}),
    # Who is in a budget's channel (it may be private) or an incident's war room, for the Home.
    "conversations.members": frozenset({"channels", "groups"}),
    # A DM to one person (conversations_open with users=).
    "conversations.open": frozenset({"im"}),
    "conversations.join": frozenset({"channels"}),
}
KIND_PREFIXES = ("channels:", "groups:", "im:", "mpim:")
# Bolt's `say()` posts with chat.postMessage; a listener using it calls the Web API without naming the method.
BOLT_HELPERS = {"say": "chat_postMessage"}


# --- what slack_sdk calls ----------------------------------------------------------------------------


@cache
def sdk_methods() -> dict[str, frozenset[str]]:
    """slack_sdk's WebClient method name → the Web API methods it calls, read from slack_sdk's own source.

    Most call one (`self.api_call("chat.postMessage", …)`); files_upload_v2 calls two others.
    """
    tree = ast.parse(Path(slack_sdk.web.client.__file__).read_text())
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "WebClient")
    direct: dict[str, set[str]] = {}
    helpers: dict[str, set[str]] = {}
    for fn in cls.body:
        if isinstance(fn, ast.FunctionDef):
            direct[fn.name], helpers[fn.name] = set(), set()
            for node in ast.walk(fn):
                if _is_self_call(node) and node.func.attr == "api_call" and _literal(node.args[:1]):
                    direct[fn.name].add(_literal(node.args[:1]))
                elif _is_self_call(node):
                    helpers[fn.name].add(node.func.attr)

    def resolve(name: str, seen: frozenset[str]) -> set[str]:
        found = set(direct.get(name, ()))
        for other in helpers.get(name, set()) - seen:
            found |= resolve(other, seen | {name})
        return found

    return {name: frozenset(apis) for name in direct if (apis := resolve(name, frozenset()))}


def _is_self_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "self")


def _literal(nodes: list[ast.expr]) -> str | None:
    return nodes[0].value if nodes and isinstance(nodes[0], ast.Constant) and isinstance(nodes[0].value, str) \
        else None


# --- what our code calls -----------------------------------------------------------------------------


def source_files() -> Iterator[Path]:
    for folder in SOURCE_DIRS:
        for path in sorted(folder.rglob("*.py")):
            if SANDBOX not in path.parents:
                yield path


def _where(path: Path, node: ast.AST) -> str:
    shown = path.relative_to(ROOT) if ROOT in path.parents else path
    return f"{shown}:{node.lineno}"


def sdk_uses(path: Path) -> Iterator[tuple[str, str]]:
    """(slack_sdk method name, where) for every way this file can reach one.

    A string naming a WebClient method counts wherever it stands: `call(client, "chat_postMessage", …)`, a table
    of calls like `("chat_update", {...})` fed to `call` in a loop, a helper taking the name (`_quietly(deps,
    "chat_update")`). So does an attribute of that name (`client.auth_test()`), and Bolt's `say()`.
    """
    names = sdk_methods()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            yield node.value, _where(path, node)
        elif isinstance(node, ast.Attribute) and node.attr in names:
            yield node.attr, _where(path, node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BOLT_HELPERS:
            yield BOLT_HELPERS[node.func.id], _where(path, node)


def called_methods(files: Iterable[Path] | None = None) -> dict[str, list[str]]:
    """Web API method (`chat.postMessage`) → where our code can call it."""
    called: dict[str, list[str]] = {}
    for path in files if files is not None else source_files():
        for name, where in sdk_uses(path):
            for api in sdk_methods()[name]:
                called.setdefault(api, []).append(where)
    return called


def _gateway_calls() -> Iterator[tuple[Path, ast.Call]]:
    """Every `call(client, method, …)` through bot.gateways.slack."""
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "call" \
                    and len(node.args) >= 2:
                yield path, node


# --- what the spec says ------------------------------------------------------------------------------


@cache
def spec_scopes() -> dict[str, tuple[str, ...]]:
    """Web API method → the scopes the spec lists for it (alternatives: any one of them lets the call through)."""
    spec = json.loads(SPEC.read_text())
    scopes: dict[str, tuple[str, ...]] = {}
    for path, operations in spec["paths"].items():
        listed = [scope for op in operations.values() if isinstance(op, dict)
                  for requirement in op.get("security", []) for scope in requirement.get("slackAuth", [])]
        scopes[path.lstrip("/")] = tuple(dict.fromkeys(listed))
    return scopes


def needed_scopes(method: str) -> set[str] | str:
    """The bot scopes `method` needs as we call it, or why that cannot be told (a string)."""
    if method in NOT_IN_SPEC:
        return set(NOT_IN_SPEC[method])
    listed = spec_scopes().get(method)
    if listed is None:
        return "is neither in Slack's spec nor in NOT_IN_SPEC (add it there, with the scope from its Slack docs)"
    if listed == ("none",):
        return set()
    if any(scope.startswith(KIND_PREFIXES) for scope in listed):
        if method not in CONVERSATION_KINDS:
            return f"lists one scope per kind of conversation ({', '.join(listed)}): say in CONVERSATION_KINDS " \
                   "which kinds we call it on"
        listed = tuple(s for s in listed if not s.startswith(KIND_PREFIXES)
                       or s.split(":")[0] in CONVERSATION_KINDS[method])
    granular = {GRANULAR_FOR_METHOD.get((method, s), GRANULAR.get(s, s)) for s in listed} - {None}
    if len(granular) != 1 and not any(s.startswith(KIND_PREFIXES) for s in listed):
        return f"lists alternatives {', '.join(listed)}: say which one fits how we call it"
    return granular


def scope_problems(called: dict[str, list[str]], granted: Iterable[str]) -> list[str]:
    """One line per scope a called method needs and `granted` lacks, or per method whose needs are unknown."""
    granted = set(granted)
    problems = []
    for method in sorted(called):
        where = ", ".join(called[method][:3])
        needed = needed_scopes(method)
        if isinstance(needed, str):
            problems.append(f"{method} {needed} (called at {where})")
            continue
        problems += [f"{method} needs `{scope}` (called at {where})" for scope in sorted(needed - granted)]
    return problems


def manifest_scopes() -> list[str]:
    return build_manifest(commands.specs())["oauth_config"]["scopes"]["bot"]


# --- the checks ---------------------------------------------------------------------------------------


def test_the_collector_finds_every_way_code_reaches_the_web_api(tmp_path: Path) -> None:
    module = tmp_path / "ways.py"
    module.write_text(
        "def run(deps, client, say):\n"
        "    call(deps.client, 'bookmarks_add', channel_id='C1', title='t', type='link', link='https://x')\n"
        "    for method, kwargs in [('conversations_setTopic', {'channel': 'C1', 'topic': 't'})]:\n"
        "        call(deps.client, method, **kwargs)\n"
        "    _quietly(deps, 'usergroups_users_list', usergroup='S1')\n"
        "    client.auth_test()\n"
        "    call(client, 'files_upload_v2', channel='C1', file=b'x')\n"
        "    say('hello')\n")
    assert set(called_methods([module])) == {
        "bookmarks.add", "conversations.setTopic", "usergroups.users.list", "auth.test",
        # files_upload_v2 is two Web API methods (and a POST of the bytes to the URL the first one gives).
        "files.getUploadURLExternal", "files.completeUploadExternal",
        "chat.postMessage",  # Bolt's say()
    }
    called = called_methods()
    # The war room's Jira bookmark: asked by the incidents' Jira plug-in, made by the Slack port (issue #20).
    assert any("slack_port" in where for where in called["bookmarks.add"]), called["bookmarks.add"]
    assert not any("sandbox" in where for places in called.values() for where in places)


def test_every_method_called_through_the_gateway_is_named_where_we_can_see_it() -> None:
    """`call(client, <method>)` takes a literal or a variable fed from literals (tables, helper arguments), never a
    name built at run time, which no static check could follow."""
    names = sdk_methods()
    built, unknown = [], []
    for path, node in _gateway_calls():
        method = node.args[1]
        if isinstance(method, ast.Constant):
            if method.value not in names:
                unknown.append(f"{_where(path, node)}: {method.value!r}")
        elif not isinstance(method, ast.Name):
            built.append(_where(path, node))
    assert unknown == [], f"not a slack_sdk WebClient method: {unknown}"
    assert built == [], f"method names built at run time: {built}"


def test_every_called_method_is_in_slacks_spec_or_explained() -> None:
    unexplained = [m for m in called_methods() if m not in spec_scopes() and m not in NOT_IN_SPEC]
    assert unexplained == []


def test_the_manifest_grants_every_scope_the_code_needs() -> None:
    problems = scope_problems(called_methods(), manifest_scopes())
    assert problems == [], "pmbot manifest lacks scopes:\n" + "\n".join(problems)
    assert "bookmarks:write" in manifest_scopes()


@pytest.mark.parametrize(("scope", "method"), [
    ("bookmarks:write", "bookmarks.add"),  # from NOT_IN_SPEC
    ("chat:write", "chat.postMessage"),  # chat:write:bot in the spec
    ("channels:join", "conversations.join"),  # channels:write in the spec, split for bots
    ("groups:read", "conversations.list"),  # one of the spec's alternatives, the one for private channels
    ("files:write", "files.completeUploadExternal"),  # reached only through files_upload_v2
])
def test_the_checker_reports_a_scope_taken_out_of_the_manifest(scope: str, method: str) -> None:
    granted = set(manifest_scopes())
    assert scope in granted
    problems = scope_problems(called_methods(), granted - {scope})
    assert any(line.startswith(f"{method} needs `{scope}`") for line in problems), problems


def test_the_checker_reports_a_method_it_cannot_account_for(tmp_path: Path) -> None:
    module = tmp_path / "newer.py"
    module.write_text('def share(deps):\n    call(deps.client, "canvases_create", title="x")\n'
                      '    call(deps.client, "conversations_kick", channel="C1", user="U1")\n')
    called = called_methods([module])
    assert set(called) == {"canvases.create", "conversations.kick"}
    problems = scope_problems(called, manifest_scopes())
    assert any(line.startswith("canvases.create is neither in Slack's spec") for line in problems)
    assert any(line.startswith("conversations.kick lists one scope per kind") for line in problems)


def test_the_tables_are_explained_and_used() -> None:
    called = called_methods()
    for method, scopes in NOT_IN_SPEC.items():
        assert scopes and all(scopes), f"{method}: name the scope Slack documents"
        assert method not in spec_scopes(), f"{method} is in the spec now: drop it from NOT_IN_SPEC"
        assert method in called, f"{method} is no longer called: drop it from NOT_IN_SPEC"
    assert set(CONVERSATION_KINDS) <= set(called), "CONVERSATION_KINDS names methods no longer called"
    assert all(CONVERSATION_KINDS.values())


def test_the_conversation_kinds_match_how_the_code_calls() -> None:
    """The arguments that decide the kind: war rooms are created public, channels are looked up public or private,
    DMs are opened with one user."""
    kinds = {"public_channel": "channels", "private_channel": "groups", "im": "im", "mpim": "mpim"}
    seen = set()
    for path, node in _gateway_calls():
        method = _literal(node.args[1:2])
        keywords = {k.arg: k.value for k in node.keywords}
        if method == "conversations_create":
            assert "is_private" not in keywords, f"{_where(path, node)}: a private war room needs groups:write"
        elif method == "conversations_list":
            types = _literal([keywords["types"]]) if "types" in keywords else None
            assert types, f"{_where(path, node)}: give `types` so the scopes it needs are known"
            assert {kinds[t] for t in types.split(",")} <= CONVERSATION_KINDS["conversations.list"]
        elif method == "conversations_open":
            assert "users" in keywords and "channel" not in keywords
        seen.add(method)
    assert {"conversations_create", "conversations_list", "conversations_open"} <= seen


# --- when Slack says missing_scope anyway ------------------------------------------------------------


@pytest.fixture
def jira():
    stub = JiraStub()
    yield stub
    stub.down()


def _declare(bot: RunningBot, text: str) -> None:
    assert bot.driver.command("/incident", text).status == 200
    bot.runtime.settle()


def test_a_missing_scope_is_told_to_the_admin_channel_once_per_scope(bot_factory, sandbox, jira: JiraStub) -> None:
    sandbox.add_channel("C0ADMINS", "pmbot-admins")
    provided = "channels:join,channels:manage,channels:read,chat:write,commands,groups:read,im:write,users:read"
    sandbox.withhold_scope("bookmarks.add", needed="bookmarks:write", provided=provided)
    sandbox.withhold_scope("pins.add", needed="pins:write", provided=provided)
    bot = bot_factory(jira_url=jira.url, jira_user=jira.user, jira_api_token=jira.token, **SETTINGS,
                      pmbot_admin_channel="#pmbot-admins", pmbot_incident_channel="C0RANDOM")
    _declare(bot, "declare Support bot leaks order numbers grade 1")
    _declare(bot, "declare Summaries drop the last paragraph grade 2")
    run = outbox.deliver(bot.runtime.deps)
    bot.runtime.settle()
    assert run.delivered == 2 and len(jira.issues) == 2
    # Each scope was refused twice (two war rooms), and each was told once.
    assert len(sandbox.calls_to("bookmarks.add")) == 2 and len(sandbox.calls_to("pins.add")) == 2
    notices = [m["text"] for m in sandbox.messages if m["channel"] == "C0ADMINS"]
    assert len(notices) == 2, notices
    bookmark = next(text for text in notices if "`bookmarks:write`" in text)
    assert "pmbot needs the Slack scope `bookmarks:write` for bookmarks.add" in bookmark
    assert "reinstall" in bookmark
    assert any("`pins:write` for pins.add" in text for text in notices)
    # The war rooms themselves are unharmed: runbooks posted, the key on the announcement.
    assert len(sandbox.calls_to("conversations.create")) == 2
    assert any("PM-1" in json.dumps(m.get("blocks", [])) for m in sandbox.messages if m["channel"] == "C0RANDOM")


def test_without_an_admin_channel_the_escalation_channel_hears_it(bot_factory, sandbox) -> None:
    sandbox.withhold_scope("pins.add", needed="pins:write", provided="chat:write,commands")
    bot = bot_factory(pmbot_escalation_channel="C0GENERAL")
    _declare(bot, "declare Model answers in the wrong language grade 2")
    _declare(bot, "declare Latency doubled after the deploy grade 3")
    notices = [m["text"] for m in sandbox.messages if m["channel"] == "C0GENERAL" and "Slack scope" in m["text"]]
    assert len(notices) == 1, notices
    assert "pmbot needs the Slack scope `pins:write` for pins.add" in notices[0]
