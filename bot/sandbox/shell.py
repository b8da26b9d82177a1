"""`pmbot shell`: the real bot (HTTP server, Bolt, slack_sdk) wired to an in-process sandbox, in a terminal.

Type a slash command as in Slack; the bot's messages appear rendered from Block Kit. With stdin not a
terminal it reads one line per step and exits 0 at the end of input.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.app import Runtime, Service, build
from bot.sandbox.composer import to_wire
from bot.sandbox.driver import Driver, NotFoundOnScreen, iter_elements
from bot.sandbox.render import mrkdwn_to_text, render_message, render_view
from bot.sandbox.server import BOT_TOKEN, BOT_USER_ID, SlackSandbox
from bot.sandbox.workspace import Workspace
from bot.scheduler import RunResult
from bot.settings import Settings
from storage.clock import system_clock
from storage.migrate import upgrade

SIGNING_SECRET = "sandbox-signing-secret"
_OFFSET = re.compile(r"^([+-])(\d+)([wdhm])$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}

HELP = """\
Commands (you are {user} in #{channel}):
  /<command> [text]        a slash command, as in Slack (try /pmbot help)
  /invite @user            add someone (or @pmbot) to this channel
  click <label>            press a button, by its label or action id
  choose <select> = <opt>  pick an option in a select menu: its label, a word of it, or its number
  fill <field> = <value>   fill a field of the open modal; then submit (or cancel)
  submit | cancel          submit or close the open modal
  say <text>               post a message in the channel
  reply <text>             reply in the current thread
  react :emoji:            react to the latest message in the channel
  as @user                 act as someone else      users     list people
  in #channel              switch channel           channels  list channels
  open #channel            switch and show the channel's recent messages
  time +1d | +2h | +30m | 2026-12-01T09:30
                           move the clock and run the jobs that fall due
  help                     this list                quit      leave"""


class Shell:
    """One terminal session on the local workspace."""

    def __init__(self, settings: Settings, *, files_dir: Path, out: Callable[[str], None] = print,
                 state_path: Path | None = None):
        self.out = out
        self.files_dir = files_dir
        self.sandbox = SlackSandbox()
        # The workspace lives as long as the database: the ids the database holds must still resolve.
        self.state_path = state_path or sandbox_state_path(settings.database_url)
        self._load_state()
        self.sandbox.start()
        self.settings = settings.model_copy(update={
            "slack_api_url": self.sandbox.api_url, "slack_bot_token": SecretStr(BOT_TOKEN), "slack_app_token": None,
            "slack_signing_secret": SecretStr(SIGNING_SECRET), "pmbot_scheduler_enabled": False,
        })
        self.runtime: Runtime = build(self.settings)
        upgrade(self.runtime.deps.engine)
        self.runtime.scheduler.ensure_default_schedules()
        self.offset = timedelta(0)
        self.runtime.deps.clock = self.now
        self.sandbox.ws.clock = lambda: self.now().timestamp()  # Slack's message ts follow the same clock
        self.service = Service(self.runtime, host="127.0.0.1", port=0)
        self.service.start()
        self.runtime.deps.scheduler_role = "driven by the shell (`time +1d` runs what falls due)"
        # Like Slack, deliver only the events the app's manifest subscribes to.
        self.driver = Driver(f"http://127.0.0.1:{self.service.http.port}/slack/events", SIGNING_SECRET,
                             self.sandbox, subscriptions=subscribed_events())
        self.user, self.channel = "U0ALICE", "C0GENERAL"
        self.thread_ts: str | None = None
        self.fields: dict[str, str] = {}
        self._seen_messages = len(self.sandbox.messages)  # a restored workspace's history is not news
        self._seen_ephemeral = 0
        self._seen_view: tuple[str, str] | None = None
        self._saved_files: set[str] = set()
        self._save_failed = False
        self.slash_commands = manifest_commands()

    # --- clock --------------------------------------------------------------------------------

    def now(self) -> datetime:
        return system_clock() + self.offset

    # --- loop ---------------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        return f"{self._name(self.user)}@#{self._name(self.channel)}> "

    def run(self, lines: Iterable[str] | None = None) -> int:
        """Read commands until end of input or `quit`."""
        interactive = lines is None and sys.stdin.isatty()
        self.out(f"pmbot shell — a local Slack workspace. You are @{self._name(self.user)} in "
                 f"#{self._name(self.channel)}. Type `help` for commands.")
        source = self._terminal() if interactive else (lines if lines is not None else sys.stdin)
        try:
            for raw in source:
                line = raw.rstrip("\n")
                if not interactive:
                    self.out(self.prompt + line)
                if line.strip() in ("quit", "exit"):
                    break
                self.step(line)
        finally:
            self.close()
        return 0

    def _terminal(self) -> Iterable[str]:
        while True:
            try:
                yield input(self.prompt)
            except EOFError:
                self.out("")
                return

    def close(self) -> None:
        self.runtime.settle()
        self._save_state()
        self.service.stop()
        self.sandbox.stop()

    def step(self, line: str) -> None:
        """One command, then whatever the bot did in reply."""
        line = line.strip()
        if not line or line.startswith("#!"):
            return
        try:
            self._dispatch(line)
        except (NotFoundOnScreen, ValueError) as exc:
            self.out(f"! {exc}")
        self.runtime.settle()
        self._show_new()
        self._save_state()

    def _dispatch(self, line: str) -> None:
        if line.startswith("/"):
            self._command(line)
            return
        verb, _, rest = line.partition(" ")
        handler = self._verbs().get(verb.lower())
        if handler is None:
            self.out(f"! Unknown command `{verb}`. Type `help` for the list.")
            return
        handler(rest.strip())

    def _verbs(self) -> dict[str, Callable[[str], None]]:
        return {"help": self._help, "click": self._click, "choose": self._choose, "fill": self._fill,
                "submit": self._submit, "cancel": self._cancel, "say": self._say, "reply": self._reply,
                "react": self._react, "as": self._as, "in": self._in, "open": self._open, "channels": self._channels,
                "users": self._users, "time": self._time}

    def _command(self, line: str) -> None:
        """A slash command goes to the bot only if the app has it, like in Slack; its text in Slack's wire form."""
        command, _, text = line.partition(" ")
        builtin = {"/invite": self._invite}.get(command)
        if builtin is not None:
            builtin(text.strip())
        elif command not in self.slash_commands:
            # Slack answers itself (Slackbot, only to you); no app hears of it. Slack's own wording.
            self.out(f"(only you) Slackbot: {command} is not a valid command. In Slack, all messages that start "
                     "with the “/” character are interpreted as commands.")
        else:
            wire = self._wire(text.strip(), labelled=True)  # the manifest's should_escape: true
            self._check_status(self.driver.command(command, wire, user=self.user, channel=self.channel))

    def _wire(self, text: str, *, labelled: bool = False) -> str:
        """What Slack sends for `text` as typed: entities, mentions and links of this workspace."""
        ws = self.sandbox.ws
        with self.sandbox.lock:
            users = {u.name.lower(): u.id for u in ws.users.values()}
            channels = {c.name.lower(): c.id for c in ws.channels.values() if not c.is_im}
        return to_wire(text, users=users, channels=channels, labelled=labelled)

    def _check_status(self, response) -> None:
        if response is not None and response.status != 200:
            self.out(f"! the bot answered HTTP {response.status}")

    # --- verbs --------------------------------------------------------------------------------

    def _help(self, _rest: str) -> None:
        self.out(HELP.format(user="@" + self._name(self.user), channel=self._name(self.channel)))

    def _click(self, label: str) -> None:
        if not label:
            raise ValueError("click what? e.g. `click Show status`")
        self._check_status(self.driver.press(label, user=self.user, channel=self.channel))

    def _choose(self, rest: str) -> None:
        select, sep, option = rest.partition("=")
        if not sep or not option.strip():
            raise ValueError("usage: choose <select> = <option>")
        option = self._resolve_id(option.strip())
        self._check_status(self.driver.choose(select.strip(), option, user=self.user, channel=self.channel))

    def _fill(self, rest: str) -> None:
        field, sep, value = rest.partition("=")
        if not sep:
            raise ValueError("usage: fill <field> = <value>")
        view = self.driver.open_view(self.user, wait=0)  # the shell settled: a form is open or not
        fields = [(label, block_id, element.get("action_id") or "")
                  for element, block_id, label in iter_elements(view.get("blocks") or [])]
        if field.strip().lower() not in {name.strip().lower() for names in fields for name in names}:
            shown = ", ".join(label for label, _, _ in fields if label) or "none"
            raise ValueError(f"the modal has no field {field.strip()!r} (its fields: {shown})")
        # Modal inputs reach the bot as typed: Slack encodes none of it.
        self.fields[field.strip()] = self._resolve_id(value.strip())
        self.out(f"  {field.strip()} = {value.strip()}")

    def _submit(self, _rest: str) -> None:
        response = self.driver.submit(self.fields, user=self.user, wait=0)
        self.fields = {}  # now in the modal's state: an error answer leaves them there to fix and submit again
        self._check_status(response)
        self._seen_view = None  # show the modal again if it stayed open (errors, update)

    def _cancel(self, _rest: str) -> None:
        self.driver.close(user=self.user)
        self.fields = {}
        self.out("  (modal closed)")

    def _say(self, text: str) -> None:
        if not text:
            raise ValueError("say what?")
        response, message = self.driver.say(self._wire(text), user=self.user, channel=self.channel)
        self._check_status(response)
        self.thread_ts = message["ts"]

    def _reply(self, text: str) -> None:
        if not text:
            raise ValueError("reply what?")
        if self.thread_ts is None:
            raise ValueError("no thread to reply to yet in this channel")
        self._check_status(self.driver.reply(self.thread_ts, self._wire(text), user=self.user,
                                             channel=self.channel)[0])

    def _react(self, emoji: str) -> None:
        name = emoji.strip().strip(":")
        if not name:
            raise ValueError("react with what? e.g. `react :pushpin:`")
        with self.sandbox.lock:
            latest = next((m for m in reversed(self.sandbox.messages) if m["channel"] == self.channel), None)
        if latest is None:
            raise ValueError("there is no message here to react to")
        self._check_status(self.driver.react(name, latest, user=self.user))
        self.out(f"  :{name}: on “{mrkdwn_to_text(latest['text'], self._name)[:60]}”")

    def _invite(self, who: str) -> None:
        """Slack's own /invite: people join the channel, and the bot hears `member_joined_channel`."""
        if not who:
            raise ValueError("usage: /invite @someone [@someone-else …]")
        channel = self.sandbox.channels[self.channel]
        for name in who.replace(",", " ").split():
            user = self.sandbox.ws.user_by_name(name)
            if user is None:
                raise ValueError(f"nobody called {name} here; `users` lists people")
            if user.id in channel.members:
                self.out(f"  @{user.name} is already in #{channel.name}")
                continue
            self._check_status(self.driver.join(user.id, channel.id))
            self.out(f"  @{user.name} joined #{channel.name}")

    def _as(self, who: str) -> None:
        user = self.sandbox.ws.user_by_name(who)
        if user is None or user.is_bot:
            raise ValueError(f"nobody called {who or '…'} here; `users` lists people")
        self.user = user.id
        self.out(f"  you are now @{user.name}")

    def _in(self, where: str) -> None:
        channel = self.sandbox.ws.channel_by_name(where)
        if channel is None:
            raise ValueError(f"no channel {where or '…'}; `channels` lists them")
        if channel.id != self.channel:
            self.thread_ts = None
        self.channel = channel.id
        self.out(f"  now in #{channel.name}")

    def _open(self, where: str) -> None:
        self._in(where)
        with self.sandbox.lock:
            history = [m for m in self.sandbox.messages if m["channel"] == self.channel]
        for message in history[-10:]:
            self._print_message(message)
        if not history:
            self.out("  (no messages yet)")

    def _channels(self, _rest: str) -> None:
        for channel in self.sandbox.channels.values():
            if channel.is_im:
                continue
            flags = [f for f, on in (("private", channel.is_private), ("archived", channel.is_archived),
                                     ("pmbot is a member", "U0PMBOT" in channel.members)) if on]
            topic = f" — {channel.topic}" if channel.topic else ""
            self.out(f"  #{channel.name}{topic}  ({', '.join(flags) or 'public'}, {len(channel.members)} members)")

    def _users(self, _rest: str) -> None:
        for user in self.sandbox.users.values():
            flags = "".join(flag for flag, on in (("  (bot)", user.is_bot), ("  (admin)", user.is_admin)) if on)
            self.out(f"  @{user.name}  {user.tz}{flags}")

    def _time(self, rest: str) -> None:
        if not rest:
            self.out(f"  it is {self._local(self.now())}")
            return
        before = self.now()
        target = self._parse_time(rest, before)
        self.offset += target - before
        self.out(f"  the clock now reads {self._local(target)}")
        if target <= before:
            return
        results, skipped = self.runtime.scheduler.run_due(before, target)
        if skipped:
            self.out(f"  ({skipped} older scheduled runs skipped: only the latest of each schedule run)")
        self._report_runs(results)

    def _report_runs(self, results: list[RunResult]) -> None:
        for line in summarize_runs(results, local=self._local):
            self.out(line)

    def _parse_time(self, text: str, now: datetime) -> datetime:
        match = _OFFSET.match(text.strip())
        if match:
            amount = int(match[2]) * (1 if match[1] == "+" else -1)
            return now + timedelta(**{_UNITS[match[3]]: amount})
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"`{text}` is neither +1d/+2h/+30m nor a time like 2026-12-01T09:30") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(self.settings.pmbot_timezone))
        return value.astimezone(UTC)

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(ZoneInfo(self.settings.pmbot_timezone)).strftime("%a %d %b %Y %H:%M %Z")

    # --- the workspace on disk ---------------------------------------------------------------

    def _load_state(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            return
        workspace = Workspace(self.sandbox.team_id)
        try:
            workspace.restore(json.loads(self.state_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.out(f"! could not read the workspace saved in {self.state_path} ({exc}); starting a fresh one")
            return
        self.sandbox.ws = workspace
        shown = [c for c in workspace.channels.values() if not c.is_im]
        self.out(f"(workspace restored from {self.state_path}: {len(shown)} channels, "
                 f"{len(workspace.messages)} messages)")

    def _save_state(self) -> None:
        if self.state_path is None:
            return
        with self.sandbox.lock:
            text = json.dumps(self.sandbox.ws.snapshot(), ensure_ascii=False)
        partial = self.state_path.with_name(self.state_path.name + ".partial")
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, self.state_path)  # never a half-written file, even if the shell is killed
        except OSError as exc:
            if not self._save_failed:
                self.out(f"! could not save the workspace to {self.state_path} ({exc}); it will not be kept")
            self._save_failed = True

    # --- output -------------------------------------------------------------------------------

    def _name(self, some_id: str) -> str:
        ws = self.sandbox.ws
        if some_id in ws.users:
            return ws.users[some_id].name
        if some_id in ws.channels:
            return ws.channels[some_id].name
        return some_id

    def _resolve_id(self, value: str) -> str:
        """`@bob` and `#general` typed in the shell become the ids Slack would send."""
        if value.startswith("@") and (user := self.sandbox.ws.user_by_name(value)):
            return user.id
        if value.startswith("#") and (channel := self.sandbox.ws.channel_by_name(value)):
            return channel.id
        return value

    def _show_new(self) -> None:
        with self.sandbox.lock:
            messages = self.sandbox.messages[self._seen_messages:]
            ephemeral = self.sandbox.ephemeral[self._seen_ephemeral:]
            self._seen_messages = len(self.sandbox.messages)
            self._seen_ephemeral = len(self.sandbox.ephemeral)
        shown = [(m, False) for m in messages] + [(m, True) for m in ephemeral if m["user"] == self.user]
        for message, private in sorted(shown, key=lambda pair: float(pair[0]["ts"])):
            if private:  # ephemeral messages are stored with the person who sees them
                self._print_message(message, prefix="(only you) ", author=self._name(BOT_USER_ID))
                continue
            if message["user"] == self.user:
                continue  # what you typed yourself is already on screen
            self._print_message(message, announce_channel=message["channel"] != self.channel)
            if message["channel"] == self.channel and message.get("thread_ts", message["ts"]) == message["ts"]:
                self.thread_ts = message["ts"]
        self._show_view()

    def _print_message(self, message: dict[str, Any], *, prefix: str = "", announce_channel: bool = False,
                       author: str | None = None) -> None:
        lines = render_message(message, self._name, author=author)
        where = f"[#{self._name(message['channel'])}] " if announce_channel else ""
        indent = "    ↳ " if message.get("thread_ts") not in (None, message["ts"]) else ""
        pad = " " * len(indent) if indent else ""
        self.out(f"{indent}{where}{prefix}{lines[0]}")
        for line in lines[1:]:
            self.out(f"{pad}{line}")
        for file_id in message.get("files") or []:
            self.out(f"{pad}  📎 {self._save_file(file_id)}")

    def _save_file(self, file_id: str) -> str:
        file = self.sandbox.ws.files.get(file_id) or {}
        path = self.files_dir / f"{file_id}-{Path(file.get('name', 'file')).name}"
        if file_id not in self._saved_files and file.get("content") is not None:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(file["content"])
            self._saved_files.add(file_id)
        return f"{file.get('title', file_id)} saved to {path}"

    def _show_view(self) -> None:
        ws = self.sandbox.ws
        with self.sandbox.lock:
            stack = ws.view_stacks.get(self.user) or []
            view = ws.views.get(stack[-1]) if stack else None
        key = (view["id"], view["hash"] + str(view.get("errors"))) if view else None
        if key != self._seen_view and view is not None:
            for line in render_view(view, self._name):
                self.out(line)
        self._seen_view = key


def summarize_runs(results: list[RunResult], *, local: Callable[[datetime], str]) -> list[str]:
    """One line per job: how many runs, how many failed and the first failure, else the latest outcome."""
    if not results:
        return ["  no scheduled job fell due"]
    by_job: dict[str, list[RunResult]] = {}
    for result in results:
        by_job.setdefault(result.job_name, []).append(result)
    lines = []
    for job, runs in by_job.items():
        failed = [run for run in runs if run.status != "ok"]
        counts = f"{len(runs) - len(failed)} ok" + (f", {len(failed)} failed" if failed else "")
        line = f"  {job}: {len(runs)} run{'s' if len(runs) != 1 else ''} ({counts})"
        if failed:
            line += f" — first failure, {local(failed[0].slot_at)}: {failed[0].detail}"
        elif runs[-1].detail:
            line += f" — latest: {runs[-1].detail}"
        lines.append(line)
    return lines


def sandbox_state_path(database_url: str) -> Path | None:
    """Where the workspace is kept: beside a SQLite file (`pmbot.db` → `pmbot.sandbox.json`), in the working
    directory for another database (`<name>.sandbox.json`), nowhere for an in-memory one."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return Path(f"{url.database or 'pmbot'}.sandbox.json")
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return Path(url.database).with_suffix(".sandbox.json")


def manifest_commands() -> set[str]:
    """The slash commands the app's manifest declares: the only ones Slack sends the bot."""
    from bot import commands
    from bot.manifest import build_manifest

    return {c["command"] for c in build_manifest(commands.specs())["features"]["slash_commands"]}


def subscribed_events() -> set[str]:
    from bot import commands
    from bot.manifest import build_manifest

    return set(build_manifest(commands.specs())["settings"]["event_subscriptions"]["bot_events"])


def run_shell(settings: Settings, *, files_dir: Path, script: list[str] | None = None) -> int:
    """Entry point for `pmbot shell`."""
    shell = Shell(settings, files_dir=files_dir)
    return shell.run(script)

