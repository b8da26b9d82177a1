"""Each command's grammar: routing, typos, wrong arguments, and the help it writes."""

from __future__ import annotations

import pytest

from bot import commands
from bot.commands import budget, bug, incident, pmbot, quality, risk, standup
from bot.errors import UserInputError
from bot.registry import edit_distance


@pytest.mark.parametrize(("a", "b", "distance"), [("lst", "list", 1), ("lsit", "list", 1), ("updte", "update", 1),
                                                  ("show", "show", 0), ("export", "report", 2), ("", "ab", 2)])
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


@pytest.mark.parametrize(("text", "expected"), [
    ("lst", "Did you mean `/bug list"),
    ("lsit open", "Did you mean `/bug list"),
    ("show 5", "`/bug show B-12`"),
    ("close", "`/bug close B-12 [resolution]`"),
    ("shw B-3", "Did you mean `/bug show"),
    ("stats please", "`/bug stats`"),
])
def test_bug_typos_and_bare_sub_commands_file_nothing(text: str, expected: str) -> None:
    with pytest.raises(UserInputError) as raised:
        bug.GRAMMAR.route(text)
    assert expected in str(raised.value)
    assert f"/bug report {text}" in str(raised.value)  # the way to file it anyway


@pytest.mark.parametrize("text", [
    "lost my data in the export", "shows the wrong grade on mobile", "Export fails when the file name has & in it",
    "reprot button crashes", "The assistant told a user to double their insulin dose",
])
def test_bug_reports_that_merely_look_like_words_are_reports(text: str) -> None:
    sub, words = bug.GRAMMAR.route(text)
    assert sub is bug.GRAMMAR.free and words == text.split()


def test_report_files_text_that_starts_with_a_sub_command_word() -> None:
    sub, _ = bug.GRAMMAR.route("report close button does nothing")
    assert sub is not None and sub.word == "report"


@pytest.mark.parametrize(("text", "expected"), [
    ("updte R-1 p=2", "Did you mean `/risk update"),
    ("show", "`/risk show R-3`"),
    ("close", "`/risk close R-3 <reason>`"),
    ("lst", "Did you mean `/risk list"),
])
def test_risk_typos_and_bare_sub_commands_file_nothing(text: str, expected: str) -> None:
    with pytest.raises(UserInputError) as raised:
        risk.GRAMMAR.route(text)
    assert expected in str(raised.value)
    assert "/risk add" in str(raised.value)


@pytest.mark.parametrize(("grammar", "text", "expected"), [
    (incident.GRAMMAR, "delcare the bot leaks PII", "Did you mean `/incident declare"),
    (incident.GRAMMAR, "frobnicate", "`/incident frobnicate` is not something I know"),
    (standup.GRAMMAR, "lsit", "Did you mean `/standup list"),
    (standup.GRAMMAR, "pause", "`/standup pause N"),
    (budget.BUDGET_GRAMMAR, "stauts", "Did you mean `/budget status"),
    (budget.COST_GRAMMAR, "ad 12 compute", "Did you mean `/cost add"),
    (pmbot.GRAMMAR, "stats", "Did you mean `/pmbot status"),
])
def test_commands_without_free_text_suggest_the_sub_command(grammar, text: str, expected: str) -> None:
    with pytest.raises(UserInputError) as raised:
        grammar.route(text)
    assert expected in str(raised.value)
    assert "Nothing was filed" not in str(raised.value)  # nothing could have been


def test_incident_named_by_id_routes_from_anywhere() -> None:
    sub, args = incident.GRAMMAR.route("inc-3 status")
    assert sub is not None and sub.word == "INC-3" and args == ["status"]


def test_help_is_written_from_the_grammar_for_every_command() -> None:
    grammars = {"/bug": bug.GRAMMAR, "/risk": risk.GRAMMAR, "/incident": incident.GRAMMAR,
                "/standup": standup.GRAMMAR, "/budget": budget.BUDGET_GRAMMAR, "/cost": budget.COST_GRAMMAR,
                "/pmbot": pmbot.GRAMMAR, "/quality": quality.GRAMMAR}
    assert {spec.name for spec in commands.specs()} == set(grammars)
    for spec in commands.specs():
        grammar = grammars[spec.name]
        help_text = spec.help_text()
        for sub in grammar.subs:
            if sub.listed:
                assert f"{spec.name} {sub.word}" in help_text, (spec.name, sub.word)
