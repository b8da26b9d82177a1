"""The five bug grades, what each means, and what a team does about one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Grade:
    number: int
    label: str
    meaning: str
    action_plan: tuple[str, ...]


GRADES: dict[int, Grade] = {
    1: Grade(1, "Critical", "a legal or ethical breach, personal data exposed, or a serious security hole", (
        "Move traffic back to the last model version known to be safe, now.",
        "Ship an emergency fix and confirm it closes the hole.",
        "Open an incident, tell legal and compliance, and write the incident report with preventive steps.",
    )),
    2: Grade(2, "High", "frequent hallucinations, consistently wrong output, or a major feature failing", (
        "Patch the behaviour with a targeted fix (prompt, guardrail or code) if one exists.",
        "Start a fine-tuning or retraining run on corrected data.",
        "If users are being misled meanwhile, switch the feature off until it is fixed.",
    )),
    3: Grade(3, "Medium", "uneven tone, occasional small hallucinations, or slow and degraded responses", (
        "Tune the prompt, or optimise and scale the serving path.",
        "Plan the fix for the next regular release.",
    )),
    4: Grade(4, "Low", "typos, small UI glitches, or slightly awkward wording", (
        "Fix it in the front end or the copy.",
        "Put it on the backlog for a non-urgent release.",
    )),
    5: Grade(5, "Informational", "a feature request or a suggestion", (
        "Add it to the product backlog and weigh it against other work at planning.",
    )),
}


def grade_info(number: int) -> Grade:
    """The grade, or ValueError for a number outside 1–5."""
    try:
        return GRADES[number]
    except KeyError:
        raise ValueError(f"grade must be 1 to 5, not {number}") from None


# The kinds of problem the grader tells apart, as a person reads them on a card.
CATEGORIES: dict[str, str] = {
    "personal_data": "personal data",
    "security": "security",
    "harmful": "harmful content",
    "wrong_answer": "wrong or invented answers",
    "no_answer": "no answer or broken output",
    "speed_cost": "speed or cost",
    "tone_language": "tone or language",
    "display": "display",
    "feature": "feature request",
}

# The grade's action plan, made to fit the kind of problem: a slow answer needs optimisation and scaling,
# not a fine-tuning run. A pair not listed here gets the grade's general plan.
_PLANS: dict[tuple[int, str], tuple[str, ...]] = {
    (1, "personal_data"): (
        "Move traffic back to the last model version known to be safe, now.",
        "Find whose data was shown to whom, stop it, and purge it from logs, caches and memory.",
        "Open an incident and tell legal and compliance (a data breach may have to be reported within days).",
    ),
    (1, "security"): (
        "Close the hole now: switch the endpoint or tool off, or roll back to the last safe version.",
        "Rotate every key, token or password that was exposed.",
        "Open an incident, tell security and compliance, and write the report with preventive steps.",
    ),
    (1, "harmful"): (
        "Move traffic back to the last model version known to be safe, or block the topic with a guardrail, now.",
        "Add the case to the safety evaluation set and tighten moderation before the fix ships.",
        "Open an incident, tell legal and trust-and-safety, and write the report with preventive steps.",
    ),
    (2, "wrong_answer"): (
        "Patch the behaviour with a targeted fix: prompt, grounding or retrieval, or a guardrail.",
        "Add the failing cases to the evaluation set; start a fine-tuning or retraining run on corrected data "
        "if prompts cannot fix it.",
        "If users are being misled meanwhile, switch the feature off until it is fixed.",
    ),
    (2, "no_answer"): (
        "Find the failing step in the logs or traces (model, tool call, parser, provider) and fix it.",
        "Roll back the release or model version that started it if the fix is not quick.",
        "Add a regression test, and show users a clear error or a fallback meanwhile.",
    ),
    (2, "speed_cost"): (
        "Roll back the change that made it unusably slow or costly, or scale the serving path now.",
        "Profile the request path and set a latency or cost alert so it is caught next time.",
    ),
    (2, "tone_language"): (
        "Fix the system prompt or language settings and check them against a set of real conversations.",
        "If users are being misled meanwhile, switch the feature off until it is fixed.",
    ),
    (3, "speed_cost"): (
        "Optimise the inference path (caching, batching, a smaller or quantised model) or scale it up.",
        "Track p95 latency and cost per request against the quality plan's targets.",
        "Plan the fix for the next regular release.",
    ),
    (3, "tone_language"): (
        "Adjust the system prompt to guide tone, register or language.",
        "Plan the fix for the next regular release.",
    ),
    (3, "wrong_answer"): (
        "Tune the prompt or retrieval, and add the case to the evaluation set.",
        "Plan the fix for the next regular release.",
    ),
    (3, "no_answer"): (
        "Find the failing step in the logs and add a retry or a clear error message.",
        "Plan the fix for the next regular release.",
    ),
    (3, "display"): (
        "Fix it in the front end.",
        "Plan the fix for the next regular release.",
    ),
    (4, "tone_language"): (
        "Fix the wording in the prompt or the copy.",
        "Put it on the backlog for a non-urgent release.",
    ),
}


def action_plan(grade: int, category: str | None) -> tuple[str, ...]:
    """What to do about a bug of this grade and kind."""
    return _PLANS.get((grade, category or ""), grade_info(grade).action_plan)


def category_label(category: str | None) -> str | None:
    return CATEGORIES.get(category or "")


def grader_name(source: str | None) -> str:
    """Who set an automatic grade, as a card says it."""
    return {"llm": "the LLM", "model": "the learned grader", "team": "the team's earlier regrades",
            "rules": "the offline rules", "plan": "the team's quality plan"}.get(source or "", "the offline grader")
