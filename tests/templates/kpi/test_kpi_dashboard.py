"""The KPI dashboard graphs only metrics that exist, for this environment's names."""
from __future__ import annotations

import json

import numpy as np
import pytest

from infra.parts import kpi_dashboard
from infra.config import names
from lambda_src.registry_metrics import contract
from pipeline_def import interface as pipeline_contract
from pipeline_def.steps import evaluate
from tests.support import resolve


def _dashboard(rendered, project, env) -> tuple[dict, resolve.Stack]:
    """The dashboard body as CloudFormation gives it to CloudWatch for env, and the evaluated KPI stack."""
    stack = resolve.alone(rendered, project, env, "kpi")
    return json.loads(stack.value(stack.template["Resources"]["KpiDashboard"]["Properties"]["DashboardBody"])), stack


def _graphed(widget) -> list[tuple[str, str, dict]]:
    """(namespace, metric, {dimension: value}) of every metric a widget graphs."""
    out = []
    for entry in widget["properties"]["metrics"]:
        assert isinstance(entry[0], str), f"not a listed metric: {entry}"
        names_and_values = [e for e in entry[2:] if not isinstance(e, dict)]
        out.append((entry[0], entry[1], dict(zip(names_and_values[::2], names_and_values[1::2]))))
    return out


def _widget(body, title: str) -> dict:
    (widget,) = [w for w in body["widgets"] if w["properties"].get("title") == title]
    return widget


def _known_metrics(namespace: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """The AWS-documented table plus the project's contract, with the project namespace filled in."""
    known = {key: dims for key, (dims, _doc) in kpi_dashboard.AWS_METRICS.items()}
    for (ns, metric), dims in kpi_dashboard.PROJECT_METRICS.items():
        known[(ns.replace("${MetricsNamespace}", namespace), metric)] = dims
    return known


@pytest.mark.every_env
def test_dashboard_body_is_json_after_substitution(rendered, project, env):
    body, _ = _dashboard(rendered, project, env)
    assert body["widgets"]


def test_dashboard_body_is_sorted_compact_json():
    text = kpi_dashboard.body_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


@pytest.mark.every_env
def test_every_graphed_metric_is_emitted_by_the_project_or_documented_by_aws(rendered, project, env):
    body, stack = _dashboard(rendered, project, env)
    known = _known_metrics(names.for_env(project, env).metrics_namespace)
    graphed = [g for w in body["widgets"] if w["type"] == "metric" for g in _graphed(w)]
    assert graphed
    for namespace, metric, dims in graphed:
        assert (namespace, metric) in known, f"{namespace} {metric} is neither in the contract nor documented"
        assert tuple(sorted(dims)) == tuple(sorted(known[(namespace, metric)])), (namespace, metric, dims)


@pytest.mark.every_env
def test_dashboard_names_this_environments_pipeline_group_functions_and_queues(rendered, project, env):
    n = names.for_env(project, env)
    body, stack = _dashboard(rendered, project, env)
    expected = {"PipelineName": {n.sagemaker_pipeline}, contract.DIMENSION: {n.model_package_group},
                "FunctionName": {n.notifier_function, n.metrics_function, n.partitions_function, n.resolve_function,
                                 n.smoke_test_function, n.subscriber_check},
                "QueueName": {n.notifier_dlq, n.metrics_dlq, n.partitions_dlq, n.deployment_dlq}}
    endpoints = {n.production_endpoint, n.staging_endpoint}  # where the env serves models
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        assert widget["properties"]["region"] == project.env(env).region
        for namespace, _metric, dims in _graphed(widget):
            for dim, value in dims.items():
                if dim in expected:
                    assert value in expected[dim], (widget["properties"]["title"], dim, value)
                elif dim == "EndpointName":
                    assert value in endpoints, (widget["properties"]["title"], value)
                elif dim == "VariantName":
                    assert value == kpi_dashboard.VARIANT
                else:  # StepName, Metric: names the SageMaker pipeline fixes
                    assert value in pipeline_contract.EXECUTED_STEPS + pipeline_contract.REPORT_METRICS, (dim, value)
            if namespace.startswith("MLOps/"):
                assert namespace == n.metrics_namespace


@pytest.mark.every_env
def test_text_widget_links_the_pipeline_the_group_and_the_codepipeline(rendered, project, env):
    n = names.for_env(project, env)
    body, _ = _dashboard(rendered, project, env)
    markdown = next(w for w in body["widgets"] if w["type"] == "text")["properties"]["markdown"]
    region = project.env(env).region
    assert f"https://{region}.console.aws.amazon.com/sagemaker/" in markdown
    assert f"/pipelines/{n.sagemaker_pipeline})" in markdown
    assert f"/model-registry/{n.model_package_group})" in markdown
    assert f"/codepipeline/pipelines/{n.codepipeline}/view?region={region})" in markdown


@pytest.mark.every_env
def test_alarm_widget_shows_every_alarm_of_the_stack(rendered, project, env):
    """Every alarm the KPI stack makes, so an alarm added to it is listed with no further edit."""
    body, stack = _dashboard(rendered, project, env)
    alarms = next(w for w in body["widgets"] if w["type"] == "alarm")["properties"]["alarms"]
    where = f"arn:aws:cloudwatch:{project.env(env).region}:{stack.pseudo['AWS::AccountId']}:alarm"
    names_in_stack = sorted((logical_id, r["Properties"]["AlarmName"]) for logical_id, r in stack.resources("AWS::CloudWatch::Alarm").items())
    assert alarms == [f"{where}:{name}" for _, name in names_in_stack]
    n = names.for_env(project, env)
    assert f"{where}:{n.prefix}-sagemaker-pipeline-failed" in alarms


def test_widgets_do_not_overlap():
    cells = set()
    for w in kpi_dashboard.body()["widgets"]:
        assert w["x"] + w["width"] <= kpi_dashboard.WIDTH
        mine = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not cells & mine, w
        cells |= mine


@pytest.mark.every_env
def test_no_widget_uses_a_search_expression(rendered, project, env):
    """SEARCH() finds only metrics that reported in the last 14 days: a quiet fortnight blanks the widget."""
    body, _ = _dashboard(rendered, project, env)
    assert "search(" not in json.dumps(body).lower()
    for widget in body["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            assert not any(isinstance(e, dict) and "expression" in e for e in entry), (widget["properties"]["title"], entry)


@pytest.mark.every_env
def test_failed_steps_widget_lists_every_step_the_pipeline_definition_runs(rendered, project, definitions, env):
    def step_names(steps):
        for step in steps:
            yield step["Name"]
            for branch in ("IfSteps", "ElseSteps"):
                yield from step_names(step.get("Arguments", {}).get(branch, []))

    body, _ = _dashboard(rendered, project, env)
    graphed = [dims["StepName"] for _, metric, dims in _graphed(_widget(body, "Failed steps per day"))]
    assert all(metric == "StepFailed" for _, metric, _ in _graphed(_widget(body, "Failed steps per day")))
    assert sorted(graphed) == sorted(step_names(definitions[env]["Steps"]))


@pytest.mark.every_env
def test_quality_widget_lists_every_metric_the_evaluation_report_holds(rendered, project, env):
    labels, scores = np.array([0, 1, 0, 1]), np.array([0.1, 0.8, 0.6, 0.4])
    (section, metrics), = evaluate.report(labels, scores).items()
    assert section == pipeline_contract.REPORT_SECTION
    body, _ = _dashboard(rendered, project, env)
    graphed = _graphed(_widget(body, "Model quality of registered versions (best in the day)"))
    assert {metric for _, metric, _ in graphed} == {contract.QUALITY_METRIC}
    assert sorted(dims[contract.QUALITY_METRIC_DIMENSION] for _, _, dims in graphed) == sorted(metrics)
