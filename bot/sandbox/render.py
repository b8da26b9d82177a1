"""Block Kit and mrkdwn as readable terminal text, for `pmbot shell`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Names = Callable[[str], str]  # id → display name

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def mrkdwn_to_text(text: str, names: Names) -> str:
    """Slack's `<@U1|x>`, `<#C1|name>`, `<!here>` and `<url|label>` as a person sees them; entities decoded."""

    def link(match: re.Match[str]) -> str:
        target, label = match[1], match[2]
        if target.startswith("@"):
            return "@" + (label or names(target[1:]))
        if target.startswith("#"):
            return "#" + (label or names(target[1:]))
        if target.startswith("!"):
            return "@" + target[1:].split("^")[0]
        return f"{label} ({target})" if label else target

    return _LINK.sub(link, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any, names: Names) -> str:
    if isinstance(obj, dict):
        return mrkdwn_to_text(obj.get("text", ""), names)
    return ""


def element_text(element: dict[str, Any], names: Names) -> str:
    """An interactive element: buttons as [Label], selects as [Placeholder ▾], inputs as [value]."""
    kind = element.get("type", "")
    if kind == "button":
        return f"[{_text(element.get('text'), names)}]"
    if kind.endswith("select") or kind in ("overflow", "radio_buttons", "checkboxes"):
        label = _text(element.get("placeholder"), names) or element.get("action_id", "choose")
        options = [_text(o.get("text"), names) for o in element.get("options") or []]
        return f"[{label} ▾{': ' + ' | '.join(options) if options else ''}]"
    if kind == "datepicker":
        return f"[{element.get('initial_date') or 'pick a date'} 📅]"
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        return f"[{element.get('initial_value') or '…'}]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    return _text(element, names) or f"[{kind}]"


def render_blocks(blocks: list[dict[str, Any]], names: Names, *, errors: dict[str, str] | None = None,
                  state: dict[str, Any] | None = None) -> list[str]:
    """Lines for a list of blocks; `state` is a modal's `state.values`, what was typed in its inputs."""
    lines: list[str] = []
    for block in blocks or []:
        typed = _typed(block, state or {}, names)
        lines += [_input_line(block, typed, names)] if typed is not None else _render_block(block, names)
        error = (errors or {}).get(block.get("block_id", ""))
        if error:
            lines.append(f"  ⚠ {error}")
    return lines


def _typed(block: dict[str, Any], state: dict[str, Any], names: Names) -> str | None:
    """What the person typed or picked in an input block, as it shows in the modal; None when nothing."""
    element = block.get("element") if block.get("type") == "input" else None
    if not isinstance(element, dict):
        return None
    entry = (state.get(block.get("block_id", "")) or {}).get(element.get("action_id") or "a") or {}
    option = entry.get("selected_option") or {}
    people = [names(u) for u in entry.get("selected_users") or []]
    ids = [names(entry[k]) for k in ("selected_user", "selected_conversation", "selected_channel") if entry.get(k)]
    picked = (entry.get("value"), _text(option.get("text"), names), ", ".join(people), *ids,
              entry.get("selected_date"))
    return next((str(p) for p in picked if p), None)


def _input_line(block: dict[str, Any], typed: str, names: Names) -> str:
    optional = " (optional)" if block.get("optional") else ""
    return f"{_text(block.get('label'), names)}{optional}: [{typed}]"


def _render_block(block: dict[str, Any], names: Names) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [f"== {_text(block.get('text'), names)} =="]
    if kind == "section":
        lines = _text(block.get("text"), names).splitlines() or [""]
        lines += [_text(f, names) for f in block.get("fields") or []]
        if isinstance(block.get("accessory"), dict):
            lines[-1] = f"{lines[-1]}  {element_text(block['accessory'], names)}".strip()
        return lines
    if kind == "context":
        return ["  " + " · ".join(_text(e, names) or element_text(e, names) for e in block.get("elements", []))]
    if kind == "divider":
        return ["─" * 40]
    if kind == "actions":
        return [" ".join(element_text(e, names) for e in block.get("elements", []))]
    if kind == "input":
        optional = " (optional)" if block.get("optional") else ""
        label = _text(block.get("label"), names)
        return [f"{label}{optional}: {element_text(block.get('element') or {}, names)}"]
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if kind == "rich_text":
        return [_rich_text(block)]
    return [f"[{kind} block]"]


def _rich_text(block: dict[str, Any]) -> str:
    parts: list[str] = []
    for section in block.get("elements", []):
        for element in section.get("elements", []):
            parts.append(element.get("text") or element.get("url") or element.get("name") or "")
    return "".join(parts)


def render_message(message: dict[str, Any], names: Names, *, author: str | None = None) -> list[str]:
    """A message: who said it, then its blocks (or its text when it has none)."""
    author = author or names(message.get("user", "")) or "someone"
    body = render_blocks(message.get("blocks") or [], names) or mrkdwn_to_text(message.get("text", ""),
                                                                                  names).splitlines()
    body = body or [""]
    return [f"{author}: {body[0]}", *("  " + line for line in body[1:])]


def render_view(view: dict[str, Any], names: Names) -> list[str]:
    """A modal in a box, with its buttons and any field errors."""
    title = _text(view.get("title"), names) or "Modal"
    lines = [f"┌─ {title} " + "─" * max(2, 36 - len(title))]
    lines += ["│ " + line for line in render_blocks(view.get("blocks") or [], names, errors=view.get("errors"),
                                                          state=(view.get("state") or {}).get("values"))]
    buttons = [f"[{_text(view.get(key), names)}]" for key in ("submit", "close") if view.get(key)]
    lines.append("└─ " + (" ".join(buttons) if buttons else "[Close]") + "   (fill <field> = <value>, submit, cancel)")
    return lines
