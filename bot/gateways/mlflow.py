"""The only code that talks to an MLflow tracking server: its REST API (`/api/2.0/mlflow/…`) over requests.

Two calls: an experiment by its name (`GET experiments/get-by-name`) and a page of its finished runs, newest
first (`POST runs/search`). Credentials as MLflow's own clients send them: HTTP basic auth when a user name and
password are set, else a bearer token, else none.

Errors come out as pmbot's: `MlflowUnavailable` (unreachable, timed out, 5xx, 429: waiting helps),
`MlflowRefused` (401/403: the token or the user and password are refused, a person must fix them),
`NotFound` (the server has no experiment of that name) and `MlflowRejected` (any other answer that is not
what MLflow gives: a wrong URL, a request it refuses). Messages name the server without the credentials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests

from bot.errors import IntegrationUnavailable, NotFound, PmbotError
from bot.gateways.responses import json_object
from bot.workpool import before_remote_call

if TYPE_CHECKING:
    from bot.settings import Settings

CONNECT_TIMEOUT, READ_TIMEOUT = 3, 30
API_PATH = "/api/2.0/mlflow/"
FINISHED = "attributes.status = 'FINISHED'"
# Newest first by end time: a run that finished late still comes before the runs recorded before it.
NEWEST_FIRST = ["attributes.end_time DESC"]
MAX_MESSAGE_CHARS = 300


class MlflowUnavailable(IntegrationUnavailable):
    """The server could not be reached or asked us to wait; `retry_after` is its own hint in seconds, if any."""

    def __init__(self, why: str, retry_after: float | None = None):
        super().__init__(why)
        self.retry_after = retry_after


class MlflowRefused(IntegrationUnavailable):
    """401 or 403: the server refused our credentials, or what they may read."""


class MlflowRejected(IntegrationUnavailable):
    """The server answered, but not as an MLflow tracking server answers this request."""


class MlflowNotConfigured(PmbotError):
    """MLFLOW_TRACKING_URI is unset, or a user name came without its password (or the other way round)."""


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str


@dataclass(frozen=True)
class MlflowRun:
    """A run as the search returns it: the latest value of each metric, its params and tags."""

    run_id: str
    experiment_id: str
    name: str
    end_time: int | None
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class RunsPage:
    runs: tuple[MlflowRun, ...]
    next_page_token: str | None


def without_credentials(uri: str) -> str:
    """`http://user:secret@host:5000/x` → `http://host:5000/x`: for messages, logs and links."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class MlflowGateway:
    """A requests session bound to one tracking server, with bounded timeouts and no retries (the CLI that
    pulls is run again by a person or a cron, and a run is recorded once whatever happens)."""

    def __init__(self, uri: str, *, token: str | None = None, username: str | None = None,
                 password: str | None = None, session: requests.Session | None = None):
        self.uri = uri.rstrip("/")
        self.label = without_credentials(self.uri)
        self._session = session or requests.Session()
        if username and password:
            self._session.auth = (username, password)
            self._credentials = "the user name and password in MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD"
        elif token:
            self._session.headers["Authorization"] = f"Bearer {token}"
            self._credentials = "the token in MLFLOW_TRACKING_TOKEN"
        else:
            self._credentials = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> MlflowGateway:
        if not settings.mlflow_tracking_uri:
            raise MlflowNotConfigured("MLFLOW_TRACKING_URI is not set: set it to your MLflow tracking server's URL, "
                                      "e.g. http://mlflow.example.com:5000.")
        password = settings.mlflow_tracking_password
        if bool(settings.mlflow_tracking_username) != bool(password):
            raise MlflowNotConfigured("Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD together (basic "
                                      "auth), or MLFLOW_TRACKING_TOKEN alone.")
        token = settings.mlflow_tracking_token
        return cls(settings.mlflow_tracking_uri, token=token.get_secret_value() if token else None,
                   username=settings.mlflow_tracking_username,
                   password=password.get_secret_value() if password else None)

    def run_url(self, experiment_id: str, run_id: str) -> str:
        """Where the run is in MLflow's UI (a link in the run's record and in the bugs it files)."""
        return f"{self.label}/#/experiments/{experiment_id}/runs/{run_id}"

    # --- the calls ----------------------------------------------------------------------------------------------

    def experiment_by_name(self, name: str) -> Experiment:
        """The experiment of that exact name; NotFound when the server has none."""
        answer = self._call("GET", "experiments/get-by-name", params={"experiment_name": name},
                            missing=f"MLflow at {self.label} has no experiment named “{name}” (names are exact, "
                                    "case included).")
        found = answer.get("experiment") or {}
        if not found.get("experiment_id"):
            raise MlflowRejected(f"MLflow at {self.label} answered get-by-name without an experiment id.")
        return Experiment(str(found["experiment_id"]), str(found.get("name") or name))

    def finished_runs(self, experiment_id: str, *, page_token: str | None = None,
                      max_results: int = 100) -> RunsPage:
        """One page of the experiment's finished runs, the newest first."""
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "filter": FINISHED, "order_by": NEWEST_FIRST,
                                "max_results": max_results}
        if page_token:
            body["page_token"] = page_token
        answer = self._call("POST", "runs/search", json=body)
        runs = tuple(_run(raw) for raw in answer.get("runs") or [] if isinstance(raw, dict))
        return RunsPage(tuple(r for r in runs if r.run_id), answer.get("next_page_token") or None)

    def _call(self, method: str, path: str, *, missing: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """One request; MLflow's JSON, or one of the errors above. `missing` is what a RESOURCE_DOES_NOT_EXIST
        means for this call."""
        before_remote_call()
        try:
            response = self._session.request(method, self.uri + API_PATH + path,
                                             timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **kwargs)
        except requests.Timeout:
            raise MlflowUnavailable(f"MLflow at {self.label} did not answer in time.") from None
        except requests.RequestException as exc:
            raise MlflowUnavailable(f"MLflow at {self.label} cannot be reached ({type(exc).__name__}).") from None
        body = json_object(response)
        if response.status_code == 200 and body is not None:
            return body
        raise self._error(response, body, path, missing)

    def _error(self, response: requests.Response, body: dict[str, Any] | None, path: str,
               missing: str | None) -> PmbotError:
        status = response.status_code
        code = str((body or {}).get("error_code") or "")
        said = _message(body)
        if status in (401, 403):
            return MlflowRefused(self._refusal(status))
        if status == 429 or status >= 500:
            return MlflowUnavailable(f"MLflow at {self.label} answered HTTP {status}"
                                     + (f" ({said})" if said else "") + "; try again later.",
                                     _retry_after(response))
        if code == "RESOURCE_DOES_NOT_EXIST" and missing:
            return NotFound(missing)
        if not code:  # not MLflow speaking (its errors carry an error_code): a wrong address, a proxy's page
            return MlflowRejected(f"{self.label} answered HTTP {status} to {API_PATH}{path}, not as an MLflow "
                                  "tracking server does: is MLFLOW_TRACKING_URI its address (with its path prefix, "
                                  "if it has one)?")
        return MlflowRejected(f"MLflow at {self.label} refused {path} (HTTP {status}"
                              + (f" {code}" if code else "") + ")" + (f": {said}" if said else "") + ".")

    def _refusal(self, status: int) -> str:
        if status == 403:
            who = f"the account of {self._credentials}" if self._credentials else "an anonymous request"
            return (f"MLflow at {self.label} refused access (HTTP 403): {who} may not read this experiment; a "
                    "server admin can grant READ on it.")
        if not self._credentials:
            return (f"MLflow at {self.label} asks for credentials (HTTP 401): set MLFLOW_TRACKING_TOKEN, or "
                    "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.")
        return f"MLflow at {self.label} refused {self._credentials} (HTTP 401): check them, or ask for new ones."



def _message(body: dict[str, Any] | None) -> str:
    text = " ".join(str((body or {}).get("message") or "").split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _pairs(rows: Any) -> dict[str, str]:
    return {str(r["key"]): str(r.get("value") or "") for r in rows or [] if isinstance(r, dict) and r.get("key")}


def _latest_metrics(rows: Any) -> dict[str, float]:
    """The latest finite value of each metric (the search already gives one per key; a repeat keeps the one with
    the latest timestamp, then step)."""
    latest: dict[str, tuple[tuple[int, int], float]] = {}
    for row in rows or []:
        if not isinstance(row, dict) or not row.get("key"):
            continue
        try:
            value = float(row.get("value"))
            when = (int(row.get("timestamp") or 0), int(row.get("step") or 0))
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and (row["key"] not in latest or when >= latest[row["key"]][0]):
            latest[str(row["key"])] = (when, value)
    return {key: value for key, (_when, value) in latest.items()}


def _run(raw: dict[str, Any]) -> MlflowRun:
    info, data = raw.get("info") or {}, raw.get("data") or {}
    tags = _pairs(data.get("tags"))
    end_time = info.get("end_time")
    return MlflowRun(run_id=str(info.get("run_id") or info.get("run_uuid") or ""),
                     experiment_id=str(info.get("experiment_id") or ""),
                     name=str(info.get("run_name") or tags.get("mlflow.runName") or ""),
                     end_time=int(end_time) if isinstance(end_time, int | str) and str(end_time).isdigit() else None,
                     metrics=_latest_metrics(data.get("metrics")), params=_pairs(data.get("params")), tags=tags)
