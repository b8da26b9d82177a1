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
