"""Escaping, truncation and mention parsing."""

from __future__ import annotations

import pytest

from bot.blocks import MAX_MESSAGE_BLOCKS, SECTION_TEXT_LIMIT, message, sections
from bot.domain.mentions import Ref, channel_refs, user_refs
from bot.domain.text import escape_mrkdwn, split_text, truncate


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel> look", "&lt;!channel&gt; look"),
        ("<@U123> & <#C1|x>", "&lt;@U123&gt; &amp; &lt;#C1|x&gt;"),
        ("<https://evil|innocent>", "&lt;https://evil|innocent&gt;"),
        ("plain ünïcødé 🚀", "plain ünïcødé 🚀"),
        ("'; DROP TABLE bug; --", "'; DROP TABLE bug; --"),
    ],
)
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


def test_truncate_marks_the_cut_and_never_splits_an_entity() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("abcdefghijkl", 5) == "abcd…"
    assert truncate("abc&amp;def", 6) == "abc…"


def test_split_prefers_line_breaks_and_keeps_everything() -> None:
    text = "\n".join(f"line {i}" for i in range(1000))
    chunks = split_text(text, 100)
    assert all(len(c) <= 100 for c in chunks)
    assert "\n".join(chunks) == text


def test_huge_text_becomes_several_sections_within_limits() -> None:
    blocks = sections("x" * 10_000)
    assert len(blocks) == 4
    assert all(len(b["text"]["text"]) <= SECTION_TEXT_LIMIT for b in blocks)


def test_message_caps_blocks_and_fallback_text() -> None:
    payload = message("y" * 50_000, sections("z\n" * 200_000))
    assert len(payload["blocks"]) == MAX_MESSAGE_BLOCKS
    assert len(payload["text"]) <= 3000


def test_user_refs_from_escaped_and_plain_text() -> None:
    text = "owner <@U0ALICE|alice> and <@W123> cc @bob.smith, mail a@b.com"
    assert user_refs(text) == [Ref("U0ALICE", "alice"), Ref("W123", None), Ref(None, "bob.smith")]


def test_channel_refs_from_escaped_and_plain_text() -> None:
    text = "post in <#C0GENERAL|general> or #ai-risks, not &#123;"
    assert channel_refs(text) == [Ref("C0GENERAL", "general"), Ref(None, "ai-risks")]
