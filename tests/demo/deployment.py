"""The model-deployment path after the approval, rehearsed on moto: a mixin of the demo's steps 14 onwards.

Every name, pattern, property, parameter override and action configuration comes from the rendered
deployment, staging-endpoint and production-endpoint templates evaluated for the env (wiring.Deployment).
What moto lacks is stood in for and said so: CodePipeline's job APIs (tests/support/pipeline_job_support.py),
InvokeEndpoint (serving.py: the real trained model), UpdateEndpoint and SageMaker's side of a rollout
(tests/support/rollout_support.py: the request is validated against botocore's model and answered; the demo then
ends the rollout as SageMaker would, completed or rolled back, and says so), EventBridge -> SNS delivery (an SQS
target, its message published to the topic). The production endpoint is the RollOut action's (the real function),
never CloudFormation's.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re

from tests.demo import serving
from tests.demo.progress import Broken
from tests.support import api_shapes, rollout_support
from infra.config import serving as serving_rules
from tests.support.pipeline_job_support import FakeCodePipeline, FakeServiceQuotas, job_event

from deploy_resolve import rollout  # lambda_src/ is on sys.path: tests/__init__.py

NAMESPACE = "Resolve"  # the Resolve action's namespace: #{Resolve.<variable>} in later actions
# CreateEndpoint takes none of these; CloudFormation uses them when it updates the endpoint (UpdateEndpoint).
UPDATE_ONLY = ("RetainAllVariantProperties", "ExcludeRetainedVariantProperties", "RetainDeploymentConfig")
STAGE_EVENT = "CodePipeline Stage Execution State Change"
REJECTION_COMMENT = "Rejected by the demo: found wanting once in production."
EMULATED = ("what is emulated: moto has no UpdateEndpoint and no traffic shifting, so the demo answers UpdateEndpoint "
            "(validated against botocore's model) and then ends each rollout as SageMaker would: traffic on the new config, "
            "or InService again on the old config with a FailureReason (a rollback; it sets the alarm that causes it). "
            "Real: the RollOut function and every decision it makes, the stack's model, config and alarms on moto. "
            "CloudFormation never updates the endpoint, so what it would report after a rollback does not arise.")


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
        # moto has no SageMaker quotas: the account's applied quotas are exactly the env's worst case.
        FakeServiceQuotas(self.env.region, applied=serving_rules.worst_case(self.deployment_settings))
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
        expected = (f"Release::templates/{self.env.name}/{stack.key}.yaml", f"Release::templates/{self.env.name}/{stack.key}.json",
                    stack.name)
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
        self.stack_updates = getattr(self, "stack_updates", 0) + 1  # each update makes new ones, under new names
        markers["<GetAtt Model.ModelName>"] = _generated_name(stack, "Model", f"{version}/{self.stack_updates}")
        markers["<GetAtt EndpointConfig.EndpointConfigName>"] = _generated_name(stack, "EndpointConfig",
                                                                                f"{version}/{self.stack_updates}")
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
            self.p.say(f"{self.env.name} has no deployment block; rehearsing with the serving roles, messaging, deployment and "
                       "endpoint stacks the default block would give it (rendered for the demo only)")
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
        self.p.say(EMULATED)
        outputs = self._deploy_production_stack()
        self.production_endpoint = outputs["EndpointName"]
        self.rollout = rollout_support.Production(self.account, self.env.region, self.production_endpoint,
                                                  self.w.deployment.production.name, outputs)
        self.p.say(f"emulated: {self.production_endpoint} does not exist yet: the RollOut action creates it (moto's "
                   "CreateEndpoint, InService at once; nothing to shift traffic from)")
        result = self._roll_out("rolled_out")
        if result.get("decision") != "rolled_out":
            raise Broken(f"RollOut decided {result.get('decision')}: {result.get('message')}")
        config = rollout.deployment_config(outputs)
        _request("sagemaker", "UpdateEndpoint", {"EndpointName": self.production_endpoint,
                                                 "EndpointConfigName": outputs["EndpointConfigName"], "DeploymentConfig": config},
                 "production-endpoint.yaml Outputs (the rollout's DeploymentConfig)")
        policy, routing = config["BlueGreenUpdatePolicy"], config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
        step = routing.get("CanarySize") or routing.get("LinearStepSize")
        plan = f"{routing['Type']}" + (f" {step['Value']}% of capacity" if step else "") + f", wait {routing['WaitIntervalInSeconds']} s per step"
        self.p.say(f"each next version: UpdateEndpoint by the RollOut action, blue/green {plan}; timeout "
                   f"{policy['MaximumExecutionTimeoutInSeconds']} s; old fleet kept {policy['TerminationWaitInSeconds']} s "
                   "(DeploymentConfig built from the stack's outputs, validated against botocore's UpdateEndpoint)")
        self.rollback_alarms = [a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]]
        for alarm in self.client("cloudwatch").describe_alarms(AlarmNames=self.rollback_alarms)["MetricAlarms"]:
            self.p.say(f"rolls back on {alarm['AlarmName']}: {alarm['MetricName']} {alarm['Statistic']} "
                       f"{alarm['ComparisonOperator']} {alarm['Threshold']:g} over {alarm['Period']} s")
        scaling = self._autoscaling_applied(outputs)
        variant = self.client("sagemaker").describe_endpoint_config(
            EndpointConfigName=outputs["EndpointConfigName"])["ProductionVariants"][0]
        row.result = (f"{self.production_endpoint} InService (moto), v{outputs['ModelPackageVersion']} on "
                      f"{variant['InitialInstanceCount']} x {variant['InstanceType']}, checked to serve it; {plan}; "
                      f"rolls back on {', '.join(self.rollback_alarms)}; {scaling}")

    def _deploy_production_stack(self) -> dict[str, str]:
        """The DeployProductionEndpoint action's stack for this run: model, endpoint config, alarms; its outputs."""
        stack = self._stack_for_run("Production", self.w.deployment.production, "DeployProductionEndpoint")
        resources, markers = self._create_model_and_config(stack)
        if any(r["Type"] == "AWS::SageMaker::Endpoint" for r in resources.values()):
            raise Broken("production-endpoint.yaml holds the endpoint: CloudFormation would issue the UpdateEndpoint "
                         "SageMaker may roll back by itself")
        self._put_alarms(stack, resources, markers)
        return {k: str(_fill(stack.value(o["Value"]), markers, f"{stack.key}.yaml Outputs {k}"))
                for k, o in stack.template["Outputs"].items()}

    def _roll_out(self, outcome: str, when_updating=None) -> dict:
        """The RollOut action, invoked again with its continuation token until it reports a result. While the
        endpoint is Updating, SageMaker's side is emulated: `when_updating()` (an alarm, a rejection) runs first, then
        the rollout ends with `outcome` (rolled_out: traffic on the new config; rolled_back: InService on the old one)."""
        fn = self.w.deployment.resolve
        parameters = self._function_action("Production", fn, "RollOut")
        token, result = "", {}
        for _ in range(10):
            event = job_event(parameters, function_name=fn.name, account=self.account)
            if token:
                event["CodePipeline.job"]["data"]["continuationToken"] = token
            pipeline = FakeCodePipeline(self.env.region)
            result = self._invoke(fn, event)
            call, body = pipeline.only_result()
            token = body.get("continuationToken", "") if call == "PutJobSuccessResult" else ""
            if not token:
                return result
            sm = self.client("sagemaker")
            if sm.describe_endpoint(EndpointName=self.production_endpoint)["EndpointStatus"] == "Updating":
                if when_updating is not None:
                    when_updating()
                    when_updating = None
                    continue  # CodePipeline asks again: the function sees what happened meanwhile
                self.rollout.settle(outcome, self._tripped)
                self.p.say(f"emulated SageMaker: the rollout {'completes: traffic on the new config' if outcome == 'rolled_out' else 'is rolled back: InService on the old config, FailureReason set'}")
        raise Broken("the RollOut action did not finish in 10 invocations")

    _tripped = ""

    def _served(self) -> str:
        return self.rollout.serves()

    def _agree(self, version: str, what: str) -> str:
        """DescribeEndpoint, the recorded DeployedModelVersion and make status all say `version`."""
        from infra.ops import status

        served, recorded = self._served(), self._recorded()
        line = status.endpoints(self.client("sagemaker"), self.names)[0]
        if not (served == recorded == version) or f"serves version {version} (" not in line:
            raise Broken(f"{what}: DescribeEndpoint serves v{served}, DeployedModelVersion is {recorded}, make status "
                         f"says {line!r}; all must say v{version}")
        self.p.say(f"agree on v{version}: DescribeEndpoint, DeployedModelVersion (dashboard, Resolve), make status: {line.strip()}")
        return line

    def _recorded(self) -> str:
        from moto.cloudwatch.models import cloudwatch_backends

        fn = self.w.deployment.resolve
        points = [d for d in cloudwatch_backends[self.account][self.env.region].get_all_metrics()
                  if d.namespace == fn.environment["METRICS_NAMESPACE"] and d.name == "DeployedModelVersion"
                  and [(x.name, x.value) for x in d.dimensions] == [("EndpointName", self.production_endpoint)]]
        return f"{points[-1].value:g}" if points else ""

    def _put_alarms(self, stack, resources: dict, markers: dict) -> None:
        cw = self.client("cloudwatch")
        for logical_id, res in resources.items():
            if res["Type"] == "AWS::CloudWatch::Alarm":
                where = f"{stack.key}.yaml {logical_id}"
                request = _request("cloudwatch", "PutMetricAlarm", _fill(res["Properties"], markers, where), where)
                cw.put_metric_alarm(**request)

    def _autoscaling_applied(self, outputs: dict[str, str]) -> str:
        if outputs["MinInstances"] == outputs["MaxInstances"]:
            return "no autoscaling (min_instances = max_instances)"
        aas = self.client("application-autoscaling")
        registered = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
        if len(registered) != 1 or len(policies) != 1:
            raise Broken(f"after the rollout: {len(registered)} scalable target(s), {len(policies)} policies; expected one each")
        t, config = registered[0], policies[0]["TargetTrackingScalingPolicyConfiguration"]
        text = (f"autoscaling {t['MinCapacity']}..{t['MaxCapacity']} instances, target "
                f"{config['TargetValue']:g} {config['PredefinedMetricSpecification']['PredefinedMetricType']}")
        self.p.say(f"{t['ResourceId']}: {text} (applied by the RollOut action once the endpoint served)")
        return text

    def record_release(self, row):
        self._agree(self.resolved["ModelPackageVersion"], "after the first rollout")
        messages = self._stage_event("Production", "SUCCEEDED")
        if len(messages) != 1 or "production now serves" not in messages[0]:
            raise Broken(f"the operations topic received {messages} for a promoted run")
        row.result = (f"DeployedModelVersion={self._recorded()} ({self.production_endpoint}); the operations topic says "
                      "production serves it")

    def _next_version(self, label: str) -> str:
        sm = self.client("sagemaker")
        execution = sm.start_pipeline_execution(PipelineName=self.names.sagemaker_pipeline)["PipelineExecutionArn"]
        arn = self._register(self._register_arguments(execution.rsplit("/", 1)[1]), execution)
        self.p.say(f"registered v{_version(arn)} (execution {execution.rsplit('/', 1)[1]}; the same trained archive and report)")
        self._approve_and_deliver(arn, "Approved", f"{label}, approved by the demo")
        self._resolve_expecting(arn)
        self.p.say(f"Resolve: v{_version(arn)}; staging and the smoke test as for v{_version(self.package_arn)} "
                   "(not repeated here)")
        self.rollout.outputs.update(self._deploy_production_stack())
        self.p.say(f"DeployProductionEndpoint: CloudFormation makes v{_version(arn)}'s model, endpoint config "
                   f"{self.rollout.outputs['EndpointConfigName']} and alarms, and is done: it never updates the endpoint")
        return arn

    def guarded_rollout(self, row):
        self.deployment_execution = "0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a42"
        self.second_arn = self._next_version("second version")
        cw = self.client("cloudwatch")
        latency = next(a for a in cw.describe_alarms(AlarmNames=self.rollback_alarms)["MetricAlarms"]
                       if a["MetricName"] == "ModelLatency")

        def trip():
            cw.set_alarm_state(AlarmName=latency["AlarmName"], StateValue="ALARM",
                               StateReason="demo: the new fleet's ModelLatency passed the threshold during the canary")
            self.p.say(f"emulated: {latency['AlarmName']} -> ALARM (SetAlarmState); it is in the UpdateEndpoint's "
                       "AutoRollbackConfiguration, so SageMaker shifts the traffic back")
        self._tripped = latency["AlarmName"]
        result = self._roll_out("rolled_back", trip)
        update = self.rollout.updates[-1]
        self.p.say(f"UpdateEndpoint as the RollOut action sent it (validated by botocore; moto lacks it, answered by the "
                   f"demo): {_json(update)}")
        if result.get("decision") != "rolled_back":
            raise Broken(f"after SageMaker's rollback RollOut decided {result.get('decision')}: {result.get('message')}")
        self.p.say(f"RollOut fails the stage: {result.get('message')}")
        self._agree(_version(self.package_arn), "after the rollback")
        messages = self._stage_event("Production", "FAILED")
        if len(messages) != 1 or "stage Production failed" not in messages[0]:
            raise Broken(f"the operations topic received {messages} for a failed Production stage")
        cw.set_alarm_state(AlarmName=latency["AlarmName"], StateValue="OK", StateReason="demo: the fleet it watched is gone")
        # The same version again (a person re-runs the stage, or a Redeploy run): CloudFormation has nothing to change.
        config = self.rollout.outputs["EndpointConfigName"]
        again = self._roll_out("rolled_out")
        if again.get("decision") != "rolled_out" or self.rollout.updates[-1]["EndpointConfigName"] != config:
            raise Broken(f"rolling v{_version(self.second_arn)} out again decided {again.get('decision')}: {again.get('message')}")
        self._agree(_version(self.second_arn), "after rolling the rolled-back version out again")
        row.result = (f"v{_version(self.second_arn)}: {latency['AlarmName']} ALARM -> SageMaker rolled back (emulated), "
                      f"all agree on v{_version(self.package_arn)}; rolled out again to the same config: all agree on "
                      f"v{_version(self.second_arn)}")

    def reject_during_rollout(self, row):
        self.deployment_execution = "0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a43"
        third = self._next_version("third version")
        rejected_alarm = self.rollout.outputs["RejectedAlarm"]

        def reject():
            self._approve_and_deliver(third, "Rejected", "rejected by the demo while it rolls out")
        self._tripped = rejected_alarm
        result = self._roll_out("rolled_back", reject)
        state = self.client("cloudwatch").describe_alarms(AlarmNames=[rejected_alarm])["MetricAlarms"][0]["StateValue"]
        if state != "ALARM" or rejected_alarm not in self.rollback_alarms:
            raise Broken(f"{rejected_alarm} is {state} after v{_version(third)} was rejected mid-rollout")
        if result.get("decision") != "rolled_back":
            raise Broken(f"after the rejection RollOut decided {result.get('decision')}: {result.get('message')}")
        self._agree(_version(self.second_arn), "after a rejection stopped the rollout")
        # That rejection started a run of its own: production does not serve v3, so there is nothing to deploy.
        resolved, (call, body) = self._run_resolve()
        if resolved.get("decision") != "up_to_date":
            raise Broken(f"the rejection's run decided {resolved.get('decision')}: {resolved.get('message')}")
        row.result = (f"v{_version(third)} rejected mid-rollout: the RollOut action set {rejected_alarm} to ALARM, "
                      f"SageMaker rolled back (emulated); production serves v{_version(self.second_arn)}; the rejection's "
                      "own run has nothing to deploy")

    def reject_rolls_back(self, row):
        self.deployment_execution = "0f1e2d3c-4b5a-4697-8a8b-9c0d1e2f3a44"
        self._approve_and_deliver(self.second_arn, "Rejected", REJECTION_COMMENT)
        variables = self._resolve_expecting(self.package_arn)
        if variables.get("FastPath") != "true":
            raise Broken(f"Resolve, with production serving a rejected version, gave FastPath={variables.get('FastPath')}")
        skipped = [name for name in self.w.deployment.stages if self._skipped(name)]
        if skipped != ["Staging"]:
            raise Broken(f"on the fast path the run skips {skipped}; expected Staging (its deploy and smoke test)")
        self.p.say(f"fast path: #{{Resolve.FastPath}}=true, so the entry conditions skip {' and '.join(skipped)}; "
                   "the person's approval, the approval check and the guarded rollout remain")
        self.rollout.outputs.update(self._deploy_production_stack())
        result = self._roll_out("rolled_out")
        if result.get("decision") != "rolled_out":
            raise Broken(f"rolling v{_version(self.package_arn)} back out decided {result.get('decision')}")
        self._agree(_version(self.package_arn), "after the fast path")
        row.result = (f"the rejection of v{_version(self.second_arn)}, which production serves, starts a run; Resolve goes "
                      f"back to v{variables['ModelPackageVersion']}, the previous approved version, skipping Staging "
                      "(its deploy and smoke test); the RollOut action moves production to it")

    def _skipped(self, stage: str) -> bool:
        """Whether the stage's entry condition skips it for this run's variables (VariableCheck EQ rules, SKIP)."""
        for condition in (self.w.deployment.stages[stage].get("BeforeEntry") or {}).get("Conditions", []):
            for rule in condition["Rules"]:
                c = rule["Configuration"]
                if condition["Result"] == "SKIP" and c["Operator"] == "EQ" and \
                        self._substitute(c["Variable"], f"deployment.yaml {stage} BeforeEntry") != c["Value"]:
                    return True
        return False

    def reject_last(self, row):
        self._approve_and_deliver(self.package_arn, "Rejected", "the last approved version, rejected by the demo")
        result, (call, body) = self._run_resolve()
        message = body.get("failureDetails", {}).get("message", "")
        if result.get("decision") != "rejected_served_none_approved" or call != "PutJobFailureResult" \
                or not message.startswith("ALERT:"):
            raise Broken(f"Resolve with no Approved version decided {result.get('decision')}, reported {call}: {message}")
        from infra.ops import status

        line = " ".join(status.endpoints(self.client("sagemaker"), self.names)[:2])
        if "WARNING: it serves a Rejected version" not in line:
            raise Broken(f"make status does not say production serves a rejected version: {line}")
        row.result = f"Resolve fails the run: {message}"


STEPS = (
    ("The approval reaches the deployment rule", DeploymentSteps.deployment_rule),
    ("Resolve the version to deploy (deploy_resolve)", DeploymentSteps.resolve_version),
    ("Staging endpoint (staging-endpoint.yaml)", DeploymentSteps.staging),
    ("Smoke test (deploy_smoke_test) on the real model", DeploymentSteps.smoke_test),
    ("Production approval (emulated)", DeploymentSteps.approve_production),
    ("Production endpoint (production-endpoint.yaml)", DeploymentSteps.production),
    ("What production serves is recorded (RollOut)", DeploymentSteps.record_release),
    ("A second version's rollout trips an alarm, then goes out", DeploymentSteps.guarded_rollout),
    ("Reject the version rolling out: it rolls back", DeploymentSteps.reject_during_rollout),
    ("Reject what production serves: the fast path back", DeploymentSteps.reject_rolls_back),
    ("Reject the last approved: an alert says what to do", DeploymentSteps.reject_last),
)
