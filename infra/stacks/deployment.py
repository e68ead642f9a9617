"""Deployment stack: serving what a person approved.

Approving (or rejecting) a version in the env's model package group starts the model-deployment pipeline
(an EventBridge rule: the event starts a run, it passes nothing). The run:

1. Source: the templates the delivery pipeline last released (its Synth output, `release/templates.zip`), so an
   endpoint stack never runs ahead of what the env's release approval let through.
2. Resolve (a Lambda): the newest Approved version, read from the registry at run time, never from the event;
   none left (the last one was rejected) fails the run, which changes nothing and says so.
3. Staging, one stage (skipped on the fast path below): the staging endpoint stack for that version; the smoke test
   (a Lambda: the documented request, built from that version's own contract); then, unless config
   `deployment.keep_staging`, the stack's deletion. One stage because CodePipeline locks a stage to one run at a time
   (SUPERSEDED mode): a newer run waits at its entrance, so it can never redeploy or delete staging under an older
   run's smoke test, as it could between stages.
4. ApproveProduction (config `deployment.approval`): a person approves, told the version and the run.
5. Production: the version still Approved; the production endpoint stack (model, endpoint config, alarms); then the
   RollOut action (the resolve function) updates the endpoint itself with the blue/green DeploymentConfig and
   watches it to the end: SageMaker shifts traffic (canary or linear) and rolls back by itself on the stack's alarms
   or when the version is rejected meanwhile. Beside it, bake traffic (the smoke test's requests to production while
   the rollout runs, so the new fleet is judged on requests even without clients). Whatever the outcome, the version
   production serves becomes a point of the DeployedModelVersion metric (dashboard); a rollback fails the stage with
   SageMaker's reason.

Each outcome (staged, promoted, a failed stage: smoke test, rollback, nothing to deploy) reaches the
operations topic through an EventBridge rule, with a link to the run. Deployed by the delivery pipeline,
only in envs whose config has a `deployment` block.
"""
from __future__ import annotations

import json

from troposphere import Ref, Sub, Template
from troposphere import awslambda, codepipeline, events

from infra.config.model import Deployment
from infra.config.names import Names
from infra.cfn import scanner_skips
from infra.cfn.parameters import deployment_settings
from infra.cfn.exports import import_value
from infra.cfn.mappings import add_image_registries
from infra.cfn.templates_common import new_template
from infra.iam.policies import MODEL_ARCHIVES
from infra.iam.runtime import jobs
from infra.parts import alarms, delivery_failures, deployment_outcomes, functions, model_package_events, pipeline_actions

RELEASE = "Release"
RESOLVE = "Resolve"  # the Resolve action's namespace: #{Resolve.ModelPackageArn}…
# A pipeline variable a person sets to "true" when starting a run by hand, to apply a template or config change to
# the version production already serves (runs started by an approval leave it "false").
REDEPLOY = "Redeploy"
# What the Resolve action hands each endpoint stack (CloudFormation's ParameterOverrides: 1 KB at most).
PARAMETER_OVERRIDES = json.dumps({"ModelPackageArn": f"#{{{RESOLVE}.ModelPackageArn}}",
                                  "ModelPackageVersion": f"#{{{RESOLVE}.ModelPackageVersion}}"}, sort_keys=True)
def _bucket():
    return import_value("PipelineStackName", "ArtifactBucketName")


def _key_arn():
    return import_value("PipelineStackName", "ArtifactKeyArn")


def _operations_topic():
    return import_value("PipelineStackName", "OperationsTopicArn")


def _dead_letter_queue(t: Template):
    """Where a job a function could not report on ends, after Lambda's retries: the messaging stack's queue (its policy
    an administrator's), encrypted with the notifications key. Returns its ARN."""
    model_package_events.dead_letter_alarm(
        t, "DeploymentDeadLetterAlarm", Sub("${ResourcePrefix}-deployment-dead-letters"), Ref("DeploymentDeadLetterQueueName"),
        _operations_topic(), "A deployment function could not report a job result: its run waits until CodePipeline times it out",
    )
    return import_value("MessagingStackName", "DeploymentDeadLetterQueueArn")


def _source_models(takes_models: bool) -> dict:
    """Resolve's view of where versions come from: serving another env's models, that env's group (by ARN), bucket and
    models/ folder, and what to name when its pin is late; else this env's own (unchanged)."""
    if not takes_models:
        return {"ARCHIVE_BUCKET": _bucket(), "ARCHIVE_PREFIX": Sub(MODEL_ARCHIVES)}
    return {"ARCHIVE_BUCKET": Ref("ModelsBucketName"), "ARCHIVE_PREFIX": Ref("ModelsArchivePrefix"),
            "MODELS_GROUP_ARN": Sub("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${ModelsAccountId}:"
                                    "model-package-group/${ModelsGroupName}"),
            "MODELS_SOURCE_ENV": Ref("ModelsEnvironment"), "MODELS_PIN_FUNCTION": Ref("ModelsPinFunctionName")}


def _declarations(queue_arn, takes_models: bool) -> list[functions.Function]:
    """Resolve (picks the version, rolls production out) and SmokeTest, both invoked by the pipeline."""
    common = {"code_bucket": _bucket(), "key_arn": _key_arn(), "dead_letter_queue_arn": queue_arn, "timeout": 300}
    serving_images = jobs.serving_images()
    return [
        functions.Function(
            "Resolve", "ResolveFunctionName", "deploy_resolve.handler.lambda_handler",
            "Picks the newest Approved version for the deployment pipeline, and rolls production out to it",
            role_arn=import_value("ServingIamStackName", "ResolveFunctionRoleArn"),
            code=("ResolveCodeKey", "deploy_resolve", "deploy_resolve"), memory=128, environment={
                "MODEL_PACKAGE_GROUP": Ref("ModelPackageGroupName"), "METRICS_NAMESPACE": Ref("MetricsNamespace"),
                "PRODUCTION_ENDPOINT": Ref("ProductionEndpointName"), "STAGING_ENDPOINT": Ref("StagingEndpointName"),
                "INSTANCES_NEEDED": Ref("EndpointInstancesNeeded"), **_source_models(takes_models),
                "SERVING_IMAGES": serving_images}, **common),
        functions.Function(
            "SmokeTest", "SmokeTestFunctionName", "deploy_smoke_test.handler.lambda_handler",
            "Sends the documented request to the staging endpoint and checks the answer and its latency",
            role_arn=import_value("ServingIamStackName", "SmokeTestFunctionRoleArn"),
            code=("SmokeTestCodeKey", "deploy_smoke_test", "deploy_smoke_test"), memory=256,
            environment={"LATENCY_BUDGET_MS": Sub("${SmokeTestLatencyMs}")}, **common),  # Lambda variables are strings
    ]


def _function(t: Template, spec: functions.Function) -> awslambda.Function:
    """The function, and an alarm when a failed invocation cannot reach the dead-letter queue."""
    function = functions.add(t, spec)
    t.add_resource(alarms.any_in_five_minutes(
        f"{spec.prefix}DeadLetterErrorsAlarm", Sub(f"${{ResourcePrefix}}-{spec.code[1].replace('_', '-')}-dlq-errors"),
        "A failed invocation could not be sent to the deployment dead-letter queue: that job result is lost",
        "AWS/Lambda", "DeadLetterErrors", _operations_topic(), ("FunctionName", Ref(spec.name_param))))
    return function


def _invoke(name: str, function_param: str, user_parameters=None, namespace: str | None = None,
            run_order: int = 1) -> codepipeline.Actions:
    configuration = {"FunctionName": Ref(function_param)}
    if user_parameters is not None:
        configuration["UserParameters"] = user_parameters
    return pipeline_actions.action(name, "Invoke", "Lambda", configuration, namespace=namespace, run_order=run_order)


# Each endpoint stack's own deploy role (serving-iam exports): the Staging stage's cannot reach production.
ENDPOINT_DEPLOY_ROLES = {"staging-endpoint": "StagingEndpointDeployRoleArn", "production-endpoint": "ProductionEndpointDeployRoleArn"}


def _deploy_endpoint(name: str, stack: str, stack_param: str, run_order: int = 1) -> codepipeline.Actions:
    return pipeline_actions.action(name, "Deploy", "CloudFormation", {
        "ActionMode": "CREATE_UPDATE",
        "StackName": Ref(stack_param),
        "TemplatePath": Sub(f"{RELEASE}::templates/${{Environment}}/{stack}.yaml"),
        "TemplateConfiguration": Sub(f"{RELEASE}::templates/${{Environment}}/{stack}.json"),
        "ParameterOverrides": PARAMETER_OVERRIDES,
        "RoleArn": import_value("ServingIamStackName", ENDPOINT_DEPLOY_ROLES[stack]),
    }, inputs=[RELEASE], run_order=run_order)


# RolloutSeconds is a number: the parameter goes into the JSON unquoted.
BAKE_TRAFFIC_PARAMETERS = json.dumps(
    {"EndpointName": "${ProductionEndpointName}", "ModelPackageArn": f"#{{{RESOLVE}.ModelPackageArn}}",
     "RolloutSeconds": "${RolloutTimeoutSeconds}"}, sort_keys=True).replace('"${RolloutTimeoutSeconds}"', "${RolloutTimeoutSeconds}")

# Resolve's Checks says what this run checked: the smoke test on staging, or, on the fast path (Staging skipped,
# skipped_on_fast_path), that it takes production back from a rejected version without it.
APPROVAL_NOTE = ("Deploy version #{{{resolve}.ModelPackageVersion}} of ${{ModelPackageGroupName}} to ${{ProductionEndpointName}}? "
                 "#{{{resolve}.Checks}} Approving starts the guarded rollout; rejecting stops this run and leaves "
                 "production as it is.").format(resolve=RESOLVE)


def skipped_on_fast_path() -> codepipeline.BeforeEntryConditions:
    """Entered only when Resolve's FastPath is "false": when production serves a rejected version, the run takes it
    back to the newest approved one without staging and smoke-testing it again (a person's approval, the check that
    it is still approved and the guarded rollout remain). SKIP is allowed with VariableCheck rules
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html)."""
    return codepipeline.BeforeEntryConditions(Conditions=[codepipeline.Condition(Result="SKIP", Rules=[
        codepipeline.RuleDeclaration(
            Name="NotFastPath",
            RuleTypeId=codepipeline.RuleTypeId(Category="Rule", Owner="AWS", Provider="VariableCheck", Version="1"),
            Configuration={"Operator": "EQ", "Value": "false", "Variable": f"#{{{RESOLVE}.FastPath}}"})])])


def stages(settings: Deployment) -> list:
    approval = pipeline_actions.action("ApproveProduction", "Approval", "Manual", {
        "NotificationArn": _operations_topic(),
        "CustomData": Sub(APPROVAL_NOTE),
        "ExternalEntityLink": Sub("https://${AWS::Region}.console.aws.amazon.com/sagemaker/home?region=${AWS::Region}"
                                  "#/model-registry/${ModelPackageGroupName}"),
    })
    clean_up = pipeline_actions.action("DeleteStagingStack", "Deploy", "CloudFormation", {
        "ActionMode": "DELETE_ONLY",
        "StackName": Ref("StagingEndpointStackName"),
        "RoleArn": import_value("ServingIamStackName", ENDPOINT_DEPLOY_ROLES["staging-endpoint"]),
    }, run_order=3)
    return [
        codepipeline.Stages(Name="Source", Actions=[pipeline_actions.action(
            "Release", "Source", "S3",
            {"S3Bucket": _bucket(), "S3ObjectKey": Ref("ReleaseObjectKey"), "PollForSourceChanges": "false"},
            outputs=[RELEASE])]),
        codepipeline.Stages(Name="Resolve", Actions=[_invoke(
            "Resolve", "ResolveFunctionName", json.dumps({"Redeploy": f"#{{variables.{REDEPLOY}}}"}), namespace=RESOLVE)]),
        # Staging's whole life in one stage (see the module docstring): deploy, smoke test, delete.
        codepipeline.Stages(Name="Staging", BeforeEntry=skipped_on_fast_path(), Actions=[
            _deploy_endpoint("DeployStagingEndpoint", "staging-endpoint", "StagingEndpointStackName"),
            _invoke("SmokeTest", "SmokeTestFunctionName", Sub(json.dumps(
                {"EndpointName": "${StagingEndpointName}", "ModelPackageArn": f"#{{{RESOLVE}.ModelPackageArn}}"},
                sort_keys=True)), run_order=2),
            *([] if settings.keep_staging else [clean_up]),
        ]),
        *([codepipeline.Stages(Name="ApproveProduction", Actions=[approval])] if settings.approval else []),
        codepipeline.Stages(Name="Production", Actions=[
            # A version rejected while the run waited for the production approval does not go out.
            _invoke("CheckStillApproved", "SmokeTestFunctionName", Sub(json.dumps(
                {"EndpointName": "${ProductionEndpointName}", "ModelPackageArn": f"#{{{RESOLVE}.ModelPackageArn}}",
                 "StillApprovedOnly": True}, sort_keys=True))),
            # The version's model, endpoint config and alarms; never the endpoint (infra/stacks/production_endpoint.py).
            _deploy_endpoint("DeployProductionEndpoint", "production-endpoint", "ProductionEndpointStackName", run_order=2),
            # The rollout: UpdateEndpoint (or CreateEndpoint) with the stack's DeploymentConfig, watched until the
            # endpoint settles (continuation tokens); fails when SageMaker rolled it back, and records what serves.
            _invoke("RollOut", "ResolveFunctionName", Sub(json.dumps(
                {"RollOut": "${ProductionEndpointStackName}", "ModelPackageArn": f"#{{{RESOLVE}.ModelPackageArn}}"},
                sort_keys=True)), run_order=3),
            # Beside the rollout: the contract's requests while it runs, so every bake step of the new fleet sees
            # traffic even when no client calls production (lambda_src/deploy_smoke_test/bake.py).
            _invoke("BakeTraffic", "SmokeTestFunctionName", Sub(BAKE_TRAFFIC_PARAMETERS), run_order=3),
        ]),
    ]


def _pipeline(t: Template, settings: Deployment, invoked: list[awslambda.Function]) -> codepipeline.Pipeline:
    return t.add_resource(codepipeline.Pipeline(
        "DeploymentPipeline",
        # Its actions name the functions by parameter, which orders nothing; a pipeline starts a run when it is created.
        DependsOn=[f.title for f in invoked],
        Name=Ref("DeploymentPipelineName"),
        RoleArn=import_value("ServingIamStackName", "DeploymentPipelineRoleArn"),
        PipelineType="V2",
        # A newer run (a later approval) overtakes an older one still waiting: the newest approved version wins.
        ExecutionMode="SUPERSEDED",
        Variables=[codepipeline.VariableDeclaration(Name=REDEPLOY, DefaultValue="false",
                                                    Description="true: deploy even if production serves the newest version")],
        ArtifactStore=codepipeline.ArtifactStore(
            Type="S3",
            Location=_bucket(),
            EncryptionKey=codepipeline.EncryptionKey(Id=_key_arn(), Type="KMS"),
        ),
        Stages=stages(settings),
    ))


def _trigger(t: Template, takes_models: bool) -> None:
    """Approving or rejecting a version of the env's group starts a run (a rejection of the version production
    serves re-deploys the newest still approved). A start EventBridge could not make is alarmed. `takes_models`: the
    group is the models_from env's, whose decisions arrive on this env's promotion bus (messaging stack) from that
    account alone."""
    pattern = model_package_events.event_pattern(["Approved", "Rejected"])
    bus = {}
    if takes_models:
        pattern = {**pattern, "account": [Ref("ModelsAccountId")],
                   "detail": {**pattern["detail"], "ModelPackageGroupName": [Ref("ModelsGroupName")]}}
        bus = {"EventBusName": Ref("PromotionBusName")}
    t.add_resource(events.Rule(
        "DeploymentRule",
        Name=Sub("${DeploymentRuleName}"),
        Description="An approved or rejected version of this environment's model package group -> the deployment pipeline",
        EventPattern=pattern,
        State="ENABLED",
        Targets=[events.Target(
            Id="DeploymentPipeline",
            Arn=Sub("arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${DeploymentPipelineName}"),
            RoleArn=import_value("ServingIamStackName", "DeploymentEventsRoleArn"),
            RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=model_package_events.RULE_MAX_EVENT_AGE_SECONDS,
                                           MaximumRetryAttempts=model_package_events.RULE_MAX_RETRIES),
        )],
        **bus,
    ))
    t.add_resource(delivery_failures.rule_failures_alarm(
        "DeploymentRuleFailuresAlarm", "${DeploymentRuleName}", _operations_topic(),
        "EventBridge could not start the deployment pipeline for an approval or rejection: that version is not deployed",
        bus="${PromotionBusName}" if takes_models else None,
    ))


def build(n: Names) -> Template:
    t = new_template("Model deployment of the SageMaker MLOps project: approved versions to staging, a smoke test, "
                     "a person's approval and a guarded production rollout")
    queue_arn = _dead_letter_queue(t)
    _pipeline(t, deployment_settings(n), [_function(t, spec) for spec in _declarations(queue_arn, n.models_source is not None)])
    _trigger(t, n.models_source is not None)
    deployment_outcomes.add(t, _operations_topic())
    scanner_skips.apply(t, "deployment")
    add_image_registries(t, n.env.region)  # the registry Resolve holds a version's serving image to
    return t
