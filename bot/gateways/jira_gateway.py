"""Jira client construction. Never on the request path: the library's constructor calls the server."""

from __future__ import annotations

from jira import JIRA

from bot.settings import Settings

CONNECT_TIMEOUT, READ_TIMEOUT = 3.05, 30


def build_jira_client(settings: Settings, *, max_retries: int = 0) -> JIRA:
    """A JIRA client with bounded timeouts and retries (the library's defaults can block for minutes).

    Cloud: JIRA_USER (e-mail) + JIRA_API_TOKEN. Data Center: JIRA_API_TOKEN alone, a personal access token.
    """
    if not settings.jira_url or settings.jira_api_token is None:
        raise ValueError("Jira is not configured")
    token = settings.jira_api_token.get_secret_value()
    auth = {"basic_auth": (settings.jira_user, token)} if settings.jira_user else {"token_auth": token}
    # get_server_info stays on: Cloud detection depends on it, and search on Cloud needs that.
    return JIRA(server=settings.jira_url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), max_retries=max_retries,
                get_server_info=True, **auth)
