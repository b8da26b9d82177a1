"""`/pmbot digest now [#channel]`: the team's stakeholder digest, built now.

Without a channel it is a preview for the person who asked: the message privately (an ephemeral answer), and the
one-pager in their DM with pmbot, because an ephemeral message cannot carry a file. With a channel it is posted
there, message and one-pager; only a workspace admin may post it (it is the whole team's digest, in a channel the
admin picks). Either way nothing is remembered: the comms plan's next digest still compares with
what its audience last saw.
"""

from __future__ import annotations

from bot import blocks
from bot.deps import Deps
from bot.digest import service
from bot.domain.mentions import channel_refs
from bot.domain.text import truncate
from bot.edge import Reply, Request
from bot.errors import IntegrationUnavailable, NotAllowed, SlackError, UserInputError

HELP = ("the stakeholder digest as of now (risks, bugs, incidents, budget, quality, old blockers, a summary and a "
        "one-page chart): for you alone, or posted in the channel you name (workspace admins)")
# Slack's answers when pmbot may not post in a channel.
CANNOT_POST = {"not_in_channel", "channel_not_found", "is_archived", "method_not_supported_for_channel_type",
               "restricted_action"}


def fits(args: list[str]) -> bool:
    """`now`, optionally followed by one channel."""
    return 1 <= len(args) <= 2 and args[0].lower() == "now"


def run(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    """Ack at once (the build is slow: figures, the LLM, the chart), then build and show or post the digest."""
    wanted = _channel_ref(args[1]) if len(args) == 2 else None
    reply.ack("Building the project digest (figures, summary and one-page chart)…")
    if wanted is not None and not deps.slack.is_workspace_admin(request.user_id):
        raise NotAllowed("Only workspace admins can post the project digest in a channel. "
                         "`/pmbot digest now` shows it to you alone.")
    channel = _resolve(deps, wanted) if wanted is not None else None
    digest = service.build(deps, team_id=request.team_id, sections=service.SECTIONS, now=deps.clock())
    if channel is None:
        _preview(request, reply, deps, digest)
    else:
        _post(reply, deps, digest, channel)


def _channel_ref(word: str) -> tuple[str | None, str | None]:
    refs = channel_refs(word)
    if len(refs) != 1:
        raise UserInputError(f"`{truncate(word, 40)}` is not a channel. Name one like `#general`: "
                             "`/pmbot digest now #general`, or leave it out to see the digest yourself.")
    return refs[0].id, refs[0].name


def _resolve(deps: Deps, ref: tuple[str | None, str | None]) -> str:
    channel_id, name = ref
    found = channel_id or deps.slack.resolve_channel(name or "")
    if not found:
        raise UserInputError(f"I can't find a channel called #{truncate(name or '', 40)}. Pick it from Slack's "
                             "list as you type `#`, or check the name.")
    return found


def _preview(request: Request, reply: Reply, deps: Deps, digest: service.Digest) -> None:
    try:
        dm = deps.slack.open_dm(request.user_id)
        deps.slack.upload_in_channel(dm, content=digest.png, filename=service.filename(digest),
                                     title="Project digest one-pager (preview)")
        where = "The one-pager (an image) is in your direct messages with pmbot."
    except IntegrationUnavailable as exc:  # SlackError is one; Slack down or unreachable is another
        why = f"Slack said `{exc.code}`" if isinstance(exc, SlackError) else "Slack could not be reached"
        where = f"I could not send you the one-pager by direct message ({why})."
    note = (f"Preview: only you see this, and it does not change what the next scheduled digest compares with. "
            f"{where} `/pmbot digest now #channel` posts it in a channel.")
    reply.later(digest.text, [*digest.blocks[:-1], blocks.context(note)])


def _post(reply: Reply, deps: Deps, digest: service.Digest, channel: str) -> None:
    """The message (`service.post_message`), then the one-pager (`service.post_onepager`), so that a one-pager that
    fails after the message went out is not reported as "I can't post"."""
    try:
        service.post_message(deps, digest, channel)
    except SlackError as exc:
        if exc.code not in CANNOT_POST:
            raise
        reply.later(f"I can't post in <#{channel}> (Slack said `{exc.code}`). Invite me there with "
                    "`/invite @pmbot` and try again.")
        return
    try:
        service.post_onepager(deps, digest, channel)
    except IntegrationUnavailable as exc:
        why = f"Slack said `{exc.code}`" if isinstance(exc, SlackError) else "Slack could not be reached"
        reply.later(f"Posted the project digest in <#{channel}>, but the one-pager could not be attached ({why}). "
                    "`/pmbot digest now` sends you the one-pager by direct message.")
        return
    reply.later(f"Posted the project digest with its one-pager in <#{channel}>. It does not change what the next "
                "scheduled digest compares with.")
