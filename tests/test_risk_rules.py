"""The register's rules, pure: bands, review dates, hints, answers and dates."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.risk import (
    CATEGORIES,
    FieldError,
    band,
    category_key,
    parse_answer,
    parse_date,
    parse_hints,
    parse_updates,
    review_after,
    score,
)

TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(("p", "i", "expected"), [
    (1, 1, "low"), (2, 2, "low"), (1, 4, "low"), (1, 5, "medium"), (3, 3, "medium"), (5, 2, "high"),
    (3, 5, "high"), (4, 4, "critical"), (5, 5, "critical"),
])
def test_bands_follow_the_score(p: int, i: int, expected: str) -> None:
    assert band(score(p, i)) == expected


def test_band_edges_and_bounds() -> None:
    assert [band(s) for s in (4, 5, 9, 10, 15, 16, 25)] == ["low", "medium", "medium", "high", "high", "critical",
                                                            "critical"]
    with pytest.raises(ValueError):
        band(0)
    with pytest.raises(ValueError):
        band(26)
    assert score(None, 3) is None and score(2, None) is None


@pytest.mark.parametrize(("name", "days"), [("critical", 7), ("high", 14), ("medium", 30), ("low", 90)])
def test_default_review_dates_by_band(name: str, days: int) -> None:
    assert (review_after(name, TODAY) - TODAY).days == days


def test_hints_with_slack_escaped_mentions_and_channels() -> None:
    hints = parse_hints("Vendor retires the model p=4 I=5 owner=<@U0MARIA|maria> <#C123|privacy> due=14d",
                        today=TODAY, categories=CATEGORIES)
    assert hints.title == "Vendor retires the model" and not hints.errors
    assert hints.fields == {"probability": 4, "impact": 5, "owner": "U0MARIA", "category": "privacy",
                            "review_on": date(2026, 12, 13)}


def test_plain_prose_gives_guesses_marked_as_such() -> None:
    hints = parse_hints("GDPR: chat logs are almost certainly kept too long, a severe problem", today=TODAY,
                        categories=CATEGORIES)
    assert hints.fields == {"probability": 5, "impact": 5, "category": "privacy"}
    assert hints.guessed == {"probability", "impact", "category"}


@pytest.mark.parametrize("text", ["", "   ", "ünïcödé risk ✨", "'; DROP TABLE risk; --", "<!channel> everyone",
                                  "x" * 5000])
def test_odd_text_never_crashes(text: str) -> None:
    hints = parse_hints(text, today=TODAY, categories=CATEGORIES)
    assert isinstance(hints.title, str)


def test_bad_hints_are_all_reported() -> None:
    hints = parse_hints("x p=0 i=six owner=maria #nope due=yesterday response=ignore", today=TODAY,
                        categories=CATEGORIES)
    assert len(hints.errors) == 6


def test_categories_by_key_label_or_clear_prefix() -> None:
    assert category_key("priv", CATEGORIES) == "privacy"
    assert category_key("Bias and fairness", CATEGORIES) == "bias"
    assert category_key("s", CATEGORIES) is None  # safety, schedule, security: ambiguous
    assert category_key("team-morale", {**CATEGORIES, "team-morale": "Team morale"}) == "team-morale"


def test_dates() -> None:
    assert parse_date("2026-12-15", today=TODAY) == date(2026, 12, 15)
    assert parse_date("3w", today=TODAY) == date(2026, 12, 20)
    assert parse_date("tomorrow", today=TODAY) == date(2026, 11, 30)
    with pytest.raises(FieldError, match="in the past"):
        parse_date("2026-11-28", today=TODAY)
    with pytest.raises(FieldError, match="should look like"):
        parse_date("next friday", today=TODAY)


def test_updates_need_fields_not_prose() -> None:
    assert parse_updates("probability=4 owner=<@U1|x>", today=TODAY, categories=CATEGORIES) == {
        "probability": 4, "owner": "U1"}
    with pytest.raises(FieldError, match="did not understand"):
        parse_updates("make it worse", today=TODAY, categories=CATEGORIES)
    with pytest.raises(FieldError, match="Say what to change"):
        parse_updates("", today=TODAY, categories=CATEGORIES)


def test_typed_answers() -> None:
    assert parse_answer("probability", "4", today=TODAY, categories=CATEGORIES) == 4
    assert parse_answer("impact", "5/5", today=TODAY, categories=CATEGORIES) == 5
    assert parse_answer("owner", "I think <@U0BOB> should", today=TODAY, categories=CATEGORIES) == "U0BOB"
    assert parse_answer("category", "#vendor", today=TODAY, categories=CATEGORIES) == "vendor"
    with pytest.raises(FieldError):
        parse_answer("probability", "7", today=TODAY, categories=CATEGORIES)
    with pytest.raises(FieldError):
        parse_answer("owner", "maria", today=TODAY, categories=CATEGORIES)
