"""Logging for pmbot: one handler on the root logger, whose lines carry no request bodies, secrets or personal data.

Two defences, because either alone has failed before:

1. Request bodies are withheld at the source. slack_bolt logs a refused request's whole body at INFO
   ("Invalid request signature detected (signature: …, timestamp: …, body: …)"), and slack_sdk logs the
   bodies it sends and receives at DEBUG. A filter on our handler cuts the body out of those records and
   says how long it was, so the refusal itself (signature, timestamp) is still in the log.
2. Every formatted line, traceback included, is redacted. Slack sends slash commands form-encoded
   (`late.user%40example.net`, `4000+0566+5566+5556`) and interactions as JSON inside a form, and people
   paste JSON with `\\u0040` and `\\"` in it, so the line is also read decoded; a finding in the decoded
   reading masks the characters it came from in the line as printed. Nothing else is decoded or changed:
   file paths, line numbers, timestamps, uuids, error ids and Slack signatures print as they were.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator
from typing import TextIO
from urllib.parse import unquote

from bot.domain import pii

# Tokens, keys and key=value passwords must never reach a log line, whoever logs them (tracebacks included).
_SECRET_PATTERN = re.compile(
    r"\b(?P<token>xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|sk-[A-Za-z0-9_-]{12,})"
    r"|(?i:\b(?:password|passwd|pwd|secret|token|api_key)\s*[=:]\s*)(?P<value>[^\s,;&]+)"
    # Paging keys: `GenieKey <key>` (Opsgenie's header; the key is a uuid, which _KEEP would otherwise keep) and
    # `routing_key=…` / `"routing_key": "…"` (PagerDuty's, in a request body).
    r"|(?i:\b(?:geniekey\s+|routing_key[\"']?\s*[=:]\s*[\"']?))(?P<paging>[A-Za-z0-9-]{8,})"
)
_REDACTED = "[redacted]"

# What a log line keeps exactly as it is, even where a rule would see a phone number or a secret in it:
# traceback frames (at the start of a line, as Python writes them), Slack signatures (an HMAC, nothing
# personal), uuids and our error ids (`uuid4().hex[:10]` can be all digits: "error id 4155552671" is no phone).
_KEEP = re.compile(
    r'(?m)^[ \t]*File "[^"\n@]+", line \d+'
    r"|\bv0=[0-9a-fA-F]{64}\b"
    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|(?<=\berror id )[0-9a-f]{10}\b"
)

# A run of text as a form encodes it: `key=value&…`, or anything with a `%XX` escape. Inside such a run a
# `+` is a space and a bare `&` ends a field (read as a space, so `token=x&text=…` is not one long value);
# elsewhere (`+49 30 …`, `10:00:00+00:00`, `R&D`) they stay as they are.
_FORM_RUN = re.compile(r"\S*(?:=|%[0-9A-Fa-f]{2})\S*")
_URL_ESCAPE = re.compile(r"(?:%[0-9A-Fa-f]{2})+|[+&]")
_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})(?:\\u([0-9A-Fa-f]{4}))?|\\([\"\\/bfnrt])")
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": " ", "f": " ", "n": " ", "r": " ", "t": " "}
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}|[+&]|\\[u\"\\/bfnrt]")

Origin = list[tuple[int, int]]  # for each character of a decoded reading, the span of the line it came from


def _rewrite(text: str, origin: Origin, pattern: re.Pattern[str],
             replace: Callable[[re.Match[str]], str]) -> tuple[str, Origin]:
    """Replace each match; every character it produces comes from the whole match (a little wider, never less)."""
    pieces: list[str] = []
    spans: Origin = []
    cursor = 0
    for match in pattern.finditer(text):
        new = replace(match)
        if new == match[0]:
            continue
        pieces.append(text[cursor:match.start()])
        spans.extend(origin[cursor:match.start()])
        pieces.append(new)
        spans.extend([(origin[match.start()][0], origin[match.end() - 1][1])] * len(new))
        cursor = match.end()
    pieces.append(text[cursor:])
    spans.extend(origin[cursor:])
    return "".join(pieces), spans


def _url_decoded(text: str, origin: Origin) -> tuple[str, Origin]:
    form_runs = [m.span() for m in _FORM_RUN.finditer(text)]

    def replace(match: re.Match[str]) -> str:
        if match[0] not in "+&":
            return unquote(match[0], errors="replace")
        return " " if any(start <= match.start() < end for start, end in form_runs) else match[0]

    return _rewrite(text, origin, _URL_ESCAPE, replace)


def _json_unescaped(text: str, origin: Origin) -> tuple[str, Origin]:
    def replace(match: re.Match[str]) -> str:
        if match[3]:
            return _JSON_SIMPLE[match[3]]
        high = int(match[1], 16)
        if match[2] is None:
            return chr(high)
        low = int(match[2], 16)
        if 0xD800 <= high < 0xDC00 and 0xDC00 <= low < 0xE000:
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        return chr(high) + chr(low)

    return _rewrite(text, origin, _JSON_ESCAPE, replace)


def _readings(text: str) -> Iterator[tuple[str, Origin | None]]:
    """The line as it is, then (if anything in it is encoded) decoded: URL escapes, then JSON escapes, twice
    over for a value encoded twice (JSON inside a form, `%2540`)."""
    yield text, None
    if not _ENCODED.search(text):
        return
    decoded, origin = text, [(i, i + 1) for i in range(len(text))]
    for _ in range(2):
        before = decoded
        decoded, origin = _json_unescaped(*_url_decoded(decoded, origin))
        if decoded == before:
            break
        yield decoded, origin


def _secret_spans(text: str) -> Iterator[pii.Span]:
    for match in _SECRET_PATTERN.finditer(text):
        group = "token" if match["token"] else "value" if match["value"] else "paging"
        yield pii.Span(match.start(group), match.end(group), "paging key" if group == "paging" else "secret",
                       _REDACTED)


def redact(text: str) -> str:
    """The line with secrets and personal data masked, in whatever encoding they were written; nothing else
    changes. Tokens and `password=` values first (shown as `[redacted]`), then everything `bot.domain.pii`
    finds (shown as it shows them on a card: `card ••••5556`, `l•••@example.net`)."""
    keep = [m.span() for m in _KEEP.finditer(text)]
    taken: list[pii.Span] = []
    for reading, origin in _readings(text):
        for span in [*_secret_spans(reading), *pii.find(reading)]:
            start, end = (span.start, span.end) if origin is None else (origin[span.start][0],
                                                                         origin[span.end - 1][1])
            if span.kind != "paging key" and any(k_start < end and start < k_end for k_start, k_end in keep):
                continue
            if not any(t.overlaps(start, end) for t in taken):
                taken.append(pii.Span(start, end, span.kind, span.shown))
    return pii.mask(text, taken).text if taken else text


# Where slack_bolt and slack_sdk put a body in a message: "body: …", "json_body: …", "payload: …", "(data: …",
# and Bolt's "… for the request ({body})". At DEBUG they also print whole messages and events.
_BODY_MARKER = re.compile(r"\b(?:json_body|body_params|body|payload|data)\s*:\s*|\bfor the request \(")
_DEBUG_BODY_MARKER = re.compile(r"\b(?:message|event)\s*:\s*|\bmessage \(")
_SLACK_LOGGERS = ("slack_bolt", "slack_sdk")


def _withheld(message: str, marker: re.Match[str]) -> str:
    """The message up to the marker, then how much was withheld; a closing parenthesis the body sat in stays."""
    prefix, body = message[:marker.end()], message[marker.end():]
    closing = ")" if body.endswith(")") and prefix.count("(") > prefix.count(")") else ""
    return f"{prefix}[withheld: {len(body) - len(closing)} characters]{closing}"


class _WithholdRequestBodies(logging.Filter):
    """Cuts request and response bodies out of slack_bolt's and slack_sdk's records; the record stays.

    The body of a request refused for its signature is exactly what must not be logged: it comes from
    someone we cannot verify, or from a real user whose report we will never store (so never redact later).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(_SLACK_LOGGERS):
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # arguments that do not fit the format: the handler reports that as usual
        marker = _BODY_MARKER.search(message)
        if marker is None and record.levelno <= logging.DEBUG:
            marker = _DEBUG_BODY_MARKER.search(message)
        if marker is not None:
            record.msg, record.args = _withheld(message, marker), None
        return True


class _DropClientTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that our prebuilt client wins; that is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def quiet_bolt_token_warning() -> None:
    bolt_logger = logging.getLogger("slack_bolt.App")
    if not any(isinstance(f, _DropClientTokenWarning) for f in bolt_logger.filters):
        bolt_logger.addFilter(_DropClientTokenWarning())


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line, traceback and all."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """One handler on the root logger (stderr unless a stream is given): bodies withheld, lines redacted."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(_WithholdRequestBodies())
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # slack_sdk's DEBUG output includes request bodies; keep it at INFO whatever our level.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # APScheduler logs every tick at INFO; our scheduler logs what matters (claims, failures).
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLevelName(level)))
