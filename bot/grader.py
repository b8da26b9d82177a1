"""Grading a bug report: redact once, grade by the rules, ask the LLM when one is configured.

The LLM may set any grade except below a safety floor: a floor keeps the report at grade 1.
When the LLM fails in any way the offline verdict stands, and the reasons say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from openai import OpenAI

from bot.domain.grades import grade_info
from bot.domain.grading import Verdict, grade_redacted
from bot.domain.pii import Finding, Redaction, redact
from bot.domain.text import truncate
from bot.gateways.llm import (
    LlmOutcome,
    RiskOutcome,
    TextOutcome,
    Usage,
    build_llm_client,
    extract_risk_with_llm,
    grade_with_llm,
    write_narrative,
)
from bot.settings import Settings

LlmGrader = Callable[[str], LlmOutcome]
RiskReader = Callable[[str, list[str]], RiskOutcome]
Narrator = Callable[[str], TextOutcome]
REASON_LIMIT = 200


@dataclass(frozen=True)
class Graded:
    verdict: Verdict
    usage: Usage | None  # the LLM call's token usage, for the budget feature


def llm_grader(settings: Settings, client: OpenAI | None = None) -> LlmGrader | None:
    """A grading function bound to a client, or None when no LLM is configured."""
    bound = _bind(settings, client)
    return None if bound is None else (lambda redacted: grade_with_llm(*bound, redacted))


def risk_reader(settings: Settings, client: OpenAI | None = None) -> RiskReader | None:
    """Reads a risk's prose with the LLM, or None when no LLM is configured."""
    bound = _bind(settings, client)
    return None if bound is None else (lambda redacted, keys: extract_risk_with_llm(*bound, redacted, keys))


def narrator(settings: Settings, client: OpenAI | None = None) -> Narrator | None:
    """Writes a post-mortem narrative from redacted facts, or None when no LLM is configured."""
    bound = _bind(settings, client)
    return None if bound is None else (lambda facts: write_narrative(*bound, facts))


def _bind(settings: Settings, client: OpenAI | None) -> tuple[OpenAI, str] | None:
    """(client, model) for the LLM calls: the given client (one per process), or a new one."""
    if not settings.llm_configured:
        return None
    return client or build_llm_client(settings), settings.pmbot_llm_model


def grade_text(text: str, llm: LlmGrader | None = None) -> Graded:
    """Grade raw text; only its redacted form goes anywhere."""
    redaction = redact(text)
    return _grade(redaction, llm, shouting_source=text)


def grade_stored(redacted_text: str, pii_kinds: list[str], llm: LlmGrader | None = None) -> Graded:
    """Grade a report stored earlier: the raw text is gone, but what was found in it still counts."""
    redaction = Redaction(redacted_text, tuple(Finding(kind, "") for kind in pii_kinds))
    return _grade(redaction, llm)


def _grade(redaction: Redaction, llm: LlmGrader | None, *, shouting_source: str | None = None) -> Graded:
    rules = grade_redacted(redaction, shouting_source=shouting_source)
    if llm is None:
        return Graded(rules, None)
    outcome = llm(redaction.text)
    if outcome.grade is None:
        fallback = (*rules.reasons, f"{outcome.failure}, so the offline rules graded this")
        return Graded(replace(rules, reasons=fallback), outcome.usage)
    return Graded(_combine(rules, outcome), outcome.usage)


def _combine(rules: Verdict, outcome: LlmOutcome) -> Verdict:
    assert outcome.grade is not None
    llm_reasons = tuple(truncate(r.strip(), REASON_LIMIT) for r in outcome.grade.reasons if r.strip())
    if rules.floor:
        floor_reasons = tuple(r for r in rules.reasons if r not in llm_reasons)
        note = () if outcome.grade.grade == 1 else (f"the LLM said grade {outcome.grade.grade}, but a safety floor "
                                                     "keeps this at grade 1",)
        return replace(rules, source="llm", reasons=(*floor_reasons, *note, *llm_reasons))
    grade = outcome.grade.grade
    return replace(rules, grade=grade, label=grade_info(grade).label, source="llm", confidence=0.8,
                   reasons=llm_reasons or (f"the LLM graded this {grade_info(grade).label.lower()}",))
