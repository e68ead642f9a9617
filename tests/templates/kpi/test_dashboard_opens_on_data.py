"""The KPI dashboard opened as the console opens it, for every env of config/ and of the variants with every option
on and off (tests/support/concrete_envs.py): on the range its body says, each metric read at its period.

What the console does with a body (the AWS pages are in docs/dashboard.md):
- no `start`: it opens on its default few hours, and a graph counting per day shows nothing on a day without a run;
  a `periodOverride` other than "inherit" replaces each graph's period with one fitted to the range;
- a widget reads its metrics over its range (its own `start`, or the dashboard's) with GetMetricData, which returns
  no point for a period CloudWatch does not keep that far back (PERIOD_MULTIPLE) and nothing older than 455 days;
- a single-value widget shows the latest point in its range: a metric published only when its value changes is
  blank there once the change is older than the range.

The functions and queues each env must show are read from its rendered templates, not from the table the dashboard
is built from (infra/parts/functions.py FUNCTIONS), so a function a stack adds some other way still fails here.
"""
from __future__ import annotations

import json
import re

from tests.support import concrete_envs, resolve

DAY, HOUR = 86400, 3600
PIPELINE = "AWS/Sagemaker/ModelBuildingPipeline"
PROJECT = "<project namespace>"  # MetricsNamespace, "MLOps/<project>"

# How old a range's start may be -> the multiple its period must be (GetMetricData, `Period`: "Start time between 3 hours
# and 15 days ago - Use a multiple of 60 seconds… between 15 and 63 days ago… 300… greater than 63 days ago… 3600").
PERIOD_MULTIPLE = ((15 * DAY, 60), (63 * DAY, 300), (455 * DAY, 3600))
RETENTION = 455 * DAY  # "Data points with a period of 3600 seconds (1 hour) are available for 455 days"
MOST_POINTS = 1440  # a line of a graph: GetMetricStatistics' most points per call, and more than a 12-unit graph can show

# Kinds of metric: a point per event (blank: no event in that period), a value published at a cadence while the
# resource is active (SQS: blank, an idle queue), and a state published only when it changes (it must be read
# back over the whole retention, as the latest point).
EVENT, ACTIVE, ON_CHANGE = "event", "active", "on change"
# (namespace, metric) -> (the finest period a point comes at, in seconds; kind). Standard-resolution metrics: 60 s.
PUBLISHED = {
    **{(PIPELINE, m): (60, EVENT) for m in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionStopped",
                                            "ExecutionDuration", "StepFailed")},
    ("AWS/Lambda", "Errors"): (60, EVENT),  # per invocation, one-minute resolution
    ("AWS/Lambda", "Throttles"): (60, EVENT),
    **{("AWS/SageMaker", m): (60, EVENT) for m in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency")},
    # Every minute (the SQS guide said every five minutes before): a multiple of 300 holds both; only while the
    # queue is active (it holds messages or was called in the last six hours).
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): (300, ACTIVE),
    **{(PROJECT, m): (60, EVENT) for m in ("ModelsRegistered", "ModelsApproved", "ModelsRejected", "ModelQuality")},
    (PROJECT, "DeployedModelVersion"): (60, ON_CHANGE),  # one point per rollout (lambda_src/deploy_resolve)
}
# What a graph's title says its period is.
STATED = {"per day": DAY, "in the day": DAY, "per hour": HOUR, "in the hour": HOUR}

_DURATION = re.compile(r"^-P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def seconds_back(start: str) -> int:
    """A relative `start` ("-P8W", "-PT3H", "-P3M") as seconds before now; months and years at their longest."""
    match = _DURATION.match(start)
    assert match and any(match.groups()), f"start {start!r} is not a relative ISO 8601 duration (-P…)"
    years, months, weeks, days, hours, minutes, secs = (int(g or 0) for g in match.groups())
    return ((years * 366 + months * 31 + weeks * 7 + days) * DAY) + hours * HOUR + minutes * 60 + secs


def opened(er: concrete_envs.EnvRender) -> dict:
    """The body CloudFormation hands CloudWatch for this env: the KPI stack's Sub evaluated."""
    stack = resolve.alone(er.rendered, er.project, er.env, "kpi")
    return json.loads(stack.value(stack.template["Resources"]["KpiDashboard"]["Properties"]["DashboardBody"]))


def read(widget: dict, namespace: str) -> list[tuple[tuple[str, str], dict, int]]:
    """((namespace, metric), dimensions, period) of each metric a widget reads (the project's namespace as PROJECT)."""
    props = widget["properties"]
    out = []
    for entry in props["metrics"]:
        options = entry[-1] if isinstance(entry[-1], dict) else {}
        values = [e for e in entry[2:] if not isinstance(e, dict)]
        key = (PROJECT if entry[0] == namespace else entry[0], entry[1])
        out.append((key, dict(zip(values[::2], values[1::2])), options.get("period", props.get("period", 300))))
    return out


def problems_opening(body: dict, namespace: str) -> list[str]:
    """What the console would show blank or wrong, opening `body`."""
    if "start" not in body:
        return ["no start: the console opens on its default few hours"]
    problems = [] if body.get("periodOverride") == "inherit" else [
        f"periodOverride {body.get('periodOverride')!r}: the console replaces the periods the graphs state"]
    for widget in (w for w in body["widgets"] if w["type"] == "metric"):
        props = widget["properties"]
        title, view = props.get("title", "?"), props.get("view", "timeSeries")
        back = seconds_back(props.get("start", body["start"]))
        if back > RETENTION:
            problems.append(f"{title}: reads {back // DAY} days back; CloudWatch keeps 455")
        multiple = next(m for age, m in PERIOD_MULTIPLE if back <= age or age == RETENTION)
        stated = [period for words, period in STATED.items() if words in title]
        if view == "timeSeries" and len(stated) != 1:
            problems.append(f"{title}: the title says no period (per day, per hour…)")
        for key, _dims, period in read(widget, namespace):
            if key not in PUBLISHED:
                problems.append(f"{title}: {key} is not in PUBLISHED (how often is it published?)")
                continue
            cadence, kind = PUBLISHED[key]
            if period % multiple or period % cadence or period > back:
                problems.append(f"{title}: {key[1]} at {period} s over {back // HOUR} h (a multiple of "
                                f"{max(multiple, cadence)} s within the range)")
            if view == "timeSeries" and back // period > MOST_POINTS:
                problems.append(f"{title}: {key[1]} at {period} s is {back // period} points a line")
            if view == "timeSeries" and stated and period != stated[0]:
                problems.append(f"{title}: {key[1]} at {period} s, not the period its title says")
            if kind == ON_CHANGE and (view != "singleValue" or props.get("setPeriodToTimeRange") or back < RETENTION):
                problems.append(f"{title}: {key[1]} changes rarely; only the latest point over the retention shows it")
    return problems


def _renders(project, rendered):
    return concrete_envs.env_renders(project, rendered)


def test_every_env_opens_on_a_range_where_each_graph_reads_data(project, rendered):
    problems = []
    for er in _renders(project, rendered):
        problems += [f"{er.label}: {p}" for p in problems_opening(opened(er), er.names.metrics_namespace)]
    assert not problems, "\n".join(problems)


def _created(er: concrete_envs.EnvRender, rtype: str, prop: str) -> set[str]:
    return {r["Properties"][prop] for stack in er.stacks for r in er.template(stack)["Resources"].values() if r["Type"] == rtype}


def _on_dashboard(body: dict, namespace: str, metric: tuple[str, str], dimension: str) -> set[str]:
    return {dims[dimension] for w in body["widgets"] if w["type"] == "metric" for key, dims, _ in read(w, namespace)
            if key == metric}


def test_every_function_and_queue_an_env_creates_is_on_its_dashboard(project, rendered):
    """Errors and throttles of each function the env's templates create, and the depth of each queue (every queue the
    project makes is a dead-letter queue): no more (a stack the env lacks), no fewer."""
    problems = []
    for er in _renders(project, rendered):
        body, namespace = opened(er), er.names.metrics_namespace
        functions = _created(er, "AWS::Lambda::Function", "FunctionName")
        queues = _created(er, "AWS::SQS::Queue", "QueueName")
        assert functions and queues, er.label
        for metric, dimension, created in ((("AWS/Lambda", "Errors"), "FunctionName", functions),
                                           (("AWS/Lambda", "Throttles"), "FunctionName", functions),
                                           (("AWS/SQS", "ApproximateNumberOfMessagesVisible"), "QueueName", queues)):
            shown = _on_dashboard(body, namespace, metric, dimension)
            if shown != created:
                problems.append(f"{er.label}: {metric[1]} missing {sorted(created - shown)}, extra {sorted(shown - created)}")
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_blank_opening():
    """Each rule of problems_opening on a small body: a body CloudWatch would open blank or wrong fails."""
    version = ["MLOps/p", "DeployedModelVersion", "EndpointName", "e", {"stat": "Maximum"}]
    errors = ["AWS/Lambda", "Errors", "FunctionName", "f", {"stat": "Sum"}]
    good = {"start": "-P8W", "periodOverride": "inherit", "widgets": [
        {"type": "metric", "properties": {"title": "Errors per hour", "period": HOUR, "metrics": [errors]}},
        {"type": "metric", "properties": {"title": "Version", "view": "singleValue", "start": "-P455D", "period": HOUR,
                                          "metrics": [version]}}]}
    assert problems_opening(good, "MLOps/p") == []

    def says(words: str, change) -> bool:
        body = json.loads(json.dumps(good))
        change(body)
        return any(words in problem for problem in problems_opening(body, "MLOps/p"))

    first, version_widget = (lambda b: b["widgets"][0]["properties"]), (lambda b: b["widgets"][1]["properties"])
    assert says("no start", lambda b: b.pop("start"))
    assert says("periodOverride", lambda b: b.pop("periodOverride"))
    assert says("a multiple of 300", lambda b: first(b).update(period=120))  # eight weeks back
    assert says("points a line", lambda b: first(b).update(period=300))
    assert says("not the period its title says", lambda b: first(b).update(period=DAY))
    assert says("the title says no period", lambda b: first(b).update(title="Errors"))
    assert says("only the latest point", lambda b: version_widget(b).update(view="timeSeries", title="Version per day"))
    assert says("only the latest point", lambda b: version_widget(b).update(setPeriodToTimeRange=True))
    assert says("only the latest point", lambda b: version_widget(b).pop("start"))
    assert says("keeps 455", lambda b: version_widget(b).update(start="-P2Y"))
    assert says("not in PUBLISHED", lambda b: first(b)["metrics"].append(["AWS/EC2", "CPUUtilization"]))


def test_seconds_back_reads_the_durations_the_console_takes():
    assert seconds_back("-PT3H") == 3 * HOUR
    assert seconds_back("-P8W") == 56 * DAY
    assert seconds_back("-P455D") == RETENTION
    assert seconds_back("-P3M") == 93 * DAY


def test_a_function_missing_from_the_table_the_dashboard_reads_is_refused():
    """A stack that adds a function the table (infra/parts/functions.py FUNCTIONS) lacks fails to render, naming it."""
    import dataclasses

    import pytest
    from troposphere import Template

    from infra.parts import functions

    spec = functions.Function("Stranger", "StrangerFunctionName", "stranger.handler.lambda_handler", "not listed",
                              role_arn="role", code=("StrangerCodeKey", "stranger", "stranger"), code_bucket="bucket",
                              key_arn="key", dead_letter_queue_arn="queue", environment={})
    with pytest.raises(ValueError, match="Stranger.*not in FUNCTIONS"):
        functions.add(Template(), spec)
    with pytest.raises(ValueError, match="not in FUNCTIONS"):
        functions.add(Template(), dataclasses.replace(spec, prefix="Notifier"))  # listed, under another name
