"""`pmbot doctor`: configuration and reachability of Slack, the database, Jira and the LLM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.gateways.jira_gateway import JiraGateway, JiraRejected, JiraUnavailable, build_jira_client
from bot.gateways.llm import build_llm_client
from bot.gateways.paging import build_pager
from bot.gateways.slack import probe_identity
from bot.gateways.slack_port import build_web_client
from bot.incidents.paging import REFUSED, refusal_ref
from bot.mirror import mapping
from bot.settings import JIRA_KINDS, JIRA_PRIORITY_KEYS, Settings
from storage.db import make_engine, ping, session_scope
from storage.migrate import current_revision, head_revision
from storage.work import work_item

OK, FAIL, OFF = "ok", "FAIL", "off"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def line(self) -> str:
        mark = {OK: "✓", FAIL: "✗", OFF: "–"}[self.status]
        return f"{mark} {self.name}: {self.detail}"


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order an admin would fix things."""
    checks: list[Callable[[Settings], Check]] = [check_config, check_database, check_slack, check_jira,
                                                 check_jira_mapping, check_llm, check_paging]
    return [check(settings) for check in checks]


def check_config(settings: Settings) -> Check:
    missing = [name for name, value in (("SLACK_BOT_TOKEN", settings.slack_bot_token),
                                        ("SLACK_SIGNING_SECRET", settings.slack_signing_secret)) if value is None]
    if settings.socket_mode and "SLACK_SIGNING_SECRET" in missing:
        missing.remove("SLACK_SIGNING_SECRET")
    if missing:
        return Check("configuration", FAIL, "missing " + ", ".join(missing))
    mode = "Socket Mode" if settings.socket_mode else "HTTP"
    return Check("configuration", OK, f"Slack credentials set ({mode}); time zone {settings.pmbot_timezone}")


def check_database(settings: Settings) -> Check:
    engine = make_engine(settings.database_url)
    try:
        ping(engine)
        current, head = current_revision(engine), head_revision(engine)
    except Exception as exc:  # noqa: BLE001 — doctor reports every failure as a line
        return Check("database", FAIL, f"{settings.database_label()} unreachable: {type(exc).__name__}")
    finally:
        engine.dispose()
    if current != head:
        return Check("database", FAIL, f"schema at {current}, code expects {head}: run `pmbot migrate`")
    return Check("database", OK, f"{settings.database_label()} reachable, schema up to date")


def check_slack(settings: Settings) -> Check:
    if settings.slack_bot_token is None:
        return Check("slack", FAIL, "SLACK_BOT_TOKEN is not set")
    ok, said = probe_identity(build_web_client(settings), settings.slack_api_url)
    return Check("slack", OK if ok else FAIL, said)


def check_jira(settings: Settings) -> Check:
    if not settings.jira_configured:
        return Check("jira", OFF, "not configured (JIRA_URL, JIRA_API_TOKEN, JIRA_PROJECT)")
    try:
        client = build_jira_client(settings)
        info = client.server_info()
        me = client.myself()
    except Exception as exc:  # noqa: BLE001 — the library raises many kinds; all mean "not usable"
        return Check("jira", FAIL, f"{settings.jira_url}: {type(exc).__name__}: {str(exc)[:200]}")
    return Check("jira", OK, f"{info.get('deploymentType', 'Jira')} {info.get('version', '')}, "
                             f"signed in as {me.get('displayName') or me.get('name') or 'the API user'}")


# What Jira fills in itself when a create leaves it out.
_JIRA_FILLS = {"reporter"}


def check_jira_mapping(settings: Settings) -> Check:
    """The mapping in use (ids from the settings, or chosen by name from the project) and where each entry came
    from; then the project's create screens: required fields we do not send, fields we send that are not there."""
    if not settings.jira_configured:
        return Check("jira mapping", OFF, "Jira is not configured")
    gateway = JiraGateway(settings)
    try:
        chosen = mapping.resolve(settings, gateway, with_names=True)
    except (JiraUnavailable, mapping.MappingMissing) as exc:
        return Check("jira mapping", FAIL, f"cannot read the project's issue types: {str(exc)[:300]}")
    problems = [f"no issue type for {kind}s: project {chosen.project} has none named "
                f"{' or '.join(mapping.TYPE_NAMES[kind])}; set JIRA_ISSUE_TYPES ({kind}=<id>)"
                for kind in JIRA_KINDS if kind not in chosen.issue_types]
    unmapped = [key for key in JIRA_PRIORITY_KEYS if key not in chosen.priorities]
    if unmapped:
        problems.append(f"no priority for {', '.join(unmapped)} (set JIRA_PRIORITIES; those go without a priority)")
    for kind, choice in chosen.issue_types.items():
        problems += _screen_problems(gateway, chosen, kind, choice.id)
    used = ("issue types " + ", ".join(f"{k}={c.describe()}" for k, c in chosen.issue_types.items()) +
            "; priorities " + (", ".join(f"{k}={c.describe()}" for k, c in chosen.priorities.items()) or "none"))
    if problems:
        return Check("jira mapping", FAIL, "; ".join(problems) + f" — in use: {used}")
    return Check("jira mapping", OK, f"{used}; every create screen accepts what pmbot sends")


def _screen_problems(gateway: JiraGateway, chosen: mapping.Mapping, kind: str, type_id: str) -> list[str]:
    sent = {"project", "issuetype", "summary", "description", "labels"}
    if chosen.priorities:
        sent.add("priority")
    if kind in chosen.components:
        sent.add("components")
    try:
        screen = gateway.create_screen(type_id)
    except (JiraUnavailable, JiraRejected) as exc:
        return [f"{kind} (issue type {type_id}): cannot read the create screen: {str(exc)[:200]}"]
    problems = []
    missing = sorted(f for f, required in screen.items() if required and f not in sent and f not in _JIRA_FILLS)
    absent = sorted(f for f in sent - {"project", "issuetype"} if f not in screen)
    if missing:
        problems.append(f"{kind}: Jira requires {', '.join(missing)}, which pmbot does not send")
    if absent:
        problems.append(f"{kind}: pmbot sends {', '.join(absent)}, which is not on the create screen")
    return problems


def check_llm(settings: Settings) -> Check:
    if not settings.llm_configured:
        return Check("llm", OFF, "not configured (OPENAI_API_KEY): bugs are graded by the offline grader")
    try:
        build_llm_client(settings, max_retries=0).models.list()
    except Exception as exc:  # noqa: BLE001
        return Check("llm", FAIL, f"{settings.openai_base_url or 'OpenAI'}: {type(exc).__name__}")
    return Check("llm", OK, f"reachable, model {settings.pmbot_llm_model}")


def check_paging(settings: Settings) -> Check:
    """What pages the on-call, and whether the service has refused the key in use. No test page is sent: the
    services have no dry run, and a trigger would wake someone up."""
    pager = build_pager(settings)
    if pager is None:
        return Check("paging", OFF, "not configured (PMBOT_PAGING_PROVIDER): nobody is paged for incidents")
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            refused = work_item(session, kind=REFUSED, ref_id=refusal_ref(pager))
    except Exception as exc:  # noqa: BLE001 — doctor reports every failure as a line
        return Check("paging", FAIL, f"cannot read past pages: database unreachable ({type(exc).__name__})")
    finally:
        engine.dispose()
    if refused is not None:
        return Check("paging", FAIL, f"{pager.name} refused the key in {pager.key_setting} on "
                                     f"{refused.created_at:%Y-%m-%d %H:%M} UTC (the admin channel was told why): set "
                                     "the right key; pages go out again once it changes")
    grades = " and ".join(sorted(settings.pmbot_paging_grades.replace(",", " ").split()))
    return Check("paging", OK, f"{pager.name} at {pager.base_url} pages the on-call for grade {grades} incidents "
                               "(no test page is sent)")
