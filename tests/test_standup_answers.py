"""Stand-up answers as people type them in Slack, read by the pure parser (`split_answer`, `blocker_of`)."""

from __future__ import annotations

import pytest

from bot.domain.standup import GENAI_QUESTION, blocker_of, split_answer

Q = ["What did you do yesterday?", "What will you do today?", "Anything blocking you?"]
YESTERDAY, TODAY, BLOCKERS = Q


def fields(text: str, questions: list[str] = Q) -> tuple[str | None, ...]:
    answers = split_answer(text, questions)
    return tuple(answers.get(q) for q in questions)


# --- the forms seen in issue #14, exactly as quoted ------------------------------------------------------


def test_bold_labels_with_none_record_no_blocker() -> None:
    answers = split_answer("*Yesterday:* shipped eval\n*Today:* prompt tuning\n*Blockers:* none", Q)
    assert answers == {YESTERDAY: "shipped eval", TODAY: "prompt tuning", BLOCKERS: "none"}
    assert blocker_of(answers, Q) is None


def test_dash_bullets_split_into_three_and_keep_the_blocker() -> None:
    answers = split_answer("- Yesterday: …\n- Today: …\n- Blockers: waiting on GPU quota", Q)
    assert answers == {YESTERDAY: "…", TODAY: "…", BLOCKERS: "waiting on GPU quota"}
    assert blocker_of(answers, Q) == "waiting on GPU quota"


def test_the_readme_one_line_form_splits_at_each_label() -> None:
    answers = split_answer("Yesterday: fixed the eval Today: prompt tuning Blockers: waiting on legal", Q)
    assert answers == {YESTERDAY: "fixed the eval", TODAY: "prompt tuning", BLOCKERS: "waiting on legal"}
    assert blocker_of(answers, Q) == "waiting on legal"


def test_plain_text_blocker_is_kept_as_typed() -> None:
    answers = split_answer("Yesterday: evals\nToday: rollout\nBlockers: legal & security", Q)
    assert blocker_of(answers, Q) == "legal & security"


# --- formatting, bullets and layout ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "*Yesterday:* shipped eval\n*Today:* prompt tuning\n*Blockers:* waiting on legal",
    "*Yesterday*: shipped eval\n*Today*: prompt tuning\n*Blockers*: waiting on legal",
    "_Yesterday_: shipped eval\n_Today_: prompt tuning\n_Blockers_: waiting on legal",
    "_Yesterday:_ shipped eval\n_Today:_ prompt tuning\n_Blockers:_ waiting on legal",
    "~Yesterday~: shipped eval\n~Today~: prompt tuning\n~Blockers~: waiting on legal",
    "_Yesterday: shipped eval_\n_Today: prompt tuning_\n_Blockers: waiting on legal_",
    "- Yesterday: shipped eval\n- Today: prompt tuning\n- Blockers: waiting on legal",
    "• Yesterday: shipped eval\n• Today: prompt tuning\n• Blockers: waiting on legal",
    "* Yesterday: shipped eval\n* Today: prompt tuning\n* Blockers: waiting on legal",
    "1. Yesterday: shipped eval\n2. Today: prompt tuning\n3. Blockers: waiting on legal",
    "1) Yesterday: shipped eval\n2) Today: prompt tuning\n3) Blockers: waiting on legal",
    "• *Yesterday:* shipped eval\n• *Today:* prompt tuning\n• *Blockers:* waiting on legal",
    "> Yesterday: shipped eval\n> Today: prompt tuning\n> Blockers: waiting on legal",
    ":white_check_mark: Yesterday: shipped eval\n:calendar: Today: prompt tuning\n:warning: Blockers: waiting on legal",
    "Yesterday - shipped eval\nToday – prompt tuning\nBlockers — waiting on legal",
    "yesterday: shipped eval\ntoday: prompt tuning\nblockers: waiting on legal",
    "YESTERDAY: shipped eval\nTODAY: prompt tuning\nBLOCKERS: waiting on legal",
    "Y: shipped eval\nT: prompt tuning\nB: waiting on legal",
    "Done: shipped eval\nPlan: prompt tuning\nBlocked by: waiting on legal",
    "Today: prompt tuning\nBlockers: waiting on legal\nYesterday: shipped eval",  # any order
    "1. shipped eval\n2. prompt tuning\n3. waiting on legal",
    "1) shipped eval\n2) prompt tuning\n3) waiting on legal",
])
def test_labels_in_slack_formatting_and_bullets(text: str) -> None:
    assert fields(text) == ("shipped eval", "prompt tuning", "waiting on legal")


@pytest.mark.parametrize("text", [
    "Yesterday: shipped eval Today: prompt tuning Blockers: waiting on legal",
    "*Yesterday:* shipped eval *Today:* prompt tuning *Blockers:* waiting on legal",
    "Yesterday: shipped eval. today: prompt tuning. blockers: waiting on legal",
    "Yesterday: shipped eval | Today: prompt tuning | Blockers: waiting on legal",
    "Ayer: shipped eval Hoy: prompt tuning Bloqueos: waiting on legal",
    "Hier : shipped eval Aujourd'hui : prompt tuning Blocages : waiting on legal",
])
def test_labels_on_one_line(text: str) -> None:
    assert [part.rstrip(".| ") for part in fields(text)] == ["shipped eval", "prompt tuning", "waiting on legal"]


def test_labels_as_headings_with_bulleted_lines_under_them() -> None:
    text = ("*Yesterday*\n• shipped eval\n• fixed the tokenizer\n*Today*\n• prompt tuning\n"
            "*Blockers*\n• waiting on legal")
    assert fields(text) == ("• shipped eval\n• fixed the tokenizer", "• prompt tuning", "• waiting on legal")
    assert blocker_of(split_answer(text, Q), Q) == "waiting on legal"  # one bulleted line: the bullet is not the news


def test_lines_after_a_label_belong_to_it_and_numbered_lines_inside_one_are_content() -> None:
    text = "Yesterday:\n1. shipped eval\n2. fixed the tokenizer\nToday: prompt tuning\nBlockers:\n- GPU quota\n- legal"
    assert fields(text) == ("1. shipped eval\n2. fixed the tokenizer", "prompt tuning", "- GPU quota\n- legal")
    assert blocker_of(split_answer(text, Q), Q) == "- GPU quota\n- legal"


@pytest.mark.parametrize(("text", "expected"), [
    ("Ayer: evals\nHoy: despliegue\nBloqueos: esperando a legal", ("evals", "despliegue", "esperando a legal")),
    ("Ayer: evals\nHoy: despliegue\nImpedimentos: esperando a legal", ("evals", "despliegue", "esperando a legal")),
    ("Gestern: Evals\nHeute: Rollout\nBlocker: warte auf Legal", ("Evals", "Rollout", "warte auf Legal")),
    ("Gestern: Evals\nHeute: Rollout\nBlockaden: warte auf Legal", ("Evals", "Rollout", "warte auf Legal")),
    ("Gestern: Evals\nHeute: Rollout\nHindernisse: warte auf Legal", ("Evals", "Rollout", "warte auf Legal")),
    ("Hier : évals\nAujourd'hui : déploiement\nBlocages : j'attends le juridique",
     ("évals", "déploiement", "j'attends le juridique")),
    ("Hier: évals\nAujourd’hui: déploiement\nBloquants: j'attends le juridique",
     ("évals", "déploiement", "j'attends le juridique")),
])
def test_labels_in_spanish_german_and_french(text: str, expected: tuple[str, ...]) -> None:
    assert fields(text) == expected
    assert blocker_of(split_answer(text, Q), Q) == expected[2]


# --- "no blocker" in its many spellings --------------------------------------------------------------------


@pytest.mark.parametrize("said", [
    "none", "None.", "NONE!", "no", "No", "n/a", "N/A", "nothing", "Nothing so far", "nope", "—", "–", "-", "--",
    "*none*", "_none_", "~none~", "`none`", "- none", "• none", "none :tada:", "no blockers", "No blockers today",
    "ninguno", "nada", "keine", "nichts", "aucun", "rien", "Rien à signaler", "",
])
def test_ways_of_saying_no_blocker(said: str) -> None:
    answers = split_answer(f"Yesterday: evals\nToday: rollout\nBlockers: {said}", Q)
    assert blocker_of(answers, Q) is None


@pytest.mark.parametrize("text", ["*Blockers:* none", "_Blockers: none_", "*Blockers*: *none*", "Bloqueos: ninguno",
                                  "Blocker: keine", "Blocages : aucun", "Blockers: -", "3. none"])
def test_no_blocker_with_formatting_around_the_label_too(text: str) -> None:
    assert blocker_of(split_answer(text, Q), Q) is None


@pytest.mark.parametrize("said", ["No, waiting on legal", "nothing from legal yet", "none of the GPUs arrived",
                                  "keine GPU-Quote"])
def test_a_sentence_starting_like_none_is_a_blocker(said: str) -> None:
    assert blocker_of(split_answer(f"Blockers: {said}", Q), Q) == said


# --- nothing is dropped --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "just a sentence",
    "Worked on the eval harness all day,\nmore of the same today.",
    "Done",
    "Today",
    "I did the plan for today: more evals",
    "Note: out this afternoon",
])
def test_unrecognised_answers_are_kept_whole_under_the_first_question(text: str) -> None:
    assert split_answer(text, Q) == {YESTERDAY: text}


def test_text_before_the_first_label_goes_to_the_first_question() -> None:
    assert fields("Quick one.\nToday: rollout\nBlockers: none") == ("Quick one.", "rollout", "none")


def test_the_genai_question_has_labels_and_is_never_mistaken_for_a_blocker() -> None:
    four = [*Q, GENAI_QUESTION]
    answers = split_answer("Yesterday: evals\nToday: rollout\nBlockers: none\nGenAI: prompt v13 is live", four)
    assert answers[GENAI_QUESTION] == "prompt v13 is live" and blocker_of(answers, four) is None
    three = split_answer("Yesterday: evals Today: rollout Blockers: none GenAI: prompt v13 is live", Q)
    assert blocker_of(three, Q) is None  # a question this stand-up does not ask: kept under the first one
    assert "GenAI: prompt v13 is live" in three[YESTERDAY]


def test_numbers_past_the_questions_and_decimals_are_content() -> None:
    assert fields("1. evals\n2. rollout\n3. none\n4. also lunch") == ("evals", "rollout", "none\n4. also lunch")
    assert split_answer("1.5 days on evals", Q) == {YESTERDAY: "1.5 days on evals"}
