"""comms_digest: every few minutes, post the project digest of each comms plan whose slot has come (its cadence's
day, from its team-local time to the end of that day) — to its channel, or by DM to each member of its user group,
the members read from Slack at send time.

Each plan's slot is claimed once (`claimed_on` moves to the slot's day), so any number of schedulers post it once,
and the digest is built once for that claim. Every recipient has its own ledger row for the slot, inserted before
the post: a Slack failure that passes gives back only that recipient's row and the slot's claim, and the run asks to
be tried again (RetryLater); the next run posts to those still missing only. A recipient Slack refuses for good is
logged and skipped. Once every recipient is served, the figures are remembered as the plan's baseline.

A slot missed while the bot was down is posted late, once, the same day; a slot of an earlier day is never caught up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.comms.service import USERGROUP, cadence_of
from bot.digest import service as digest_service
from bot.digest.service import Digest
from bot.domain.due import Slot, due_slot
from bot.errors import IntegrationUnavailable, SlackError
from bot.gateways.slack import is_transient
from bot.installs import still_installed
from bot.jobs.base import LATER, REFUSED, SENT, RetryLater, ScheduleRef, claim_step, cron_slots, give_back, send
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
# A recipient Slack failed for a reason that passes is tried again while the slot's day lasts, but not in its last
# minutes: a try then could not be given back and tried once more.
LAST_TRY_MARGIN = timedelta(minutes=5)
LEDGER_KEPT = timedelta(days=35)  # who got each slot's digest, kept a while for questions, then dropped

slots = cron_slots
SERVED = "served"  # a recipient the ledger says was posted to already (by an earlier try)


def run(deps: Deps, *, now: datetime, schedule: ScheduleRef | None = None) -> str:
    with session_scope(deps.engine) as session:
        plans = repo.active_plans(session)
        for plan in plans:
            session.expunge(plan)
    with session_scope(deps.engine) as session:  # a slot's ledger matters only while its day lasts
        repo.purge_deliveries(session, before=now.date() - LEDGER_KEPT)
    digests = sent = refused = waiting = 0
    for plan in still_installed(deps, plans):  # an uninstalled team hears nothing more
        try:
            done = _run_plan(deps, plan, now)
        except Exception:
            logger.exception("comms_digest failed for plan %s", plan.id)
            continue
        if done is not None:
            digests += 1
            sent, refused, waiting = sent + done[SENT], refused + done[REFUSED], waiting + done[LATER]
    text = f"{digests} digests, {sent} posts" + (f", {refused} refused" if refused else "")
    if waiting:
        raise RetryLater(f"{text}, {waiting} waiting for Slack")
    return text


def due(plan: CommsPlan, now: datetime, deps: Deps) -> Slot | None:
    """The plan's slot of today (team-local) if it is due at `now`: its cadence falls on today and its time has come
    (until the day ends), and it was not set up after it."""
    zone = team_zone(deps, plan.team_id)
    cadence = cadence_of(plan)
    if not cadence.falls_on(now.astimezone(zone).date(), plan.anchor_on):
        return None
    slot = due_slot(now, at=cadence.at, zone=zone)
    return slot if slot is not None and slot.start >= plan.created_at else None


def _run_plan(deps: Deps, plan: CommsPlan, now: datetime) -> dict[str, int] | None:
    """Post the plan's due slot, if this run claims it: what became of its recipients, or None when nothing was due
    (or another run has it)."""
    slot = due(plan, now, deps)
    if slot is None or not claim_step(deps, CommsPlan.claimed_on, row_id=plan.id, value=slot.day, since=slot.day):
        return None
    key = f"plan:{plan.id}"
    outcomes = {SENT: 0, REFUSED: 0, LATER: 0, SERVED: 0}
    try:
        recipients = _recipients(deps, plan)
    except (SlackError, IntegrationUnavailable) as exc:
        if not is_transient(exc):
            logger.warning("comms plan %s: the user group %s cannot be read (%s); skipped", plan.id, plan.audience_id,
                           getattr(exc, "code", "unreachable"))
            outcomes[REFUSED] += 1
            return outcomes
        recipients, outcomes[LATER] = [], 1
    if recipients:
        digest = digest_service.build(deps, team_id=plan.team_id, sections=plan.sections or digest_service.SECTIONS,
                                      now=now, audience_key=key)
        for recipient in recipients:
            outcomes[_deliver(deps, plan, slot, recipient, digest, now)] += 1
    if outcomes[LATER] and now < slot.end - LAST_TRY_MARGIN:
        give_back(deps, CommsPlan.claimed_on, row_id=plan.id, claimed=slot.day, previous=plan.claimed_on)
        return outcomes
    if outcomes[LATER]:
        logger.error("comms plan %s: %s recipients not served on %s, Slack kept failing", plan.id, outcomes[LATER],
                     slot.day)
    if recipients:
        digest_service.remember(deps, digest, audience_key=key, now=now)
    return outcomes


def _recipients(deps: Deps, plan: CommsPlan) -> list[str]:
    """The channel, or the user group's members as Slack has them now."""
    if plan.audience_kind != USERGROUP:
        return [plan.audience_id]
    return list(dict.fromkeys(deps.slack.usergroup_members(plan.audience_id)))


def _deliver(deps: Deps, plan: CommsPlan, slot: Slot, recipient: str, digest: Digest, now: datetime) -> str:
    """Post to one recipient once: SENT, REFUSED (kept, not tried again), LATER (given back), or SENT without a post
    when the ledger says it was served already (a retry)."""
    with session_scope(deps.engine) as session:
        if not repo.claim_recipient(session, plan_id=plan.id, slot_on=slot.day, recipient=recipient, now=now):
            return SERVED
    dm = plan.audience_kind == USERGROUP

    def post() -> None:
        channel = deps.slack.open_dm(recipient) if dm else recipient
        digest_service.post(deps, digest, channel)

    outcome = send(f"comms plan {plan.id}'s digest to {recipient}", post)
    with session_scope(deps.engine) as session:
        if outcome == LATER:
            repo.release_recipient(session, plan_id=plan.id, slot_on=slot.day, recipient=recipient)
        else:
            repo.settle_recipient(session, plan_id=plan.id, slot_on=slot.day, recipient=recipient, outcome=outcome,
                                  now=now)
    return outcome
