"""What the HTTP gateways share about a service's answer."""

from __future__ import annotations

from typing import Any

import requests


def json_object(response: requests.Response) -> dict[str, Any] | None:
    """The response's JSON body when it is an object; None for anything else (an HTML error page, a list)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
