"""Cost files shared in Slack: found with files.info, downloaded with the bot token, imported as they stream in.

Slack serves a file's `url_private_download` only to a request that carries a token with files:read; without it,
Slack answers with its sign-in page, which must not be mistaken for a (badly formed) cost file.
"""

from __future__ import annotations

import io
import logging
import urllib.error
import urllib.request
from urllib.parse import urlparse

from bot.budgets import service
from bot.deps import Deps
from bot.errors import IntegrationUnavailable, UserInputError
from storage.models import Budget

logger = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_SECONDS = 30
MAX_FILE_BYTES = 2 * 1024**3  # a year of a busy CUR; streamed, so memory stays small either way
READABLE = ("csv", "text", "json", "tsv")


def import_file(deps: Deps, budget: Budget, *, user_id: str, file_id: str) -> tuple[str, service.Imported]:
    """Import one shared file into `budget`; (its name, what was imported)."""
    file = deps.slack.file_info(file_id)
    name = str(file.get("name") or file_id)
    url = file.get("url_private_download") or file.get("url_private")
    kind = str(file.get("filetype") or "").lower()
    if file.get("is_external") or file.get("mode") == "external":
        raise UserInputError(f"`{name}` lives outside Slack ({file.get('external_type') or 'a linked file'}): "
                             "download it and share the file itself, or use `pmbot cost import FILE`.")
    if not url:
        raise UserInputError(f"Slack gave me no way to download `{name}`.")
    if kind and kind not in READABLE and not name.lower().endswith((".csv", ".json", ".txt")):
        raise UserInputError(f"`{name}` is a {kind} file; I import cost files as CSV or JSON "
                             "(export the bill as CSV first).")
    if int(file.get("size") or 0) > MAX_FILE_BYTES:
        raise UserInputError(f"`{name}` is larger than 2 GB; import it with `pmbot cost import FILE`.")
    with _download(deps, url) as response:
        text = io.TextIOWrapper(response, encoding="utf-8-sig", errors="replace", newline="")
        return name, service.import_costs(deps, budget, user_id=user_id, lines=text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Slack redirects a download it will not serve to its sign-in page; the token must not follow it there."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 — urllib's signature
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def slack_file_host(url: str, api_url: str) -> bool:
    """Only Slack's own file host (or the Slack API's host, e.g. the local sandbox) ever sees the bot token."""
    where, api = urlparse(url), urlparse(api_url)
    if where.hostname == "files.slack.com" and where.scheme == "https":
        return True
    return bool(where.hostname) and (where.scheme, where.hostname, where.port) == (api.scheme, api.hostname, api.port)


def _download(deps: Deps, url: str):
    """GET the file with the bot token; a sign-in page instead of the file is an error, not a cost file."""
    if not slack_file_host(url, deps.settings.slack_api_url):
        raise UserInputError("That file is not on Slack's file host, so I will not send it pmbot's token: download "
                             "it and import it with `pmbot cost import FILE`.")
    token = deps.slack.token
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        response = _OPENER.open(request, timeout=DOWNLOAD_TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise IntegrationUnavailable("Slack sent the download to its sign-in page: the bot token may lack the "
                                         "files:read scope (reinstall the app).") from None
        raise IntegrationUnavailable(f"Slack refused the download (HTTP {exc.code}).") from None
    except OSError as exc:
        raise IntegrationUnavailable("Slack could not be reached for the download.") from exc
    if "text/html" in (response.headers.get("Content-Type") or "") and not url.lower().endswith(".html"):
        response.close()
        raise IntegrationUnavailable("Slack answered the download with a web page, not the file: the bot token "
                                     "may lack the files:read scope (reinstall the app).")
    return response
