"""The KPI dashboard graphs only metrics that exist, for this environment's names."""
from __future__ import annotations

import json
import re

import pytest

from infra import kpi_dashboard, names
from lambda_src.registry_metrics import contract
from tests import kpi_helpers

_SEARCH = re.compile(r"""^SEARCH\('\{(?P<schema>[^}]*)\} (?P<terms>.*)', '(?P<stat>\w+)', \d+\)$""")
_TERM = re.compile(r'(\w+)="([^"]*)"')


def _dashboard(rendered, env):
    tmpl = kpi_helpers.template(rendered)
    params = kpi_helpers.env_parameters(rendered, env, tmpl)
    # Ref of an alarm is its name.
    for alarm in ("PipelineFailedAlarm", "MetricsDeadLetterAlarm"):
        params[alarm] = kpi_helpers.evaluate(tmpl["Resources"][alarm]["Properties"]["AlarmName"], params)
    body = kpi_helpers.evaluate(tmpl["Resources"]["KpiDashboard"]["Properties"]["DashboardBody"], params)
    return json.loads(body), params


def _graphed(widget) -> list[tuple[str, str, dict]]:
    """(namespace, metric, {dimension: value}) of every metric a widget graphs, searches included."""
    out = []
    for entry in widget["properties"]["metrics"]:
        first = entry[0]
        if isinstance(first, dict) and "expression" in first:
            match = _SEARCH.match(first["expression"])
            assert match, first["expression"]
            namespace, *dims = [part.strip('"') for part in match.group("schema").split(",")]
            terms = dict(_TERM.findall(match.group("terms")))
            metric = terms.pop("MetricName")
            assert set(terms) <= set(dims), f"filter on a dimension the schema lacks: {terms}"
            out.append((namespace, metric, {d: terms.get(d) for d in dims}))
        else:
            names_and_values = [e for e in entry[2:] if not isinstance(e, dict)]
            out.append((entry[0], entry[1], dict(zip(names_and_values[::2], names_and_values[1::2]))))
    return out


def _known_metrics(namespace: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """The AWS-documented table plus the project's contract, with the project namespace filled in."""
    known = {key: dims for key, (dims, _doc) in kpi_dashboard.AWS_METRICS.items()}
    for (ns, metric), dims in kpi_dashboard.PROJECT_METRICS.items():
        known[(ns.replace("${MetricsNamespace}", namespace), metric)] = dims
    return known


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dashboard_body_is_json_after_substitution(rendered, env):
    body, _ = _dashboard(rendered, env)
    assert body["widgets"]


def test_dashboard_body_is_sorted_compact_json():
    text = kpi_dashboard.body_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_graphed_metric_is_emitted_by_the_project_or_documented_by_aws(rendered, env):
    body, params = _dashboard(rendered, env)
    known = _known_metrics(params["MetricsNamespace"])
    graphed = [g for w in body["widgets"] if w["type"] == "metric" for g in _graphed(w)]
    assert graphed
    for namespace, metric, dims in graphed:
        assert (namespace, metric) in known, f"{namespace} {metric} is neither in the contract nor documented"
        assert tuple(sorted(dims)) == tuple(sorted(known[(namespace, metric)])), (namespace, metric, dims)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dashboard_names_this_environments_pipeline_group_function_and_queue(rendered, project, env):
    n = names.for_env(project, env)
    body, params = _dashboard(rendered, env)
    expected = {"PipelineName": n.sagemaker_pipeline, contract.DIMENSION: n.model_package_group,
                "FunctionName": n.metrics_function, "QueueName": n.metrics_dlq}
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        assert widget["properties"]["region"] == kpi_helpers.PSEUDO["AWS::Region"]
        for namespace, _metric, dims in _graphed(widget):
            for dim, value in dims.items():
                if dim in expected:
                    assert value == expected[dim], (widget["properties"]["title"], dim, value)
                else:  # StepName, Metric: every value, through SEARCH
                    assert value is None
            if namespace.startswith("MLOps/"):
                assert namespace == n.metrics_namespace


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_text_widget_links_the_pipeline_the_group_and_the_codepipeline(rendered, project, env):
    n = names.for_env(project, env)
    body, _ = _dashboard(rendered, env)
    markdown = next(w for w in body["widgets"] if w["type"] == "text")["properties"]["markdown"]
    region = kpi_helpers.PSEUDO["AWS::Region"]
    assert f"https://{region}.console.aws.amazon.com/sagemaker/" in markdown
    assert f"/pipelines/{n.sagemaker_pipeline})" in markdown
    assert f"/model-registry/{n.model_package_group})" in markdown
    assert f"/codepipeline/pipelines/{n.codepipeline}/view?region={region})" in markdown


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_alarm_widget_shows_the_stacks_alarms(rendered, project, env):
    n = names.for_env(project, env)
    body, _ = _dashboard(rendered, env)
    alarms = next(w for w in body["widgets"] if w["type"] == "alarm")["properties"]["alarms"]
    assert alarms == [
        f"arn:aws:cloudwatch:eu-west-1:111111111111:alarm:{n.prefix}-sagemaker-pipeline-failed",
        f"arn:aws:cloudwatch:eu-west-1:111111111111:alarm:{n.prefix}-registry-metrics-dead-letters",
    ]


def test_widgets_do_not_overlap():
    cells = set()
    for w in kpi_dashboard.body()["widgets"]:
        assert w["x"] + w["width"] <= kpi_dashboard.WIDTH
        mine = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not cells & mine, w
        cells |= mine
