"""comms_digest: every few minutes, post the project digest of each comms plan whose slot has come (its cadence's
day at its team-local time, and for LATE_LIMIT after it, across midnight if need be) — to its channel, or by DM to
each member of its user group, the members read from Slack at send time.

Each plan's slot is claimed once (`claimed_on` moves to the slot's day, `claimed_at` says since when a run works on
it: a lease), so any number of schedulers post it once. A run that fails or is killed after its claim gives the
claim back (or its lease runs out), and a later run takes the slot again. The digest is built once per slot and kept
(`comms_slot`) until the slot is settled, so every recipient and every retry shows the same figures.

Every recipient has its own ledger row for the slot, made before the post, and two steps: the message (the row
becomes `posted`, with its ts), then the one-pager (`sent`). A Slack failure that passes keeps the row where it is
and gives the slot's claim back; the run asks to be tried again (RetryLater), and the next run does only the missing
step. A message whose answer was lost (a timeout after Slack stored it) is looked for in the channel by its metadata
before it is posted again. A recipient Slack refuses for good is logged and skipped; when the audience itself is
refused for good (the channel archived, the group gone) the plan is paused and its creator told, once. The figures
are remembered as the plan's baseline once at least one recipient got the digest.

A slot not posted by LATE_LIMIT after its time is missed: logged, and the plan's creator told; slots of earlier days
are never caught up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.comms.service import USERGROUP, audience_key, describe, recent_slots
from bot.digest import service as digest_service
from bot.digest.service import Digest
from bot.domain.due import Slot
from bot.errors import IntegrationUnavailable, SlackError
from bot.gateways.slack import is_transient
from bot.installs import still_installed
from bot.jobs.base import LATER, REFUSED, SENT, RetryLater, ScheduleRef, cron_slots, send
from bot.team_locale import team_zone
from storage import comms as repo
from storage.db import session_scope
from storage.models import CommsPlan

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

NAME = "comms_digest"
SUMMARY = "each comms plan's project digest at its team-local time, to its channel or by DM to its group's members"
DEFAULT_CRON = "*/5 * * * *"
LEASE = timedelta(minutes=30)  # a claim this old, never settled, is a run that died: another run takes the slot
LEASE_RENEWAL = 20  # recipients between two renewals of the lease (a group of hundreds takes longer than LEASE)
LEDGER_KEPT = timedelta(days=35)  # who got each slot's digest, kept a while for questions, then dropped
LOOK_BACK = timedelta(minutes=5)  # before a slot's time, how far back a lost message is looked for
# The digest's "since" period by cadence, in days.
PERIOD_DAYS = {"daily": 1, "weekly": 7, "biweekly": 14, "monthly": 30}

slots = cron_slots
SERVED = "served"  # a recipient the ledger says was posted to already (by an earlier try)
SKIPPED = "skipped"  # a recipient Slack refused for good on an earlier try


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    with session_scope(deps.engine) as session:
        plans = repo.active_plans(session)
        for plan in plans:
            session.expunge(plan)
    with session_scope(deps.engine) as session:  # indexed by day: cheap on every run
        repo.purge_deliveries(session, before=now.date() - LEDGER_KEPT)
    digests = sent = refused = waiting = failed = 0
    for plan in still_installed(deps, plans):  # an uninstalled team hears nothing more
        try:
            done = _run_plan(deps, plan, now)
        except Exception:
            logger.exception("comms_digest failed for plan %s; its slot is given back", plan.id)
            failed += 1
            continue
        if done is not None:
            digests += 1
            sent, refused, waiting = sent + done[SENT], refused + done[REFUSED], waiting + done[LATER]
    text = f"{digests} digests, {sent} posts" + (f", {refused} refused" if refused else "")
    if failed:
        raise RuntimeError(f"{text}; {failed} plans failed and will be tried again")
    if waiting:
        raise RetryLater(f"{text}, {waiting} waiting for Slack")
    return text


def due(plan: CommsPlan, now: datetime, deps: Deps) -> Slot | None:
    """The plan's slot that is due at `now`: its time has come less than LATE_LIMIT ago (yesterday's late slot
    included), and it was not set up after it."""
    open_now = [s for s in recent_slots(plan, now, team_zone(deps, plan.team_id)) if s.open_at(now)]
    return open_now[-1] if open_now else None


def _run_plan(deps: Deps, plan: CommsPlan, now: datetime) -> dict[str, int] | None:
    """Post the plan's due slot, if this run claims it: what became of its recipients, or None when nothing was due
    (or another run has it)."""
    slot = due(plan, now, deps)
    if slot is None:
        _note_missed(deps, plan, now)
        return None
    # The lease runs on the clock, not on the run's slot time (a catch-up run's `now` may be long past); its start
    # is this run's token: renewing, giving back and settling touch the slot only while it is still this run's.
    lease = _Lease(deps.clock())
    with session_scope(deps.engine) as session:
        if not repo.claim_slot(session, plan_id=plan.id, slot_on=slot.day, now=lease.held, lease=LEASE):
            return None
    previous = plan.claimed_on if plan.claimed_on != slot.day else None
    try:
        outcomes = _serve(deps, plan, slot, now, lease)
    except BaseException:
        _give_back(deps, plan, slot, lease, previous)
        raise
    if lease.lost:
        return outcomes  # another run took the slot over: what is left is its to do
    if outcomes[LATER]:
        _give_back(deps, plan, slot, lease, previous)
    else:
        with session_scope(deps.engine) as session:
            repo.settle_slot(session, plan_id=plan.id, slot_on=slot.day, held=lease.held)
    return outcomes


class _Lease:
    """This run's hold on a slot: when it was last taken or renewed, and whether another run has taken it over."""

    def __init__(self, held: datetime):
        self.held = held
        self.lost = False

    def renew(self, deps: Deps, plan: CommsPlan, slot: Slot) -> bool:
        now = deps.clock()
        with session_scope(deps.engine) as session:
            kept = repo.renew_lease(session, plan_id=plan.id, slot_on=slot.day, held=self.held, now=now)
        if kept:
            self.held = now
        else:
            self.lost = True
            logger.warning("comms plan %s: the slot of %s was taken over by another run; this one stops", plan.id,
                           slot.day)
        return kept


def _give_back(deps: Deps, plan: CommsPlan, slot: Slot, lease: _Lease, previous: object) -> None:
    with session_scope(deps.engine) as session:
        repo.give_back_slot(session, plan_id=plan.id, slot_on=slot.day, held=lease.held,
                            previous=previous)  # type: ignore[arg-type]


def _serve(deps: Deps, plan: CommsPlan, slot: Slot, now: datetime, lease: _Lease) -> dict[str, int]:
    outcomes = {SENT: 0, REFUSED: 0, LATER: 0, SERVED: 0, SKIPPED: 0}
    try:
        recipients = _recipients(deps, plan)
    except (SlackError, IntegrationUnavailable) as exc:
        if is_transient(exc):
            outcomes[LATER] = 1
        else:
            outcomes[REFUSED] = 1
            _audience_refused(deps, plan, getattr(exc, "code", "unreachable"))
        return outcomes
    if not recipients:
        logger.warning("comms plan %s: %s has no members; nobody got the digest of %s", plan.id, plan.audience_name,
                       slot.day)
        return outcomes
    key = audience_key(plan)
    digest = _slot_digest(deps, plan, slot, now, key)
    for n, recipient in enumerate(recipients, start=1):
        outcomes[_deliver(deps, plan, slot, recipient, digest, now)] += 1
        if n % LEASE_RENEWAL == 0 and n < len(recipients) and not lease.renew(deps, plan, slot):
            return outcomes
    if plan.audience_kind != USERGROUP and outcomes[REFUSED]:
        _audience_refused(deps, plan, "the channel refused it")
    if outcomes[LATER] == 0 and outcomes[SENT] + outcomes[SERVED] > 0:
        # The baseline is the moment the figures were taken (a retry's digest was built by an earlier try), so the
        # next digest's period starts where this one's ended.
        digest_service.remember(deps, digest, audience_key=key, now=datetime.fromisoformat(digest.figures["as_of"]))
    return outcomes


def _slot_digest(deps: Deps, plan: CommsPlan, slot: Slot, now: datetime, key: str) -> Digest:
    """The slot's digest: the one an earlier try built, else built now and kept for the slot's retries."""
    with session_scope(deps.engine) as session:
        kept = repo.kept_digest(session, plan_id=plan.id, slot_on=slot.day)
    if kept is None:
        digest = digest_service.build(deps, team_id=plan.team_id, sections=plan.sections or digest_service.SECTIONS,
                                      now=now, audience_key=key, period_days=PERIOD_DAYS.get(plan.cadence))
        with session_scope(deps.engine) as session:
            repo.keep_digest(session, plan_id=plan.id, slot_on=slot.day, now=now, digest=repo.KeptDigest(
                digest.text, digest.blocks, digest.figures, digest.png))
            kept = repo.kept_digest(session, plan_id=plan.id, slot_on=slot.day)  # the first one kept wins
    assert kept is not None
    return Digest(team_id=plan.team_id, text=kept.text, blocks=kept.blocks, png=kept.png, figures=kept.figures)


def _recipients(deps: Deps, plan: CommsPlan) -> list[str]:
    """The channel, or the user group's members as Slack has them now."""
    if plan.audience_kind != USERGROUP:
        return [plan.audience_id]
    return list(dict.fromkeys(deps.slack.usergroup_members(plan.audience_id)))


def _deliver(deps: Deps, plan: CommsPlan, slot: Slot, recipient: str, digest: Digest, now: datetime) -> str:
    """Bring one recipient to SENT, doing only the steps the ledger says are missing (the message, the one-pager):
    SENT, REFUSED (kept, not tried again), LATER (kept where it is, tried again), SERVED or SKIPPED (settled by an
    earlier try)."""
    with session_scope(deps.engine) as session:
        row = repo.take_recipient(session, plan_id=plan.id, slot_on=slot.day, recipient=recipient, now=now)
    if row.outcome == repo.SENT:
        return SERVED
    if row.outcome == repo.REFUSED:
        return SKIPPED
    what = f"comms plan {plan.id}'s digest to {recipient}"
    where: list[str] = []

    def channel() -> str:
        if not where:
            where.append(deps.slack.open_dm(recipient) if plan.audience_kind == USERGROUP else recipient)
        return where[0]

    if row.outcome == repo.SENDING:
        posted: list[str] = []
        # A row made by an earlier try may have reached Slack with its answer lost: look for it before posting.
        look_back_to = None if row.fresh else slot.start - LOOK_BACK

        def message() -> None:
            posted.append(digest_service.post_message(deps, digest, channel(), key=f"{audience_key(plan)}:{slot.day}",
                                                      look_back_to=look_back_to))

        outcome = send(f"{what} (message)", message)
        if outcome != SENT:
            return _settle(deps, plan, slot, recipient, outcome, now)
        with session_scope(deps.engine) as session:
            repo.mark_posted(session, plan_id=plan.id, slot_on=slot.day, recipient=recipient, ts=posted[0], now=now)
    outcome = send(f"{what} (one-pager)", lambda: digest_service.post_onepager(deps, digest, channel()))
    if outcome == REFUSED:
        logger.warning("%s: the message is there, the one-pager was refused; counted as sent", what)
        outcome = SENT
    return _settle(deps, plan, slot, recipient, outcome, now)


def _settle(deps: Deps, plan: CommsPlan, slot: Slot, recipient: str, outcome: str, now: datetime) -> str:
    if outcome != LATER:  # LATER keeps the row where it is: the next try does the missing step
        with session_scope(deps.engine) as session:
            repo.settle_recipient(session, plan_id=plan.id, slot_on=slot.day, recipient=recipient, outcome=outcome,
                                  now=now)
    return outcome


def _note_missed(deps: Deps, plan: CommsPlan, now: datetime) -> None:
    """A slot whose LATE_LIMIT ran out unposted is missed: taken without a post, logged, its creator told (once)."""
    passed = [s for s in recent_slots(plan, now, team_zone(deps, plan.team_id)) if s.closed_at(now)]
    if not passed or (plan.claimed_on is not None and plan.claimed_on >= passed[-1].day):
        return
    slot = passed[-1]
    with session_scope(deps.engine) as session:
        if not repo.mark_slot_taken(session, plan_id=plan.id, slot_on=slot.day):
            return
        repo.settle_slot(session, plan_id=plan.id, slot_on=slot.day, held=None)
        got, tried = repo.reached(session, plan_id=plan.id, slot_on=slot.day)
    when = f"{slot.start.astimezone(team_zone(deps, plan.team_id)):%a %d %b %H:%M}"
    if got:  # part of the audience has it: say how far it got, not that it was missed
        logger.warning("comms plan %s: the digest of %s reached %s of %s recipients by %s", plan.id, slot.day, got,
                       tried, slot.end)
        _tell_creator(deps, plan, f"The project digest of comms plan {plan.id} ({describe(plan)}) due {when} "
                                  f"reached {got} of {tried} recipients; Slack kept failing for the others for "
                                  f"{_hours(slot)} hours, so they are skipped this time. The next one goes out as "
                                  "planned.")
        return
    logger.warning("comms plan %s: the digest of %s was missed (not posted by %s)", plan.id, slot.day, slot.end)
    _tell_creator(deps, plan, f"The project digest of comms plan {plan.id} ({describe(plan)}) due {when} was "
                              f"missed: it could not be posted within {_hours(slot)} hours, so it is skipped; the "
                              "next one goes out as planned.")


def _hours(slot: Slot) -> int:
    return int((slot.end - slot.start).total_seconds() // 3600)


def _audience_refused(deps: Deps, plan: CommsPlan, why: str) -> None:
    """The plan's audience refuses the digest for good: pause the plan and tell its creator, once."""
    with session_scope(deps.engine) as session:
        if not repo.pause_plan(session, plan_id=plan.id):
            return
    logger.warning("comms plan %s: Slack refused its audience for good (%s); the plan is paused", plan.id, why)
    _tell_creator(deps, plan, f"Comms plan {plan.id} ({describe(plan)}) is paused: Slack refused the digest for "
                              f"good ({why}). Fix that (invite me, unarchive the channel, restore the group), "
                              f"then `/pmbot comms resume {plan.id}`.")


def _tell_creator(deps: Deps, plan: CommsPlan, text: str) -> None:
    try:
        deps.slack.post_in_channel(deps.slack.open_dm(plan.created_by), text=text)
    except (SlackError, IntegrationUnavailable) as exc:
        logger.warning("comms plan %s: could not tell %s (%s): %s", plan.id, plan.created_by,
                       getattr(exc, "code", "unreachable"), text)
