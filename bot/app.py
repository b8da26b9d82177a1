"""The composition root: settings → clients → Bolt app → HTTP server and scheduler. Nothing at import time."""

from __future__ import annotations

import logging
import re
import signal
import threading
from dataclasses import dataclass
from functools import partial

from slack_bolt import App

from bot import commands, home, installs, jobs
from bot.bugs.jira_mirror import BugMirror
from bot.commands import bug as bug_command
from bot.commands import incident as incident_command
from bot.deps import Deps
from bot.edge import dedupe_middleware, rate_limited_middleware, received_middleware, unhandled_listener
from bot.errors import IntegrationUnavailable, SlackError
from bot.gateways.jira_gateway import JiraGateway
from bot.gateways.llm import build_llm_client
from bot.gateways.names import Names
from bot.gateways.paging import build_pager
from bot.gateways.slack_port import SlackPort, build_web_client
from bot.grader import digest_narrator, llm_grader, narrator, risk_reader
from bot.http import HttpServer, JiraWebhook, WsgiApp
from bot.incidents import paging
from bot.incidents.actions_jira import ActionMirror
from bot.incidents.jira_mirror import IncidentMirror
from bot.logs import configure_logging, quiet_bolt_token_warning
from bot.metrics import Metrics
from bot.mirror import sync
from bot.mirror.plugins import MirrorPlugins
from bot.quality import api as quality_api
from bot.risks.jira_mirror import RiskMirror
from bot.scheduler import Scheduler
from bot.settings import ConfigError, Settings
from bot.work import WorkQueue
from bot.workpool import AckQueue, ListenerPool
from storage.db import make_engine
from storage.migrate import current_revision, head_revision, upgrade

logger = logging.getLogger("bot")


@dataclass
class Runtime:
    """Everything one process runs, built once."""

    deps: Deps
    bolt: App
    wsgi: WsgiApp
    scheduler: Scheduler
    executor: ListenerPool

    @property
    def work(self) -> WorkQueue:
        assert self.deps.work is not None  # set by build()
        return self.deps.work

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until work started by requests and jobs has finished (for the shell and tests)."""
        return (self.executor.wait_idle(timeout) and self.work.wait_idle(timeout)
                and self.scheduler.wait_idle(timeout) and self.executor.wait_idle(timeout))


def build_deps(settings: Settings) -> Deps:
    """Engine, metrics, Slack client and registries; enough for jobs and the CLI. No network, no threads."""
    llm = build_llm_client(settings) if settings.llm_configured else None  # one client, shared by every LLM use
    client = build_web_client(settings)
    slack = SlackPort(client)  # what pmbot asks of Slack, by name; the raw client stays for Bolt
    return Deps(settings=settings, engine=make_engine(settings.database_url), metrics=Metrics(),
                client=client, slack=slack, commands=commands.specs(), jobs=jobs.registry(),
                llm=llm_grader(settings, llm), risk_llm=risk_reader(settings, llm), narrator=narrator(settings, llm),
                # Built lazily by the Jira jobs on first use: its constructor calls Jira, never at start-up.
                jira=JiraGateway(settings) if settings.jira_configured else None,
                names=Names(slack), mirror=mirror_plugins(), pager=build_pager(settings),
                digest_narrator=digest_narrator(settings, llm))


def mirror_plugins() -> MirrorPlugins:
    """What the Jira mirror knows of each feature it mirrors; the mirror itself imports none of them."""
    return MirrorPlugins([BugMirror(), RiskMirror(), IncidentMirror(), ActionMirror()])


def build(settings: Settings) -> Runtime:
    """Build the whole bot from settings; no network calls, no threads started."""
    deps = build_deps(settings)
    # Listeners start at once (acks never queue); after the ack they share PMBOT_WORKER_THREADS work slots.
    executor = ListenerPool(settings.pmbot_worker_threads,
                            on_wait=deps.metrics.work_wait_seconds.labels("listener").observe)
    deps.metrics.work_depth.labels("listeners").set_function(lambda: executor.waiting)
    signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    quiet_bolt_token_warning()
    bolt = App(
        client=deps.client,
        signing_secret=signing_secret,
        # auth.test happens lazily on the first request, never while building.
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=executor,
        request_verification_enabled=not settings.socket_mode or signing_secret is not None,
    )
    bolt.use(received_middleware())
    bolt.use(rate_limited_middleware(deps))
    bolt.use(dedupe_middleware(deps))
    commands.register_all(bolt, deps)
    home.register(bolt, deps)
    installs.register(bolt, deps)
    _register_fallbacks(bolt, deps)
    acks = AckQueue()  # the HTTP edge takes turns from it; the work queue yields to the requests it holds
    kinds = [bug_command.WORK, incident_command.WORK, *paging.WORK]
    deps.work = WorkQueue(deps, kinds, threads=settings.pmbot_worker_threads,
                          poll_seconds=settings.pmbot_work_poll_seconds, acks=acks)
    webhook = None
    if deps.jira is not None and settings.jira_webhook_secret is not None:
        webhook = JiraWebhook(partial(sync.webhook_authorised, deps), partial(sync.on_webhook, deps))
    return Runtime(deps=deps, bolt=bolt, wsgi=WsgiApp(bolt, deps.engine, deps.metrics, jira_webhook=webhook, acks=acks,
                                                   apis={quality_api.PATH: partial(quality_api.handle, deps)}),
                   scheduler=Scheduler(deps), executor=executor)


def _register_fallbacks(bolt: App, deps: Deps) -> None:
    """Registered last (Bolt runs the first listener that matches): what nothing else handles is acked."""
    anything = re.compile(".*")
    bolt.shortcut(anything)(unhandled_listener(deps, "shortcut"))  # global and message shortcuts
    bolt.action(anything)(unhandled_listener(deps, "action"))  # e.g. a link button: Slack still sends it
    bolt.view_closed(anything)(unhandled_listener(deps, "view_closed"))
    bolt.event(anything)(unhandled_listener(deps, "event"))


def require_slack_credentials(settings: Settings) -> None:
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set: the bot needs its xoxb- token to talk to Slack")
    if not settings.socket_mode and settings.slack_signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify requests (or set SLACK_APP_TOKEN "
            "for Socket Mode)"
        )


def prepare_database(runtime: Runtime, *, migrate: bool) -> None:
    engine = runtime.deps.engine
    if migrate:
        upgrade(engine)
        return
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        logger.warning("database schema is at %s, code expects %s: run `pmbot migrate`", current, head)


def check_slack(runtime: Runtime) -> None:
    """auth.test once at start, so a bad token shows up in the log now rather than on the first command."""
    try:
        who = runtime.deps.slack.identity()
    except SlackError as exc:
        logger.warning("Slack: auth.test refused (%s); commands will fail until this is fixed", exc.code)
    except IntegrationUnavailable as exc:
        logger.warning("Slack: %s unreachable (%s); commands will fail until it answers",
                       runtime.deps.settings.slack_api_url, exc)
    else:
        logger.info("Slack: connected as %s in %s", who.get("user"), who.get("team"))


class Service:
    """A running bot: HTTP server (+ Socket Mode) + scheduler, stopped by `stop()` or SIGTERM."""

    def __init__(self, runtime: Runtime, *, host: str, port: int):
        settings = runtime.deps.settings
        self.runtime = runtime
        self.http = HttpServer(runtime.wsgi, host=host, port=port, threads=settings.pmbot_http_threads,
                               drain_seconds=settings.pmbot_drain_seconds)
        self.socket_handler = None
        self._stopped = threading.Event()

    def start(self) -> None:
        settings = self.runtime.deps.settings
        self.http.start()
        logger.info("HTTP on port %s: POST /slack/events, GET /healthz, GET /metrics", self.http.port)
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            self.socket_handler = SocketModeHandler(self.runtime.bolt, settings.slack_app_token.get_secret_value())
            self.socket_handler.connect()
            logger.info("Socket Mode connected")
        # Work acked but unfinished (by any process, this one before a restart included) is picked up here.
        self.runtime.work.start()
        if settings.pmbot_scheduler_enabled:
            self.runtime.scheduler.start()
        else:
            self.runtime.deps.scheduler_role = "off (PMBOT_SCHEDULER_ENABLED=false)"

    def wait(self) -> None:
        self._stopped.wait()

    def request_stop(self, *_args: object) -> None:
        self._stopped.set()

    def stop(self) -> None:
        """Drain: stop taking requests, finish what was acked, stop the scheduler, close the database."""
        logger.info("stopping: draining requests and work in flight")
        self.http.stop()
        if self.socket_handler is not None:
            self.socket_handler.close()
        self.runtime.scheduler.shutdown(wait=True)
        self.runtime.executor.shutdown(wait=True)
        self.runtime.work.stop(wait=True)
        self.runtime.deps.engine.dispose()
        logger.info("stopped cleanly")


def serve(settings: Settings, *, host: str, port: int, migrate: bool = True) -> int:
    """`pmbot serve`: run until SIGTERM/SIGINT, then drain and exit 0."""
    require_slack_credentials(settings)
    configure_logging(settings.pmbot_log_level)
    runtime = build(settings)
    prepare_database(runtime, migrate=migrate)
    for line in settings.missing_integrations():
        logger.info(line)
    check_slack(runtime)
    service = Service(runtime, host=host, port=port)
    signal.signal(signal.SIGTERM, service.request_stop)
    signal.signal(signal.SIGINT, service.request_stop)
    service.start()
    service.wait()
    service.stop()
    return 0
