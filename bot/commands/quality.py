"""`/quality`: the team's Quality Management Plan — metrics and targets, eval runs against them, go / no-go."""

from __future__ import annotations

import re

from slack_bolt import App

from bot import blocks
from bot.deps import Deps
from bot.domain import quality as quality_rules
from bot.domain.text import escape_mrkdwn, truncate
from bot.edge import FieldErrors, Reply, Request, on_command, on_view
from bot.errors import NotFound, UserInputError
from bot.quality import chart as quality_chart
from bot.quality import service
from bot.quality.service import RunIn
from bot.registry import CommandSpec, Grammar, Sub, no_args, rest_of

_OPTION = re.compile(r"--(model|version|dataset)\s+(\S+)", re.I)
_PAIR = re.compile(r"^([^=\s]+)=(\S+)$")
STATUS_ICON = {"pass": "✅", "breach": "🔴", "drop": "🔻", "missing": "⚪"}


VIEW_PLAN = "quality.plan"
MAX_LINES_CHARS = 3000  # Slack's limit for a plain-text input


def register(app: App, deps: Deps) -> None:
    on_command(app, deps, SPEC, handle)
    on_view(app, deps, VIEW_PLAN, on_plan_submitted)


def handle(request: Request, reply: Reply, deps: Deps) -> None:
    try:
        GRAMMAR.dispatch(request, reply, deps)
    except quality_rules.QualityError as exc:  # a value, metric or template we cannot use: the message says what would
        raise UserInputError(str(exc)) from exc


# --- the plan -------------------------------------------------------------------------------------------------


def _plan(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    if args and args[0].lower() == "edit":
        _open_plan_form(request, reply, deps)
        return
    if not args or args[0].lower() == "show":
        reply.ack(_plan_text(deps, request.team_id))
        return
    plan = quality_rules.template(args[0])
    service.require_owner(deps, request.team_id, request.user_id)
    name = quality_rules.TEMPLATE_ALIASES.get(args[0].lower(), args[0].lower())
    service.set_plan(deps, team_id=request.team_id, channel_id=request.channel_id, user_id=request.user_id,
                     plan=plan, template=name)
    reply.ack(f"Quality plan set from the *{quality_rules.TEMPLATES[name][0]}* template; breaches are filed as bugs in "
              f"<#{request.channel_id}>.\n\n{_plan_text(deps, request.team_id)}\n\nChange a target with "
              "`/quality target hallucination_rate 4%`; send results with `/quality log` or the API "
              "(`/quality token`).")


def _open_plan_form(request: Request, reply: Reply, deps: Deps) -> None:
    service.require_owner(deps, request.team_id, request.user_id)
    try:
        row, plan = service.plan_of(deps, request.team_id)
        channel, recover = row.channel_id, plan.recover_runs
        lines = "\n".join(quality_rules.metric_line(m) for m in plan.metrics)
    except NotFound:
        channel, recover, lines = request.channel_id, quality_rules.DEFAULT_RECOVER_RUNS, ""
    reply.ack()
    deps.slack.open_view(request.trigger_id, plan_view(lines, channel, recover))


def plan_view(lines: str, channel: str, recover_runs: int) -> dict:
    """The plan form: a template or one metric per line, where breaches go, how many good runs close one."""
    templates = [{"text": blocks.plain(f"{title} ({key})", 75), "value": key}
                 for key, (title, _p) in quality_rules.TEMPLATES.items()]
    metrics_input = {"type": "plain_text_input", "action_id": "metrics", "multiline": True,
                     "max_length": MAX_LINES_CHARS}
    if lines:
        metrics_input["initial_value"] = lines[:MAX_LINES_CHARS]
    return {
        "type": "modal", "callback_id": VIEW_PLAN, "title": blocks.plain("Quality plan", 24),
        "submit": blocks.plain("Save", 24), "close": blocks.plain("Cancel", 24),
        "blocks": [
            {"type": "input", "block_id": "template", "optional": True, "label": blocks.plain("Start from a template"),
             "hint": blocks.plain("Used when the metrics below are empty."),
             "element": {"type": "static_select", "action_id": "template", "options": templates}},
            {"type": "input", "block_id": "metrics", "optional": True, "label": blocks.plain("Metrics, one per line"),
             "hint": blocks.plain(f"name unit lower|higher target [grade N] [margin X] | how it is measured — e.g. "
                                  f"{quality_rules.LINE_EXAMPLE}. Units: {', '.join(quality_rules.UNITS)}."),
             "element": metrics_input},
            {"type": "input", "block_id": "channel", "label": blocks.plain("File breaches as bugs in"),
             "element": {"type": "conversations_select", "action_id": "channel", "initial_conversation": channel,
                         "filter": {"include": ["public", "private"], "exclude_bot_users": True}}},
            {"type": "input", "block_id": "recover", "label": blocks.plain("Close a breach after this many good runs"),
             "element": {"type": "number_input", "action_id": "recover", "is_decimal_allowed": False,
                         "min_value": "1", "max_value": "20", "initial_value": str(recover_runs)}},
        ],
    }


def on_plan_submitted(request: Request, deps: Deps) -> None:
    template = request.selected("template") or None
    lines = [line for line in request.field("metrics").splitlines() if line.strip()]
    metrics, errors = [], {}
    for n, line in enumerate(lines, start=1):
        try:
            metrics.append(quality_rules.parse_metric_line(line))
        except quality_rules.QualityError as exc:
            errors["metrics"] = f"Line {n}: {exc}"
            break
    if not lines and not template:
        errors["metrics"] = "Write the metrics, one per line, or pick a template above."
    try:
        recover = int(request.field("recover") or quality_rules.DEFAULT_RECOVER_RUNS)
        plan = quality_rules.plan(metrics or list(quality_rules.template(template or "chatbot").metrics),
                                  recover_runs=recover)
    except (ValueError, quality_rules.QualityError) as exc:
        errors.setdefault("metrics", str(exc))
    if errors:
        raise FieldErrors(errors)
    service.require_owner(deps, request.team_id, request.user_id)
    channel = request.selected_conversation("channel") or request.user_id
    service.set_plan(deps, team_id=request.team_id, channel_id=channel, user_id=request.user_id, plan=plan,
                     template=None if metrics else template)


def _plan_text(deps: Deps, team_id: str) -> str:
    try:
        row, plan = service.plan_of(deps, team_id)
    except NotFound:  # no plan yet: say how to start one
        names = ", ".join(f"`{key}` ({title})" for key, (title, _p) in quality_rules.TEMPLATES.items())
        return f"No quality plan yet. Start from a template, e.g. `/quality plan chatbot` — {names}."
    lines = [f"*Quality plan* of <@{row.updated_by}> (breaches filed in <#{row.channel_id}>; closed after "
             f"{plan.recover_runs} runs back within target):"]
    for m in plan.metrics:
        margin = (f", a fall of more than {quality_rules.show(m.drop_margin, m.unit)} is a breach"
                  if m.drop_margin else "")
        lines.append(f"• *{m.name}* {m.target_text()} ({m.direction} is better{margin}) — breach is grade "
                     f"{m.grade}" + (f". _{escape_mrkdwn(m.measured)}_" if m.measured else ""))
    return "\n".join(lines)


def _target(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    row, plan = service.plan_of(deps, request.team_id)
    current = _planned(plan, args[0])
    grade = _grade_option(args[2:])
    target = quality_rules.parse_value(args[1], current.unit)
    changed = quality_rules.metric(current.name, current.unit, target, direction=current.direction,
                                   grade=grade or current.grade, measured=current.measured,
                                   drop_margin=current.drop_margin)
    _save(request, deps, row.channel_id, row.template, plan, changed)
    reply.ack(f"*{changed.name}*: target {changed.target_text()}, breach is grade {changed.grade}.")


def _metric(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    row, plan = service.plan_of(deps, request.team_id)
    if args[0].lower() == "remove":
        key = quality_rules.metric_key(args[1])
        if plan.metric(key) is None:
            raise UserInputError(f"The plan has no metric `{truncate(args[1], 40)}`.")
        kept = [m for m in plan.metrics if m.name != key]
        service.require_owner(deps, request.team_id, request.user_id)
        service.set_plan(deps, team_id=request.team_id, channel_id=row.channel_id, user_id=request.user_id,
                         plan=quality_rules.plan(kept, recover_runs=plan.recover_runs), template=row.template)
        reply.ack(f"Removed *{key}* from the plan; runs already recorded keep its values.")
        return
    name, unit, direction, target_text = args[0], args[1], args[2].lower(), args[3]
    if unit not in quality_rules.UNITS:
        raise UserInputError(f"`{truncate(unit, 20)}` is not a unit I know; use one of "
                             f"{', '.join(quality_rules.UNITS)}.")
    if direction not in quality_rules.DIRECTIONS:
        raise UserInputError("Say which way is better: `lower` or `higher`, e.g. "
                             "`/quality metric answer_accuracy score higher 0.8`.")
    target = quality_rules.parse_value(target_text, unit)
    new = quality_rules.metric(name, unit, target, direction=direction,  # type: ignore[arg-type]
                               grade=_grade_option(args[4:]))
    _save(request, deps, row.channel_id, row.template, plan, new)
    reply.ack(f"*{new.name}* is in the plan: {new.target_text()} ({new.direction} is better), breach is grade "
              f"{new.grade}.")


def _save(request: Request, deps: Deps, channel_id: str, template: str | None, plan: quality_rules.Plan,
          changed: quality_rules.Metric) -> None:
    metrics = [changed if m.name == changed.name else m for m in plan.metrics]
    if plan.metric(changed.name) is None:
        metrics.append(changed)
    service.require_owner(deps, request.team_id, request.user_id)
    service.set_plan(deps, team_id=request.team_id, channel_id=channel_id, user_id=request.user_id,
                     plan=quality_rules.plan(metrics, recover_runs=plan.recover_runs), template=template)


def _planned(plan: quality_rules.Plan, name: str) -> quality_rules.Metric:
    """A metric of the plan by name, or an answer listing the ones it has."""
    found = plan.metric(name)
    if found is None:
        raise UserInputError(f"The plan has no metric `{truncate(name, 40)}`; it has "
                             f"{', '.join(m.name for m in plan.metrics)}.")
    return found


def _grade_option(words: list[str]) -> int | None:
    if not words:
        return None
    if len(words) == 2 and words[0].lower() == "grade" and words[1] in ("1", "2", "3", "4"):
        return int(words[1])
    raise UserInputError("After the value, only `grade 1`–`grade 4` may follow, e.g. `grade 2`.")


# --- results in -----------------------------------------------------------------------------------------------


def _token(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    service.plan_of(deps, request.team_id)  # a token is for posting runs against a plan: there must be one
    service.require_owner(deps, request.team_id, request.user_id)
    token = service.new_token(deps, team_id=request.team_id, user_id=request.user_id)
    reply.ack("Your quality API token (shown once; any earlier token stops working now). Keep it in your CI's "
              f"secrets:\n`{token}`\n\nAfter an eval job:\n```curl -X POST https://YOUR-PMBOT-HOST/api/quality/runs "
              '-H "Authorization: Bearer $PMBOT_QUALITY_TOKEN" -H "Content-Type: application/json" '
              '-d \'{"model": "support-bot", "version": "v42", "metrics": {"hallucination_rate": 4.2}}\'```')


def _log(request: Request, reply: Reply, deps: Deps, _args: list[str]) -> None:
    team_plan = service.plan_of(deps, request.team_id)
    plan = team_plan[1]
    text = rest_of(request.text, 1)
    options = {k.lower(): v for k, v in _OPTION.findall(text)}
    values: dict[str, float] = {}
    for word in _OPTION.sub(" ", text).split():
        pair = _PAIR.match(word)
        if pair is None:
            raise UserInputError(f"`{truncate(word, 40)}` is not `metric=value`; e.g. "
                                 "`/quality log hallucination_rate=4.2% pii_leaks=0 --model v42`.")
        planned = plan.metric(pair.group(1))
        values[quality_rules.metric_key(pair.group(1))] = quality_rules.parse_value(
            pair.group(2), planned.unit if planned else "score")
    if not values:
        raise UserInputError("Give at least one value: `/quality log hallucination_rate=4.2% --model v42`.")
    model = options.get("model") or "default"
    recorded = service.record_run(deps, team_id=request.team_id, source="slack", recorded_by=request.user_id,
                                  run_in=RunIn(model=model, values=values, version=options.get("version", ""),
                                               dataset=options.get("dataset", "")),
                                  source_key=f"slack:{request.trigger_id}", planned=team_plan)
    reply.ack(f"Recorded run {recorded.run.id} of {escape_mrkdwn(recorded.run.model)}.\n"
              + _verdict_text(recorded.assessment) + _bugs_text(recorded))


def _bugs_text(recorded: service.Recorded) -> str:
    parts = [f"filed {', '.join(recorded.opened)}" if recorded.opened else "",
             f"updated {', '.join(recorded.updated)}" if recorded.updated else "",
             f"closed {', '.join(recorded.closed)}" if recorded.closed else ""]
    said = "; ".join(p for p in parts if p)
    return f"\nBugs: {said}." if said else ""


# --- seeing it ------------------------------------------------------------------------------------------------


def _status(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    _row, plan = service.plan_of(deps, request.team_id)
    found = service.latest(deps, request.team_id, model=args[0] if args else None)
    if found is None:
        raise UserInputError("No run recorded yet: `/quality log …`, the API (`/quality token`) or "
                             "`pmbot quality ingest FILE`.")
    run, before = found
    verdict = quality_rules.assess(plan, dict(run.metrics), dict(before.metrics) if before else None)
    when = run.created_at.strftime("%Y-%m-%d %H:%M UTC")
    head = (f"*Quality of {escape_mrkdwn(run.model)} {escape_mrkdwn(run.version)}*".rstrip() +
            f" — run {run.id}, {when}" + (f", {run.samples} samples" if run.samples else ""))
    reply.ack(head + "\n" + _verdict_text(verdict))


def _verdict_text(verdict: quality_rules.Assessment) -> str:
    lines = []
    for o in verdict.outcomes:
        value = quality_rules.show(o.value, o.metric.unit) if o.value is not None else "not measured"
        trend = "" if o.better is None else f" {o.trend} {'better' if o.better else 'worse'}"
        lines.append(f"{STATUS_ICON[o.status]} *{o.metric.name}* {value} (target {o.metric.target_text()}){trend}"
                     + (" — fell more than the plan allows" if o.status == "drop" else ""))
    if verdict.unplanned:
        lines.append("Not in the plan (kept, not judged): " + ", ".join(sorted(verdict.unplanned)))
    return "\n".join(lines)


def _gate(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    run, verdict = service.gate(deps, team_id=request.team_id, user_id=request.user_id, version=args[0])
    failing = [o.metric.name for o in verdict.outcomes if o.status != "pass"]
    head = (f"*GO* for {escape_mrkdwn(args[0])}: every metric of the plan met in run {run.id}." if verdict.go else
            f"*NO-GO* for {escape_mrkdwn(args[0])}: {', '.join(failing)} not met or not measured in run {run.id}.")
    reply.ack()
    reply.later(f"{'🟢' if verdict.go else '🛑'} {head} (asked by <@{request.user_id}>)\n"
                + _verdict_text(verdict), public=True)


def _chart(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    _row, plan = service.plan_of(deps, request.team_id)
    metric = _planned(plan, args[0])
    drawn = quality_chart.plan(metric, service.runs_of(deps, request.team_id, model=args[1] if len(args) > 1 else None))
    if not drawn.points:
        raise UserInputError(f"No run has measured {metric.name} yet.")
    reply.ack(f"Drawing {metric.name} over {len(drawn.points)} runs…")
    breaches = sum(p.breach for p in drawn.points)
    deps.slack.upload_in_channel(request.channel_id, content=quality_chart.quality_png(drawn),
                filename=f"quality-{metric.name}.png", title=drawn.title,
                comment=f"*{metric.name}* over the last {len(drawn.points)} runs: {breaches} out of target "
                        f"({metric.target_text()}).")


def _compare(request: Request, reply: Reply, deps: Deps, args: list[str]) -> None:
    _row, plan = service.plan_of(deps, request.team_id)
    left, right = (service.run_named(deps, request.team_id, name) for name in args)
    lines = [f"*{escape_mrkdwn(args[0])}* (run {left.id}) vs *{escape_mrkdwn(args[1])}* (run {right.id})"]
    for m in plan.metrics:
        a, b = left.metrics.get(m.name), right.metrics.get(m.name)
        shown = [quality_rules.show(v, m.unit) if v is not None else "—" for v in (a, b)]
        icons = [STATUS_ICON["missing"] if v is None else STATUS_ICON["pass" if m.passes(v) else "breach"]
                 for v in (a, b)]
        change = ""
        if a is not None and b is not None and a != b:
            better = (b < a) == (m.direction == "lower")
            change = f" — {'better' if better else 'worse'}"
        lines.append(f"• *{m.name}* ({m.target_text()}): {icons[0]} {shown[0]} → {icons[1]} {shown[1]}{change}")
    reply.ack("\n".join(lines))


GRAMMAR = Grammar(
    command="/quality",
    empty=_status,
    empty_help="the latest run against the plan",
    subs=(
        Sub("plan", "[show|edit|chatbot|summariser|rag]", "show the plan, edit it in a form, or set it from a "
            "template (breaches are filed in this channel)", run=_plan, fits=lambda args: len(args) <= 1),
        Sub("target", "<metric> <value> [grade N]", "change a metric's target (and its breach grade)",
            run=_target, fits=lambda args: len(args) in (2, 4)),
        Sub("metric", "<name> <unit> lower|higher <target> [grade N] | remove <name>",
            f"add or change a metric (units: {', '.join(quality_rules.UNITS)}), or remove one", run=_metric,
            fits=lambda args: (len(args) == 2 and args[0].lower() == "remove") or len(args) in (4, 6)),
        Sub("token", "", "create or rotate the token for `POST /api/quality/runs` (shown once)", run=_token,
            fits=no_args),
        Sub("log", "<metric>=<value> … [--model M] [--version V] [--dataset D]",
            "record a run by hand, e.g. from a human review", run=_log, fits=bool),
        Sub("status", "[model]", "the latest run: value, target, pass or fail, trend per metric", run=_status,
            fits=lambda args: len(args) <= 1),
        Sub("gate", "<version>", "go / no-go for a version against the plan, recorded with who asked", run=_gate,
            fits=lambda args: len(args) == 1),
        Sub("chart", "<metric> [model]", "a metric per run against its target, breaches marked", run=_chart,
            fits=lambda args: len(args) in (1, 2)),
        Sub("compare", "<version> <version>", "two versions side by side", run=_compare,
            fits=lambda args: len(args) == 2),
    ),
)

SPEC = CommandSpec(
    name="/quality",
    summary="the Quality Management Plan: metrics and targets, eval runs against them, breaches filed as bugs",
    usage_hint="plan [template] | target <metric> <value> | log m=v … | status | chart <metric> | gate v42 | "
               "compare v41 v42 | token",
    usage=GRAMMAR.usage(),
)
