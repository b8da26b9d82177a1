"""Incident use cases: declare and open the war room (resumable), run it, resolve it, and drills.

Every step of opening a war room is stored as soon as it is done (the channel id first of all), so a
Slack retry, a double submit or a crash half-way resumes where it stopped instead of starting again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from bot.bugs import service as bug_service
from bot.deps import Deps
from bot.domain import incident as incident_rules
from bot.domain.pii import redact
from bot.domain.text import escape_user_text, from_slack, readable, truncate
from bot.errors import NameTaken, NotAllowed, NotFound, SlackError, UserInputError
from bot.incidents import actions as follow_ups
from bot.incidents import blocks as inc_blocks
from bot.incidents import paging
from bot.mirror import links, outbox
from bot.mirror.links import is_jira_key
from bot.settings import responders_by_grade
from storage import jira as jira_repo
from storage.bugs import get_bug, record_llm_usage
from storage.db import session_scope
from storage.incidents import (
    add_event,
    add_tasks,
    create_incident,
    get_incident,
    incident_by_id,
    incident_in_channel,
    mark_task_done,
    set_if,
    tasks,
    timeline,
)
from storage.models import Incident, IncidentTask
from storage.risks import RiskFilter, get_risk, list_risks
from storage.work import add_work

logger = logging.getLogger(__name__)

NAME_ATTEMPTS = 20


@dataclass(frozen=True)
class Declared:
    incident: Incident
    created: bool
    work_id: int  # the queued opening of the war room


# The queue's work for a declared incident: open its war room, step by step (see `open_war_room`).
WORK = "incident.open"


def declare(deps: Deps, *, team_id: str, channel_id: str, user_id: str, delivery_key: str, title: str, grade: int,
            bug_id: str | None = None, versions: dict[str, str] | None = None, drill: bool = False,
            scenario: str | None = None, reply_to: dict[str, str] | None = None,
            invitees: list[str] | None = None, also_invite: list[str] | None = None) -> Declared:
    """Store the incident and the work of opening its war room (fast, before the ack); one per Slack delivery.
    `reply_to` is how that work reaches the person who declared it; `invitees`, when given, who the war room
    invites instead of the declarer and the grade's responders (a scheduled drill's named participants);
    `also_invite`, people invited besides those (the *Declare incident* form's): kept as chosen and expanded with
    the responders by the queued work (`open_war_room`), so nothing here asks Slack anything."""
    now = deps.clock()
    clean_title = redact(title).text
    page_id = None
    with session_scope(deps.engine) as session:
        incident, created = create_incident(
            session, team_id=team_id, delivery_key=delivery_key, title=truncate(clean_title, 200), grade=grade,
            drill=drill, scenario=scenario, origin_channel=channel_id, declared_by=user_id, commander_id=user_id,
            bug_id=bug_id, versions={k: redact(v).text for k, v in (versions or {}).items() if v},
            declared_at=now, next_update_due=now + incident_rules.UPDATE_INTERVAL[grade])
        if created:
            what = f"{'Drill' if drill else 'Incident'} declared (grade {grade}): {incident.title}"
            add_event(session, incident=incident, at=now, kind="declared", text=what, user_id=user_id)
            outbox.record(session, deps, incident, "create")
            page_id = paging.queue_page(session, deps, incident, now, reply_to=reply_to)  # sent after the ack
        payload = {**(reply_to or {}), **({"invite": list(invitees)} if invitees else {}),
                   **({"also_invite": list(also_invite)} if also_invite else {})}
        work_id = add_work(session, team_id=team_id, kind=WORK, ref_id=incident.id, now=now, payload=payload)
    paging.kick(deps, page_id)
    return Declared(incident, created, work_id)


def open_war_room(deps: Deps, incident_id: int, team_id: str, invitees: list[str] | None = None,
                  also_invite: list[str] | None = None) -> Incident:
    """Channel, topic, invites, pinned runbook, announcement: each done once, each stored when done. `invitees`:
    who to invite instead of the declarer and the grade's responders; `also_invite`: who besides them (see
    `declare`)."""
    incident = get(deps, team_id, incident_id)
    if incident.channel_id is None:
        incident = _create_channel(deps, incident)
    if not incident.topic_set:
        deps.slack.set_topic(incident.channel_id, inc_blocks.topic(incident, deps.names))
        deps.slack.set_purpose(incident.channel_id, inc_blocks.purpose(incident, deps.names))
        incident = _store(deps, incident, topic_set=True)
    if not incident.invited:
        people = list(invitees) if invitees else _responders(deps, incident)
        invite(deps, incident, list(dict.fromkeys([*people, *(also_invite or [])])))
        incident = _store(deps, incident, invited=True)
    if incident.runbook_ts is None:
        incident = _post_runbook(deps, incident)
    if not incident.drill and incident.announcement_ts is None:
        incident = _announce(deps, incident)
    if incident.drill and incident.next_inject == 0:
        post_due_injects(deps, incident, deps.clock())
    if incident.bug_id:
        _tell_bug(deps, incident, incident.bug_id, incident.declared_by, declared=True)
    return incident


def get(deps: Deps, team_id: str, incident_id: int) -> Incident:
    with session_scope(deps.engine) as session:
        incident = incident_by_id(session, team_id=team_id, incident_id=incident_id)
        if incident is None:
            raise NotFound("That incident no longer exists.")
        return incident


def _store(deps: Deps, incident: Incident, *, mirror: tuple[tuple[str, dict], ...] = (), **values) -> Incident:
    """Save values on the incident, and (in the same transaction) what Jira should hear about it."""
    with session_scope(deps.engine) as session:
        row = incident_by_id(session, team_id=incident.team_id, incident_id=incident.id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        for op, payload in mirror:
            outbox.record(session, deps, row, op, **payload)
        return row


def _create_channel(deps: Deps, incident: Incident) -> Incident:
    number = int(incident.readable_id.split("-")[1])
    prefix = "drill" if incident.drill else "inc"
    day = incident.declared_at.date()
    for attempt in range(NAME_ATTEMPTS):
        name = incident_rules.channel_name(prefix=prefix, day=day, number=number, title=incident.title, attempt=attempt)
        try:
            channel_id = deps.slack.create_channel(name)
        except NameTaken:
            continue  # archived channels keep their names: try the next suffix
        # Stored before anything else, so a retry finds the room instead of making a second one.
        return _store(deps, incident, channel_id=channel_id, channel_name=name)
    raise UserInputError(f"Could not find a free channel name for {incident.readable_id} after {NAME_ATTEMPTS} "
                         "tries; archive or rename old incident channels.")


def _responders(deps: Deps, incident: Incident) -> list[str]:
    """The declarer, the grade's responders (user groups expanded) and, for grade 1, legal/compliance."""
    configured = responders_by_grade(deps.settings.pmbot_incident_responders)
    refs = configured.get(str(incident.grade), []) + configured.get("*", [])
    if incident.grade == 1 and not incident.drill:
        refs += deps.settings.pmbot_legal_contacts.replace(",", " ").split()
    people = [incident.declared_by]
    for ref in refs:
        if ref.startswith("S"):
            try:
                people += deps.slack.usergroup_members(ref)
            except SlackError as exc:
                logger.warning("user group %s cannot be read: %s", ref, exc.code)
        else:
            people.append(ref)
    return list(dict.fromkeys(people))


def responders(deps: Deps, incident: Incident) -> list[str]:
    """Who the war room invites: the declarer and the grade's responders (user groups expanded)."""
    return _responders(deps, incident)


def invite(deps: Deps, incident: Incident, people: list[str]) -> None:
    """Invite each person; one who cannot be invited (gone, already in) does not stop the others."""
    for user_id in people:
        try:
            deps.slack.invite(incident.channel_id, user_id)
        except SlackError as exc:
            if exc.code not in ("already_in_channel", "cant_invite_self"):
                logger.warning("could not invite %s to %s: %s", user_id, incident.channel_name, exc.code)


def _post_runbook(deps: Deps, incident: Incident) -> Incident:
    with session_scope(deps.engine) as session:
        add_tasks(session, incident_id=incident.id,
                  items=[(item.key, item.text) for item in incident_rules.RUNBOOKS[incident.grade]])
        items = tasks(session, incident_id=incident.id)
    text, parts = inc_blocks.runbook(incident, items)
    posted = deps.slack.post_message(incident.channel_id, text=text, blocks=parts)
    incident = _store(deps, incident, runbook_ts=posted.ts)
    try:
        deps.slack.pin(incident.channel_id, posted.ts)
    except SlackError as exc:
        logger.warning("could not pin the runbook of %s: %s", incident.readable_id, exc.code)
    return incident


def _announce(deps: Deps, incident: Incident) -> Incident:
    ref = deps.settings.pmbot_incident_channel
    if not ref:
        return incident
    try:
        channel = deps.slack.resolve_channel(ref)
    except SlackError as exc:
        logger.warning("incident channel %s cannot be looked up: %s", ref, exc.code)
        return incident
    if channel is None:
        logger.warning("incident channel %s does not exist", ref)
        return incident
    text, parts = inc_blocks.announcement(incident)
    posted = deps.slack.post_in_channel(channel, text=text, blocks=parts)
    return _store(deps, incident, announcement_channel=posted.channel, announcement_ts=posted.ts)


# --- finding the incident a command is about --------------------------------------------------------


def find(deps: Deps, *, team_id: str, channel_id: str, readable_id: str | None = None) -> Incident:
    with session_scope(deps.engine) as session:
        if readable_id:
            incident = get_incident(session, team_id=team_id, readable_id=readable_id)
            if incident is None:
                raise NotFound(f"There is no incident {truncate(readable_id, 20)} here. `/incident list` shows them.")
            return incident
        incident = incident_in_channel(session, team_id=team_id, channel_id=channel_id)
    if incident is None:
        raise UserInputError("This is not an incident channel. Run it in the war room, or name the incident: "
                             "`/incident INC-3 status`.")
    return incident


def require_lead(deps: Deps, incident: Incident, user_id: str, what: str) -> None:
    if user_id in (incident.commander_id, incident.scribe_id):
        return
    if deps.slack.is_workspace_admin(user_id):
        return
    raise NotAllowed(f"Only the commander or the scribe can {what} {incident.readable_id}. Ask them, or ask "
                     "the commander to make you scribe.")


def _acknowledge(session, incident: Incident, now: datetime) -> None:
    set_if(session, incident.id, Incident.acknowledged_at.is_(None), acknowledged_at=now)


def _log(deps: Deps, incident: Incident, kind: str, text: str, user_id: str | None, *,
         at: datetime | None = None, source_ts: str | None = None, acknowledge: bool = True) -> bool:
    now = deps.clock()
    with session_scope(deps.engine) as session:
        added = add_event(session, incident=incident, at=at or now, kind=kind, text=text, user_id=user_id,
                          source_ts=source_ts) is not None
        if added and acknowledge and user_id:
            _acknowledge(session, incident, now)
    return added


def _say(deps: Deps, incident: Incident, text: str) -> None:
    """A line in the war room (a drill's lines say so)."""
    if incident.channel_id and not incident.archived:
        try:
            deps.slack.post_message(incident.channel_id, text=inc_blocks.mark(incident, text))
        except SlackError as exc:
            logger.warning("could not post in %s: %s", incident.channel_name, exc.code)


def refresh(deps: Deps, incident: Incident) -> None:
    """Topic, runbook and announcement show the incident as it is now."""
    incident = get(deps, incident.team_id, incident.id)
    # (what the log calls it, the call): each drawn now, each sent even when an earlier one fails.
    calls: list[tuple[str, Callable[[], None]]] = []
    if incident.channel_id and not incident.archived:
        calls.append(("conversations_setTopic", partial(deps.slack.set_topic, incident.channel_id,
                                                        inc_blocks.topic(incident, deps.names))))
        if incident.runbook_ts:
            with session_scope(deps.engine) as session:
                items = tasks(session, incident_id=incident.id)
            text, parts = inc_blocks.runbook(incident, items)
            calls.append(("chat_update", partial(deps.slack.update_message, incident.channel_id, incident.runbook_ts,
                                                 text=text, blocks=parts)))
    if incident.announcement_ts:
        text, parts = inc_blocks.announcement(incident, jira=outbox.link_of(deps, incident))
        calls.append(("chat_update", partial(deps.slack.update_message, incident.announcement_channel,
                                             incident.announcement_ts, text=text, blocks=parts)))
    for method, send in calls:
        try:
            send()
        except SlackError as exc:
            logger.warning("%s for %s failed: %s", method, incident.readable_id, exc.code)


# --- running it -------------------------------------------------------------------------------------


def set_role(deps: Deps, incident: Incident, *, user_id: str, person: str, role: str) -> Incident:
    if role not in incident_rules.ROLES:
        raise UserInputError(f"Roles are {', '.join(incident_rules.ROLES)}: `/incident role @maria scribe`.")
    require_lead(deps, incident, user_id, "hand out roles in")
    column = f"{role}_id"
    before = getattr(incident, column)
    if before == person:
        raise UserInputError(f"<@{person}> is the {role} already.")
    mirror = (("assign", {}),) if role == "commander" else ()  # the commander answers for its Jira twin
    incident = _store(deps, incident, mirror=mirror, **{column: person})
    _log(deps, incident, "role", f"{role}: {'<@' + before + '>' if before else 'nobody'} → <@{person}>", user_id)
    invite(deps, incident, [person])
    _say(deps, incident, f"👤 <@{person}> is now the {role} (set by <@{user_id}>).")
    refresh(deps, incident)
    return incident


def note(deps: Deps, incident: Incident, *, user_id: str, text: str) -> None:
    clean = _clean(text, "Write the note after the command: `/incident note rolled back to v12 at 14:05`.")
    _log(deps, incident, "note", clean, user_id)


def post_update(deps: Deps, incident: Incident, *, user_id: str, text: str) -> None:
    """A status update: in the war room and the announcement's thread; the reminder clock restarts."""
    clean = _clean(text, "Write the update after the command: `/incident update cause found, rolling back`.")
    now = deps.clock()
    with session_scope(deps.engine) as session:
        row = incident_by_id(session, team_id=incident.team_id, incident_id=incident.id)
        assert row is not None
        row.next_update_due = now + incident_rules.UPDATE_INTERVAL[row.grade]
        row.first_update_at = row.first_update_at or now
        session.add(row)
        add_event(session, incident=row, at=now, kind="update", text=clean, user_id=user_id)
        outbox.record(session, deps, row, "comment", text=f"Status update ({row.status}): {clean}")
        _acknowledge(session, row, now)
        incident = row
    message = f"📣 *Status update* ({incident.readable_id}, {incident.status}) from <@{user_id}>: " \
              f"{escape_user_text(clean)}"
    _say(deps, incident, message)
    if incident.announcement_ts:
        try:
            deps.slack.post_message(incident.announcement_channel, thread_ts=incident.announcement_ts, text=message)
        except SlackError as exc:
            logger.warning("could not post the update in the announcement thread: %s", exc.code)


def _clean(text: str, hint: str) -> str:
    clean = redact(text.strip()).text
    if len(clean) < 2:
        raise UserInputError(hint)
    return truncate(clean, 3000)


def complete_task(deps: Deps, *, team_id: str, incident_id: int, task_id: int, user_id: str) -> bool:
    """Mark a runbook step done (once); the rollback step marks the incident mitigated."""
    now = deps.clock()
    with session_scope(deps.engine) as session:
        incident = incident_by_id(session, team_id=team_id, incident_id=incident_id)
        if incident is None:
            raise NotFound("That incident no longer exists.")
        items = {t.id: t for t in tasks(session, incident_id=incident_id)}
        task = items.get(task_id)
        if task is None or not mark_task_done(session, task_id=task_id, user_id=user_id, at=now):
            return False
        add_event(session, incident=incident, at=now, kind="task", text=f"done: {task.text}", user_id=user_id)
        _acknowledge(session, incident, now)
        mitigated = task.key == "rollback" and set_if(
            session, incident.id, Incident.mitigated_at.is_(None) & (Incident.status == "investigating"),
            mitigated_at=now, status="mitigated")
        if mitigated:
            add_event(session, incident=incident, at=now, kind="status", text="investigating → mitigated",
                      user_id=user_id)
            outbox.record(session, deps, incident, "comment", text="Status: investigating → mitigated.")
    refresh(deps, incident)
    if mitigated:
        paging.acknowledge_page(deps, incident)
    return True


def link(deps: Deps, incident: Incident, *, user_id: str, target: str) -> str:
    """Link a bug or a risk (checked to exist), or a Jira key or URL; what was done, in words. A Jira key
    becomes the incident's Jira twin (labels, comments, status kept in step) when Jira is set up and the
    incident has none yet; otherwise it is a related link, like the rest (they go in the post-mortem)."""
    if deps.jira is not None and is_jira_key(target) and not incident.drill and target[:2] not in ("B-", "R-"):
        twin = outbox.link_of(deps, incident)
        with session_scope(deps.engine) as session:
            taken = jira_repo.link_by_key(session, team_id=incident.team_id, jira_key=target)
        if taken is not None and (twin is None or taken.id != twin.id):
            _add_link(deps, incident, target, user_id)
            return f"{target} is {taken.readable_id}'s Jira twin, so it is linked here as related (it goes in the " \
                   "post-mortem)."
        if twin is None:
            made = links.link_existing(deps, incident, target)
            _log(deps, incident, "link", f"Jira twin {made.jira_key}", user_id)
            _say(deps, incident, f"🔗 <@{user_id}> made Jira {made.jira_key} this incident's twin: status, "
                                 "updates and the resolution are kept in step there.")
            refresh(deps, incident)
            return f"{incident.readable_id} is now mirrored to Jira {made.jira_key}."
        if twin.jira_key != target:
            _add_link(deps, incident, target, user_id)
            return (f"{incident.readable_id}'s Jira twin is {twin.jira_key}, so {target} is linked as related "
                    "(it goes in the post-mortem).")
    _add_link(deps, incident, target, user_id)
    return f"{incident.readable_id} is linked to {target}."


def _tell_bug(deps: Deps, incident: Incident, readable_id: str, user_id: str | None, *, declared: bool) -> None:
    """Link an incident and a bug both ways: a timeline entry naming the bug (once: claimed on the entry), the
    bug's card showing the incident (from then on, like `/bug show`), and a line in the card's thread."""
    with session_scope(deps.engine) as session:
        bug = get_bug(session, team_id=incident.team_id, readable_id=readable_id)
    if bug is None:
        return
    where = _permalink(deps, bug.message_channel, bug.message_ts)
    text = f"{'Declared from' if declared else 'Linked to'} bug {bug.readable_id}: {bug.title}" + (
        f" — {where}" if where else "")
    if not _log(deps, incident, "bug", truncate(text, 1000), user_id, source_ts=f"bug:{bug.readable_id}",
                acknowledge=False):
        return  # told already (a resumed war room)
    if not (bug.message_channel and bug.message_ts):
        return
    room = f" — war room <#{incident.channel_id}>" if incident.channel_id else ""
    said = (f"Incident {incident.readable_id} declared from this bug" if declared
            else f"Linked to incident {incident.readable_id}")
    try:
        bug_service.redraw(deps, bug)
        deps.slack.post_message(bug.message_channel, thread_ts=bug.message_ts, text=f"🚨 {said}{room}.")
    except SlackError as exc:
        logger.warning("could not tell the card of %s about %s: %s", bug.readable_id, incident.readable_id, exc.code)


def _permalink(deps: Deps, channel: str | None, ts: str | None) -> str | None:
    if not (channel and ts):
        return None
    try:
        return deps.slack.permalink(channel, ts)
    except SlackError as exc:
        logger.info("no permalink for %s/%s: %s", channel, ts, exc.code)
        return None


def _bugs_of(deps: Deps, incident: Incident) -> list:
    wanted = [incident.bug_id] if incident.bug_id else []
    wanted += [str(x) for x in incident.links or [] if str(x).startswith("B-")]
    with session_scope(deps.engine) as session:
        found = [get_bug(session, team_id=incident.team_id, readable_id=b) for b in dict.fromkeys(wanted)]
    return [b for b in found if b is not None]


def _redraw_bugs(deps: Deps, incident: Incident) -> None:
    """The cards of the bugs linked show the incident's status as it is now."""
    for bug in _bugs_of(deps, incident):
        try:
            bug_service.redraw(deps, bug)
        except SlackError as exc:
            logger.warning("could not redraw the card of %s: %s", bug.readable_id, exc.code)


def linked_bugs(deps: Deps, incident: Incident) -> list[str]:
    """The bugs an incident came from or was linked to, open or closed."""
    return [b.readable_id for b in _bugs_of(deps, incident)]


def open_bugs(deps: Deps, incident: Incident) -> list[str]:
    """The bugs an incident came from or was linked to that are still open (resolving offers to close them)."""
    return [b.readable_id for b in _bugs_of(deps, incident) if b.status == "open"]


def _add_link(deps: Deps, incident: Incident, target: str, user_id: str) -> Incident:
    with session_scope(deps.engine) as session:
        if target.startswith("B-") and get_bug(session, team_id=incident.team_id, readable_id=target) is None:
            raise NotFound(f"There is no bug {target} here.")
        if target.startswith("R-") and get_risk(session, team_id=incident.team_id, readable_id=target) is None:
            raise NotFound(f"There is no risk {target} here.")
    if target in (incident.links or []) or target == incident.bug_id:
        raise UserInputError(f"{incident.readable_id} is linked to {target} already.")
    incident = _store(deps, incident, links=[*(incident.links or []), target])
    if target.startswith("B-"):
        _tell_bug(deps, incident, target, user_id, declared=False)
    else:
        _log(deps, incident, "link", f"linked {target}", user_id)
    return incident


def set_versions(deps: Deps, incident: Incident, *, user_id: str, values: dict[str, str]) -> Incident:
    versions = {**(incident.versions or {}), **{k: redact(v).text[:120] for k, v in values.items()}}
    incident = _store(deps, incident, versions=versions)
    _log(deps, incident, "versions", ", ".join(f"{k} = {v}" for k, v in values.items()), user_id)
    refresh(deps, incident)
    return incident


def change_grade(deps: Deps, incident: Incident, *, user_id: str, grade: int) -> Incident:
    require_lead(deps, incident, user_id, "change the grade of")
    if grade == incident.grade:
        raise UserInputError(f"{incident.readable_id} is grade {grade} already.")
    before = incident.grade
    incident = _store(deps, incident, grade=grade, next_update_due=deps.clock() + incident_rules.UPDATE_INTERVAL[grade],
                      mirror=(("fields", {}), ("comment", {"text": f"Grade changed in Slack: {before} → {grade}."})))
    _log(deps, incident, "grade", f"grade {before} → {grade}", user_id)
    _say(deps, incident, f"Grade changed {before} → {grade} by <@{user_id}>.")
    refresh(deps, incident)
    paging.page_now(deps, incident, user_id=user_id)  # a grade that pages, reached now
    return incident


def snooze(deps: Deps, *, team_id: str, incident_id: int, user_id: str) -> Incident:
    incident = get(deps, team_id, incident_id)
    return _store(deps, incident, next_update_due=deps.clock() + incident_rules.SNOOZE)


def remind(deps: Deps, incident: Incident, now: datetime) -> bool:
    """Remind the commander once per overdue interval (claimed on next_update_due, so a missed run catches up
    and a second run does not repeat it)."""
    with session_scope(deps.engine) as session:
        claimed = set_if(session, incident.id, Incident.next_update_due == incident.next_update_due,
                         next_update_due=now + incident_rules.UPDATE_INTERVAL[incident.grade])
    if not claimed:
        return False
    text, parts = inc_blocks.reminder(incident)
    deps.slack.tell_privately(incident.commander_id, None, text=text, blocks=parts)
    return True


# --- resolve, reopen, archive ----------------------------------------------------------------------


def open_steps(deps: Deps, incident: Incident) -> list[IncidentTask]:
    """The runbook steps nobody has ticked yet."""
    with session_scope(deps.engine) as session:
        return [t for t in tasks(session, incident_id=incident.id) if t.done_at is None]


def resolve(deps: Deps, incident: Incident, *, user_id: str, summary: str, skipped: bool = False) -> Incident:
    """Resolve it; `skipped`: the person confirmed resolving with runbook steps still open, which are recorded
    (on the timeline and in the post-mortem)."""
    require_lead(deps, incident, user_id, "resolve")
    if incident.status == "resolved":
        raise UserInputError(f"{incident.readable_id} is resolved already; `/incident reopen` if it is back.")
    now = deps.clock()
    archive_in = timedelta(hours=deps.settings.pmbot_incident_archive_after_hours)
    with session_scope(deps.engine) as session:
        if not set_if(session, incident.id, Incident.status != "resolved", status="resolved", resolved_at=now,
                      resolution=redact(summary.strip()).text or None, archive_after=now + archive_in):
            raise UserInputError(f"{incident.readable_id} is resolved already.")
        row = incident_by_id(session, team_id=incident.team_id, incident_id=incident.id)
        assert row is not None
        session.refresh(row)
        outbox.record(session, deps, row, "fields")
        outbox.record(session, deps, row, "close", text="Resolved in Slack" +
                      (f": {row.resolution}" if row.resolution else "."))
    incident = get(deps, incident.team_id, incident.id)
    skipped_steps = _record_skipped(deps, incident, user_id, now) if skipped else 0
    paging.resolve_page(deps, incident)
    _log(deps, incident, "resolved", incident.resolution or "resolved", user_id)
    _say_resolved(deps, incident, user_id, skipped_steps)
    refresh(deps, incident)
    _redraw_bugs(deps, incident)
    incident = get(deps, incident.team_id, incident.id)  # acknowledged by the resolve itself (and the skipped steps)
    _postmortem(deps, incident)
    return incident


def _record_skipped(deps: Deps, incident: Incident, user_id: str, now: datetime) -> int:
    """Resolved anyway: the steps still open go on the timeline (and so in the post-mortem); how many."""
    still_open = open_steps(deps, incident)
    if still_open:
        with session_scope(deps.engine) as session:
            total = len(tasks(session, incident_id=incident.id))
        _log(deps, incident, "skipped", f"resolved with {len(still_open)} of {total} steps still open: "
             + "; ".join(t.text for t in still_open), user_id, at=now)
    return len(still_open)


def _say_resolved(deps: Deps, incident: Incident, user_id: str, skipped: int) -> None:
    """The resolve message in the war room; with a *Close B-n* button per linked bug still open."""
    if not incident.channel_id or incident.archived:
        return
    text, parts = inc_blocks.resolved(incident, user_id, skipped=skipped, open_bugs=open_bugs(deps, incident))
    try:
        deps.slack.post_message(incident.channel_id, text=text, blocks=parts)
    except SlackError as exc:
        logger.warning("could not post in %s: %s", incident.channel_name, exc.code)


def end_unattended(deps: Deps, incident: Incident, now: datetime) -> bool:
    """End a drill nobody acted in (claimed on its row: still running, still unacknowledged), with a scorecard
    that says so, in the drill room and where it was started."""
    minutes = deps.settings.pmbot_drill_unattended_minutes
    text = f"Nobody responded within {minutes} min; the drill ended by itself."
    archive_in = timedelta(hours=deps.settings.pmbot_incident_archive_after_hours)
    with session_scope(deps.engine) as session:
        if not set_if(session, incident.id, (Incident.status != "resolved") & Incident.acknowledged_at.is_(None)
                      & Incident.drill.is_(True), status="resolved", resolved_at=now, resolution=text,
                      archive_after=now + archive_in):
            return False
    incident = get(deps, incident.team_id, incident.id)
    _log(deps, incident, "unattended", text, None, at=now, acknowledge=False)
    _say(deps, incident, f"⏹ {text}")
    refresh(deps, incident)
    _postmortem(deps, incident)
    if incident.origin_channel != incident.channel_id:
        card = incident_rules.scorecard(_report(deps, incident)).text()
        try:
            deps.slack.post_message(incident.origin_channel, text=inc_blocks.mark(
                incident, f"{incident.readable_id} ended by itself: nobody responded within {minutes} min.\n{card}"))
        except SlackError as exc:
            logger.warning("could not tell %s that %s ended: %s", incident.origin_channel, incident.readable_id,
                           exc.code)
    return True


def _report(deps: Deps, incident: Incident) -> incident_rules.Report:
    """The post-mortem's facts, as a file reads them: people and channels by name, never as `<@U…>`."""
    with session_scope(deps.engine) as session:
        events = timeline(session, incident_id=incident.id)
        items = tasks(session, incident_id=incident.id)
        bug = get_bug(session, team_id=incident.team_id, readable_id=incident.bug_id) if incident.bug_id else None
    skipped = tuple(t.text for t in items if t.done_at is None) if any(e.kind == "skipped" for e in events) else ()

    def display(user_id: str | None) -> str:
        return "@" + (deps.names(user_id) or user_id) if user_id else "pmbot"

    def plain(text: str) -> str:
        return readable(text, deps.names)

    links = list(dict.fromkeys(([incident.bug_id] if incident.bug_id else []) + [str(x) for x in incident.links or []]
                               + _risks_linking(deps, incident)))
    return incident_rules.Report(
        readable_id=incident.readable_id, title=plain(incident.title), grade=incident.grade, drill=incident.drill,
        declared_at=incident.declared_at, acknowledged_at=incident.acknowledged_at,
        mitigated_at=incident.mitigated_at, resolved_at=incident.resolved_at,
        first_update_at=incident.first_update_at, commander=display(incident.commander_id),
        resolution=plain(incident.resolution or ""), versions=dict(incident.versions or {}), links=links,
        timeline=[incident_rules.TimelineEntry(e.at, display(e.user_id), e.kind, plain(e.text)) for e in events],
        tasks=[incident_rules.TaskState(t.key, plain(t.text), display(t.done_by) if t.done_by else None, t.done_at)
               for t in items],
        bug=f"{bug.readable_id}: {plain(bug.title)}" if bug else (incident.bug_id or ""),
        skipped=tuple(plain(t) for t in skipped),
        follow_ups=tuple(follow_ups.for_postmortem(deps, incident)))


def _risks_linking(deps: Deps, incident: Incident) -> list[str]:
    """Risks that named this incident with `/risk link R-n INC-m`."""
    with session_scope(deps.engine) as session:
        risks, _ = list_risks(session, team_id=incident.team_id, where=RiskFilter(status="all"))
    return [r.readable_id for r in risks if incident.readable_id in (r.links or [])]


def postmortem_updated(deps: Deps, incident_id: int, team_id: str, why: str) -> bool:
    """A resolved incident's post-mortem changed after it was drawn (a follow-up added, closed or reopened): the
    refreshed draft in its war room. False when the incident is not resolved (its post-mortem comes at resolve)."""
    incident = get(deps, team_id, incident_id)
    if incident.status != "resolved":
        return False
    _postmortem(deps, incident, updated=why)
    return True


def _postmortem(deps: Deps, incident: Incident, *, updated: str | None = None) -> None:
    report = _report(deps, incident)
    narrative = incident_rules.template_narrative(report)
    source = "a template (edit it)"
    if deps.narrator is not None and not incident.drill:
        facts = "\n".join(f"{e.at:%H:%M} {e.kind}: {e.text}" for e in report.timeline)
        outcome = deps.narrator(f"Title: {report.title}\nGrade: {report.grade}\n{facts}")
        if outcome.usage is not None:
            with session_scope(deps.engine) as session:
                u = outcome.usage
                record_llm_usage(session, team_id=incident.team_id, feature="postmortem", model=u.model,
                                 prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens,
                                 latency_ms=u.latency_ms, request_id=u.request_id, now=deps.clock())
        if outcome.text:
            narrative, source = redact(outcome.text).text, "the LLM (check it)"
        else:
            logger.info("post-mortem narrative for %s from the template: %s", incident.readable_id, outcome.failure)
    document = incident_rules.postmortem_markdown(report, narrative)
    summary = (f"📝 Post-mortem draft for {incident.readable_id}: time to acknowledge "
               f"{incident_rules.duration(report.declared_at, report.acknowledged_at)}, to mitigate "
               f"{incident_rules.duration(report.declared_at, report.mitigated_at)}, to resolve "
               f"{incident_rules.duration(report.declared_at, report.resolved_at)}. Narrative by {source}; the full "
               "draft with the timeline is attached.")
    if updated:
        summary = (f"📝 Post-mortem draft for {incident.readable_id} updated ({updated}); the new draft is attached, "
                   "the earlier one is out of date.")
    elif incident.drill:
        summary += "\n" + incident_rules.scorecard(report).text()
    _say(deps, incident, summary)
    try:
        deps.slack.upload_in_channel(incident.channel_id, content=document.encode(),
                                     filename=f"postmortem-{incident.readable_id}.md",
                                     title=f"Post-mortem {incident.readable_id}")
    except SlackError as exc:
        logger.warning("could not upload the post-mortem of %s: %s", incident.readable_id, exc.code)


def reopen(deps: Deps, incident: Incident, *, user_id: str) -> Incident:
    require_lead(deps, incident, user_id, "reopen")
    if incident.status != "resolved":
        raise UserInputError(f"{incident.readable_id} is still open.")
    if incident.archived:
        deps.slack.unarchive_channel(incident.channel_id)
    now = deps.clock()
    incident = _store(deps, incident, status="investigating", resolved_at=None, archive_after=None, archived=False,
                      next_update_due=now + incident_rules.UPDATE_INTERVAL[incident.grade],
                      mirror=(("fields", {}), ("reopen", {"text": "Reopened in Slack."})))
    _log(deps, incident, "reopened", "reopened", user_id)
    _say(deps, incident, f"↩️ {incident.readable_id} reopened by <@{user_id}>.")
    paging.page_again(deps, incident, user_id=user_id)  # it is back: the on-call hears it again
    refresh(deps, incident)
    _redraw_bugs(deps, incident)
    return incident


def archive(deps: Deps, incident: Incident) -> bool:
    with session_scope(deps.engine) as session:
        if not set_if(session, incident.id, Incident.archived.is_(False), archived=True):
            return False
    try:
        deps.slack.archive_channel(incident.channel_id)
    except SlackError as exc:
        if exc.code != "already_archived":
            logger.warning("could not archive %s: %s", incident.channel_name, exc.code)
    return True


# --- the timeline reaction -------------------------------------------------------------------------


def pin_to_timeline(deps: Deps, *, team_id: str, channel_id: str, ts: str, user_id: str) -> bool:
    """A message reacted to with the timeline emoji joins the timeline, at the time it was written."""
    with session_scope(deps.engine) as session:
        incident = incident_in_channel(session, team_id=team_id, channel_id=channel_id)
    if incident is None:
        return False
    text = _message_text(deps, channel_id, ts)
    if text is None:
        return False
    at = datetime.fromtimestamp(float(ts), UTC)
    return _log(deps, incident, "pinned", truncate(redact(text).text, 1000), user_id, at=at, source_ts=ts)


def add_message(deps: Deps, incident: Incident, *, text: str, user_id: str, at: datetime, ts: str | None) -> bool:
    """A message added to the timeline from anywhere (the *Add to incident timeline* shortcut), as a pin is: at the
    time it was written, once per message (`ts`); `text` is redacted already. False when it was there already.
    Adding a message, from anywhere, is not answering the incident: it does not count as its acknowledgement."""
    return _log(deps, incident, "pinned", text, user_id, at=at, source_ts=ts, acknowledge=False)


def _message_text(deps: Deps, channel_id: str, ts: str) -> str | None:
    history = deps.slack.history(channel_id, latest=ts, inclusive=True, limit=1)
    for message in history.get("messages") or []:
        if message.get("ts") == ts:
            return from_slack(message.get("text") or "")
    replies = deps.slack.replies(channel_id, ts, limit=1)
    for message in replies.get("messages") or []:
        if message.get("ts") == ts:
            return from_slack(message.get("text") or "")
    return None


# --- drills -----------------------------------------------------------------------------------------


def post_due_injects(deps: Deps, incident: Incident, now: datetime) -> int:
    """Post the scenario's injects that are due, each once (claimed on next_inject)."""
    scenario = incident_rules.SCENARIOS.get(incident.scenario or "")
    if scenario is None:
        return 0
    posted = 0
    position = incident.next_inject
    while position < len(scenario.injects) and incident.declared_at + scenario.injects[position].after <= now:
        with session_scope(deps.engine) as session:
            claimed = set_if(session, incident.id, Incident.next_inject == position, next_inject=position + 1)
        if claimed:
            inject = scenario.injects[position]
            _say(deps, incident, f"💬 Inject {position + 1}/{len(scenario.injects)}: {inject.text}")
            _log(deps, incident, "inject", inject.text, None, at=now, acknowledge=False)
            posted += 1
        position += 1
    return posted


def notify(deps: Deps, user_id: str, channel: str | None, text: str) -> None:
    deps.slack.tell_privately(user_id, channel, text=text)
