"""Escaping, truncation and mention parsing."""

from __future__ import annotations

import pytest

from bot.blocks import MAX_MESSAGE_BLOCKS, SECTION_TEXT_LIMIT, message, sections
from bot.domain.mentions import Ref, channel_refs, user_refs
from bot.domain.text import (
    escape_mrkdwn,
    escape_purpose,
    escape_user_text,
    from_slack,
    mentioned_ids,
    readable,
    shorten,
    split_text,
    truncate,
)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel> look", "&lt;!channel&gt; look"),
        ("<@U123> & <#C1|x>", "<@U123> &amp; <#C1>"),  # mentions render as names in Slack: they stay
        ("<@U123|bob> <!here> <!subteam^S1|@ml>", "<@U123> &lt;!here&gt; &lt;!subteam^S1|@ml&gt;"),
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
    assert truncate("abc&#128512;def", 9) == "abc…"
    # An `&` that cannot begin an entity is the character itself: decoded text keeps what comes before it.
    assert truncate("Q3 & Q4 latency doubled", 12) == "Q3 & Q4 lat…"
    assert truncate("R&D cluster GPU nodes unreachable", 12) == "R&D cluster…"
    assert truncate("Q3 &amp; Q4 latency", 12) == "Q3 &amp; Q4…"


def test_shorten_cuts_plain_text_and_keeps_every_ampersand() -> None:
    assert shorten("short & sweet", 20) == "short & sweet"
    assert shorten("R&D budget & Q3 & Q4 review", 12) == "R&D budget …"  # truncate would give "R…"
    assert len(shorten("x" * 50, 10)) == 10


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


@pytest.mark.parametrize(
    ("wire", "plain"),
    [
        ("Export fails when the file name has &amp; or &lt;1&gt; in it",
         "Export fails when the file name has & or <1> in it"),
        ("legal &amp; security", "legal & security"),
        ("&amp;lt; is how you write &lt;", "&lt; is how you write <"),  # decoded once, never twice
        ("costs $1,200 *per* day — 模型 ошибка 🚀", "costs $1,200 *per* day — 模型 ошибка 🚀"),
        ("<@U0BOB|bob> said <!channel>", "<@U0BOB|bob> said <!channel>"),  # Slack's markup is kept
    ],
)
def test_from_slack_decodes_exactly_once(wire: str, plain: str) -> None:
    assert from_slack(wire) == plain


@pytest.mark.parametrize("typed", ["& or <1>", "a < b > c & d", "$5 and $6", "*not bold* _x_", "日本語のテキスト",
                                   "&amp; typed literally"])
def test_plain_text_survives_the_round_trip_through_mrkdwn(typed: str) -> None:
    wire = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # what Slack sends
    assert from_slack(escape_mrkdwn(from_slack(wire))) == typed


def test_readable_spells_every_kind_of_markup_out() -> None:
    names = {"U0BOB": "bob", "C0GENERAL": "general"}.get
    text = ("role: comms: nobody → <@U0BOB> in <#C0GENERAL> cc <@U0NEW|newbie> <!channel> <!here> "
            "<!subteam^S0ML|@ml-leads> <https://evil.example/x|click me> <https://a.example> "
            "<mailto:a@b.example|a@b.example> and <1>")
    assert readable(text, names) == (
        "role: comms: nobody → @bob in #general cc @newbie @channel @here @ml-leads click me "
        "(https://evil.example/x) https://a.example a@b.example and <1>")
    assert readable("<@U0ZED>") == "@U0ZED"  # no name known: the id, never the markup


def test_mentioned_ids() -> None:
    assert mentioned_ids("<@U1> <#C2|x> <@U1> <!channel>") == ["U1", "C2"]


# The mention-injection set (issue #19), as pmbot holds it after `from_slack`.
INJECTIONS = "<!channel> <!here> <!everyone> <!subteam^S1|@ml> <@U0X> <@U0X|x> <https://evil.example|x> & <1>"


def test_user_text_pings_nobody_and_links_nowhere_hidden() -> None:
    shown = escape_user_text(INJECTIONS)
    assert shown == ("&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;!subteam^S1|@ml&gt; @U0X @x "
                     "&lt;https://evil.example|x&gt; &amp; &lt;1&gt;")
    assert "<" not in shown and ">" not in shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("ask <@U0BOB> in <#C0GENERAL|general>", "ask @bob in <#C0GENERAL>"),  # a channel link notifies nobody
        ("<@U0NEW|newbie> & <@W123>", "@newbie &amp; @W123"),  # no name known: the label, else the id
        ("<<@U1|U0X>>", "&lt;@U0X&gt;"),  # a spelt label never turns into a mention
        ("<@U1|<!channel>>", "&lt;@U1|&lt;!channel&gt;&gt;"),
        ("plain ünïcødé 🚀 *bold*", "plain ünïcødé 🚀 *bold*"),
    ],
)
def test_escape_user_text_spells_user_mentions(raw: str, shown: str) -> None:
    assert escape_user_text(raw, {"U0BOB": "bob"}.get) == shown


def test_a_looked_up_name_is_escaped_too() -> None:
    assert escape_user_text("<@U0BOB>", {"U0BOB": "<!here>"}.get) == "@&lt;!here&gt;"


def test_purpose_is_spelt_out_and_encoded() -> None:
    names = {"U0BOB": "bob"}.get
    assert escape_purpose("R&D <@U0BOB> <!channel> <https://evil.example|x> <1>", names) == (
        "R&amp;D @bob @channel x (https://evil.example) &lt;1&gt;")
    assert "<" not in escape_purpose(INJECTIONS) and ">" not in escape_purpose(INJECTIONS)
