"""The App Home tab, and the hello pmbot says when it is added to a channel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot import blocks, home_dashboard
from bot.commands import risk as risk_command
from bot.commands import standup as standup_command
from bot.commands.pmbot import ACTION_HELP
from bot.deps import Deps
from bot.domain.text import escape_user_text
from bot.edge import Event, Reply, Request, on_action, on_event, on_view
from bot.errors import PmbotError, SlackError, UserInputError
from bot.installs import EVENTS as INSTALL_EVENTS
from bot.risks import blocks as risk_blocks
from bot.risks import service as risks
from bot.standups import blocks as su_blocks
from bot.standups import service as standups
from bot.team_locale import team_today
from storage.db import session_scope
from storage.incidents import incident_in_channel
from storage.standups import answer_of

logger = logging.getLogger(__name__)

# Every event the app subscribes to outside the command modules (the manifest reads this).
EVENTS = ("app_home_opened", "member_joined_channel", *INSTALL_EVENTS)


def register(app: App, deps: Deps) -> None:
    """Wire the events, and the Home's review buttons and the forms they open."""
    on_event(app, deps, "app_home_opened", on_home_opened)
    on_event(app, deps, "member_joined_channel", on_member_joined)
    on_action(app, deps, home_dashboard.ACTION_STILL_VALID, on_still_valid)
    on_action(app, deps, home_dashboard.ACTION_UPDATE, on_update)
    on_action(app, deps, home_dashboard.ACTION_CLOSE, on_close)
    on_view(app, deps, home_dashboard.VIEW_RISK_FORM, _then_publish(risk_command.on_form_submitted))
    on_view(app, deps, home_dashboard.VIEW_RISK_CLOSE, _then_publish(risk_command.on_close_submitted))
    on_action(app, deps, home_dashboard.ACTION_ANSWER, on_answer)
    on_view(app, deps, home_dashboard.VIEW_ANSWER, _then_publish(standup_command.on_answer_submitted))


def on_home_opened(event: Event, deps: Deps) -> None:
    """Publish the dashboard for the user who opened the Home tab (Bolt acked the event already)."""
    data = event.data
    if data.get("tab", "home") != "home" or not data.get("user"):
        return
    shown = data.get("view") if isinstance(data.get("view"), dict) else {}
    publish(deps, team_id=event.team_id, user_id=data["user"], hash=shown.get("hash") or None)


def publish(deps: Deps, *, team_id: str, user_id: str, hash: str | None = None) -> bool:  # noqa: A002
    """Build and publish one person's Home; False, logged, when Slack refused it. A dashboard that cannot be built
    (a bug of ours) leaves the command list in its place rather than an empty tab. With the shown view's `hash`,
    a Home published meanwhile (a button's refresh, built later) is kept: Slack refuses ours with hash_conflict."""
    try:
        view = home_dashboard.dashboard_view(deps, team_id=team_id, user_id=user_id)
    except Exception:
        logger.exception("the Home dashboard of %s could not be built; publishing the command list", user_id)
        view = home_view(deps)
    try:
        deps.slack.publish_home(user_id, view, hash=hash)
    except SlackError as exc:
        if exc.code == "hash_conflict":
            logger.info("the Home of %s was published again while this one was built; the newer one stays", user_id)
            return False
        logger.warning("views.publish for %s failed (%s): their Home stays as it was", user_id, exc.code)
        return False
    return True


def home_view(deps: Deps) -> dict[str, Any]:
    """The plain Home: what each command is for."""
    lines = "\n".join(f"• `{spec.name}` — {spec.summary}" for spec in deps.commands)
    return {
        "type": "home",
        "blocks": [
            blocks.header("pmbot — your AI project's day-to-day, in Slack"),
            *blocks.sections("*Commands*\n" + lines),
            blocks.context("Type `/pmbot help` in any channel for this list, `/pmbot status` for the bot's health."),
        ],
    }


# --- the review buttons on the Home: the risk's own handling, then the Home again -----------------------------


def _risk_id(request: Request) -> int:
    if not request.value.isdigit():
        raise UserInputError("That button belongs to a Home I no longer understand; open the Home tab again.")
    return int(request.value)


def _from_home(request: Request, deps: Deps, work: Callable[[], object], *, refresh: bool) -> None:
    """Run a Home button's work. A click on the Home has no response_url to answer in, so what went wrong (the
    risk or stand-up gone meanwhile, say) is said by DM; with `refresh`, the Home then shows things as they are."""
    try:
        work()
    except PmbotError as exc:
        refresh = True
        try:
            deps.slack.tell_privately(request.user_id, None, text=escape_user_text(str(exc)))
        except SlackError as slack:
            logger.warning("could not tell %s why their Home button failed (%s)", request.user_id, slack.code)
    finally:
        if refresh:
            publish(deps, team_id=request.team_id, user_id=request.user_id)


def on_still_valid(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()
    _from_home(request, deps, lambda: risks.still_valid(deps, team_id=request.team_id, risk_id=_risk_id(request),
                                                        user_id=request.user_id), refresh=True)


def on_update(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()

    def open_form() -> None:
        with session_scope(deps.engine) as session:
            risk = risks.load(session, request.team_id, _risk_id(request))
        view = risk_blocks.form_view(channel=risk.channel_id, today=team_today(deps, request.team_id), risk=risk,
                                     categories=risks.team_categories(deps, request.team_id))
        deps.slack.open_view(request.trigger_id, {**view, "callback_id": home_dashboard.VIEW_RISK_FORM})

    _from_home(request, deps, open_form, refresh=False)


def on_close(request: Request, reply: Reply, deps: Deps) -> None:
    reply.ack()

    def open_form() -> None:
        with session_scope(deps.engine) as session:
            risk = risks.load(session, request.team_id, _risk_id(request))
        view = risk_blocks.close_view(risk, channel=risk.channel_id)
        deps.slack.open_view(request.trigger_id, {**view, "callback_id": home_dashboard.VIEW_RISK_CLOSE})

    _from_home(request, deps, open_form, refresh=False)


def on_answer(request: Request, reply: Reply, deps: Deps) -> None:
    """Today's stand-up from the Home: the stand-up's own answer form (filled in with an earlier answer)."""
    reply.ack()

    def open_form() -> None:
        if not request.value.isdigit():
            raise UserInputError("That button belongs to a Home I no longer understand; open the Home tab again.")
        standup, day = standups.day_by_id(deps, request.team_id, int(request.value))
        if request.user_id not in standup.members:
            raise UserInputError(f"You are no longer a member of stand-up {standup.id}, so there is nothing to "
                                 "answer.")
        with session_scope(deps.engine) as session:
            previous = answer_of(session, day_id=day.id, user_id=request.user_id)
        view = su_blocks.answer_view(standup, day.id, day.day, previous)
        deps.slack.open_view(request.trigger_id, {**view, "callback_id": home_dashboard.VIEW_ANSWER})

    _from_home(request, deps, open_form, refresh=False)


def _then_publish(handler: Callable[[Request, Deps], Any]) -> Callable[[Request, Deps], Any]:
    """A risk form's own submission handler, then the Home of whoever submitted it published again (after the
    modal closed: the form's answer to Slack is not held up by it)."""

    def submitted(request: Request, deps: Deps) -> Any:
        answer = handler(request, deps)  # field errors and refusals reach the form as the risk's own do
        if isinstance(answer, dict):
            return answer

        def after_close() -> None:
            try:
                if callable(answer):
                    answer()
            finally:
                publish(deps, team_id=request.team_id, user_id=request.user_id)

        return after_close

    return submitted


def on_member_joined(event: Event, deps: Deps) -> None:
    """When pmbot itself is added to a channel, say hello once; other people's joins are not ours to greet."""
    data = event.data
    if not event.bot_user_id or data.get("user") != event.bot_user_id or not data.get("channel"):
        return
    if _created_by_us(event, deps, data["channel"]):
        return  # a war room or drill room pmbot made itself: its runbook says what it is for
    text = ("Hi! I'm pmbot. I keep this project's risks, bugs, incidents, stand-ups and budget in order. "
            "Type `/pmbot help` to see what I can do.")
    hello = [*blocks.sections(text), blocks.actions(blocks.button("Show commands", ACTION_HELP))]
    deps.slack.post_message(data["channel"], text=text, blocks=hello)


def _created_by_us(event: Event, deps: Deps, channel_id: str) -> bool:
    """A channel pmbot created: a stored war room, or (when the join outran storing its id) Slack's creator."""
    with session_scope(deps.engine) as session:
        if incident_in_channel(session, team_id=event.team_id, channel_id=channel_id) is not None:
            return True
    try:
        info = deps.slack.channel_info(channel_id)
    except SlackError as exc:
        logger.info("member_joined_channel: %s cannot be looked up (%s); greeting anyway", channel_id, exc.code)
        return False
    return bool(info.get("creator")) and info.get("creator") == event.bot_user_id
