"""The stakeholder digest (`/pmbot digest now [#channel]`, bot.digest.service) end to end through the sandbox, on
both databases: its numbers against the data, change since the last digest, the one-pager, the narrative from the
LLM (no PII in its request) or from the template, posting in a channel and the wrong ways to ask."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.digest import service
from bot.digest.command import CANNOT_POST
from bot.domain import quality as quality_rules
from bot.errors import SlackError
from storage.bugs import create_bug
from storage.db import session_scope
from storage.incidents import create_action, create_incident
from storage.models import DigestSnapshot, Standup, StandupBlocker
from storage.quality import add_run, save_plan
from tests.conftest import RunningBot
from tests.helpers import MovableClock
from tests.llm_stub import LlmStub

TEAM = "T0SANDBOX"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def bot(bot_factory, clock: MovableClock) -> RunningBot:
    return clock.drive(bot_factory(pmbot_budget_admins="U0ALICE"))


def command(bot: RunningBot, name: str, text: str, **options) -> dict:
    response = bot.driver.command(name, text, **options)
    assert response.status == 200
    bot.runtime.settle()
    return bot.driver.answer(response)


def digest_now(bot: RunningBot, text: str = "now", **options) -> tuple[dict, list[dict]]:
    """The ack of `/pmbot digest …` and what was answered privately after it (through response_url)."""
    before = len(bot.sandbox.responses)
    ack = command(bot, "/pmbot", f"digest {text}", **options)
    return ack, bot.sandbox.responses[before:]


def digest_answer(later: list[dict]) -> dict:
    [answer] = [r for r in later if r.get("text", "").startswith("Project digest")]
    return answer


def pngs(bot: RunningBot) -> list[dict]:
    return [f for f in bot.sandbox.ws.files.values() if f["name"].startswith("project-digest-")]


def shared_in(file: dict) -> set[str]:
    return {channel for where in file["shares"].values() for channel in where}


def snapshots(bot: RunningBot) -> list[DigestSnapshot]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(DigestSnapshot).order_by(DigestSnapshot.id)))


def dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_an_empty_team_gets_a_short_digest_and_the_one_pager_by_dm(bot: RunningBot) -> None:
    ack, later = digest_now(bot)
    assert "Building the project digest" in ack["text"]
    answer = digest_answer(later)
    text = answer["text"]
    assert text.splitlines()[0] == "Project digest — 20 Nov 2026"
    assert "Covers 13 Nov 2026 – 20 Nov 2026: the last 7 days (no earlier digest)." in text
    assert "No open risks with a score." in text and "• 0 opened, 0 closed in the period." in text
    assert "No critical bug is open." in text and "No incidents in the period." in text
    assert "No budget is set." in text and "Quality" not in text  # no quality plan: no section
    assert "The team logged 0 new bugs and closed 0. There were no incidents." in text  # the template
    blocks_text = dump(answer["blocks"])
    assert "Preview: only you see this" in blocks_text and "in your direct messages with pmbot" in blocks_text
    [one_pager] = pngs(bot)
    assert one_pager["content"].startswith(PNG_MAGIC) and len(one_pager["content"]) > 10_000
    [dm] = shared_in(one_pager)
    assert bot.sandbox.ws.channels[dm].is_im
    assert [m for m in bot.sandbox.messages if m["text"].startswith("Project digest")] == []  # nothing public
    assert snapshots(bot) == []  # a preview moves no baseline


# --- seeding: through the commands where they can, through the repositories for times in the past -------------


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def seed_bug(bot: RunningBot, title: str, *, grade: int, created: datetime, closed: datetime | None = None) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        bug, _ = create_bug(session, team_id=TEAM, delivery_key=f"seed-{title}", channel_id="C0GENERAL",
                            reporter_id="U0CARLOS", title=title, text=title, details={}, pii=[], now=created)
        bug.grade, bug.graded_at = grade, created
        if closed is not None:
            bug.status, bug.closed_at, bug.closed_by = "closed", closed, "U0BOB"
        session.add(bug)


def seed_incident(bot: RunningBot, title: str, *, grade: int, declared: datetime, resolved: datetime | None,
                  drill: bool = False, actions: tuple[bool, ...] = (), status: str | None = None) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        incident, _ = create_incident(session, team_id=TEAM, delivery_key=f"seed-{title}", title=title, grade=grade,
                                      status=status or ("resolved" if resolved else "investigating"), drill=drill,
                                      origin_channel="C0GENERAL", declared_by="U0ALICE", commander_id="U0ALICE",
                                      declared_at=declared, resolved_at=resolved)
        for n, done in enumerate(actions):
            create_action(session, team_id=TEAM, delivery_key=f"seed-{title}-{n}", incident_id=incident.id,
                          title=f"follow-up {n}", owner_id="U0BOB", created_by="U0ALICE", created_at=declared,
                          done_at=resolved if done else None, done_by="U0BOB" if done else None)


def seed_blockers(bot: RunningBot) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        standup = Standup(team_id=TEAM, channel_id="C0GENERAL", members=["U0ALICE", "U0BOB", "U0CARLOS"],
                          time="09:30", timezone="UTC", workdays=[0, 1, 2, 3, 4], questions=["Blockers?"],
                          created_by="U0ALICE", created_at=at(1))
        session.add(standup)
        session.flush()
        for user, text, first, resolved in (
                ("U0BOB", "waiting for the labelled data contract", date(2026, 11, 12), None),
                ("U0CARLOS", "no staging GPU quota", date(2026, 11, 18), None),  # 2 days: too young
                ("U0ALICE", "eval harness flaky", date(2026, 11, 17), None),  # exactly 3 days: not older than 3
                ("U0ALICE", "legal review of the prompts", date(2026, 11, 1), date(2026, 11, 10))):  # resolved
            session.add(StandupBlocker(standup_id=standup.id, user_id=user, text=text, first_day=first,
                                       last_day=date(2026, 11, 19), resolved_on=resolved))


def seed_quality(bot: RunningBot) -> None:
    plan = quality_rules.plan([quality_rules.metric("accuracy", "%", 90),
                               quality_rules.metric("hallucination rate", "%", 5)])
    with session_scope(bot.runtime.deps.engine) as session:
        save_plan(session, team_id=TEAM, channel_id="C0GENERAL", plan=plan, template=None, user_id="U0ALICE",
                  now=at(1))
        add_run(session, team_id=TEAM, model="support-bot", version="v7", dataset="golden", source="api",
                metrics={"accuracy": 91.5, "hallucination_rate": 7.0}, recorded_by="api", now=at(19))


def seed_everything(bot: RunningBot, clock: MovableClock) -> None:
    seed_bug(bot, "Refund agent quotes the wrong policy", grade=1, created=at(2))  # the oldest open critical
    seed_bug(bot, "Chat leaks another user's order", grade=1, created=at(10))
    seed_bug(bot, "Summaries drop the last paragraph", grade=2, created=at(15))
    seed_bug(bot, "Answers slow at peak", grade=3, created=at(1), closed=at(16))
    seed_bug(bot, "Assistant shows internal notes", grade=1, created=at(18), closed=at(19))
    seed_bug(bot, "Typo in the greeting", grade=4, created=at(5), closed=at(10))  # closed before the period
    assert "B-7" in command(bot, "/bug", "The bot printed card 4111 1111 1111 1111 to another customer")["text"]
    for text in ("Vendor may retire our fine-tuned model p=4 i=5 owner=<@U0BOB|bob>",
                 "GPU quota might run out before launch p=3 i=3 owner=<@U0CARLOS|carlos>",
                 "Annotators may label the eval set inconsistently p=4 i=4 owner=<@U0ALICE|alice>"):
        command(bot, "/risk", text)
    seed_incident(bot, "Wrong prices in answers", grade=1, declared=at(14, 9), resolved=at(14, 11, 30),
                  actions=(True, False, False))
    seed_incident(bot, "Old outage", grade=2, declared=at(1), resolved=at(2))  # before the period
    seed_incident(bot, "Drill: prompt leak", grade=1, declared=at(16), resolved=at(16, 11), drill=True)
    seed_incident(bot, "Search shows stale prices", grade=3, declared=at(19, 12), resolved=None, status="mitigated",
                  actions=(False,))
    clock.now = NOW - timedelta(hours=3)
    command(bot, "/incident", "declare Chatbot answers in the wrong language grade 2")
    clock.now = NOW
    command(bot, "/budget", "set 10000 USD month")
    command(bot, "/cost", "add 8000 compute GPU hours")
    seed_quality(bot)
    seed_blockers(bot)


def test_the_digest_numbers_match_the_data(bot: RunningBot, clock: MovableClock) -> None:
    seed_everything(bot, clock)
    _, later = digest_now(bot)
    text = digest_answer(later)["text"]
    risks = ["• R-1 Vendor may retire our fine-tuned model — owner bob — score 20",
             "• R-3 Annotators may label the eval set inconsistently — owner alice — score 16",
             "• R-2 GPU quota might run out before launch — owner carlos — score 9"]
    assert "\n".join(risks) in text  # by score, names not mentions
    assert "<@U0" not in text
    assert "• 3 opened, 2 closed in the period." in text
    assert "• Critical (grade 1): 2 opened, 1 closed" in text and "• High (grade 2): 1 opened, 0 closed" in text
    assert "• Medium (grade 3): 0 opened, 1 closed" in text and "grade 4" not in text
    assert ("• Oldest open critical bug: B-1 Refund agent quotes the wrong policy, open for 18 days "
            "(reported 02 Nov 2026)") in text
    assert "• INC-1 Wrong prices in answers — grade 1 — resolved after 2 h 30 min · follow-ups: 2 open, 1 done" in text
    assert ("• INC-4 Search shows stale prices — grade 3 — ongoing for 1 day (impact contained) · follow-ups: 1 open, "
            "0 done") in text
    assert "• INC-5 Chatbot answers in the wrong language — grade 2 — ongoing for 3 h · follow-ups: 0 open, 0 done" \
        in text
    assert "Old outage" not in text and "Drill" not in text
    assert ("• #general: spent 8,000.00 USD of 10,000.00 USD (80%) by 20 Nov 2026 · forecast at period end "
            "(30 Nov 2026): 12,000.00 USD (120%), an early estimate · runs out on 26 Nov 2026 at this rate") in text
    assert "• Latest evaluation: support-bot v7" in text
    assert "• Accuracy: 91.5 % (target ≥ 90 %) — meets target" in text
    assert "• Hallucination rate: 7 % (target ≤ 5 %) — misses target" in text
    assert "• bob: waiting for the labelled data contract — since 12 Nov 2026 (8 days)" in text
    assert "staging GPU" not in text and "eval harness" not in text and "legal review" not in text
    assert "4111" not in text
    summary = text.split("*In short*\n", 1)[1]
    assert summary.startswith("The team logged 3 new bugs (2 critical) and closed 2. The oldest open critical bug "
                              "has been open for 18 days. There were 3 incidents, 2 still ongoing.")
    assert "1 of 2 quality targets are not met: Hallucination rate." in summary
    [one_pager] = pngs(bot)
    assert one_pager["content"].startswith(PNG_MAGIC)


def test_change_since_the_last_digest_is_measured_against_what_the_audience_saw(bot: RunningBot,
                                                                                clock: MovableClock) -> None:
    for text in ("Vendor may retire our fine-tuned model p=4 i=5 owner=<@U0BOB|bob>",
                 "GPU quota might run out before launch p=3 i=3 owner=<@U0CARLOS|carlos>",
                 "Annotators may label the eval set inconsistently p=4 i=4 owner=<@U0ALICE|alice>",
                 "Key engineer on leave during launch p=1 i=2 owner=<@U0BOB|bob>"):
        command(bot, "/risk", text)
    deps = bot.runtime.deps
    shown = service.build(deps, team_id=TEAM, sections=service.SECTIONS, now=clock.now, audience_key="plan:1")
    assert "score 20 (" not in shown.text  # no earlier digest: no change to show
    service.remember(deps, shown, audience_key="plan:1", now=clock.now)
    clock.now = NOW + timedelta(days=1)
    command(bot, "/risk", "update R-2 probability=5")  # 9 → 15
    command(bot, "/risk", "update R-3 impact=2")  # 16 → 8
    command(bot, "/risk", "close R-1 the vendor signed a three-year contract")
    command(bot, "/risk", "Provider raises token prices p=5 i=5 owner=<@U0CARLOS|carlos>")  # R-5, 25
    command(bot, "/risk", "update R-4 probability=4")  # 2 → 8: it was remembered, so "up", not "new"
    _, later = digest_now(bot)
    text = digest_answer(later)["text"]
    assert "Covers 20 Nov 2026 – 21 Nov 2026: since the last digest." in text
    assert "• R-5 Provider raises token prices — owner carlos — score 25 (new)" in text
    assert "• R-2 GPU quota might run out before launch — owner carlos — score 15 (up from 9)" in text
    assert "• R-3 Annotators may label the eval set inconsistently — owner alice — score 8 (down from 16)" in text
    assert "• R-4 Key engineer on leave during launch — owner bob — score 8 (up from 2)" in text
    assert "• Closed since the last digest: R-1" in text and "R-1 Vendor" not in text
    assert len(snapshots(bot)) == 1  # the preview remembered nothing
    # Another audience has seen nothing yet: its digest shows no change, and covers the last 7 days.
    other = service.build(deps, team_id=TEAM, sections=["risks"], now=clock.now, audience_key="plan:2")
    assert "score 25 (" not in other.text and "Closed since" not in other.text
    assert "the last 7 days (no earlier digest)" in other.text
    assert other.figures["sections"] == ["risks"] and "Bugs" not in other.text
    # The audience's own baseline moves when it is remembered again.
    mine = service.build(deps, team_id=TEAM, sections=service.SECTIONS, now=clock.now, audience_key="plan:1")
    service.remember(deps, mine, audience_key="plan:1", now=clock.now)
    again = service.build(deps, team_id=TEAM, sections=["risks"], now=clock.now + timedelta(hours=1),
                          audience_key="plan:1")
    assert "score 25 (unchanged)" in again.text and "Closed since" not in again.text
    with pytest.raises(Exception, match="no section"):
        service.build(deps, team_id=TEAM, sections=["gossip"], now=clock.now)


def test_posted_in_a_channel_with_its_one_pager_once(bot: RunningBot) -> None:
    command(bot, "/risk", "Vendor may retire our fine-tuned model p=4 i=5 owner=<@U0BOB|bob>")
    command(bot, "/risk", "Ask <@U0CARLOS|carlos> and <!channel> about GPU quotas p=2 i=3 owner=<@U0BOB|bob>")
    assert "U0PMBOT" not in bot.sandbox.ws.channels["C0RANDOM"].members
    ack, later = digest_now(bot, "now <#C0RANDOM|random>")
    assert "Building the project digest" in ack["text"]
    [posted] = [m for m in bot.sandbox.messages if m["channel"] == "C0RANDOM" and m["text"].startswith("Project")]
    assert "• R-1 Vendor may retire our fine-tuned model — owner bob — score 20" in posted["text"]
    assert "<@U0BOB>" not in dump(posted)  # a name, not a mention that pings
    assert "R-2 Ask @carlos and @channel about GPU quotas — owner bob — score 6" in posted["text"]
    assert "<@U0CARLOS" not in dump(posted) and "<!channel>" not in dump(posted)
    blocks_ = posted["blocks"]
    assert blocks_[0]["type"] == "header" and len(blocks_) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks_)
    [one_pager] = pngs(bot)
    assert shared_in(one_pager) == {"C0RANDOM"} and one_pager["content"].startswith(PNG_MAGIC)
    assert len(bot.sandbox.calls_to("files.completeUploadExternal")) == 1
    assert any("Posted the project digest with its one-pager in <#C0RANDOM>" in r.get("text", "") for r in later)
    assert snapshots(bot) == []


def test_a_channel_pmbot_cannot_post_in_and_wrong_requests_get_clear_answers(bot: RunningBot) -> None:
    bot.sandbox.ws.add_channel("G0SECRET", "secret-plans", members={"U0ALICE"}, is_private=True)
    _, later = digest_now(bot, "now <#G0SECRET|secret-plans>")
    assert any("I can't post in <#G0SECRET>" in r.get("text", "") and "/invite @pmbot" in r.get("text", "")
               for r in later)
    assert pngs(bot) == [] and [m for m in bot.sandbox.messages if m["channel"] == "G0SECRET"] == []
    # What the comms plan's job gets from `post_message` there: Slack's refusal as pmbot's error, to decide on.
    digest = service.build(bot.runtime.deps, team_id=TEAM, sections=["bugs"], now=NOW)
    with pytest.raises(SlackError) as refused:
        service.post_message(bot.runtime.deps, digest, "G0SECRET")
    assert refused.value.code in CANNOT_POST and pngs(bot) == []
    _, later = digest_now(bot, "now #no-such-channel")
    assert any("I can't find a channel called #no-such-channel" in r.get("text", "") for r in later)
    assert "is not a channel" in command(bot, "/pmbot", "digest now please")["text"]
    for wrong in ("digest", "digest later", "digest now <#C0RANDOM|random> <#C0GENERAL|general>"):
        assert "`/pmbot digest now [#channel]`" in command(bot, "/pmbot", wrong)["text"]
    assert "Did you mean `/pmbot digest now [#channel]`" in command(bot, "/pmbot", "digets now")["text"]
    from bot.commands.pmbot import SPEC

    assert "`/pmbot digest now [#channel]` — the stakeholder digest as of now" in SPEC.help_text()
    assert pngs(bot) == []


def test_the_narrative_comes_from_the_llm_which_never_sees_pii(bot_factory, clock: MovableClock) -> None:
    stub = LlmStub()
    try:
        bot = clock.drive(bot_factory(openai_api_key="sk-test-stub", openai_base_url=stub.base_url,
                                      pmbot_llm_model="stub-model"))
        stub.mode, stub.grade = "good", 1
        command(bot, "/bug", "Customer jane.doe@example.com saw card 4111 1111 1111 1111 in another chat")
        command(bot, "/risk", "Vendor may retire our fine-tuned model p=4 i=5 owner=<@U0BOB|bob>")
        stub.text = "Delivery is on track, but one critical bug needs attention this week."
        before = len(stub.requests)
        _, later = digest_now(bot)
        text = digest_answer(later)["text"]
        assert text.endswith("*In short*\nDelivery is on track, but one critical bug needs attention this week.")
        [request] = stub.requests[before:]
        sent = json.dumps(request)
        assert "project digest" in sent and "<facts>" in sent and "R-1" in sent and "score" in sent
        for secret in ("jane.doe", "4111", "1111 1111", "bob", "U0BOB"):  # redaction keeps "••••@example.com"
            assert secret not in sent, secret
        # The LLM failing: the template writes it, and the digest still arrives.
        stub.mode = "error"
        _, later = digest_now(bot)
        assert "*In short*\nThe team logged 1 new bug (1 critical) and closed 0." in digest_answer(later)["text"]
    finally:
        stub.stop()


def test_a_digest_with_everything_at_its_longest_stays_within_slacks_message_limits() -> None:
    long = "x" * 200
    numbers = {
        "as_of": NOW.isoformat(), "since": (NOW - timedelta(days=7)).isoformat(), "since_last": False,
        "today": "2026-11-20", "period_start_day": "2026-11-13", "sections": list(service.SECTIONS),
        "counts": {"incidents": 500, "incidents_ongoing": 400, "budget": 300, "budget_private": 30, "blockers": 999},
        "risks": {"top": [{"id": f"R-{n}", "title": long, "owner": long, "score": 25, "was": 9, "change": "up"}
                          for n in range(5)], "closed_since": [f"R-{n}" for n in range(10, 40)], "scores": {}},
        "bugs": {"opened": {str(g): 99 for g in range(1, 6)}, "closed": {str(g): 99 for g in range(1, 6)},
                 "oldest_critical": {"id": "B-1", "title": long, "opened": "2026-01-01T00:00:00+00:00",
                                     "age_days": 323}},
        "incidents": [{"id": f"INC-{n}", "title": long, "grade": 1, "status": "investigating",
                       "declared_at": NOW.isoformat(), "resolved_at": None, "minutes": 5000, "ongoing": True,
                       "actions_open": 3, "actions_done": 4} for n in range(10)],
        "budget": [{"name": long, "currency": "USD", "amount": "1000", "spent": "1000" if n == 0 else "900",
                    "percent": "90%",
                    "forecast": "1200", "forecast_percent": "120%", "forecast_reliable": True,
                    "runs_out": "2026-11-25", "period_start": "2026-11-01", "period_end": "2026-11-30"}
                   for n in range(10)],
        "quality": {"model": long, "version": long, "metrics": [
            {"name": long, "value": "1 %", "target": "≤ 5 %", "status": "pass"} for _ in range(30)]},
        "blockers": [{"who": long, "what": long, "since": "2026-11-01", "days": 19} for _ in range(10)],
    }
    text, blocks_ = service.render(numbers, "y" * 5000)
    assert text.startswith("Project digest")
    assert len(blocks_) <= 50
    # Section text and context elements alike: Slack counts every character of the message's blocks.
    sizes = [len(b.get("text", {}).get("text", "")) + sum(len(e.get("text", "")) for e in b.get("elements", []))
             for b in blocks_]
    assert max(sizes) <= 3000 and sum(sizes) <= 12_000, sizes
    assert any(b["type"] == "context" for b in blocks_)
    assert "more not shown here" in text
    assert text.count("the budget is used up") == 1 and "runs out on 25 Nov 2026 at this rate" in text


# --- the second read's defects (issue #23 point 4) ---------------------------------------------------------------


def test_only_a_workspace_admin_posts_in_a_channel_and_private_budgets_are_never_shown(bot: RunningBot) -> None:
    bot.sandbox.add_channel("G0SECRET", "secret-plans", members={"U0ALICE", "U0PMBOT"}, is_private=True)
    command(bot, "/budget", "set 10000 USD month")  # #general: public
    command(bot, "/budget", "set 7777 EUR month", channel="G0SECRET")
    # bob is no admin: he may preview it, not post it anywhere.
    _, later = digest_now(bot, "now <#C0RANDOM|random>", user="U0BOB")
    assert any("Only workspace admins can post the project digest" in r.get("text", "") for r in later)
    assert [m for m in bot.sandbox.messages if m["text"].startswith("Project digest")] == [] and pngs(bot) == []
    _, later = digest_now(bot, user="U0BOB")  # bob's preview (he is not in #secret-plans)
    text = digest_answer(later)["text"]
    assert "• #general: spent 0.00 USD of 10,000.00 USD" in text
    assert "secret-plans" not in text and "7,777" not in text and "7777" not in text
    assert "• 1 budget of private channels is not shown in a digest." in text
    # alice is an admin: she posts it; the private budget stays out of the posted digest too.
    _, later = digest_now(bot, "now <#C0RANDOM|random>")
    [posted] = [m for m in bot.sandbox.messages if m["channel"] == "C0RANDOM" and m["text"].startswith("Project")]
    assert "secret-plans" not in dump(posted) and "7,777" not in dump(posted)
    assert "• 1 budget of private channels is not shown in a digest." in posted["text"]
    digest = service.build(bot.runtime.deps, team_id=TEAM, sections=["budget"], now=NOW)
    assert "secret-plans" not in dump(digest.figures) and "7777" not in dump(digest.figures)


def test_a_message_posted_without_its_one_pager_is_told_apart(bot: RunningBot) -> None:
    bot.sandbox.fail("files.getUploadURLExternal", status=200, error="invalid_arguments")
    _, later = digest_now(bot, "now <#C0GENERAL|general>")
    assert [m for m in bot.sandbox.messages if m["channel"] == "C0GENERAL" and m["text"].startswith("Project")]
    answers = [r.get("text", "") for r in later]
    assert any("Posted the project digest in <#C0GENERAL>, but the one-pager could not be attached (Slack said "
               "`invalid_arguments`)" in a for a in answers), answers
    assert not any("I can't post" in a for a in answers) and pngs(bot) == []


def test_a_preview_arrives_when_slack_cannot_be_reached_for_the_one_pager(bot: RunningBot, monkeypatch) -> None:
    from bot.errors import IntegrationUnavailable

    def unreachable(user: str) -> str:  # the port's answer when Slack is not reachable at all (no HTTP answer)
        raise IntegrationUnavailable("Slack could not be reached (conversations.open).")

    monkeypatch.setattr(bot.runtime.deps.slack, "open_dm", unreachable)
    _, later = digest_now(bot)
    answer = digest_answer(later)
    assert "I could not send you the one-pager by direct message (Slack could not be reached)" in dump(answer)
    assert pngs(bot) == []


def test_the_llm_never_sees_a_mentioned_person(bot_factory, clock: MovableClock) -> None:
    stub = LlmStub()
    try:
        bot = clock.drive(bot_factory(openai_api_key="sk-test-stub", openai_base_url=stub.base_url,
                                      pmbot_llm_model="stub-model"))
        stub.mode, stub.grade = "good", 1
        command(bot, "/risk", "Ask <@U0CARLOS|carlos> and <@U0BOB> about GPU quotas p=2 i=3 owner=<@U0ALICE|alice>")
        seed_incident(bot, "Paged <@U0CARLOS> at night", grade=2, declared=at(19), resolved=None)
        stub.text = "Steady week."
        before = len(stub.requests)
        _, later = digest_now(bot)
        text = digest_answer(later)["text"]
        assert "R-1 Ask @carlos and @bob about GPU quotas" in text  # people see the names
        [request] = stub.requests[before:]
        sent = json.dumps(request)
        assert "Ask a team member and a team member about GPU quotas" in sent
        assert "Paged a team member at night" in sent
        for name in ("carlos", "bob", "alice", "U0CARLOS", "U0BOB", "U0ALICE"):
            assert name not in sent, name
    finally:
        stub.stop()


def test_counts_are_the_real_totals_and_more_is_said_only_beyond_the_shown(bot: RunningBot) -> None:
    for n in range(10):
        seed_incident(bot, f"Outage {n}", grade=3, declared=at(14, n), resolved=at(14, n, 30))
    _, later = digest_now(bot)
    text = digest_answer(later)["text"]
    assert "There were 10 incidents, all resolved." in text
    assert "are shown" not in text and "not shown here" not in text  # exactly ten: all of them are shown
    seed_incident(bot, "Outage 10", grade=2, declared=at(15), resolved=None)
    seed_incident(bot, "Outage 11", grade=2, declared=at(16), resolved=None)
    seed_blockers(bot)
    with session_scope(bot.runtime.deps.engine) as session:
        [standup] = session.exec(select(Standup)).all()
        for n in range(11):  # 12 old blockers in all with bob's
            session.add(StandupBlocker(standup_id=standup.id, user_id="U0CARLOS", text=f"blocked {n}",
                                       first_day=date(2026, 11, 13), last_day=date(2026, 11, 19)))
    _, later = digest_now(bot)
    text = digest_answer(later)["text"]
    assert "_…and 2 earlier not shown here: the latest 10 are shown._" in text
    assert "Outage 0 " not in text and "Outage 1 " not in text and "Outage 11" in text
    assert "There were 12 incidents, 2 still ongoing." in text
    assert "_…and 2 more not shown here: the oldest 10 are shown._" in text
    assert "12 stand-up blockers have been open for more than three days." in text
    facts = service.content.llm_facts(service.build(bot.runtime.deps, team_id=TEAM, sections=service.SECTIONS,
                                                    now=NOW).figures)
    counts = json.loads(facts)["counts"]
    assert counts["incidents"] == 12 and counts["incidents_ongoing"] == 2 and counts["blockers"] == 12


def test_dates_are_the_teams_days(bot_factory, clock: MovableClock) -> None:
    from matplotlib.dates import date2num
    from matplotlib.figure import Figure

    from bot.digest import onepager

    bot = clock.drive(bot_factory(pmbot_timezone="Asia/Tokyo"))
    seed_bug(bot, "Checkout fails for gift cards", grade=1, created=datetime(2026, 11, 2, 23, 30, tzinfo=UTC))
    seed_incident(bot, "Late-night outage", grade=2, declared=datetime(2026, 11, 19, 16, 0, tzinfo=UTC),
                  resolved=None)
    _, later = digest_now(bot)
    text = digest_answer(later)["text"]
    assert "(reported 03 Nov 2026)" in text  # 08:30 on 3 Nov in Tokyo
    digest = service.build(bot.runtime.deps, team_id=TEAM, sections=service.SECTIONS, now=NOW)
    figure = Figure()
    onepager.draw(figure, digest.figures)
    incidents = figure.axes[3]
    label = incidents.xaxis.get_major_formatter()(date2num(datetime(2026, 11, 19, 16, 0, tzinfo=UTC)))
    assert label == "20 Nov"  # 01:00 on 20 Nov in Tokyo


def test_a_baseline_without_risks_marks_no_risk_new_and_a_first_digest_covers_the_plans_period(
        bot: RunningBot, clock: MovableClock) -> None:
    command(bot, "/risk", "Vendor may retire our fine-tuned model p=4 i=5 owner=<@U0BOB|bob>")
    deps = bot.runtime.deps
    budget_only = service.build(deps, team_id=TEAM, sections=["budget"], now=NOW, audience_key="plan:7")
    service.remember(deps, budget_only, audience_key="plan:7", now=NOW)
    clock.now = NOW + timedelta(days=1)
    both = service.build(deps, team_id=TEAM, sections=["risks", "budget"], now=clock.now, audience_key="plan:7")
    assert "• R-1 Vendor may retire our fine-tuned model — owner bob — score 20" in both.text
    assert "(new)" not in both.text and "up from" not in both.text
    monthly = service.build(deps, team_id=TEAM, sections=["bugs"], now=NOW, audience_key="plan:8", period_days=30)
    assert "Covers 21 Oct 2026 – 20 Nov 2026: the last 30 days (no earlier digest)." in monthly.text
    daily = service.build(deps, team_id=TEAM, sections=["bugs"], now=NOW, audience_key="plan:8", period_days=1)
    assert "Covers 19 Nov 2026 – 20 Nov 2026: the last day (no earlier digest)." in daily.text
    default = service.build(deps, team_id=TEAM, sections=["bugs"], now=NOW, audience_key="plan:8")
    assert "the last 7 days (no earlier digest)" in default.text


def test_blockers_are_aged_in_their_standups_zone(bot: RunningBot) -> None:
    with session_scope(bot.runtime.deps.engine) as session:
        standup = Standup(team_id=TEAM, channel_id="C0GENERAL", members=["U0BOB"], time="09:30",
                          timezone="Pacific/Auckland", workdays=[0, 1, 2, 3, 4], questions=["Blockers?"],
                          created_by="U0ALICE", created_at=at(1))
        session.add(standup)
        session.flush()
        # 12:00 UTC on 20 Nov is 01:00 on 21 Nov in Auckland: a blocker first told there on 17 Nov is 4 days old.
        session.add(StandupBlocker(standup_id=standup.id, user_id="U0BOB", text="waiting for the vendor's keys",
                                   first_day=date(2026, 11, 17), last_day=date(2026, 11, 20)))
    _, later = digest_now(bot)
    assert "• bob: waiting for the vendor's keys — since 17 Nov 2026 (4 days)" in digest_answer(later)["text"]


def test_the_one_pager_draws_the_bugs_not_graded_yet() -> None:
    from matplotlib.figure import Figure

    from bot.digest import onepager

    numbers = {"as_of": NOW.isoformat(), "since": (NOW - timedelta(days=7)).isoformat(), "today": "2026-11-20",
               "period_start_day": "2026-11-13", "sections": ["bugs"],
               "bugs": {"opened": {**{str(g): 0 for g in range(1, 6)}, "ungraded": 3},
                        "closed": {str(g): 0 for g in range(1, 6)}, "oldest_critical": None}}
    figure = Figure()
    onepager.draw(figure, numbers)
    bugs = figure.axes[0]
    assert [t.get_text() for t in bugs.get_xticklabels()][-1] == "not graded"
    assert sum(p.get_height() for p in bugs.patches) == 3


def test_old_digest_figures_are_purged_but_each_audiences_latest_is_kept(bot: RunningBot) -> None:
    from bot.jobs import housekeeping

    deps = bot.runtime.deps
    digest = service.build(deps, team_id=TEAM, sections=["bugs"], now=NOW)
    for audience, days_ago in (("plan:1", 200), ("plan:1", 100), ("plan:1", 10), ("plan:2", 150), ("plan:2", 120)):
        service.remember(deps, digest, audience_key=audience, now=NOW - timedelta(days=days_ago))
    result = housekeeping.run(deps, now=NOW)
    assert "3 digest snapshots" in result
    left = sorted((s.audience_key, (NOW - s.taken_at).days) for s in snapshots(bot))
    assert left == [("plan:1", 10), ("plan:2", 120)]


def test_the_period_counts_of_bugs_read_their_own_indexes(engine) -> None:
    """EXPLAIN of the digest's two bug counts uses ix_bug_team_created_grade / ix_bug_team_closed_grade (not a
    scan of the team's whole index), on SQLite and PostgreSQL."""
    from sqlalchemy import event, insert, text

    from storage import digests as repo
    from storage.models import Bug

    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [{"team_id": f"T{n % 4}", "readable_id": f"B-{n}", "delivery_key": f"k{n}", "channel_id": "C1",
             "reporter_id": "U1", "title": "t", "text": "t", "details": {}, "pii": [], "reasons": [], "status": "open",
             "grade": n % 5 + 1, "created_at": start + timedelta(minutes=n),
             "closed_at": start + timedelta(minutes=n + 5) if n % 3 == 0 else None} for n in range(4000)]
    captured: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:
        if "count(" in statement.lower():
            captured.append((statement, parameters))

    with session_scope(engine) as session:
        session.execute(insert(Bug), rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE bug"))
    event.listen(engine, "before_cursor_execute", keep)
    try:
        with session_scope(engine) as session:
            repo.bugs_opened_by_grade(session, team_id="T1", start=start + timedelta(days=1),
                                      end=start + timedelta(days=2))
            repo.bugs_closed_by_grade(session, team_id="T1", start=start + timedelta(days=1),
                                      end=start + timedelta(days=2))
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    [(opened, opened_args), (closed, closed_args)] = captured
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        plans = [" ".join(str(cell) for row in conn.exec_driver_sql(explain + sql, args).all() for cell in row)
                 for sql, args in ((opened, opened_args), (closed, closed_args))]
    assert "ix_bug_team_created_grade" in plans[0], plans[0]
    assert "ix_bug_team_closed_grade" in plans[1], plans[1]
