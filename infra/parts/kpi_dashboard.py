"""The KPI dashboard body, built from data and rendered as sorted JSON for a Sub.

Every metric the body graphs is either in the project's metric contract
(lambda_src/registry_metrics/contract.py, published by the registry-metrics Lambda) or in
AWS_METRICS below, each with the AWS page that documents it. tests/templates/kpi/test_kpi_dashboard.py holds
the body to that, and tests/templates/kpi/test_dashboard_opens_on_data.py opens it as the console would.
`${Name}` placeholders are the KPI stack's parameters and pseudo parameters. docs/dashboard.md reads it.

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
    ("AWS/Lambda", "Throttles"): (("FunctionName",), "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"),
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

DAY, HOUR = 86400, 3600
# What the dashboard opens on (without `start`, the console's default few hours: every per-day graph empty on a day
# without a run). Eight weeks stay inside the 63 days CloudWatch keeps 5-minute points, so every period here that is
# a multiple of 300 s returns data (GetMetricData); "inherit" keeps each graph's own period whatever the range.
START = "-P8W"
PERIOD_OVERRIDE = "inherit"
# A metric published only when its value changes (the version production serves) is read back as far as CloudWatch
# keeps hourly points (455 days), and the widget shows the latest one.
RETENTION_START = "-P455D"
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
            "Opens on the last 8 weeks; each graph keeps the period its title says (per day, per hour). Model quality: one"
            " point per registered version, from its evaluation report. A blank graph: nothing happened in the range"
            " (docs/dashboard.md says what each widget shows).",
        ]
    )
    return {"type": "text", "properties": {"markdown": markdown}}


def _endpoint(endpoint: str, metric: str, label: str, stat: str) -> list:
    return ["AWS/SageMaker", metric, "EndpointName", endpoint, "VariantName", VARIANT, {"label": label, "stat": stat}]


def _endpoint_widgets() -> list[dict]:
    """Where the env serves models (config `deployment`): traffic, errors and latency per endpoint (hourly: eight weeks
    of 5-minute points would be 16,128 per line), and the version production serves."""
    graphs = []
    for title, endpoint in (("Production endpoint", "${ProductionEndpointName}"), ("Staging endpoint", "${StagingEndpointName}")):
        graphs.append(_graph(f"{title}: requests per hour", [
            _endpoint(endpoint, "Invocations", "invocations", "Sum"),
            _endpoint(endpoint, "Invocation4XXErrors", "4xx errors", "Sum"),
            _endpoint(endpoint, "Invocation5XXErrors", "5xx errors", "Sum"),
        ], period=HOUR, y_label="requests"))
        graphs.append(_graph(f"{title}: model latency per hour (microseconds)", [
            _endpoint(endpoint, "ModelLatency", "average", "Average"),
            _endpoint(endpoint, "ModelLatency", "p99", "p99"),
        ], stat="Average", period=HOUR, y_label="microseconds"))
    graphs.append(_served_version())
    return graphs


def _served_version() -> dict:
    """The latest DeployedModelVersion point (one per rollout, whatever its outcome) over its own range, however long
    ago the last rollout was (within CloudWatch's 455 days). Not setPeriodToTimeRange: an aggregate over the range
    (its Maximum) would keep showing a newer version after production went back to an older one."""
    return {"type": "metric", "properties": {
        "title": "Model version production serves", "region": _REGION, "view": "singleValue", "sparkline": True,
        "start": RETENTION_START, "stat": "Maximum", "period": HOUR,
        "metrics": [[PROJECT_NAMESPACE, deploy_contract.DEPLOYED_VERSION, deploy_contract.DIMENSION,
                     "${ProductionEndpointName}", {"label": "version", "stat": "Maximum"}]]}}


def _function_widgets(functions: tuple) -> list[dict]:
    """Errors and throttles of each function, and the messages waiting in each dead-letter queue: `functions` are
    FUNCTIONS entries of infra/parts/functions.py (the stack passes those of the stacks the env has)."""
    def per_function(metric: str) -> list:
        return [["AWS/Lambda", metric, "FunctionName", f"${{{f.name_param}}}", {"label": f"${{{f.name_param}}}", "stat": "Sum"}]
                for f in functions]

    queues = sorted({f.dead_letter_queue for f in functions if f.dead_letter_queue})
    return [
        _graph("Function errors per hour", per_function("Errors"), period=HOUR, y_label="failed invocations"),
        _graph("Function throttles per hour", per_function("Throttles"), period=HOUR, y_label="throttled invocations"),
        _graph("Dead letters waiting (most in the hour)", [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"${{{q}}}", {"label": f"${{{q}}}", "stat": "Maximum"}]
            for q in queues], stat="Maximum", period=HOUR, y_label="messages"),
    ]


def _widgets(endpoints: bool, alarms: tuple[str, ...], functions: tuple) -> list[dict]:
    return [
        _links(),
        _graph("Pipeline executions per day", [
            _pipeline("ExecutionStarted", "started"),
            _pipeline("ExecutionSucceeded", "succeeded"),
            _pipeline("ExecutionFailed", "failed"),
            _pipeline("ExecutionStopped", "stopped"),
        ], y_label="executions"),
        _graph("Pipeline execution duration per day (ms)", [
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
        _graph("Model quality of registered versions (best in the day)", [_quality(m) for m in pipeline_contract.REPORT_METRICS],
               stat="Maximum", y_label="metric value"),
        *_function_widgets(functions),
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


def body(endpoints: bool = False, alarms: tuple[str, ...] = (), functions: tuple = ()) -> dict:
    return {"start": START, "periodOverride": PERIOD_OVERRIDE, "widgets": _layout(_widgets(endpoints, alarms, functions))}


def body_text(endpoints: bool = False, alarms: tuple[str, ...] = (), functions: tuple = ()) -> str:
    """Sorted, compact JSON: the template changes only when the dashboard does. `endpoints`: the env serves models;
    `alarms`: the logical IDs of the alarms the alarm widget lists (in the stack whose Sub the body goes into);
    `functions`: the FUNCTIONS entries (infra/parts/functions.py) of the stacks the env has."""
    return json.dumps(body(endpoints, alarms, functions), sort_keys=True, separators=(",", ":"))
