"""Typed errors. Each carries the sentence a user sees; the Slack edge translates them once."""

from __future__ import annotations


class PmbotError(Exception):
    """Base for errors a person can act on; `str(exc)` is shown to them as it is."""


class UserInputError(PmbotError):
    """What the user typed cannot be used (wrong number, unknown option, empty text)."""


class NotAllowed(PmbotError):
    """The user may not do this (e.g. change a budget, close an incident)."""


class NotFound(PmbotError):
    """An id or name the user gave does not exist."""


class IntegrationUnavailable(PmbotError):
    """Slack, Jira or the LLM could not be reached or answered with an error."""


class SlackError(IntegrationUnavailable):
    """A Slack Web API call failed; `code` is Slack's error string (e.g. `channel_not_found`)."""

    def __init__(self, code: str, method: str, message: str | None = None):
        self.code = code
        self.method = method
        super().__init__(message or f"Slack refused {method}: {code}")


class ChannelNotFound(SlackError):
    pass


class NotInChannel(SlackError):
    pass


class NameTaken(SlackError):
    pass


class RateLimited(SlackError):
    # Seconds Slack's Retry-After asked for, when the 429 said (slack_sdk already waited out the first ones).
    retry_after: float | None = None


class SlackUnavailable(SlackError):
    """Slack had trouble on its side: an HTTP 5xx (its edge answers an HTML page then), or one of the errors its
    method pages list for that (`fatal_error`, `internal_error`, `service_unavailable`, `request_timeout`).
    It passes: the call may be made again later. Slack warns that part of the operation may have happened, so a
    repeated post first looks for the earlier one. `status` is the HTTP status (200 when the JSON said it)."""

    def __init__(self, code: str, method: str, *, status: int | None = None):
        self.status = status
        where = f"HTTP {status}" if status and status != 200 else code
        super().__init__(code, method, f"Slack is having trouble right now ({method} answered {where}); "
                                       "it usually passes within minutes.")


class MissingScope(SlackError):
    """Slack refused a call because the app lacks a scope; `scope` is what Slack said it needs."""

    def __init__(self, code: str, method: str, *, scope: str, provided: str = ""):
        self.scope = scope
        self.provided = provided
        super().__init__(code, method, f"pmbot lacks the Slack scope `{scope}` for {method}; a workspace admin "
                                       "needs to add it to the app and reinstall it.")
