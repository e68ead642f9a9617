"""The KPI dashboard body, built from data and rendered as sorted JSON for a Sub.

Every metric the body graphs is either in the project's metric contract
(lambda_src/registry_metrics/contract.py, published by the registry-metrics Lambda) or in
AWS_METRICS below, each with the AWS page that documents it. tests/templates/kpi/test_kpi_dashboard.py holds
the body to that. `${Name}` placeholders are the KPI stack's parameters and pseudo parameters.

Every metric is listed by name, never found with SEARCH(): a search only finds metrics that reported
in the last two weeks, so a quiet fortnight would blank a widget whose points are in range. The
dimension values the graphs need (step names, report metrics) are fixed by pipeline_def/interface.py.
"""
from __future__ import annotations

import json

from lambda_src.deploy_resolve import contract as deploy_contract
from lambda_src.registry_metrics import contract
from pipeline_def import interface as pipeline_contract

PIPELINE_NAMESPACE = "AWS/Sagemaker/ModelBuildingPipeline"
PROJECT_NAMESPACE = "${MetricsNamespace}"

_SAGEMAKER_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-pipelines"
_ENDPOINT_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html#cloudwatch-metrics-endpoint-invocation"
# (namespace, metric) -> (dimension names, where AWS documents it).
AWS_METRICS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    (PIPELINE_NAMESPACE, "ExecutionStarted"): (("PipelineName",), _SAGEMAKER_DOC),
    (PIPELINE_NAMESPACE, "ExecutionSucceeded"): (("PipelineName",), _SAGEMAKER_DOC),
    (PIPELINE_NAMESPACE, "ExecutionFailed"): (("PipelineName",), _SAGEMAKER_DOC),
    (PIPELINE_NAMESPACE, "ExecutionStopped"): (("PipelineName",), _SAGEMAKER_DOC),
    (PIPELINE_NAMESPACE, "ExecutionDuration"): (("PipelineName",), _SAGEMAKER_DOC),
    (PIPELINE_NAMESPACE, "StepFailed"): (("PipelineName", "StepName"), _SAGEMAKER_DOC),
    ("AWS/Lambda", "Errors"): (("FunctionName",), "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"),
    ("AWS/Lambda", "Invocations"): (("FunctionName",), "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"),
    **{("AWS/SageMaker", metric): (("EndpointName", "VariantName"), _ENDPOINT_DOC)
       for metric in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency")},
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): (
        ("QueueName",), "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html"
    ),
}

# (namespace, metric) -> dimension names, for what this project publishes itself.
PROJECT_METRICS: dict[tuple[str, str], tuple[str, ...]] = {
    **{(PROJECT_NAMESPACE, name): (contract.DIMENSION,) for name in contract.COUNT_METRICS},
    (PROJECT_NAMESPACE, contract.QUALITY_METRIC): contract.QUALITY_DIMENSIONS,
    (PROJECT_NAMESPACE, deploy_contract.DEPLOYED_VERSION): (deploy_contract.DIMENSION,),
}
VARIANT = "AllTraffic"  # the endpoints' one production variant (infra/parts/endpoint.py)

DAY = 86400
WIDTH = 24  # the dashboard grid is 24 units wide
_REGION = "${AWS::Region}"


def _pipeline(metric: str, label: str, stat: str = "Sum") -> list:
    return [PIPELINE_NAMESPACE, metric, "PipelineName", "${SageMakerPipelineName}", {"label": label, "stat": stat}]


def _registry(metric: str, label: str) -> list:
    return [PROJECT_NAMESPACE, metric, contract.DIMENSION, "${ModelPackageGroupName}", {"label": label, "stat": "Sum"}]


def _step_failures(step: str) -> list:
    return [PIPELINE_NAMESPACE, "StepFailed", "PipelineName", "${SageMakerPipelineName}", "StepName", step,
            {"label": step, "stat": "Sum"}]


def _quality(metric: str) -> list:
    return [PROJECT_NAMESPACE, contract.QUALITY_METRIC, contract.DIMENSION, "${ModelPackageGroupName}",
            contract.QUALITY_METRIC_DIMENSION, metric, {"label": metric, "stat": "Maximum"}]


def _graph(title: str, metrics: list, *, stat: str = "Sum", period: int = DAY, y_label: str = "", stacked: bool = False) -> dict:
    props = {"title": title, "region": _REGION, "view": "timeSeries", "stacked": stacked, "stat": stat, "period": period,
             "metrics": metrics}
    if y_label:
        props["yAxis"] = {"left": {"label": y_label, "showUnits": False}}
    return {"type": "metric", "properties": props}


def _links() -> dict:
    console = f"https://{_REGION}.console.aws.amazon.com"
    markdown = "\n".join(
        [
            "## ${SageMakerPipelineName}: model build KPIs",
            f"[SageMaker pipeline]({console}/sagemaker/home?region={_REGION}#/pipelines/${{SageMakerPipelineName}})"
            f" · [Model registry group]({console}/sagemaker/home?region={_REGION}#/model-registry/${{ModelPackageGroupName}})"
            f" · [CodePipeline]({console}/codesuite/codepipeline/pipelines/${{CodePipelineName}}/view?region={_REGION})"
            f" · [Athena workgroup]({console}/athena/home?region={_REGION}#/workgroups/details/${{AthenaWorkGroupName}})",
            "Counts are per day. Model quality: one point per registered version, from its evaluation report.",
        ]
    )
    return {"type": "text", "properties": {"markdown": markdown}}


def _endpoint(endpoint: str, metric: str, label: str, stat: str) -> list:
    return ["AWS/SageMaker", metric, "EndpointName", endpoint, "VariantName", VARIANT, {"label": label, "stat": stat}]


def _endpoint_widgets() -> list[dict]:
    """Where the env serves models (config `deployment`): traffic, errors and latency per endpoint, and the version
    production serves (one point per promotion)."""
    graphs = []
    for title, endpoint in (("Production endpoint", "${ProductionEndpointName}"), ("Staging endpoint", "${StagingEndpointName}")):
        graphs.append(_graph(f"{title}: requests per 5 minutes", [
            _endpoint(endpoint, "Invocations", "invocations", "Sum"),
            _endpoint(endpoint, "Invocation4XXErrors", "4xx errors", "Sum"),
            _endpoint(endpoint, "Invocation5XXErrors", "5xx errors", "Sum"),
        ], period=300, y_label="requests"))
        graphs.append(_graph(f"{title}: model latency (microseconds)", [
            _endpoint(endpoint, "ModelLatency", "average", "Average"),
            _endpoint(endpoint, "ModelLatency", "p99", "p99"),
        ], stat="Average", period=300, y_label="microseconds"))
    graphs.append(_graph("Model version production serves", [
        [PROJECT_NAMESPACE, deploy_contract.DEPLOYED_VERSION, deploy_contract.DIMENSION, "${ProductionEndpointName}",
         {"label": "version", "stat": "Maximum"}],
    ], stat="Maximum", y_label="version"))
    return graphs


def _widgets(endpoints: bool = False, alarms: tuple[str, ...] = ()) -> list[dict]:
    return [
        _links(),
        _graph("Pipeline executions per day", [
            _pipeline("ExecutionStarted", "started"),
            _pipeline("ExecutionSucceeded", "succeeded"),
            _pipeline("ExecutionFailed", "failed"),
            _pipeline("ExecutionStopped", "stopped"),
        ], y_label="executions"),
        _graph("Pipeline execution duration (ms)", [
            _pipeline("ExecutionDuration", "average", stat="Average"),
            _pipeline("ExecutionDuration", "longest", stat="Maximum"),
        ], stat="Average", y_label="ms"),
        _graph("Failed steps per day", [_step_failures(step) for step in pipeline_contract.EXECUTED_STEPS],
               y_label="failures"),
        _graph("Model registry per day", [
            _registry(contract.MODELS_REGISTERED, "registered"),
            _registry(contract.MODELS_APPROVED, "approved"),
            _registry(contract.MODELS_REJECTED, "rejected"),
        ], y_label="model versions"),
        _graph("Model quality of registered versions", [_quality(m) for m in pipeline_contract.REPORT_METRICS],
               stat="Maximum", y_label="metric value"),
        _graph("Registry-metrics function", [
            ["AWS/Lambda", "Invocations", "FunctionName", "${MetricsFunctionName}", {"label": "invocations", "stat": "Sum"}],
            ["AWS/Lambda", "Errors", "FunctionName", "${MetricsFunctionName}", {"label": "errors", "stat": "Sum"}],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${MetricsDeadLetterQueueName}",
             {"label": "dead letters", "stat": "Maximum"}],
        ], period=3600),
        *(_endpoint_widgets() if endpoints else []),
        # ${<logical ID>} in the Sub the body goes into is the alarm's name.
        *([{"type": "alarm", "properties": {"title": "Alarms", "alarms": [
            f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:${{{alarm}}}" for alarm in alarms
        ]}}] if alarms else []),
    ]


def _layout(widgets: list[dict]) -> list[dict]:
    """Text and alarm widgets span the grid; graphs sit two per row."""
    out, x, y = [], 0, 0
    for widget in widgets:
        wide = widget["type"] != "metric"
        width, height = (WIDTH, 3) if wide else (WIDTH // 2, 6)
        if wide or x + width > WIDTH:
            if x:
                y += 6
            x = 0
        out.append({**widget, "x": x, "y": y, "width": width, "height": height})
        if wide:
            y += height
        else:
            x += width
    return out


def body(endpoints: bool = False, alarms: tuple[str, ...] = ()) -> dict:
    return {"widgets": _layout(_widgets(endpoints, alarms))}


def body_text(endpoints: bool = False, alarms: tuple[str, ...] = ()) -> str:
    """Sorted, compact JSON: the template changes only when the dashboard does. `endpoints`: the env serves models;
    `alarms`: the logical IDs of the alarms the alarm widget lists (in the stack whose Sub the body goes into)."""
    return json.dumps(body(endpoints, alarms), sort_keys=True, separators=(",", ":"))
