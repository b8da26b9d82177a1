"""Grading a bug report: redact once, grade by the rules, ask the LLM when one is configured.

The LLM may set any grade except below a safety floor: a floor keeps the report at grade 1.
When the LLM fails in any way the offline verdict stands, and the reasons say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.domain.grades import grade_info
from bot.domain.grading import Correction, EmptyReport, Verdict, grade_redacted, normalise
from bot.domain.pii import Finding, Redaction, redact
from bot.domain.text import readable, truncate
from bot.domain.textmodel import Vector, shipped
from bot.gateways.llm import (
    DIGEST_SYSTEM_PROMPT,
    LlmOutcome,
    RiskOutcome,
    TextOutcome,
    Usage,
    build_llm_client,
    extract_risk_with_llm,
    grade_with_llm,
    write_narrative,
)

if TYPE_CHECKING:
    from openai import OpenAI

    from bot.settings import Settings
    from storage.bugs import Regrade

LlmGrader = Callable[[str, str], LlmOutcome]  # (redacted report, context)
RiskReader = Callable[[str, list[str]], RiskOutcome]
Narrator = Callable[[str], TextOutcome]
REASON_LIMIT = 200
# Corrections this alike are shown to the LLM as the team's precedent.
CONTEXT_SIMILARITY = 0.3


@dataclass(frozen=True)
class Graded:
    verdict: Verdict
    usage: Usage | None  # the LLM call's token usage, for the budget feature


def llm_grader(settings: Settings, client: OpenAI | None = None) -> LlmGrader | None:
    """A grading function bound to a client, or None when no LLM is configured."""
    bound = _bind(settings, client)
    return None if bound is None else (lambda redacted, context="": grade_with_llm(*bound, redacted, context))


def risk_reader(settings: Settings, client: OpenAI | None = None) -> RiskReader | None:
    """Reads a risk's prose with the LLM, or None when no LLM is configured."""
    bound = _bind(settings, client)
    return None if bound is None else (lambda redacted, keys: extract_risk_with_llm(*bound, redacted, keys))


def narrator(settings: Settings, client: OpenAI | None = None) -> Narrator | None:
    """Writes a post-mortem narrative from redacted facts, or None when no LLM is configured."""
    bound = _bind(settings, client)
    return None if bound is None else (lambda facts: write_narrative(*bound, facts))


def digest_narrator(settings: Settings, client: OpenAI | None = None) -> Narrator | None:
    """Writes a stakeholder digest's summary from its redacted figures, or None when no LLM is configured."""
    bound = _bind(settings, client)
    return None if bound is None else (lambda figures: write_narrative(*bound, figures, system=DIGEST_SYSTEM_PROMPT))


def _bind(settings: Settings, client: OpenAI | None) -> tuple[OpenAI, str] | None:
    """(client, model) for the LLM calls: the given client (one per process), or a new one."""
    if not settings.llm_configured:
        return None
    return client or build_llm_client(settings), settings.pmbot_llm_model


def grade_text(text: str, llm: LlmGrader | None = None, corrections: Sequence[Correction] = ()) -> Graded:
    """Grade raw text; only its redacted form goes anywhere. EmptyReport when there is no text."""
    if not text.strip():
        raise EmptyReport("A bug report needs some text: say what went wrong.")
    redaction = redact(text)
    return _grade(redaction, llm, corrections, shouting_source=text)


def grade_stored(redacted_text: str, pii_kinds: list[str], llm: LlmGrader | None = None,
                 corrections: Sequence[Correction] = ()) -> Graded:
    """Grade a report stored earlier: the raw text is gone, but what was found in it still counts."""
    redaction = Redaction(redacted_text, tuple(Finding(kind, "") for kind in pii_kinds))
    return _grade(redaction, llm, corrections)


def _grade(redaction: Redaction, llm: LlmGrader | None, corrections: Sequence[Correction], *,
           shouting_source: str | None = None) -> Graded:
    offline = grade_redacted(redaction, shouting_source=shouting_source, corrections=corrections)
    if llm is None:
        return Graded(offline, None)
    outcome = llm(redaction.text, llm_context(offline, corrections))
    if outcome.grade is None:
        fallback = (*offline.reasons, f"{outcome.failure}, so the offline grader graded this")
        return Graded(replace(offline, reasons=fallback), outcome.usage)
    return Graded(_combine(offline, outcome), outcome.usage)


def corrections_from(regrades: Iterable[Regrade]) -> list[Correction]:
    """A team's regraded reports as the grader reads them (each report's features computed once)."""
    return [Correction(r.readable_id, r.user_id, r.grade, r.reason, _vector_of(r.text)) for r in regrades]


@lru_cache(maxsize=4096)
def _vector_of(redacted_text: str) -> Vector:
    return shipped().vector(normalise(redacted_text))


def llm_context(offline: Verdict, corrections: Sequence[Correction], limit: int = 3) -> str:
    """What the LLM is told besides the report: the offline grade and the team's closest corrections."""
    lines = [f"Offline grader: grade {offline.grade} ({offline.label}), kind {offline.category or 'unknown'}, "
             f"confidence {offline.confidence:.0%}" + (" (a safety floor)" if offline.floor else "")]
    vector = _vector_of(offline.redacted_text)
    near = sorted(((vector.dot(c.vector), c) for c in corrections), key=lambda pair: -pair[0])[:limit]
    for similarity, c in near:
        if similarity >= CONTEXT_SIMILARITY:
            lines.append(f"This team regraded a similar report ({similarity:.0%} alike) to grade {c.grade}"
                         + (f": {truncate(c.reason, REASON_LIMIT)}" if c.reason else ""))
    return "\n".join(lines)


def _combine(rules: Verdict, outcome: LlmOutcome) -> Verdict:
    assert outcome.grade is not None
    # The model's words, with any Slack markup it wrote spelt out, so a stored reason can ping nobody.
    llm_reasons = tuple(truncate(readable(r.strip()), REASON_LIMIT) for r in outcome.grade.reasons if r.strip())
    if rules.floor:
        floor_reasons = tuple(r for r in rules.reasons if r not in llm_reasons)
        note = () if outcome.grade.grade == 1 else (f"the LLM said grade {outcome.grade.grade}, but a safety floor "
                                                     "keeps this at grade 1",)
        return replace(rules, source="llm", reasons=(*floor_reasons, *note, *llm_reasons))
    grade = outcome.grade.grade
    category = "feature" if grade == 5 else (None if rules.category == "feature" else rules.category)
    return replace(rules, grade=grade, label=grade_info(grade).label, source="llm", confidence=0.8, unsure=None,
                   category=category, similar_to=None,
                   reasons=llm_reasons or (f"the LLM graded this {grade_info(grade).label.lower()}",))
