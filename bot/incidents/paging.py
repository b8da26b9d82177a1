"""Paging the on-call for serious incidents (PMBOT_PAGING_GRADES) through PagerDuty or Opsgenie.

A page is queued in the transaction that declares the incident (or, later, with the grade that makes it serious)
and sent after the ack by the durable work queue (bot/work.py): a service that is down or asks us to wait is tried
again with backoff, across restarts, and never holds up or fails the declaration. The incident's resolution
resolves (closes) the page, after the page itself went out. Drills never page.

What went out is on the incident's timeline, each once ("Paged the on-call via PagerDuty", "Page resolved"): the
entries are keyed, so a retried item does not page or resolve twice. A key the service refuses is told to the
admins once per key (an item of its own, keyed on a hash of the key), and `pmbot doctor` shows it until the key
changes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.deps import Deps
from bot.domain.text import escape_mrkdwn, escape_user_text, readable
from bot.errors import SlackError
from bot.gateways.paging import Page, Pager, PagingRefused, PagingUnavailable
from bot.settings import paging_grades
from bot.work import Kind, Retry, run_after_ack, tell_later
from storage.db import session_scope
from storage.incidents import add_event, incident_by_id, timeline
from storage.models import Incident, WorkItem
from storage.repos import team_settings
from storage.work import add_work, rearm_work, work_item

logger = logging.getLogger(__name__)

# Work kinds: the page, its acknowledgement (mitigated) and resolution, and the admins' notice of a refused key
# (ref_id: `refusal_ref`).
PAGE, ACK, UNPAGE, REFUSED = "incident.page", "incident.page_ack", "incident.unpage", "paging.refused"
# Timeline entries are keyed on these (the events' source_ts), so each is written once.
PAGED, ACKED, RESOLVED, FAILED = "page:trigger", "page:ack", "page:resolve", "page:refused"
MAX_WAIT_SECONDS = 3600.0


def pages(deps: Deps, incident: Incident) -> bool:
    """Whether this incident pages the on-call: paging is configured, it is real, and its grade is one that pages."""
    return (deps.pager is not None and not incident.drill
            and incident.grade in paging_grades(deps.settings.pmbot_paging_grades))


def queue_page(session, deps: Deps, incident: Incident, now: datetime, *,
               reply_to: dict[str, str] | None = None) -> int | None:
    """In the caller's transaction: the page of an incident that pages (one per incident); the item's id.
    `reply_to` is whom to tell, once, when the page cannot go out at once."""
    if not pages(deps, incident):
        return None
    return add_work(session, team_id=incident.team_id, kind=PAGE, ref_id=incident.id, now=now, payload=reply_to)


def page_now(deps: Deps, incident: Incident, *, user_id: str | None = None) -> None:
    """Page for an incident that became serious (its grade raised), unless it is resolved or was paged already."""
    if not pages(deps, incident) or incident.status == "resolved":
        return
    with session_scope(deps.engine) as session:
        item_id = queue_page(session, deps, incident, deps.clock(), reply_to={"user": user_id} if user_id else None)
    if item_id is not None:
        run_after_ack(deps, item_id)


def page_again(deps: Deps, incident: Incident, *, user_id: str | None = None) -> None:
    """A reopened incident that pages: trigger again with the same dedup key (PagerDuty and Opsgenie both open a new
    alert for a resolved key / closed alias). The marks of this reopening are its own (see `_generation`)."""
    if not pages(deps, incident):
        return
    reply_to = {"user": user_id} if user_id else None
    with session_scope(deps.engine) as session:
        item_id = add_work(session, team_id=incident.team_id, kind=PAGE, ref_id=incident.id, now=deps.clock(),
                           payload=reply_to)
        rearm_work(session, kind=PAGE, ref_id=incident.id, now=deps.clock(), payload=reply_to)
    run_after_ack(deps, item_id)


def kick(deps: Deps, item_id: int | None) -> None:
    """Send a page queued by `queue_page` now if this process has room (else a poller takes it within seconds)."""
    if item_id is not None:
        run_after_ack(deps, item_id)


def resolve_page(deps: Deps, incident: Incident) -> None:
    """The incident is resolved: resolve its page, if it was ever to be paged (the item waits for the page)."""
    _follow_up(deps, incident, UNPAGE)


def acknowledge_page(deps: Deps, incident: Incident) -> None:
    """The incident is mitigated: acknowledge its page, so the service stops escalating (PagerDuty; Opsgenie)."""
    _follow_up(deps, incident, ACK)


def _follow_up(deps: Deps, incident: Incident, kind: str) -> None:
    if deps.pager is None or incident.drill:
        return
    with session_scope(deps.engine) as session:
        if work_item(session, kind=PAGE, ref_id=incident.id) is None:
            return
        item_id = add_work(session, team_id=incident.team_id, kind=kind, ref_id=incident.id, now=deps.clock())
        rearm_work(session, kind=kind, ref_id=incident.id, now=deps.clock())  # resolved again after a reopening
    run_after_ack(deps, item_id)


def dedup_key(incident: Incident) -> str:
    """The page's key at the service: stable, and unique across the workspaces one pmbot serves."""
    return f"pmbot-{incident.team_id}-{incident.readable_id}"


def refusal_ref(pager: Pager) -> int:
    """The refused-key notice's ref_id: a hash of the service and key (fits a 32-bit column)."""
    return int(pager.fingerprint[:7], 16)


# --- the queued work ----------------------------------------------------------------------------------


def send_page(deps: Deps, item: WorkItem) -> None:
    """Trigger the page; a service that is down or busy means later (Retry), a refusal is told once."""
    pager, incident = deps.pager, _incident(deps, item)
    if pager is None or incident is None or incident.drill or PAGED in _marks(deps, incident):
        return
    again = _generation(deps, incident) > 0
    if incident.status == "resolved":
        logger.info("%s was resolved before its page went out: not paged", incident.readable_id)
        return
    try:
        pager.trigger(_page(deps, incident))
    except PagingUnavailable as exc:
        raise Retry(str(exc), after=_wait(exc.retry_after)) from None
    except PagingRefused as exc:
        _refused(deps, pager, incident, exc)
        return
    what = f"Paged the on-call again via {pager.name} (reopened)" if again else f"Paged the on-call via {pager.name}"
    if _mark(deps, incident, PAGED, what):
        _say(deps, incident, f"📟 {what}.")


def send_resolve(deps: Deps, item: WorkItem) -> None:
    """Resolve the page once it went out; when it never will (refused, or the incident resolved first), nothing."""
    _send_follow_up(deps, item, RESOLVED)


def send_acknowledge(deps: Deps, item: WorkItem) -> None:
    """Acknowledge the page once it went out, unless it is resolved by now."""
    _send_follow_up(deps, item, ACKED)


def _send_follow_up(deps: Deps, item: WorkItem, mark: str) -> None:
    pager, incident = deps.pager, _incident(deps, item)
    if pager is None or incident is None:
        return
    if mark == RESOLVED and incident.status != "resolved":
        return  # reopened before this ran: the page stays (a later resolve queues this again)
    marks = _marks(deps, incident)
    if mark in marks or RESOLVED in marks:
        return
    if PAGED not in marks:
        with session_scope(deps.engine) as session:
            page = work_item(session, kind=PAGE, ref_id=incident.id)
        if page is not None and page.done_at is None:
            raise Retry("the page itself is not delivered yet")
        return
    try:
        (pager.resolve if mark == RESOLVED else pager.acknowledge)(dedup_key(incident))
    except PagingUnavailable as exc:
        raise Retry(str(exc), after=_wait(exc.retry_after)) from None
    except PagingRefused as exc:
        _refused(deps, pager, incident, exc)
        return
    _mark(deps, incident, mark, "Page resolved" if mark == RESOLVED else "Page acknowledged (mitigated)")


def page_delayed(deps: Deps, item: WorkItem, why: str) -> None:
    """The page did not go out at first try: the person who declared (or raised) the incident hears it, once."""
    incident = _incident(deps, item)
    if incident is None or deps.pager is None:
        return
    tell_later(deps, item.payload or {}, channel=incident.channel_id or incident.origin_channel,
               text=f"📟 The on-call is not paged yet for {incident.readable_id}: {escape_mrkdwn(why)} I keep "
                    "trying; if it cannot wait, call them directly.")


def tell_refused(deps: Deps, item: WorkItem) -> None:
    """The admins' notice of a refused key (queued once per key)."""
    text = str((item.payload or {}).get("text") or "")
    if not text:
        return
    with session_scope(deps.engine) as session:
        own = team_settings(session, team_id=item.team_id)
    deps.slack.tell_admins(deps.settings, text, channel=own.admin_channel_id if own else None)


WORK = (Kind(PAGE, send_page, delayed=page_delayed), Kind(ACK, send_acknowledge), Kind(UNPAGE, send_resolve),
        Kind(REFUSED, tell_refused))


# --- helpers -----------------------------------------------------------------------------------------


def _incident(deps: Deps, item: WorkItem) -> Incident | None:
    with session_scope(deps.engine) as session:
        return incident_by_id(session, team_id=item.team_id, incident_id=item.ref_id)


def _generation(deps: Deps, incident: Incident) -> int:
    """How many times the incident was reopened: each reopening pages (and resolves) anew, with marks of its own."""
    with session_scope(deps.engine) as session:
        return sum(1 for e in timeline(session, incident_id=incident.id) if e.kind == "reopened")


def _suffix(generation: int) -> str:
    return f"#{generation}" if generation else ""


def _marks(deps: Deps, incident: Incident) -> set[str]:
    """The marks of the current opening (the first's keys are bare, a reopening's end in `#n`)."""
    with session_scope(deps.engine) as session:
        events = timeline(session, incident_id=incident.id)
    suffix = _suffix(sum(1 for e in events if e.kind == "reopened"))
    keys = {e.source_ts for e in events if e.source_ts and e.source_ts.startswith("page:")}
    if not suffix:
        return {k for k in keys if "#" not in k}
    return {k.removesuffix(suffix) for k in keys if k.endswith(suffix)}


def _mark(deps: Deps, incident: Incident, key: str, text: str) -> bool:
    """A timeline entry written once per opening (keyed); False when it was there already."""
    key += _suffix(_generation(deps, incident))
    with session_scope(deps.engine) as session:
        return add_event(session, incident=incident, at=deps.clock(), kind="page", text=text,
                         source_ts=key) is not None


def _page(deps: Deps, incident: Incident) -> Page:
    """The page in plain words (the title is stored redacted; mentions become names)."""
    def who(user_id: str | None) -> str:
        return "@" + (deps.names(user_id) or user_id) if user_id else "nobody"

    title = readable(incident.title, deps.names)
    room = f"#{incident.channel_name}" if incident.channel_name else "opening"
    details = {"incident": incident.readable_id, "grade": str(incident.grade), "status": incident.status,
               "commander": who(incident.commander_id), "declared by": who(incident.declared_by),
               "declared at": incident.declared_at.isoformat(), "war room": room}
    link = (f"https://slack.com/app_redirect?team={incident.team_id}&channel={incident.channel_id}"
            if incident.channel_id else None)
    description = (f"{incident.readable_id}, grade {incident.grade}: {title}\nDeclared in Slack by "
                   f"{who(incident.declared_by)}; commander {who(incident.commander_id)}; war room {room}.")
    return Page(dedup_key=dedup_key(incident), summary=f"{incident.readable_id} (grade {incident.grade}): {title}",
                grade=incident.grade, source=f"pmbot:{incident.team_id}", description=description, details=details,
                link=link, link_text=f"War room {room}", timestamp=incident.declared_at.isoformat())


def _refused(deps: Deps, pager: Pager, incident: Incident, exc: PagingRefused) -> None:
    """On the timeline and in the war room every time; to the admins once per key."""
    logger.error("paging %s via %s refused: %s", incident.readable_id, pager.name, exc)
    said = escape_user_text(str(exc))  # the service's words are text: no markup, no pings
    if not exc.key_refused:  # the key is fine: this page was rejected; the war room hears it once, doctor stays OK
        if _mark(deps, incident, FAILED, f"Paging via {pager.name} failed: {exc}"):
            _say(deps, incident, f"⚠️ Could not page the on-call via {pager.name}: {said} Call them another way.")
        return
    if _mark(deps, incident, FAILED, f"Paging via {pager.name} failed: {exc}"):
        _say(deps, incident, f"⚠️ Could not page the on-call via {pager.name}: {said} Call them another way; "
                             "the admins are told.")
    text = (f":warning: {said} Nobody was paged for {incident.readable_id} (grade {incident.grade}), and no page "
            f"will go out until {pager.key_setting} is fixed. `pmbot doctor` shows it until then.")
    with session_scope(deps.engine) as session:
        item_id = add_work(session, team_id=incident.team_id, kind=REFUSED, ref_id=refusal_ref(pager),
                           now=deps.clock(), payload={"text": text})
    run_after_ack(deps, item_id)


def _say(deps: Deps, incident: Incident, text: str) -> None:
    if incident.channel_id and not incident.archived:
        try:
            deps.slack.post_message(incident.channel_id, text=text)
        except SlackError as exc:
            logger.warning("could not post in %s: %s", incident.channel_name, exc.code)


def _wait(retry_after: float | None) -> float | None:
    return None if retry_after is None else max(1.0, min(retry_after, MAX_WAIT_SECONDS))
