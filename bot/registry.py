"""What each slash command says about itself: used by help, the manifest and the router."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.text import escape_mrkdwn


@dataclass(frozen=True)
class CommandSpec:
    """A slash command's public face: its name, one-line summary and its usage lines."""

    name: str
    summary: str
    usage_hint: str = ""
    usage: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # True when the handler answers `help` itself (`/pmbot help` lists every command).
    own_help: bool = False

    def help_text(self) -> str:
        """The text `/<command> help` answers with."""
        lines = [f"*{self.name}* — {self.summary}"]
        lines += [f"• `{escape_mrkdwn(f'{self.name} {form}'.strip())}`{' — ' + what if what else ''}"
                  for form, what in self.usage]
        return "\n".join(lines)


HELP_WORDS = frozenset({"help", "-h", "--help", "?"})


def is_help(text: str) -> bool:
    return text.strip().lower() in HELP_WORDS
