"""`pmbot quality pull mlflow --experiment NAME` against a real MLflow tracking server (tests/mlflow_server.py),
filled through its REST API as training and eval scripts fill it: runs recorded against the team's plan, a
breach filing a bug the running bot posts, a second pull recording nothing new, a later run recorded, fractions
converted only when asked, pages read only until the runs are known, and clear errors for an unknown experiment,
refused credentials and a server that is down. Invented names and values throughout."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import select

from bot.bugs.service import CARD_EVENT
from bot.domain.quality import QualityError, template
from bot.errors import NotFound
from bot.gateways.mlflow import (
    Experiment,
    MlflowGateway,
    MlflowNotConfigured,
    MlflowRefused,
    MlflowRejected,
    MlflowRun,
    MlflowUnavailable,
    without_credentials,
)
from bot.quality import pull as pulling
from bot.quality import service
from bot.settings import ConfigError, load_settings
from storage.db import session_scope
from storage.models import Bug, QualityRun
from tests.conftest import RunningBot
from tests.helpers import bot_env, free_port, pmbot
from tests.mlflow_server import INSTALL_TIMEOUT, MlflowServer, shared_server

# The first run on a machine builds MLflow's virtualenv inside the fixture (minutes); later runs reuse it.
pytestmark = pytest.mark.timeout(INSTALL_TIMEOUT + 300)

TEAM = "T0SANDBOX"
HOUR_MS = 3_600_000
T0 = 1_790_000_000_000  # 2026-09-21, in epoch milliseconds as MLflow stores times
GOOD = {"hallucination_rate": 3.2, "toxicity_rate": 0.4, "pii_leaks": 0, "latency_p95": 420,
        "cost_per_inference": 0.004}


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with shared_server(tmp_path_factory) as server:
        yield server


def with_plan(bot: RunningBot) -> None:
    service.set_plan(bot.runtime.deps, team_id=TEAM, channel_id="C0GENERAL", user_id="U0ALICE",
                     plan=template("chatbot"), template="chatbot")


def experiment(mlflow: MlflowServer, name: str) -> tuple[str, str]:
    """A fresh experiment (the server is shared by the whole test run): its name and id."""
    unique = f"{name}-{uuid.uuid4().hex[:8]}"
    return unique, mlflow.create_experiment(unique)


def pull(mlflow: MlflowServer, bot: RunningBot, db_url: str, tmp_path: Path, *args: str,
         **env: str) -> tuple[int, str, str]:
    """`pmbot quality pull mlflow …` as an operator runs it, with the server's address and credentials."""
    settings = {"MLFLOW_TRACKING_URI": mlflow.url, "MLFLOW_TRACKING_USERNAME": mlflow.username,
                "MLFLOW_TRACKING_PASSWORD": mlflow.password, **env}
    done = pmbot("quality", "pull", "mlflow", *args, cwd=tmp_path,
                 env=bot_env(DATABASE_URL=db_url, SLACK_API_URL=bot.sandbox.api_url,
                             **{k: v for k, v in settings.items() if v}))
    return done.returncode, done.stdout, done.stderr


def runs(bot: RunningBot) -> list[QualityRun]:
    with session_scope(bot.runtime.deps.engine) as session:
        return list(session.exec(select(QualityRun).order_by(QualityRun.id)))


def cards(bot: RunningBot) -> int:
    return sum((m.get("metadata") or {}).get("event_type") == CARD_EVENT and "thread_ts" not in m
               for m in bot.sandbox.messages)


@pytest.mark.sqlite_only  # pmbot runs as a child process on the same database file
def test_runs_are_recorded_once_judged_against_the_plan_and_a_breach_files_a_bug(
        mlflow: MlflowServer, bot: RunningBot, db_url: str, tmp_path: Path) -> None:
    with_plan(bot)
    name, exp = experiment(mlflow, "acme-support-evals")
    tags = {"team": "support"}
    # A run that logged its hallucination rate at two steps: the latest value counts.
    v41 = mlflow.log_run(exp, name="nightly-v41", started_ms=T0, tags={**tags, "version": "v41"},
                         params={"model": "acme-chat", "dataset": "golden-500", "samples": "500"},
                         metrics={**GOOD, "hallucination_rate": [6.0, 3.2]})
    mlflow.log_run(exp, name="nightly-v42", started_ms=T0 + HOUR_MS, tags={**tags, "version": "v42"},
                   params={"model": "acme-chat", "dataset": "golden-500", "samples": "about 500"},
                   metrics={**GOOD, "hallucination_rate": 7.5})
    mlflow.log_run(exp, name="smoke", started_ms=T0 + 2 * HOUR_MS, metrics={})  # nothing measured: left out
    mlflow.log_run(exp, name="still-running", started_ms=T0 + 3 * HOUR_MS, metrics=GOOD, status="RUNNING")

    code, out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", name)
    assert code == 0, err
    assert f"{TEAM}: MLflow experiment {name}: 3 run(s) read, 2 new, 0 recorded before, 1 left out" in out
    assert "acme-chat v41: out of target: none; bugs filed: none" in out
    assert "acme-chat v42: out of target: hallucination_rate; bugs filed: B-1" in out
    first, second = runs(bot)
    assert (first.version, second.version) == ("v41", "v42")  # oldest first: v42 is judged against v41
    assert first.source == "mlflow" and first.source_key == f"mlflow:{v41}" and first.recorded_by == "cli"
    assert first.metrics["hallucination_rate"] == pytest.approx(3.2) and first.metrics["latency_p95"] == 420
    assert (first.model, first.dataset, first.samples) == ("acme-chat", "golden-500", 500)
    assert first.url == f"{mlflow.url}/#/experiments/{exp}/runs/{v41}"
    assert second.samples is None  # "about 500" is not a number: not guessed at

    # The running bot's queue posts the breach's card. The bug names the MLflow server; the rest of the run's
    # link is masked by the bug text's redaction (a 32-hex run id in a path reads as a secret to it).
    assert bot.sandbox.wait_for(lambda: cards(bot) == 1, timeout=30)
    with session_scope(bot.runtime.deps.engine) as session:
        bug = session.exec(select(Bug)).one()
    assert bug.grade == 2 and "hallucination_rate" in bug.title and f"({mlflow.url}/#" in bug.text

    code, out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", name)
    assert code == 0, err
    assert "3 run(s) read, 0 new, 2 recorded before, 1 left out" in out and len(runs(bot)) == 2

    mlflow.log_run(exp, name="nightly-v43", started_ms=T0 + 4 * HOUR_MS, tags={"version": "v43"},
                   params={"model": "acme-chat"}, metrics=GOOD)
    code, out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", name)
    assert code == 0, err
    assert "4 run(s) read, 1 new, 2 recorded before, 1 left out" in out
    assert "acme-chat v43: out of target: none; bugs filed: none" in out
    assert [r.version for r in runs(bot)] == ["v41", "v42", "v43"] and cards(bot) == 1


@pytest.mark.sqlite_only
def test_fractions_are_converted_only_when_asked(mlflow: MlflowServer, bot: RunningBot, db_url: str,
                                                 tmp_path: Path) -> None:
    with_plan(bot)
    as_fractions = {**GOOD, "hallucination_rate": 0.09, "toxicity_rate": 0.004}  # 9 % and 0.4 %, as 0-1
    plain, plain_id = experiment(mlflow, "acme-rag-evals")
    mlflow.log_run(plain_id, name="rag-1", started_ms=T0, metrics=as_fractions)
    code, out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", plain)
    assert code == 0, err
    # Taken in the metric's unit: 0.09 %, within target. The model is the experiment's name (no `model` logged).
    assert f"{plain} rag-1: out of target: none" in out
    assert runs(bot)[0].metrics["hallucination_rate"] == pytest.approx(0.09)

    asked, asked_id = experiment(mlflow, "acme-rag-fraction-evals")
    mlflow.log_run(asked_id, name="rag-2", started_ms=T0, metrics=as_fractions)
    code, out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", asked, "--model", "acme-rag",
                          "--fractions", "hallucination_rate, Toxicity rate, latency_p95")
    assert code == 0, err
    assert "acme-rag rag-2: out of target: hallucination_rate; bugs filed: B-1" in out
    assert "note: --fractions names latency_p95, which the plan does not measure in %" in out
    recorded = runs(bot)[1]
    assert recorded.metrics["hallucination_rate"] == pytest.approx(9)
    assert recorded.metrics["toxicity_rate"] == pytest.approx(0.4) and recorded.metrics["latency_p95"] == 420
    assert bot.sandbox.wait_for(lambda: cards(bot) == 1, timeout=30)


@pytest.mark.sqlite_only
def test_errors_are_clear_and_record_nothing(mlflow: MlflowServer, bot: RunningBot, db_url: str,
                                             tmp_path: Path) -> None:
    name, exp = experiment(mlflow, "acme-errors")
    mlflow.log_run(exp, name="r1", started_ms=T0, metrics=GOOD)
    code, _out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", name)
    assert code == 2 and "no team has a quality plan yet" in err
    with_plan(bot)

    code, _out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", name, MLFLOW_TRACKING_URI="")
    assert code == 2 and "set MLFLOW_TRACKING_URI" in err
    code, _out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", "acme-nope")
    assert code == 1 and f"MLflow at {mlflow.url} has no experiment named “acme-nope”" in err
    # The server checks credentials (MLflow's basic-auth app): a wrong password gets its real 401. (A token is
    # refused with a stand-in below: this MLflow answers a bearer token with a 500 when its login cache is on.)
    code, _out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", name,
                           MLFLOW_TRACKING_PASSWORD="not-the-password")
    assert code == 1
    assert "refused the user name and password in MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (HTTP 401)" in err
    assert "not-the-password" not in err
    down = f"http://127.0.0.1:{free_port()}"  # a server that is not running: nothing listens on its port
    code, _out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", name, MLFLOW_TRACKING_URI=down)
    assert code == 1 and f"MLflow at {down} cannot be reached" in err
    code, _out, err = pull(mlflow, bot, db_url, tmp_path, "--experiment", name, "--fractions", "<!channel>")
    assert code == 2 and "--fractions" in err
    assert runs(bot) == []


def test_the_gateway_names_what_the_server_refused(mlflow: MlflowServer) -> None:
    name, exp = experiment(mlflow, "acme-gateway")
    good = MlflowGateway(mlflow.url, username=mlflow.username, password=mlflow.password)
    assert good.experiment_by_name(name) == Experiment(exp, name)
    with pytest.raises(NotFound, match="has no experiment named “acme-absent”"):
        good.experiment_by_name("acme-absent")
    wrong = MlflowGateway(mlflow.url, username=mlflow.username, password="wrong-password")
    with pytest.raises(MlflowRefused, match="refused the user name and password .* \\(HTTP 401\\)"):
        wrong.experiment_by_name(name)
    with pytest.raises(MlflowRefused, match="asks for credentials \\(HTTP 401\\)"):
        MlflowGateway(mlflow.url).experiment_by_name(name)
    with pytest.raises(MlflowRejected, match="not as an MLflow tracking server does"):
        MlflowGateway(mlflow.url + "/not-here", username=mlflow.username,
                      password=mlflow.password).experiment_by_name(name)


def test_pages_are_read_only_until_a_page_of_known_runs(mlflow: MlflowServer, bot: RunningBot,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """In process, on both databases: two runs a page, five runs, then one more."""
    with_plan(bot)
    monkeypatch.setattr(pulling, "PAGE_SIZE", 2)
    name, exp = experiment(mlflow, "acme-paging")
    for n in range(5):
        mlflow.log_run(exp, name=f"p{n}", started_ms=T0 + n * HOUR_MS, metrics=GOOD)
    gateway = MlflowGateway(mlflow.url, username=mlflow.username, password=mlflow.password)

    def pulled():
        return pulling.pull_mlflow(bot.runtime.deps, team_id=TEAM, experiment=name, fractions=set(),
                                   gateway=gateway)

    first = pulled()
    assert (first.read, len(first.recorded), first.before) == (5, 5, 0)
    assert [r.run.version for r in first.recorded] == ["p0", "p1", "p2", "p3", "p4"]  # oldest first
    again = pulled()
    assert (again.read, len(again.recorded), again.before) == (2, 0, 2)  # the first page was all known
    mlflow.log_run(exp, name="p5", started_ms=T0 + 5 * HOUR_MS, metrics=GOOD)
    later = pulled()
    assert (later.read, len(later.recorded), later.before) == (4, 1, 3)  # [p5, p4], then [p3, p2]: stop
    assert len(runs(bot)) == 6


# --- without a server ---------------------------------------------------------------------------------------------


def test_a_run_maps_as_mlflow_users_log_it() -> None:
    gateway = MlflowGateway("http://user:secret@mlflow.example.com:5000/")
    exp = Experiment("7", "acme-evals")
    run = MlflowRun(run_id="abc123", experiment_id="7", name="nightly", end_time=T0,
                    metrics={"pass_rate": 0.8, "eval/latency p95": 900, "bad@name": 1.0},
                    params={"dataset": "golden-200", "samples": "200"}, tags={"model": "acme-chat"})
    dropped: set[str] = set()
    mapped = pulling.to_run_in(run, exp, gateway, True, None, dropped)
    assert mapped is not None and dropped == {"bad@name"}
    assert (mapped.model, mapped.version, mapped.dataset, mapped.samples) == ("acme-chat", "nightly", "golden-200", 200)
    assert mapped.url == "http://mlflow.example.com:5000/#/experiments/7/runs/abc123"  # no credentials in links
    assert mapped.fractions == {"pass_rate", "eval/latency p95"}
    plain = pulling.to_run_in(MlflowRun("r2", "7", "", None, {"bleu": 0.3}, {}, {"version": "v9"}), exp, gateway,
                              set(), "from-cli", set())
    assert plain is not None and (plain.model, plain.version, plain.fractions) == ("from-cli", "v9", frozenset())
    assert pulling.to_run_in(MlflowRun("r3", "7", "", None, {}, {}, {}), exp, gateway, set(), None, set()) is None
    assert without_credentials("https://u:p@host/x") == "https://host/x"


def test_settings_take_a_server_url_and_credentials_in_pairs() -> None:
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI must be the http\\(s\\) URL") as caught:
        load_settings(mlflow_tracking_uri="htp://pmbot:s3cret-pass@mlflow.example.com")
    assert "s3cret-pass" not in str(caught.value)  # a URI may hold credentials: never echoed
    settings = load_settings(mlflow_tracking_uri="https://mlflow.example.com/", mlflow_tracking_username="pmbot",
                             mlflow_tracking_password=None)  # whatever the environment says
    assert settings.mlflow_tracking_uri == "https://mlflow.example.com"
    with pytest.raises(MlflowNotConfigured, match="together"):
        MlflowGateway.from_settings(settings)
    token = MlflowGateway.from_settings(load_settings(mlflow_tracking_uri="https://mlflow.example.com",
                                                      mlflow_tracking_token="tok-invented"))
    assert token.run_url("3", "r1") == "https://mlflow.example.com/#/experiments/3/runs/r1"


def test_fractions_are_named_or_all() -> None:
    assert pulling.parse_fractions(None) == set() and pulling.parse_fractions("ALL") is True
    assert pulling.parse_fractions("pass_rate, Toxicity rate") == {"pass_rate", "toxicity_rate"}
    with pytest.raises(QualityError):
        pulling.parse_fractions("<!channel>")


class _StandIn(BaseHTTPRequestHandler):
    """Answers every request with the status, headers and body the test put on the server."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status, headers, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(("answer", "error", "words"), [
    ((503, {"Content-Type": "text/html"}, "<html>maintenance</html>"), MlflowUnavailable, "answered HTTP 503"),
    ((429, {"Retry-After": "7"}, json.dumps({"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"})),
     MlflowUnavailable, "HTTP 429 \\(slow down\\)"),
    ((401, {"WWW-Authenticate": 'Basic realm="mlflow"'}, "You are not authenticated."), MlflowRefused,
     "refused the token in MLFLOW_TRACKING_TOKEN \\(HTTP 401\\)"),
    ((403, {}, "Permission denied"), MlflowRefused, "the account of the token in MLFLOW_TRACKING_TOKEN may not"),
    ((400, {}, json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": "bad name"})), MlflowRejected,
     "HTTP 400 INVALID_PARAMETER_VALUE\\): bad name"),
])
def test_answers_a_real_server_does_not_give_on_demand(answer, error, words: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    server.answer = answer  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        gateway = MlflowGateway(f"http://127.0.0.1:{server.server_port}", token="tok-invented")
        with pytest.raises(error, match=words) as caught:
            gateway.experiment_by_name("acme")
        assert "tok-invented" not in str(caught.value)
        if answer[0] == 429:
            assert caught.value.retry_after == 7
    finally:
        server.shutdown()
        server.server_close()
