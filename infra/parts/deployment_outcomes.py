"""Every outcome of a model-deployment run reaches the operations topic, as a sentence with a link to the run.

CodePipeline reports each stage's end as an EventBridge event; three rules turn them into messages: the staging
endpoint served the resolved version and passed the smoke test, production serves it (promoted), and a stage
failed (nothing to deploy, the smoke test failed, the production rollout was rolled back, a person rejected it).
"Waiting for approval" is the approval action's own message to the same topic. The topic's policy admits
EventBridge for these rules only (infra/parts/delivery_failures.py); a publish EventBridge could not make is
alarmed through CloudWatch, whose permissions are the alarms' own.
"""
from __future__ import annotations

from troposphere import Ref, Sub, Template, events

from infra.iam import rule_events
from infra.parts import delivery_failures

RUN_LINK = ("https://<region>.console.aws.amazon.com/codesuite/codepipeline/pipelines/<pipeline>/executions/<execution>"
            "/timeline?region=<region>")
# rule logical id: (rule name, stage, state, message)
OUTCOMES = {
    "DeploymentStagedRule": (
        "${ResourcePrefix}-deployment-staged", ["Staging"], ["SUCCEEDED"],
        "Model deployment <pipeline>: the newest approved version passed the smoke test on the staging endpoint; "
        "production is next. Run: " + RUN_LINK),
    "DeploymentPromotedRule": (
        "${ResourcePrefix}-deployment-promoted", ["Production"], ["SUCCEEDED"],
        "Model deployment <pipeline>: production now serves the newest approved version (the rollout completed "
        "without tripping its alarms). Run: " + RUN_LINK),
    "DeploymentFailedRule": (
        "${ResourcePrefix}-deployment-failed", ["Source", "Resolve", "Staging", "ApproveProduction", "Production"],
        ["FAILED"],
        "Model deployment <pipeline>: stage <stage> failed and the run stopped. Source: the release could not be read. "
        "Resolve: nothing to deploy (no approved version is left, or production already serves the newest), nothing changed. "
        "Staging: the staging endpoint could not be deployed or did not answer as the contract says, production is untouched. "
        "ApproveProduction: a person rejected it. Production: the version was rejected, or the rollout tripped an alarm (or the "
        "version was rejected meanwhile) and SageMaker rolled the endpoint back to the version it served, which the "
        "dashboard and make status show, or the new fleet answered no request during its bake (not validated). "
        "The action's message says why: " + RUN_LINK),
}
RULE_NAMES = [name for name, _, _, _ in OUTCOMES.values()]


def add(t: Template, topic_arn) -> None:
    for logical_id, (rule_name, stages, states, message) in OUTCOMES.items():
        t.add_resource(events.Rule(
            logical_id,
            Name=Sub(rule_name),
            Description="A model-deployment run's outcome -> the operations topic",
            EventPattern={
                **rule_events.pattern_head(rule_events.STAGE_EXECUTION_STATE),
                "detail": {"pipeline": [Ref("DeploymentPipelineName")], "stage": stages, "state": states},
            },
            State="ENABLED",
            Targets=[events.Target(
                Id="OperationsTopic",
                Arn=topic_arn,
                InputTransformer=events.InputTransformer(
                    InputPathsMap={"pipeline": "$.detail.pipeline", "execution": "$.detail.execution-id",
                                   "stage": "$.detail.stage", "region": "$.region"},
                    InputTemplate=f'"{message}"',
                ),
                RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=86400, MaximumRetryAttempts=185),
            )],
        ))
        t.add_resource(delivery_failures.rule_failures_alarm(
            f"{logical_id}FailuresAlarm", rule_name, topic_arn,
            "EventBridge could not publish a model-deployment outcome to the operations topic",
        ))
