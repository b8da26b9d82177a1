"""`pmbot`: serve, migrate, manifest, doctor, jobs."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.quality.pull import PullResult
    from bot.settings import Settings

# Each verb imports what it needs when it runs: `pmbot --help` loads argparse and nothing heavy.


class _Version(argparse.Action):
    """`--version`, reading the installed package's metadata only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from bot import __version__

        parser.exit(message=f"pmbot {__version__}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmbot", description="The Slack bot for generative-AI teams.")
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bot (HTTP on /slack/events, or Socket Mode)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the database schema at start")

    shell = sub.add_parser("shell", help="try the bot in a local Slack workspace, in this terminal")
    shell.add_argument("--files-dir", default="sandbox-files", help="where files the bot uploads are saved")

    classify = sub.add_parser("classify", help="grade a bug report (JSON out): TEXT, or --jsonl FILE of {id, text}")
    classify.add_argument("text", nargs="?", help="the report text")
    classify.add_argument("--jsonl", metavar="FILE", help="one JSON object per line with id and text; - for stdin")

    _grader_parser(sub)
    sub.add_parser("migrate", help="upgrade the database schema to the latest version")

    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    manifest.add_argument("--url", default=None, help="public base URL of the bot, e.g. https://pmbot.acme.io")
    manifest.add_argument("--socket-mode", action="store_true", help="a manifest for Socket Mode (no URLs)")

    sub.add_parser("doctor", help="check configuration and reach Slack, the database, Jira and the LLM")

    jobs = sub.add_parser("jobs", help="list or run scheduled jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_verb", metavar="ACTION")
    jobs_sub.add_parser("list", help="every job, its schedules and their next run")
    run = jobs_sub.add_parser("run", help="run a job once now, or as if the clock read --now")
    run.add_argument("name")
    run.add_argument("--now", default=None, help="ISO time, e.g. 2026-12-01T09:30 (zone: PMBOT_TIMEZONE)")
    jira = sub.add_parser("jira", help="the Jira mirror: what is waiting or stuck, and replaying it")
    jira_sub = jira.add_subparsers(dest="jira_verb", metavar="ACTION")
    jira_sub.add_parser("status", help="outbox counts, a pause, failing and given-up deliveries")
    retry = jira_sub.add_parser("retry", help="replay given-up and failing deliveries now")
    retry.add_argument("--id", type=int, action="append", dest="ids", help="only this outbox row (repeatable)")
    cost = sub.add_parser("cost", help="budget costs")
    cost_sub = cost.add_subparsers(dest="cost_verb", metavar="ACTION")
    load = cost_sub.add_parser("import", help="import a cost file into a channel's budget, all lines or none: pmbot's "
                               "CSV, or a bill from AWS (CUR, Cost Explorer), Google Cloud, Azure, OpenAI, Anthropic")
    load.add_argument("file")
    load.add_argument("--channel", required=True, help="the channel whose budget it is: its id (C…) or #name")
    load.add_argument("--rate", default=None, help="for a file in another currency: e.g. USD=0.92 (one USD in the "
                                                   "budget's currency); recorded with the lines")
    load.add_argument("--team", default=None, help="the team id, when several teams have a budget in that channel")
    _quality_parser(sub)
    return parser


def _quality_parser(sub) -> None:
    """`pmbot quality plan|ingest|pull`."""
    quality = sub.add_parser("quality", help="the Quality Management Plan: set it from a file, ingest eval results")
    quality_sub = quality.add_subparsers(dest="quality_verb", metavar="ACTION")
    plan = quality_sub.add_parser("plan", help="set a team's plan from a YAML (or JSON) file")
    plan.add_argument("file")
    plan.add_argument("--team", required=True, help="the team id (T…)")
    plan.add_argument("--channel", default=None, help="where breaches are filed (C…), unless the file says")
    ingest = quality_sub.add_parser("ingest", help="record the runs in a promptfoo or lm-evaluation-harness results "
                                                   "file, or a CSV/JSON of metric values, against each team's plan")
    ingest.add_argument("file")
    ingest.add_argument("--team", action="append", dest="teams", default=None,
                        help="a team id (repeatable); default: the one team with a plan")
    ingest.add_argument("--model", default=None, help="the model's name, when the file does not say")
    pull = quality_sub.add_parser("pull", help="record the finished runs of an MLflow experiment (MLFLOW_TRACKING_URI) "
                                               "against each team's plan; runs pulled before are not recorded again")
    pull.add_argument("source", choices=["mlflow"], help="where the runs are")
    pull.add_argument("--experiment", required=True, help="the experiment's name, exactly as MLflow shows it")
    pull.add_argument("--team", action="append", dest="teams", default=None,
                      help="a team id (repeatable); default: the one team with a plan")
    pull.add_argument("--model", default=None,
                      help="the model's name for runs that log no `model` param or tag (default: the experiment's)")
    pull.add_argument("--fractions", default=None, metavar="all|NAME,NAME",
                      help="metrics logged as 0-1 fractions, turned into %% where the plan measures them in %%: "
                           "all, or names separated by commas (never guessed; default: none)")


def _grader_parser(sub) -> None:
    """`pmbot grader train|export`."""
    grader = sub.add_parser("grader", help="the learned bug grader: train it, export a team's regrades")
    grader_sub = grader.add_subparsers(dest="grader_verb", metavar="ACTION")
    train = grader_sub.add_parser("train", help="fit the model on tests/data/grading/*.jsonl (needs scikit-learn)")
    train.add_argument("--data", default=None, help="a folder of labelled *.jsonl files (default: the repository's)")
    train.add_argument("--out", default=None, help="where to write the model (default: the one the bot loads)")
    export = grader_sub.add_parser("export", help="write a team's regraded bugs as labelled JSONL for training")
    export.add_argument("--team", default=None, help="only this team id (default: every team)")
    export.add_argument("--out", default="-", help="a file, or - for standard output")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 0
    if args.verb == "manifest":
        return _manifest(args)
    if args.verb == "classify" and (args.text is None) == (args.jsonl is None):
        parser.error("classify takes either TEXT or --jsonl FILE")
    from bot.settings import ConfigError, load_settings

    try:
        settings = load_settings()
        return _dispatch(args, settings, parser)
    except ConfigError as exc:
        print(f"pmbot: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not _database_unreachable(exc):
            raise
        print(f"pmbot: the database cannot be reached: {str(exc.orig).strip().splitlines()[0]}", file=sys.stderr)
        return 1


def _database_unreachable(exc: Exception) -> bool:
    """SQLAlchemy's OperationalError; imported only here, so verbs without a database never load SQLAlchemy."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return False
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)


def _dispatch(args: argparse.Namespace, settings: Settings, parser: argparse.ArgumentParser) -> int:
    if args.verb == "serve":
        from bot.app import serve

        return serve(settings, host=args.host, port=args.port, migrate=not args.no_migrate)
    if args.verb == "classify":
        return _classify(args, settings)
    if args.verb == "grader":
        return _grader(args, settings, parser)
    if args.verb == "shell":
        return _shell(settings, args.files_dir)
    if args.verb == "migrate":
        return _migrate(settings)
    if args.verb == "doctor":
        return _doctor(settings)
    if args.verb == "jobs":
        if args.jobs_verb == "list":
            return _jobs_list(settings)
        if args.jobs_verb == "run":
            return _jobs_run(settings, args.name, args.now)
        parser.parse_args(["jobs", "--help"])
    return _dispatch_admin(args, settings, parser)


def _dispatch_admin(args: argparse.Namespace, settings: Settings, parser: argparse.ArgumentParser) -> int:
    """`pmbot jira …` and `pmbot cost …`."""
    if args.verb == "jira" and args.jira_verb in ("status", "retry"):
        return _jira(settings, args.jira_verb, args.ids if args.jira_verb == "retry" else None)
    if args.verb == "cost" and args.cost_verb == "import":
        return _cost_import(settings, args.file, args.channel, args.team, args.rate)
    if args.verb == "quality" and args.quality_verb == "plan":
        return _quality_plan(settings, args.file, args.team, args.channel)
    if args.verb == "quality" and args.quality_verb == "ingest":
        return _quality_ingest(settings, args.file, args.teams, args.model)
    if args.verb == "quality" and args.quality_verb == "pull":
        return _quality_pull(settings, args.experiment, args.teams, args.model, args.fractions)
    if args.verb in ("jira", "cost", "quality"):
        parser.parse_args([args.verb, "--help"])
    return 2


def _quality_plan(settings: Settings, path: str, team: str, channel: str | None) -> int:
    """Set a team's plan from a file; the reply lists it."""
    import yaml

    from bot.domain.quality import QualityError, plan_from_mapping
    from bot.quality import service

    try:
        with open(path, encoding="utf-8") as handle:
            plan, written_channel, template = plan_from_mapping(yaml.safe_load(handle))
    except OSError as exc:
        print(f"pmbot: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except yaml.YAMLError as exc:
        print(f"pmbot: {path} is not YAML: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except QualityError as exc:
        print(f"pmbot: {path}: {exc}".replace("`", ""), file=sys.stderr)
        return 2
    target_channel = channel or written_channel
    if not target_channel:
        print("pmbot: say where breaches are filed: --channel C… (or `channel:` in the file)", file=sys.stderr)
        return 2
    deps = _scheduler(settings).deps
    service.set_plan(deps, team_id=team, channel_id=target_channel, user_id="pmbot-cli", plan=plan,
                     template=template)
    print(f"Quality plan of {team} set: {len(plan.metrics)} metrics, breaches filed in {target_channel}.")
    for m in plan.metrics:
        print(f"  {m.name}: {m.target_text()} ({m.direction} is better), breach grade {m.grade}")
    return 0


def _teams_with_a_plan(deps, asked: list[str] | None) -> list[str]:
    """The teams a quality command is for: those asked for, else the one team with a plan; [] (said why) when
    that is none or several."""
    from bot.quality import service

    planned = service.teams_with_plans(deps)
    teams = asked or (planned if len(planned) == 1 else [])
    if not teams:
        print("pmbot: " + ("no team has a quality plan yet (`/quality plan`)" if not planned else
                           f"several teams have a plan: say which with --team ({', '.join(planned)})"),
              file=sys.stderr)
    return teams


def _quality_ingest(settings: Settings, path: str, teams: list[str] | None, model: str | None) -> int:
    """Record an eval results file against each team's plan; the reply names the layout it recognised."""
    from bot.domain.quality import QualityError
    from bot.errors import PmbotError
    from bot.quality import service

    deps = _scheduler(settings).deps
    teams = _teams_with_a_plan(deps, teams)
    if not teams:
        return 2
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        print(f"pmbot: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    for team in teams:
        try:
            results, recorded = service.ingest(deps, team_id=team, data=data, filename=path, recorded_by="cli",
                                               model=model)
        except (QualityError, PmbotError) as exc:
            print(f"pmbot: {team}: {exc}".replace("`", ""), file=sys.stderr)
            return 1
        print(f"{team}: read {results.layout}: {len(recorded)} run(s), "
              f"{sum(r.created for r in recorded)} new")
        for r in recorded:
            failed = ", ".join(o.metric.name for o in r.assessment.failed) or "none"
            bugs = ", ".join(r.opened) or "none"
            print(f"  run {r.run.id} {r.run.model} {r.run.version}".rstrip()
                  + f": out of target: {failed}; bugs filed: {bugs}"
                  + ("" if r.created else " (recorded before)"))
        for note in results.notes:
            print(f"  note: {note}")
    return 0


def _quality_pull(settings: Settings, experiment: str, teams: list[str] | None, model: str | None,
                  fractions: str | None) -> int:
    """Record an MLflow experiment's finished runs against each team's plan; a run pulled before is not new."""
    from bot.domain.quality import QualityError
    from bot.errors import PmbotError
    from bot.gateways.mlflow import MlflowNotConfigured
    from bot.quality import pull

    if not settings.mlflow_tracking_uri:
        print("pmbot: set MLFLOW_TRACKING_URI to your MLflow tracking server, e.g. http://mlflow.example.com:5000 "
              "(and MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, if it asks "
              "for credentials)", file=sys.stderr)
        return 2
    try:
        as_fractions = pull.parse_fractions(fractions)
    except QualityError as exc:
        print(f"pmbot: --fractions: {exc}".replace("`", ""), file=sys.stderr)
        return 2
    deps = _scheduler(settings).deps
    teams = _teams_with_a_plan(deps, teams)
    if not teams:
        return 2
    for team in teams:
        try:
            result = pull.pull_mlflow(deps, team_id=team, experiment=experiment, fractions=as_fractions, model=model)
        except MlflowNotConfigured as exc:
            print(f"pmbot: {exc}", file=sys.stderr)
            return 2
        except (QualityError, PmbotError) as exc:
            print(f"pmbot: {team}: {exc}".replace("`", ""), file=sys.stderr)
            return 1
        _print_pull(team, result)
    return 0


def _print_pull(team: str, result: PullResult) -> None:
    """Per team: what was read, what is new, and per new run what is out of target and the bugs it filed."""
    print(f"{team}: MLflow experiment {result.experiment}: {result.read} run(s) read, {len(result.recorded)} new, "
          f"{result.before} recorded before" + (f", {result.skipped} left out" if result.skipped else ""))
    for r in result.recorded:
        failed = ", ".join(o.metric.name for o in r.assessment.failed) or "none"
        bugs = ", ".join(r.opened) or "none"
        print(f"  run {r.run.id} {r.run.model} {r.run.version}".rstrip()
              + f": out of target: {failed}; bugs filed: {bugs}")
    for note in result.notes:
        print(f"  note: {note}")


def _cost_import(settings: Settings, path: str, channel: str, team: str | None, rate: str | None) -> int:
    """Stream a cost file into a channel's budget; the reply says what was read. Alerts that Slack cannot take
    now are stored and posted by the hourly job, so they never make the import fail."""
    from bot.budgets import service
    from bot.errors import IntegrationUnavailable, PmbotError
    from storage.budgets import budgets_in_channel
    from storage.db import session_scope

    deps = _scheduler(settings).deps
    try:
        channel_id = deps.slack.resolve_channel(channel) if channel.startswith("#") else channel
    except IntegrationUnavailable as exc:
        print(f"pmbot: cannot find channel {channel} by name: {exc} (give its id, C…)", file=sys.stderr)
        return 2
    with session_scope(deps.engine) as session:
        found = budgets_in_channel(session, channel_id=channel_id or "", team_id=team)
    if len(found) != 1:
        print(f"pmbot: {'no budget' if not found else 'several budgets (give --team)'} in channel {channel}",
              file=sys.stderr)
        return 2
    try:
        parsed_rate = service.parse_rate(rate) if rate else None
        with open(path, encoding="utf-8-sig", newline="") as handle:
            done = service.import_costs(deps, found[0], user_id="pmbot-cli", lines=handle, rate=parsed_rate)
    except OSError as exc:
        print(f"pmbot: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except PmbotError as exc:
        print(f"pmbot: {exc}", file=sys.stderr)
        return 1
    print(done.text().replace("`", ""))
    try:
        for alert in service.check_alerts(deps, found[0]):
            print(f"alert: {alert}")
        waiting = service.unposted_count(deps, found[0].id)
    except IntegrationUnavailable as exc:
        waiting = -1
        print(f"pmbot: alerts not checked now ({exc}); the hourly job checks and posts them", file=sys.stderr)
    if waiting > 0:
        print(f"{waiting} alert(s) could not be posted now (Slack unreachable); the hourly job posts them")
    return 0


def _manifest(args: argparse.Namespace) -> int:
    from bot import commands
    from bot.manifest import DEFAULT_URL, manifest_yaml

    print(manifest_yaml(commands.specs(), url=args.url or DEFAULT_URL, socket_mode=args.socket_mode), end="")
    return 0


def _shell(settings: Settings, files_dir: str) -> int:
    from pathlib import Path

    from bot.logs import configure_logging
    from bot.sandbox.shell import run_shell

    # The terminal is for the conversation; only warnings and errors are logged (to stderr).
    configure_logging("WARNING" if settings.pmbot_log_level != "DEBUG" else "DEBUG")
    return run_shell(settings, files_dir=Path(files_dir))


def _classify(args: argparse.Namespace, settings: Settings) -> int:
    """Grade one text or a JSONL file; the LLM is used when OPENAI_API_KEY is set."""
    import json

    from bot.grader import grade_text, llm_grader

    llm = llm_grader(settings)
    if args.text is not None:
        if not args.text.strip():
            print("pmbot: the report is empty: say what went wrong, e.g. pmbot classify \"answers are cut off\"",
                  file=sys.stderr)
            return 2
        print(json.dumps(grade_text(args.text, llm).verdict.as_json(), ensure_ascii=False))
        return 0
    stream = sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8")  # noqa: SIM115
    failures = 0
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            result = _classify_line(line, number, lambda text: grade_text(text, llm).verdict.as_json())
            failures += "error" in result
            print(json.dumps(result, ensure_ascii=False))
    return 1 if failures else 0


def _grader(args: argparse.Namespace, settings: Settings, parser: argparse.ArgumentParser) -> int:
    if args.grader_verb == "train":
        return _grader_train(args)
    if args.grader_verb == "export":
        return _grader_export(args, settings)
    parser.parse_args(["grader", "--help"])
    return 2


def _grader_train(args: argparse.Namespace) -> int:
    try:
        from bot import grader_train
    except ImportError as exc:  # pragma: no cover - the train extra is missing
        print(f"pmbot: training needs scikit-learn: pip install 'pmbot[train]' ({exc})", file=sys.stderr)
        return 2
    data = Path(args.data) if args.data else grader_train.DATA_DIR
    out = Path(args.out) if args.out else grader_train.MODEL_PATH
    if not any(data.glob("*.jsonl")):
        print(f"pmbot: no labelled *.jsonl files in {data}", file=sys.stderr)
        return 2
    try:
        model, used, held = grader_train.train(out, data)
    except ValueError as exc:
        print(f"pmbot: {exc}", file=sys.stderr)
        return 2
    files = ", ".join(f"{name} {n}" for name, n in sorted(grader_train.counts(used).items()))
    print(f"Trained on {len(used)} reports ({files}); {len(held)} dev reports held out.")
    print(f"Wrote {out} ({out.stat().st_size / 1e6:.1f} MB, data sha256 {model.meta['data_sha256'][:12]}).")
    return 0


def _grader_export(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from storage.bugs import all_regrades
    from storage.db import make_engine, session_scope

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        regrades = all_regrades(session, team_id=args.team)
    lines = [json.dumps({"id": f"{team}-{r.readable_id}", "text": r.text, "grade": r.grade, "acceptable": [r.grade],
                         "why": r.reason, "source": f"pmbot-team/{team}#{r.readable_id}", "auto_grade": r.auto_grade,
                         "changed_by": r.user_id, "changed_at": r.changed_at.isoformat()}, ensure_ascii=False)
             for team, r in regrades]
    text = "".join(line + "\n" for line in lines)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"Wrote {len(lines)} regraded reports to {args.out}.", file=sys.stderr)
    return 0


def _classify_line(line: str, number: int, grade) -> dict:
    import json

    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"line": number, "error": f"not JSON: {exc.msg}"}
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return {"id": item.get("id") if isinstance(item, dict) else None, "line": number,
                "error": "each line needs an object with a string 'text'"}
    if not item["text"].strip():
        return {"id": item.get("id"), "line": number, "error": "the report is empty"}
    return {"id": item.get("id"), **grade(item["text"])}


def _migrate(settings: Settings) -> int:
    from storage.db import make_engine
    from storage.migrate import current_revision, upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    print(f"database {settings.database_label()} is at schema {current_revision(engine)}")
    return 0


def _doctor(settings: Settings) -> int:
    from bot.doctor import FAIL, run_checks

    checks = run_checks(settings)
    for check in checks:
        print(check.line())
    return 1 if any(check.status == FAIL for check in checks) else 0


def _jira(settings: Settings, verb: str, ids: list[int] | None) -> int:
    from bot.app import build_deps
    from bot.mirror import outbox, status
    from storage.migrate import upgrade

    deps = build_deps(settings)
    upgrade(deps.engine)
    if deps.jira is None:
        print(status.status_text(deps), file=sys.stderr)
        return 1
    if verb == "retry":
        count = status.retry(deps, ids=ids)
        print(f"{count} deliver{'y' if count == 1 else 'ies'} put back in the queue; delivering now…")
        print(f"  {outbox.deliver(deps)}")
    print(status.status_text(deps))
    return 0


def _scheduler(settings: Settings):
    """Deps and a scheduler on a migrated database; no Bolt app (jobs run without Slack credentials)."""
    from bot.app import build_deps
    from bot.scheduler import Scheduler
    from storage.migrate import upgrade

    deps = build_deps(settings)
    upgrade(deps.engine)
    return Scheduler(deps)


def _jobs_list(settings: Settings) -> int:
    from bot.jobs.base import ScheduleRef, next_fire
    from storage.db import session_scope
    from storage.repos import enabled_schedules

    scheduler = _scheduler(settings)
    scheduler.ensure_default_schedules()
    with session_scope(scheduler.deps.engine) as session:
        schedules = [ScheduleRef.from_row(row) for row in enabled_schedules(session)]
    now = scheduler.deps.clock()
    for name, job in sorted(scheduler.jobs.items()):
        print(f"{name} — {job.SUMMARY}")
        for ref in (s for s in schedules if s.job_name == name):
            upcoming = next_fire(ref, now)
            when = upcoming.isoformat() if upcoming else "never"
            print(f"    team {ref.team_id} [{ref.key}] cron '{ref.cron}' {ref.timezone} → next {when}")
    return 0


def _jobs_run(settings: Settings, name: str, now_text: str | None) -> int:
    scheduler = _scheduler(settings)
    if name not in scheduler.jobs:
        known = ", ".join(sorted(scheduler.jobs))
        print(f"pmbot: no job named {name!r} (known: {known})", file=sys.stderr)
        return 2
    try:
        now = _parse_now(now_text, settings.pmbot_timezone) if now_text else scheduler.deps.clock()
    except ValueError as exc:
        print(f"pmbot: --now: {exc}", file=sys.stderr)
        return 2
    results = scheduler.run_now(name, now)
    for result in results:
        print(f"{result.job_name} at {result.slot_at.isoformat()}: {result.status}"
              + (f" — {result.detail}" if result.detail else ""))
    return 0 if all(r.status == "ok" for r in results) else 1


def _parse_now(text: str, timezone: str) -> datetime:
    """ISO 8601; without an offset the time is read in PMBOT_TIMEZONE."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO time such as 2026-12-01T09:30 or 2026-12-01T09:30+01:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)
