"""The model-deployment path after the approval, rehearsed on moto: a mixin of the demo's steps 14 onwards.

Every name, pattern, property, parameter override and action configuration comes from the rendered
deployment, staging-endpoint and production-endpoint templates evaluated for the env (wiring.Deployment).
What moto lacks is stood in for and said so: CodePipeline's job APIs (tests/support/pipeline_job_support.py),
InvokeEndpoint (serving.py: the real trained model), UpdateEndpoint (the request is validated against
botocore's model, not sent), EventBridge -> SNS delivery (an SQS target, its message published to the topic).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re

from tests.demo import serving
from tests.demo.progress import Broken
from tests.support import api_shapes
from infra.config import serving as serving_rules
from tests.support.pipeline_job_support import FakeCodePipeline, FakeServiceQuotas, job_event

NAMESPACE = "Resolve"  # the Resolve action's namespace: #{Resolve.<variable>} in later actions
# CreateEndpoint takes none of these; CloudFormation uses them when it updates the endpoint (UpdateEndpoint).
UPDATE_ONLY = ("RetainAllVariantProperties", "ExcludeRetainedVariantProperties", "RetainDeploymentConfig")
STAGE_EVENT = "CodePipeline Stage Execution State Change"
REJECTION_COMMENT = "Rejected by the demo: its rollout tripped the latency alarm."


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _version(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def _generated_name(stack, logical_id: str, salt: str) -> str:
    """A name as CloudFormation generates one for an unnamed resource: the logical ID and a random-looking suffix."""
    return f"{logical_id}-{hashlib.sha256(f'{stack.name}/{salt}'.encode()).hexdigest()[:12]}"


def _fill(node, markers: dict[str, str], where: str):
    """Put physical names in for the evaluator's markers ("<GetAtt Model.ModelName>"); any left over breaks the demo."""
    if isinstance(node, dict):
        return {k: _fill(v, markers, where) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, markers, where) for v in node]
    if isinstance(node, str) and node.startswith("<") and node.endswith(">"):
        if node not in markers:
            raise Broken(f"{where}: {node} has no value the demo can stand in for")
        return markers[node]
    return node


def _request(service: str, operation: str, params: dict, where: str) -> dict:
    """The API request for a resource's properties, validated against botocore's model; a misfit names the template."""
    try:
        return api_shapes.request(service, operation, params)
    except api_shapes.ShapeError as exc:
        raise Broken(f"{where}: {exc}") from None


class DeploymentSteps:
    """Steps of run.Demo (which provides client, p, w, env, names, account, queues, _deliver, _invoke, _register...)."""

    # -- helpers ------------------------------------------------------------------------------
    def _action(self, stage: str, provider: str | None = None, name: str | None = None) -> dict:
        """The stage's one action (of `provider`, CloudFormation or Lambda, or named `name`, when it has several)."""
        stages = self.w.deployment.stages
        if stage not in stages:
            raise Broken(f"deployment.yaml: the pipeline has no {stage} stage (stages: {', '.join(stages)})")
        actions = [a for a in stages[stage]["Actions"] if (provider is None or a["ActionTypeId"]["Provider"] == provider)
                   and (name is None or a["Name"] == name)]
        if len(actions) != 1:
            raise Broken(f"deployment.yaml: stage {stage} has {len(actions)} {provider or ''} actions; the demo expects one")
        return actions[0]["Configuration"]

    def _substitute(self, text: str, where: str) -> str:
        def one(match):
            namespace, name = match.group(1), match.group(2)
            if namespace == "variables" and name in self.w.deployment.variables:
                return self.w.deployment.variables[name]  # an approval's run: the variable's default
            if namespace != NAMESPACE or name not in getattr(self, "resolved", {}):
                raise Broken(f"{where}: #{{{namespace}.{name}}} is no output variable of the Resolve action "
                             f"({', '.join(sorted(getattr(self, 'resolved', {})))}) nor a pipeline variable")
            return self.resolved[name]

        return re.sub(r"#\{([A-Za-z0-9@_-]+)\.([A-Za-z0-9@_-]+)\}", one, text)

    def _function_action(self, stage: str, function, name: str | None = None) -> str:
        """The stage's Lambda invoke action (named `name`): it must call `function`; its UserParameters with the
        variables put in."""
        config = self._action(stage, "Lambda", name)
        if config.get("FunctionName") != function.name:
            raise Broken(f"deployment.yaml: stage {stage} invokes {config.get('FunctionName')}, the function is {function.name}")
        return self._substitute(config.get("UserParameters", ""), f"deployment.yaml {stage} UserParameters")

    def _run_resolve(self, user_parameters: str | None = None) -> tuple[dict, tuple[str, dict]]:
        pipeline = FakeCodePipeline(self.env.region)
        # moto has no SageMaker quotas: the account's applied quotas are exactly what the env needs.
        FakeServiceQuotas(self.env.region, applied=serving_rules.instances_needed(self.deployment_settings))
        event = job_event(user_parameters, function_name=self.w.deployment.resolve.name, account=self.account)
        result = self._invoke(self.w.deployment.resolve, event)
        return result, pipeline.only_result()

    def _resolve_expecting(self, arn: str) -> dict:
        result, (call, _) = self._run_resolve(self._function_action("Resolve", self.w.deployment.resolve) or None)
        if result.get("decision") != "resolved" or call != "PutJobSuccessResult":
            raise Broken(f"Resolve decided {result.get('decision')} ({result.get('message')}), reported {call}; expected v{_version(arn)}")
        got = result["variables"]["ModelPackageArn"]
        if got != arn:
            raise Broken(f"Resolve picked {got}; the newest Approved version is {arn}")
        self.resolved = result["variables"]
        return result["variables"]

    def _stack_for_run(self, stage: str, stack, action: str):
        """The endpoint stack evaluated with the ParameterOverrides of the stage's action `action` (the Resolve
        variables put in)."""
        config = self._action(stage, "CloudFormation", action)
        expected = (f"Release::templates/{stack.key}.yaml", f"Release::templates/{self.env.name}/{stack.key}.json", stack.name)
        given = (config.get("TemplatePath"), config.get("TemplateConfiguration"), config.get("StackName"))
        if given != expected:
            raise Broken(f"deployment.yaml stage {stage} deploys {given}, expected {expected}")
        overrides = json.loads(self._substitute(config["ParameterOverrides"], f"deployment.yaml {stage} ParameterOverrides"))
        unknown = sorted(set(overrides) - set(stack.template.get("Parameters", {})))
        if unknown:
            raise Broken(f"deployment.yaml stage {stage} overrides {', '.join(unknown)}, which {stack.key}.yaml does not declare")
        return dataclasses.replace(stack, parameters={**stack.parameters, **overrides})

    def _create_model_and_config(self, stack) -> tuple[dict, dict]:
        """CreateModel and CreateEndpointConfig with the template's properties; (resources, markers)."""
        sm, resources = self.client("sagemaker"), stack.resources()
        version = stack.parameters["ModelPackageVersion"]
        markers = dict(self.markers)
        markers["<GetAtt Model.ModelName>"] = _generated_name(stack, "Model", version)
        markers["<GetAtt EndpointConfig.EndpointConfigName>"] = _generated_name(stack, "EndpointConfig", version)
        where = f"{stack.key}.yaml"
        sm.create_model(**_request("sagemaker", "CreateModel", {
            "ModelName": markers["<GetAtt Model.ModelName>"], **_fill(resources["Model"]["Properties"], markers, where)},
            f"{where} Model"))
        sm.create_endpoint_config(**_request("sagemaker", "CreateEndpointConfig", {
            "EndpointConfigName": markers["<GetAtt EndpointConfig.EndpointConfigName>"],
            **_fill(resources["EndpointConfig"]["Properties"], markers, where)}, f"{where} EndpointConfig"))
        self.p.say(f"CreateModel {markers['<GetAtt Model.ModelName>']} (model package v{version}), "
                   f"CreateEndpointConfig {markers['<GetAtt EndpointConfig.EndpointConfigName>']}")
        return resources, markers

    def _create_endpoint(self, stack, resources: dict, markers: dict) -> dict:
        props = _fill(resources["Endpoint"]["Properties"], markers, f"{stack.key}.yaml")
        request = _request("sagemaker", "CreateEndpoint", {k: v for k, v in props.items() if k not in UPDATE_ONLY},
                           f"{stack.key}.yaml Endpoint")
        sm = self.client("sagemaker")
        sm.create_endpoint(**request)
        described = sm.describe_endpoint(EndpointName=request["EndpointName"])
        if described["EndpointStatus"] != "InService":
            raise Broken(f"endpoint {request['EndpointName']} is {described['EndpointStatus']}")
        return props

    def _stage_event(self, stage: str, state: str) -> list[str]:
        """A CodePipeline stage event for this run; what the outcome rules deliver reaches the operations topic."""
        from moto.events.utils import EventTemplateParser

        d, events, sqs, sns = self.w.deployment, self.client("events"), self.client("sqs"), self.client("sns")
        detail = {"pipeline": d.pipeline_name, "execution-id": self.deployment_execution, "stage": stage, "state": state,
                  "version": 1}
        result = events.put_events(Entries=[{
            "Source": "aws.codepipeline", "DetailType": STAGE_EVENT, "Detail": json.dumps(detail),
            "Resources": [f"arn:aws:codepipeline:{self.env.region}:{self.account}:{d.pipeline_name}"],
            "Time": dt.datetime.now(dt.timezone.utc)}])
        if result["FailedEntryCount"]:
            raise Broken(f"PutEvents failed: {result['Entries']}")
        matched = []
        for rule, (url, transformer) in self.outcome_queues.items():
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                matched.append(rule)
                # EventBridge's delivery to the topic: the rule's input transformer applied to the event (moto's own
                # EventTemplateParser: moto applies it but cannot deliver the resulting text to an SQS target).
                event = json.loads(m["Body"])
                event.setdefault("ingestion-time", event["time"])
                text = EventTemplateParser.parse(transformer["InputTemplate"], transformer["InputPathsMap"], event)
                sns.publish(TopicArn=d.operations_topic_arn, Message=text if isinstance(text, str) else json.dumps(text))
        self.p.say(f"{STAGE_EVENT} {stage} {state}: rule(s) matched: {', '.join(matched) or 'none'}")
        messages = []
        for m in sqs.receive_message(QueueUrl=self.operations_inbox, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
            sqs.delete_message(QueueUrl=self.operations_inbox, ReceiptHandle=m["ReceiptHandle"])
            messages.append(json.loads(m["Body"])["Message"])
        for text in messages:
            self.p.say(f"operations topic -> {', '.join(self.operations_emails)}: {text}", indent=6)
        return messages

    def _approve_and_deliver(self, arn: str, status: str, comment: str) -> None:
        """UpdateModelPackage; the state-change event must reach the deployment rule's target."""
        sm = self.client("sagemaker")
        sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=comment)
        described = sm.describe_model_package(ModelPackageName=arn)
        self.p.say(f"UpdateModelPackage v{_version(arn)} -> {described['ModelApprovalStatus']} ({comment})")
        if self._deliver(described)[self.w.deployment.rule.name] is None:
            raise Broken(f"the deployment rule did not match the {status} event of v{_version(arn)}")
        self.p.say(f"rule {self.w.deployment.rule.name} matched -> a run of {self.w.deployment.pipeline_name} starts")

    # -- steps --------------------------------------------------------------------------------
    def deployment_rule(self, row):
        d, sqs, sns, events = self.w.deployment, self.client("sqs"), self.client("sns"), self.client("events")
        if self.env.deployment is None:
            self.p.say(f"{self.env.name} has no deployment block; rehearsing with the defaults "
                       "(its deployment and endpoint stacks are rendered with them, and not deployed)")
        self.p.say(f"deployment.yaml    rule {d.rule.name}: {_json(d.rule.pattern)}")
        url = sqs.create_queue(QueueName=f"demo-target-{d.rule.name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=d.rule.name, EventPattern=json.dumps(d.rule.pattern, sort_keys=True), State="ENABLED")
        events.put_targets(Rule=d.rule.name, Targets=[{"Id": "StandInForDeploymentPipeline", "Arn": arn}])
        self.queues[d.rule.name] = url
        self.p.say(f"rule {d.rule.name} -> SQS queue standing in for CodePipeline {d.pipeline_name}")

        topic_arn = sns.create_topic(Name=d.operations_topic_arn.rsplit(":", 1)[1])["TopicArn"]
        if topic_arn != d.operations_topic_arn:
            raise Broken(f"the outcome rules publish to {d.operations_topic_arn}, the topic is {topic_arn}")
        self.operations_inbox = sqs.create_queue(QueueName="demo-operations-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.operations_inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        self.operations_emails = self.env.operations_emails or self.env.emails
        self.outcome_queues = {}
        for props in d.outcome_rules.values():
            url = sqs.create_queue(QueueName=f"demo-target-{props['Name']}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            target = props["Targets"][0]
            if target["Arn"] != topic_arn:
                raise Broken(f"outcome rule {props['Name']} targets {target['Arn']}, not the operations topic {topic_arn}")
            events.put_rule(Name=props["Name"], EventPattern=json.dumps(props["EventPattern"], sort_keys=True), State="ENABLED")
            events.put_targets(Rule=props["Name"], Targets=[{"Id": target["Id"], "Arn": arn}])
            self.outcome_queues[props["Name"]] = (url, target["InputTransformer"])
        self.p.say(f"outcome rules {', '.join(self.outcome_queues)} -> SQS queues standing in for topic {topic_arn} "
                   f"-> SQS queue standing in for {', '.join(self.operations_emails)}")

        sm = self.client("sagemaker")
        self.p.say(f"the approval of v{_version(self.package_arn)} (step 10), sent again now that the rule exists:")
        if self._deliver(sm.describe_model_package(ModelPackageName=self.package_arn))[d.rule.name] is None:
            raise Broken(f"the deployment rule did not match the approval of v{_version(self.package_arn)}")
        self.p.say(f"the approval in {self.other_group_arn.rsplit('/', 2)[-2]} (step 11), sent again:")
        if self._deliver(sm.describe_model_package(ModelPackageName=self.other_group_arn))[d.rule.name] is not None:
            raise Broken("the deployment rule matched an approval in another model package group")
        self.deployment_execution = "0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a41"
        row.result = f"the approval matched {d.rule.name} -> {d.pipeline_name}; another group's approval did not"

    def resolve_version(self, row):
        fn = self.w.deployment.resolve
        self.p.say(f"deployment.yaml    {fn.name}: handler {fn.handler}, env {_json(fn.environment)}")
        variables = self._resolve_expecting(self.package_arn)
        for name, value in sorted(variables.items()):
            self.p.say(f"#{{{NAMESPACE}.{name}}} = {value}")
        row.result = f"v{variables['ModelPackageVersion']}: {variables['Summary']}"

    def staging(self, row):
        stack = self._stack_for_run("Staging", self.w.deployment.staging, "DeployStagingEndpoint")
        self.p.say(f"staging-endpoint.yaml with {stack.name}'s overrides: ModelPackageArn={stack.parameters['ModelPackageArn']}")
        resources, markers = self._create_model_and_config(stack)
        props = self._create_endpoint(stack, resources, markers)
        self.staging_endpoint = props["EndpointName"]
        variant = resources["EndpointConfig"]["Properties"]["ProductionVariants"][0]
        row.result = (f"{self.staging_endpoint} InService (moto), v{stack.parameters['ModelPackageVersion']} on "
                      f"{variant['InitialInstanceCount']} x {variant['InstanceType']}")

    def smoke_test(self, row):
        fn = self.w.deployment.smoke_test
        parameters = self._function_action("Staging", fn, "SmokeTest")
        self.p.say(f"deployment.yaml    {fn.name}: handler {fn.handler}, env {_json(fn.environment)}, UserParameters {parameters}")
        if json.loads(parameters).get("EndpointName") != self.staging_endpoint:
            raise Broken(f"the smoke test calls {json.loads(parameters).get('EndpointName')}, staging is {self.staging_endpoint}")
        endpoints = serving.LocalEndpoints(self.env.region)
        try:
            result = self._invoke(fn, job_event(parameters, function_name=fn.name, account=self.account))
        finally:
            endpoints.close()
        for a in endpoints.answered:
            request = a.request.decode("utf-8").strip().replace("\n", " | ")
            self.p.say(f"{a.content_type:<16} {request[:110]}{'...' if len(request) > 110 else ''}")
            self.p.say(f"  -> answered by the trained model: {a.answer.decode('utf-8').replace(chr(10), ', ')}")
        if result.get("decision") != "passed":
            raise Broken(f"the smoke test decided {result.get('decision')}: {result.get('message')}")
        if not endpoints.answered:
            raise Broken("the smoke test passed without a request reaching the trained model")
        row.result = (f"passed: {len(endpoints.answered)} requests answered by the trained model (its packaged inference.py); "
                      f"p50 {result['variables']['LatencyMs']} ms")
        self._stage_event("Staging", "SUCCEEDED")  # the stage ends after its smoke test (and staging's deletion)

    def approve_production(self, row):
        settings = self.deployment_settings
        if "ApproveProduction" not in self.w.deployment.stages:
            if settings.approval:
                raise Broken("deployment.approval is true, but the pipeline has no ApproveProduction stage")
            row.result = "no approval stage (deployment.approval: false): production follows the smoke test"
            return
        config = self._action("ApproveProduction")
        if config.get("NotificationArn") != self.w.deployment.operations_topic_arn:
            raise Broken(f"the approval request goes to {config.get('NotificationArn')}, not the operations topic")
        self.p.say(f"CodePipeline asks {', '.join(self.operations_emails)} (operations topic):")
        self.p.say(self._substitute(config["CustomData"], "deployment.yaml ApproveProduction CustomData"), indent=6)
        self.p.say(f"Review: {config['ExternalEntityLink']}", indent=6)
        row.result = "emulated: the approver reads the request above and approves"

    def production(self, row):
        fn = self.w.deployment.smoke_test
        check = self._function_action("Production", fn, "CheckStillApproved")
        still = self._invoke(fn, job_event(check, function_name=fn.name, account=self.account))
        if still.get("decision") != "still_approved":
            raise Broken(f"the check before production decided {still.get('decision')}: {still.get('message')}")
        self.p.say(f"before production changes: {still['variables']['Summary']}")
        stack = self._stack_for_run("Production", self.w.deployment.production, "DeployProductionEndpoint")
        resources, markers = self._create_model_and_config(stack)
        props = self._create_endpoint(stack, resources, markers)
        self.production_endpoint, self.production_stack = props["EndpointName"], stack
        self.production_config = markers["<GetAtt EndpointConfig.EndpointConfigName>"]
        self._put_alarms(stack, resources, markers)
        scaling = self._autoscaling(stack, resources)
        policy = props["DeploymentConfig"]["BlueGreenUpdatePolicy"]
        routing = policy["TrafficRoutingConfiguration"]
        step = routing.get("CanarySize") or routing.get("LinearStepSize")
        plan = f"{routing['Type']}" + (f" {step['Value']}% of capacity" if step else "") + f", wait {routing['WaitIntervalInSeconds']} s per step"
        self.p.say(f"rollout of the next version: blue/green {plan}; timeout {policy['MaximumExecutionTimeoutInSeconds']} s; "
                   f"old fleet kept {policy['TerminationWaitInSeconds']} s (DeploymentConfig validated against botocore's CreateEndpoint)")
        self.rollback_alarms = [a["AlarmName"] for a in props["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
        for alarm in self.client("cloudwatch").describe_alarms(AlarmNames=self.rollback_alarms)["MetricAlarms"]:
            self.p.say(f"rolls back on {alarm['AlarmName']}: {alarm['MetricName']} {alarm['Statistic']} "
                       f"{alarm['ComparisonOperator']} {alarm['Threshold']:g} over {alarm['Period']} s")
        verified = self._verify_production()
        if verified.get("decision") != "serving":
            raise Broken(f"the check after the rollout decided {verified.get('decision')}: {verified.get('message')}")
        variant = resources["EndpointConfig"]["Properties"]["ProductionVariants"][0]
        row.result = (f"{self.production_endpoint} InService (moto), v{stack.parameters['ModelPackageVersion']} on "
                      f"{variant['InitialInstanceCount']} x {variant['InstanceType']}, checked to serve it; {plan}; "
                      f"rolls back on {', '.join(self.rollback_alarms)}; {scaling}")

    def _verify_production(self) -> dict:
        """The Production stage's second action: the smoke-test function, VerifyOnly, on production."""
        fn = self.w.deployment.smoke_test
        parameters = self._function_action("Production", fn, "VerifyProductionServesIt")
        if not json.loads(parameters).get("VerifyOnly") or json.loads(parameters).get("EndpointName") != self.production_endpoint:
            raise Broken(f"the Production stage's check calls {parameters}; expected VerifyOnly on {self.production_endpoint}")
        return self._invoke(fn, job_event(parameters, function_name=fn.name, account=self.account))

    def _put_alarms(self, stack, resources: dict, markers: dict) -> None:
        cw = self.client("cloudwatch")
        for logical_id, res in resources.items():
            if res["Type"] == "AWS::CloudWatch::Alarm":
                where = f"{stack.key}.yaml {logical_id}"
                request = _request("cloudwatch", "PutMetricAlarm", _fill(res["Properties"], markers, where), where)
                cw.put_metric_alarm(**request)
        alarms = cw.describe_alarms(AlarmNamePrefix=f"{stack.parameters['ResourcePrefix']}-production")["MetricAlarms"]
        config = markers["<GetAtt EndpointConfig.EndpointConfigName>"]
        for alarm in alarms:
            dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            if dims.get("EndpointConfigName") != config:
                raise Broken(f"alarm {alarm['AlarmName']} watches {dims.get('EndpointConfigName')}, not the new fleet {config}")

    def _autoscaling(self, stack, resources: dict) -> str:
        if "ScalableTarget" not in resources:
            return "no autoscaling (min_instances = max_instances)"
        aas = self.client("application-autoscaling")
        target = resources["ScalableTarget"]["Properties"]
        aas.register_scalable_target(**_request("application-autoscaling", "RegisterScalableTarget", target,
                                                f"{stack.key}.yaml ScalableTarget"))
        policy = dict(resources["InvocationsScalingPolicy"]["Properties"])
        if policy.pop("ScalingTargetId") != "<Ref ScalableTarget>":
            raise Broken("production-endpoint.yaml: the scaling policy does not scale ScalableTarget")
        ids = {k: target[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension")}
        aas.put_scaling_policy(**_request("application-autoscaling", "PutScalingPolicy", {**policy, **ids},
                                          f"{stack.key}.yaml InvocationsScalingPolicy"))
        registered = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[target["ResourceId"]])["ScalableTargets"]
        if len(registered) != 1:
            raise Broken(f"no scalable target {target['ResourceId']}")
        t = registered[0]
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        text = (f"autoscaling {t['MinCapacity']}..{t['MaxCapacity']} instances, target "
                f"{config['TargetValue']} {config['PredefinedMetricSpecification']['PredefinedMetricType']}")
        self.p.say(f"{t['ResourceId']}: {text}")
        return text

    def record_release(self, row):
        parameters = self._function_action("RecordRelease", self.w.deployment.resolve)
        result, (call, _) = self._run_resolve(parameters)
        if result.get("decision") != "recorded" or call != "PutJobSuccessResult":
            raise Broken(f"RecordRelease decided {result.get('decision')} ({result.get('message')})")
        fn = self.w.deployment.resolve
        now = dt.datetime.now(dt.timezone.utc)
        stats = self.client("cloudwatch").get_metric_statistics(
            Namespace=fn.environment["METRICS_NAMESPACE"], MetricName="DeployedModelVersion",
            Dimensions=[{"Name": "EndpointName", "Value": self.production_endpoint}],
            StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5), Period=3600, Statistics=["Maximum"])
        served = [d["Maximum"] for d in stats["Datapoints"]]
        if served != [float(self.resolved["ModelPackageVersion"])]:
            raise Broken(f"DeployedModelVersion of {self.production_endpoint} is {served}, expected {self.resolved['ModelPackageVersion']}")
        messages = self._stage_event("Production", "SUCCEEDED")
        if len(messages) != 1 or "production now serves" not in messages[0]:
            raise Broken(f"the operations topic received {messages} for a promoted run")
        row.result = f"DeployedModelVersion={served[0]:g} ({self.production_endpoint}); the operations topic says production serves it"

    def guarded_rollout(self, row):
        sm = self.client("sagemaker")
        execution = sm.start_pipeline_execution(PipelineName=self.names.sagemaker_pipeline)["PipelineExecutionArn"]
        self.second_arn = self._register(self._register_arguments(execution.rsplit("/", 1)[1]), execution)
        self.p.say(f"registered v{_version(self.second_arn)} (execution {execution.rsplit('/', 1)[1]}; the same trained archive and report)")
        self._approve_and_deliver(self.second_arn, "Approved", "second version, approved by the demo")
        self.deployment_execution = "0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a42"
        variables = self._resolve_expecting(self.second_arn)
        self.p.say(f"Resolve: v{variables['ModelPackageVersion']}; staging and the smoke test as for v{_version(self.package_arn)} "
                   "(not repeated: moto cannot update the staging endpoint)")
        stack = self._stack_for_run("Production", self.w.deployment.production, "DeployProductionEndpoint")
        resources, markers = self._create_model_and_config(stack)
        props = _fill(resources["Endpoint"]["Properties"], markers, f"{stack.key}.yaml")
        update = _request("sagemaker", "UpdateEndpoint", props, f"{stack.key}.yaml Endpoint (update)")
        self.p.say(f"UpdateEndpoint as CloudFormation sends it (validated against botocore's model; moto does not implement it): {_json(update)}")
        self._put_alarms(stack, resources, markers)  # the stack update points the alarms at the new fleet
        watched = [a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
        cw = self.client("cloudwatch")
        latency = next(a for a in cw.describe_alarms(AlarmNames=watched)["MetricAlarms"] if a["MetricName"] == "ModelLatency")
        cw.set_alarm_state(AlarmName=latency["AlarmName"], StateValue="ALARM",
                           StateReason="demo: the new fleet's ModelLatency passed the threshold during the canary")
        state = cw.describe_alarms(AlarmNames=[latency["AlarmName"]])["MetricAlarms"][0]["StateValue"]
        if state != "ALARM" or latency["AlarmName"] not in watched:
            raise Broken(f"alarm {latency['AlarmName']} is {state}; the rollout watches {watched}")
        serving_config = sm.describe_endpoint(EndpointName=self.production_endpoint)["EndpointConfigName"]
        if serving_config != self.production_config:
            raise Broken(f"production serves {serving_config}, not v{_version(self.package_arn)}'s {self.production_config}")
        self.p.say(f"{latency['AlarmName']} -> ALARM; it is in the update's AutoRollbackConfiguration, so SageMaker shifts the "
                   f"traffic back to the old fleet ({serving_config}, v{_version(self.package_arn)}) and CloudFormation rolls the stack back")
        verified = self._verify_production()  # even if CloudFormation reported the update complete
        if verified.get("decision") != "wrong_model":
            raise Broken(f"after the rollback the check decided {verified.get('decision')}; it must find v{_version(self.package_arn)}")
        self.p.say(f"the check after the rollout: {verified.get('message')}")
        messages = self._stage_event("Production", "FAILED")
        if len(messages) != 1 or "stage Production failed" not in messages[0]:
            raise Broken(f"the operations topic received {messages} for a failed Production stage")
        row.result = (f"v{_version(self.second_arn)}'s rollout: {latency['AlarmName']} ALARM -> rolled back, production serves "
                      f"v{_version(self.package_arn)} (the check says so); the operations topic says Production failed")

    def reject_rolls_back(self, row):
        # Emulated: a later rollout of v2 that completed (moto cannot update an endpoint: the endpoint is re-created).
        sm = self.client("sagemaker")
        stack = self._stack_for_run("Production", self.w.deployment.production, "DeployProductionEndpoint")
        resources, markers = self._create_model_and_config(stack)
        sm.delete_endpoint(EndpointName=self.production_endpoint)
        self._create_endpoint(stack, resources, markers)
        self.p.say(f"emulated: v{_version(self.second_arn)}'s rollout completes; production serves it")
        # Production serves the newest approved version: another run (an older version approved) has nothing to do.
        result, (call, body) = self._run_resolve()
        if result.get("decision") != "up_to_date" or call != "PutJobFailureResult":
            raise Broken(f"Resolve with production serving the newest approved version decided {result.get('decision')}")
        self.p.say(f"a run now: {body['failureDetails']['message']}")
        self._approve_and_deliver(self.second_arn, "Rejected", REJECTION_COMMENT)
        variables = self._resolve_expecting(self.package_arn)
        row.result = (f"the rejection of v{_version(self.second_arn)}, which production serves, starts a run; Resolve goes back "
                      f"to v{variables['ModelPackageVersion']}, the previous approved version: the run stages and smoke-tests it "
                      "and rolls production to it")

    def reject_last(self, row):
        self._approve_and_deliver(self.package_arn, "Rejected", "the last approved version, rejected by the demo")
        result, (call, body) = self._run_resolve()
        message = body.get("failureDetails", {}).get("message", "")
        if result.get("decision") != "none_approved" or call != "PutJobFailureResult" or "no Approved version left" not in message:
            raise Broken(f"Resolve with no Approved version decided {result.get('decision')}, reported {call}: {message}")
        row.result = f"Resolve fails the run: {message}"


STEPS = (
    ("The approval reaches the deployment rule", DeploymentSteps.deployment_rule),
    ("Resolve the version to deploy (deploy_resolve)", DeploymentSteps.resolve_version),
    ("Staging endpoint (staging-endpoint.yaml)", DeploymentSteps.staging),
    ("Smoke test (deploy_smoke_test) on the real model", DeploymentSteps.smoke_test),
    ("Production approval (emulated)", DeploymentSteps.approve_production),
    ("Production endpoint (production-endpoint.yaml)", DeploymentSteps.production),
    ("Record the release (RecordRelease)", DeploymentSteps.record_release),
    ("A second version's rollout trips an alarm", DeploymentSteps.guarded_rollout),
    ("Reject what production serves: Resolve goes back", DeploymentSteps.reject_rolls_back),
    ("Reject the last approved: nothing to deploy", DeploymentSteps.reject_last),
)
