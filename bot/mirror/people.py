"""Who is who on both sides: a Slack user's Jira account, found by the e-mail of their Slack profile, and a
Jira account's Slack user, found in that cache or by the e-mail Jira shows. Look-ups are cached per team
(`jira_person`); a miss is asked again after a day, a hit after thirty. No e-mail address is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from bot.errors import SlackError
from storage import jira as repo
from storage.db import session_scope

if TYPE_CHECKING:
    from bot.deps import Deps

logger = logging.getLogger(__name__)

MISS_TTL, HIT_TTL = timedelta(days=1), timedelta(days=30)


@dataclass(frozen=True)
class Match:
    account: str | None  # None: nobody in Jira has the Slack user's e-mail, or Slack did not tell it
    name: str | None
    cached: bool  # from an earlier look-up: a miss was said then, and need not be said again
    no_email: bool = False  # Slack gave no e-mail (the app lacks users:read.email): nothing to look up by


def jira_account_for(deps: Deps, team_id: str, slack_user: str) -> Match:
    """Who a Slack user is in Jira."""
    now = deps.clock()
    with session_scope(deps.engine) as session:
        known = repo.person(session, team_id=team_id, slack_user_id=slack_user)
        if known is not None and now - known.checked_at < (HIT_TTL if known.jira_account else MISS_TTL):
            return Match(known.jira_account, known.display_name, cached=True)
    try:
        email = _slack_email(deps, slack_user)
    except SlackError as exc:  # a passing failure is not a miss to remember for a day
        logger.warning("jira people: users.info %s failed: %s", slack_user, exc.code)
        return Match(None, None, cached=True)
    found = deps.jira.find_user(email) if email and deps.jira is not None else None
    account = (found.get("accountId") or found.get("name")) if found else None
    name = found.get("displayName") if found else None
    _remember(deps, team_id, slack_user, account, name)
    return Match(str(account) if account else None, name, cached=False, no_email=not email)


def slack_user_for(deps: Deps, team_id: str, account: str, email: str | None) -> str | None:
    """The Slack user of a Jira account: one we matched before, else the Slack user with the e-mail Jira
    shows (Cloud hides it unless the person allows it)."""
    with session_scope(deps.engine) as session:
        known = repo.person_by_account(session, team_id=team_id, account=account)
        if known is not None:
            return known.slack_user_id
    if not email:
        return None
    try:
        user = deps.slack.user_by_email(email)
    except SlackError as exc:
        if exc.code != "users_not_found":
            logger.warning("jira people: users.lookupByEmail failed: %s", exc.code)
        return None
    slack_user = user.get("id")
    if slack_user:
        _remember(deps, team_id, slack_user, account, None)
    return slack_user


def _slack_email(deps: Deps, slack_user: str) -> str | None:
    """The e-mail of the Slack profile; Slack leaves it out when the app lacks users:read.email."""
    user = deps.slack.user_info(slack_user)
    return (user.get("profile") or {}).get("email") or None


def _remember(deps: Deps, team_id: str, slack_user: str, account: str | None, name: str | None) -> None:
    try:
        with session_scope(deps.engine) as session:
            repo.remember_person(session, team_id=team_id, slack_user_id=slack_user, account=account,
                                 display_name=name, now=deps.clock())
    except IntegrityError:  # another worker remembered the same person a moment ago
        pass
