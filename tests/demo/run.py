"""python -m tests.demo --env ENV: the model-approval path of one environment, rehearsed on moto.

Exit codes: 0 every link held, 1 a link broke (the table says which), 2 bad arguments or config.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import io
import json
import os
import re
import sys
import time
from pathlib import Path
from unittest import mock

from infra import config
from infra.config import ConfigError
from infra.config.loader import deployment_settings
from infra.config.names import OFFLINE_ACCOUNT, for_env
from shared import clients as shared_clients  # lambda_src/ is on sys.path: tests/__init__.py
from tests.demo import deployment, offline, pipeline_run, sagemaker_events
from tests.demo import wiring as wiring_mod
from tests.demo.progress import Broken, Progress
from tests.support.s3 import create_bucket

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = ROOT / "lambda_src"
PLACEHOLDER_ACCOUNT = OFFLINE_ACCOUNT  # what tests/support/resolve.py and pipeline_def use when config pins no account (moto is told the same)

OTHER_GROUP = "someone-elses-models"
APPROVAL_COMMENT = "AUC above threshold; approved by the demo."

EMULATED = """\
What is real and what is emulated:
  real:     config/, the template render, tests/support/resolve.py reading the rendered templates for this env,
            pipeline_def's upsert code, the model (trained by make train-local's code: the step scripts,
            XGBoost, the generated sample data; packaged by package.py), the four Lambda handlers
            (lambda_src/, run in-process with the environment variables their templates set), the staging
            and production endpoints' properties as API requests (checked against botocore's models).
  emulated: AWS itself, in-process with moto (mock_aws): S3, KMS, SageMaker (model package groups and
            versions, the pipeline, models, endpoint configs, endpoints: InService at once), Application
            Auto Scaling, CloudWatch (metrics, alarms), EventBridge (the templates' rules, with SQS targets
            standing in for Lambda, CodePipeline and SNS targets), SNS (SQS subscriptions standing in for
            email addresses). CodePipeline's job results are answered in-process; InvokeEndpoint is answered
            by the trained model through its packaged inference.py (the container's output encoding
            emulated); UpdateEndpoint (moto has none) is answered by the demo after botocore validates it,
            and the demo ends each rollout as SageMaker would, completed or rolled back (InService again on
            the old config, with a FailureReason), after setting the alarm that causes the rollback. The
            RollOut function's decisions in both outcomes are real. No network, fake credentials.
  not done: the stacks are not deployed (moto's CloudFormation skips most of our resource types); IAM
            policies are not evaluated; the SageMaker pipeline does not run on SageMaker (train-local's code
            stands in); SageMaker's and CodePipeline's events are built by the demo (moto emits none); the
            CodePipeline run itself is played by the demo, stage by stage; the manual approval is printed,
            not waited for; no traffic shifts (SageMaker's part of a rollout is played, as said above)."""


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@contextlib.contextmanager
def _lambda_environment(variables: dict[str, str]):
    with mock.patch.dict(os.environ, variables):
        yield


def _handler(handler: str):
    """The function a Lambda `Handler` string names, imported from lambda_src/ as Lambda would."""
    if str(LAMBDA_SRC) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SRC))
    module, _, function = handler.rpartition(".")
    return getattr(importlib.import_module(module), function)


class Demo(deployment.DeploymentSteps):
    def __init__(self, project, env, progress: Progress):
        self.project, self.env, self.p = project, env, progress
        self.names = for_env(project, env)
        self.account = env.account_id or PLACEHOLDER_ACCOUNT
        self.statuses = tuple(env.statuses)
        self.outcomes: list[tuple[str, str, str]] = []  # (event, notifier, metrics)
        self.notified: list[str] = []  # subjects expected in the inbox
        # What the deployment stacks are rendered with: the env's block, or the defaults where it has none.
        self.deployment_settings = env.deployment or deployment_settings("", {})

    def forget_handler_clients(self):
        """The handlers cache boto3 clients: make them create theirs inside this mock, and not keep them after."""
        _handler(self.w.notifier.handler)
        sys.modules[self.w.notifier.handler.split(".")[0] + ".aws"].reset()
        _handler(self.w.metrics.handler)
        sys.modules[self.w.metrics.handler.rsplit(".", 1)[0]].client.cache_clear()
        shared_clients.reset()  # the deployment functions' clients (lambda_src/shared)

    # -- clients ------------------------------------------------------------------------------
    def client(self, service: str):
        import boto3

        return boto3.client(service, region_name=self.env.region)

    # -- steps --------------------------------------------------------------------------------
    def load_config(self, row):
        self.p.say(f"env {self.env.name}: region {self.env.region}, account {self.account}"
                   f"{'' if self.env.account_id else ' (placeholder: config pins none)'}")
        self.p.say(f"{self.env.file} notifications.statuses: {', '.join(self.statuses)}")
        self.p.say(f"{self.env.file} notifications.emails:   {', '.join(self.env.emails)}")
        row.result = f"notify on {', '.join(self.statuses)}"

    def render(self, row):
        from infra.output import render

        self.rendered = render.render(self.project)
        committed = ROOT / "templates"
        stale = [rel for rel, text in self.rendered.items()
                 if not (committed / rel).is_file() or (committed / rel).read_text(encoding="utf-8") != text]
        if stale:
            self.p.say(f"note: differs from the committed templates/ in {', '.join(stale)} (run `make templates`); "
                       "the demo uses this fresh render")
        row.result = f"{len(self.rendered)} files" + ("" if stale else ", identical to templates/")
        if self.env.deployment is None:
            # The env serves no models, so it renders no serving stacks (nor the deployment functions' queue in
            # messaging): rehearse with those it would render with the default deployment block.
            import dataclasses

            from infra.stacks import SERVING_STACKS

            serving = dataclasses.replace(self.env, deployment=self.deployment_settings)
            rehearsal = render.render(dataclasses.replace(self.project, environments={self.env.name: serving}))
            self.rendered = {**self.rendered, **{
                rel: text for rel, text in rehearsal.items()
                if rel.split("/")[0] == self.env.name and rel.split("/")[1].split(".")[0] in (*SERVING_STACKS, "messaging")}}

    def read_wiring(self, row):
        w = self.w = wiring_mod.read(self.rendered, self.project, self.env)
        group = self.names.model_package_group
        self.p.say(f"pipeline.yaml      ModelPackageGroup      {w.model_package_group['ModelPackageGroupName']}")
        self.p.say(f"pipeline.yaml      ArtifactBucket         {w.artifact_bucket}")
        self.p.say(f"pipeline.yaml      UpsertProject env      SAGEMAKER_ROLE_ARN={w.upsert_environment.get('SAGEMAKER_ROLE_ARN')}")
        self.p.say(f"notifications.yaml rule {w.notifier_rule.name}: {_json(w.notifier_rule.pattern)}")
        self.p.say(f"notifications.yaml {w.notifier.name}: handler {w.notifier.handler}, env {_json(w.notifier.environment)}")
        self.p.say(f"messaging.yaml     topic {w.topic_name}, email subscriptions: {', '.join(w.email_endpoints)}")
        self.p.say(f"kpi.yaml           rule {w.metrics_rule.name}: {_json(w.metrics_rule.pattern)}")
        self.p.say(f"kpi.yaml           {w.metrics.name}: handler {w.metrics.handler}, env {_json(w.metrics.environment)}")
        seen = {
            "pipeline.yaml ModelPackageGroup": w.model_package_group["ModelPackageGroupName"],
            "pipeline.yaml UpsertProject MODEL_PACKAGE_GROUP_NAME": w.upsert_environment.get("MODEL_PACKAGE_GROUP_NAME"),
            "notifications.yaml rule pattern": w.notifier_rule.pattern["detail"]["ModelPackageGroupName"][0],
            "notifications.yaml MODEL_PACKAGE_GROUP_NAME": w.notifier.environment.get("MODEL_PACKAGE_GROUP_NAME"),
            "kpi.yaml rule pattern": w.metrics_rule.pattern["detail"]["ModelPackageGroupName"][0],
            "kpi.yaml MODEL_PACKAGE_GROUP": w.metrics.environment.get("MODEL_PACKAGE_GROUP"),
        }
        wrong = {k: v for k, v in seen.items() if v != group}
        if wrong:
            raise Broken(f"model package group is not {group} in: " + "; ".join(f"{k} = {v}" for k, v in wrong.items()))
        if sorted(w.notifier_rule.pattern["detail"]["ModelApprovalStatus"]) != sorted(self.statuses):
            raise Broken(f"notifier rule statuses {w.notifier_rule.pattern['detail']['ModelApprovalStatus']} are not config's {list(self.statuses)}")
        if w.email_endpoints != tuple(sorted(self.env.emails)):
            raise Broken(f"email subscriptions {list(w.email_endpoints)} are not config's {sorted(self.env.emails)}")
        row.result = f"group {group} named alike in all 6 places; rule statuses = config"

    def start_emulator(self, row):
        from moto import mock_aws

        self.mock = mock_aws()
        self.mock.start()
        self.forget_handler_clients()
        s3 = self.client("s3")
        create_bucket(s3, self.w.artifact_bucket)
        s3.put_bucket_versioning(Bucket=self.w.artifact_bucket,
                                 VersioningConfiguration={"Status": self.w.artifact_bucket_versioning})
        # The pipeline stack's artifact key (named by the upsert build and imported by the endpoint stacks).
        kms = self.client("kms")
        key_arn = kms.create_key(Description="stands in for the artifact key")["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=self.names.artifact_key_alias, TargetKeyId=key_arn)
        self.markers = {"<GetAtt ArtifactKey.Arn>": key_arn}
        row.result = (f"moto mock_aws started; bucket {self.w.artifact_bucket} (pipeline stack's ArtifactBucket, "
                      f"versioning {self.w.artifact_bucket_versioning}), key {self.names.artifact_key_alias} (its ArtifactKey)")

    def create_group(self, row):
        sm = self.client("sagemaker")
        # Its policy (who may approve) is CloudFormation's separate call, which moto does not evaluate:
        # tests/iam/test_only_approvers_decide.py checks it.
        props = {k: v for k, v in self.w.model_package_group.items() if k != "ModelPackageGroupPolicy"}
        sm.create_model_package_group(**props)
        row.result = f"{props['ModelPackageGroupName']} (from pipeline.yaml ModelPackageGroup)"

    def upsert_pipeline(self, row):
        from pipeline_def import upsert

        project_env = {k: self.markers.get(v, v) for k, v in self.w.upsert_environment.items()}
        environ = {**project_env, "AWS_REGION": self.env.region}
        self.p.say(f"environment as the Upsert CodeBuild project sets it: {_json(project_env)}")
        out = upsert.run(self.names, environ, start=True)
        for line in out:
            self.p.say(f"upsert: {line}")
        self.execution_arn = next(line.split(" ", 1)[1] for line in out if line.startswith("started "))
        described = self.client("sagemaker").describe_pipeline(PipelineName=self.names.sagemaker_pipeline)
        self.definition = json.loads(described["PipelineDefinition"])
        register = pipeline_run.register_step(self.definition)["Arguments"]
        if register["ModelPackageGroupName"] != self.names.model_package_group:
            raise Broken(f"the pipeline registers into {register['ModelPackageGroupName']}, the rules watch {self.names.model_package_group}")
        key_arn = self.markers["<GetAtt ArtifactKey.Arn>"]
        unkeyed = [s["Name"] for s in pipeline_run.steps(self.definition) if s["Type"] in ("Processing", "Training")
                   and pipeline_run.output_key(s) != key_arn]
        if unkeyed:
            raise Broken(f"steps {', '.join(unkeyed)} do not encrypt their outputs with the artifact key {key_arn}")
        if described["RoleArn"] != self.w.upsert_environment["SAGEMAKER_ROLE_ARN"]:
            raise Broken(f"pipeline role {described['RoleArn']} is not the template's {self.w.upsert_environment['SAGEMAKER_ROLE_ARN']}")
        row.result = f"{self.names.sagemaker_pipeline}: {len(list(pipeline_run.steps(self.definition)))} steps, registers into {register['ModelPackageGroupName']}"

    def register_version(self, row):
        execution_id = self.execution_arn.rsplit("/", 1)[1]
        args = self._register_arguments(execution_id)
        report_uri = args["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        expected_prefix = f"s3://{self.w.artifact_bucket}/{self.names.evaluation_prefix}"
        if not report_uri.startswith(expected_prefix):
            raise Broken(f"the register step's report {report_uri} is not under names.evaluation_prefix ({expected_prefix})")
        from tests.demo import training  # imports the SageMaker SDK: inside the offline environment, as upsert does

        self.trained = training.train(self.names, self.definition)
        for line in self.trained.lines:
            if "rounds trained" in line or line.startswith("[CheckAucThreshold]"):
                self.p.say(f"train-local: {line.strip()}")
        self.p.say(f"trained in {self.trained.seconds:.1f} s with make train-local's code (the step scripts as their "
                   "containers run them, XGBoost, the generated sample data); the packaged model.tar.gz is registered")
        self.report = self.trained.report
        self.quality = {name: metric["value"] for name, metric in json.loads(self.report)["binary_classification_metrics"].items()}
        self.p.say(f"quality report: {report_uri}")
        self.p.say(self.report.decode("utf-8"), indent=6)
        self.package_arn = self._register(args, self.execution_arn)
        status = self.client("sagemaker").describe_model_package(ModelPackageName=self.package_arn)["ModelApprovalStatus"]
        row.result = (f"{self.package_arn.rsplit('/', 2)[-2]} v{self.package_arn.rsplit('/', 1)[1]} {status} (the register step's "
                      f"arguments; the trained model, auc {self.quality['auc']:.4g})")

    def _register_arguments(self, execution_id: str) -> dict:
        """The definition's RegisterModel arguments, evaluated for one execution."""
        values = {
            **pipeline_run.parameter_defaults(self.definition),
            "Execution.PipelineExecutionId": execution_id,
            # Where the training job would have put the model (the estimator's output_path).
            "Steps.TrainModel.ModelArtifacts.S3ModelArtifacts":
                f"s3://{self.w.artifact_bucket}/{self.names.sagemaker_prefix}models/{execution_id}-train/output/model.tar.gz",
            # Where PackageModel would have written the registered archive (its processing output).
            "Steps.PackageModel.ProcessingOutputConfig.Outputs['package'].S3Output.S3Uri":
                f"s3://{self.w.artifact_bucket}/{self.names.sagemaker_prefix}models/{execution_id}/package",
        }
        return pipeline_run.evaluate(pipeline_run.register_step(self.definition)["Arguments"], values)

    def _register(self, args: dict, execution_arn: str) -> str:
        """Write the report and the archive where the register step's arguments point; register the version."""
        s3 = self.client("s3")
        bucket, key = args["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"][len("s3://"):].split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=self.report, ContentType="application/json")
        archive_uri = args["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        bucket, key = archive_uri[len("s3://"):].split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=self.trained.archive)
        kwargs = pipeline_run.create_model_package_kwargs(args, execution_arn)
        return self.client("sagemaker").create_model_package(**kwargs)["ModelPackageArn"]

    def stand_up_delivery(self, row):
        sqs, sns, events = self.client("sqs"), self.client("sns"), self.client("events")
        self.queues = {}
        for rule, target in ((self.w.notifier_rule, self.w.notifier.name), (self.w.metrics_rule, self.w.metrics.name)):
            url = sqs.create_queue(QueueName=f"demo-target-{rule.name}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=rule.name, EventPattern=json.dumps(rule.pattern, sort_keys=True), State="ENABLED")
            events.put_targets(Rule=rule.name, Targets=[{"Id": "StandInFor" + target.replace("-", ""), "Arn": arn}])
            self.queues[rule.name] = url
            self.p.say(f"rule {rule.name} -> SQS queue standing in for Lambda {target}")
        topic_arn = sns.create_topic(Name=self.w.topic_name)["TopicArn"]
        if topic_arn != self.w.notifier.environment["TOPIC_ARN"]:
            raise Broken(f"the notifier publishes to {self.w.notifier.environment['TOPIC_ARN']}, the topic is {topic_arn}")
        self.inbox = sqs.create_queue(QueueName="demo-email-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        self.p.say(f"topic {topic_arn} -> SQS queue standing in for {', '.join(self.w.email_endpoints)}")
        row.result = "2 rules with the rendered patterns, topic = notifier's TOPIC_ARN"

    # -- events -------------------------------------------------------------------------------
    def _deliver(self, described: dict) -> dict[str, dict | None]:
        """PutEvents; what each rule's target received (None: the pattern did not match)."""
        events, sqs = self.client("events"), self.client("sqs")
        entry = sagemaker_events.put_events_entry(described, dt.datetime.now(dt.timezone.utc))
        self.p.say(f"event detail: {entry['Detail'][:160]}...")
        result = events.put_events(Entries=[entry])
        if result["FailedEntryCount"]:
            raise Broken(f"PutEvents failed: {result['Entries']}")
        received = {}
        for rule, url in self.queues.items():
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if len(messages) > 1:
                raise Broken(f"rule {rule} delivered {len(messages)} copies of one event")
            received[rule] = json.loads(messages[0]["Body"]) if messages else None
        return received

    def _invoke(self, function, event) -> dict:
        """Run a handler with its template environment; show its JSON log lines."""
        logs = io.StringIO()
        with _lambda_environment(function.environment), contextlib.redirect_stdout(logs):
            result = _handler(function.handler)(event, None)
        for line in logs.getvalue().splitlines():
            self.p.say(f"{function.name} log: {line}", indent=6)
        return result

    def _event(self, label: str, described: dict, row):
        group, status = described["ModelPackageGroupName"], described["ModelApprovalStatus"]
        ours = group == self.names.model_package_group
        want_notify = ours and status in self.statuses
        received = self._deliver(described)
        to_notifier, to_metrics = received[self.w.notifier_rule.name], received[self.w.metrics_rule.name]

        if (to_notifier is not None) != want_notify:
            raise Broken(f"notifier rule {'matched' if to_notifier else 'did not match'} a {status} event of {group}; "
                         f"config says it should {'' if want_notify else 'not '}notify")
        if to_notifier is not None:
            decision = self._invoke(self.w.notifier, to_notifier)["decision"]
            if decision != "published":
                raise Broken(f"notifier decided {decision} on an event its rule delivered")
            self.notified.append(f"[SageMaker] {group} v{described['ModelPackageVersion']} {status}")
            notifier = "rule matched -> handler published"
        else:
            why = "other model package group" if not ours else f"{status} not in statuses {list(self.statuses)}"
            self.p.say(f"notifier rule did not match ({why}); the handler, given the event anyway:")
            direct = sagemaker_events.detail(described)
            event = {"version": "0", "id": "demo-direct", "source": sagemaker_events.SOURCE,
                     "detail-type": sagemaker_events.DETAIL_TYPE, "account": self.account, "region": self.env.region,
                     "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "resources": [described["ModelPackageArn"]], "detail": direct}
            decision = self._invoke(self.w.notifier, event)["decision"]
            if decision != "ignored":
                raise Broken(f"notifier handler {decision} an event it should ignore ({why})")
            notifier = f"ignored ({why})"

        if (to_metrics is not None) != ours:
            raise Broken(f"metrics rule {'matched' if to_metrics else 'did not match'} an event of group {group}")
        if to_metrics is not None:
            published = self._invoke(self.w.metrics, to_metrics).get("published", 0)
            if not published:
                raise Broken("registry-metrics handler published nothing for its own group")
            metrics = f"{published} datapoint(s)"
        else:
            metrics = "rule did not match (other group)"
        self.outcomes.append((label, notifier, metrics))
        row.result = f"notifier: {notifier}; metrics: {metrics}"

    def registration_event(self, row):
        described = self.client("sagemaker").describe_model_package(ModelPackageName=self.package_arn)
        self._event("registration (PendingManualApproval)", described, row)

    def approval_event(self, row):
        sm = self.client("sagemaker")
        sm.update_model_package(ModelPackageArn=self.package_arn, ModelApprovalStatus="Approved", ApprovalDescription=APPROVAL_COMMENT)
        described = sm.describe_model_package(ModelPackageName=self.package_arn)
        self.p.say(f"UpdateModelPackage -> {described['ModelApprovalStatus']} ({described.get('ApprovalDescription')})")
        self._event("approval (Approved)", described, row)

    def other_group_event(self, row):
        sm = self.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName=OTHER_GROUP)
        spec = pipeline_run.register_step(self.definition)["Arguments"]["InferenceSpecification"]
        image = spec["Containers"][0]["Image"]
        arn = sm.create_model_package(
            ModelPackageGroupName=OTHER_GROUP, ModelApprovalStatus="Approved",
            InferenceSpecification={"Containers": [{"Image": image}], "SupportedContentTypes": ["text/csv"],
                                    "SupportedResponseMIMETypes": ["text/csv"]},
        )["ModelPackageArn"]
        self.other_group_arn = arn
        described = sm.describe_model_package(ModelPackageName=arn)
        self._event(f"approval in {OTHER_GROUP}", described, row)

    def email(self, row):
        sqs = self.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        subjects = []
        for m in messages:
            envelope = json.loads(m["Body"])
            subjects.append(envelope.get("Subject"))
            self.p.say("-" * 100, indent=6)
            self.p.say(f"To:      {', '.join(self.env.emails)}", indent=6)
            self.p.say(f"Subject: {envelope.get('Subject')}", indent=6)
            self.p.say("", indent=6)
            self.p.say(envelope["Message"], indent=6)
        if messages:
            self.p.say("-" * 100, indent=6)
        if sorted(subjects) != sorted(self.notified):
            raise Broken(f"the subscriber received {subjects}, expected {self.notified}")
        # Which emails arrive is the env's choice (notifications.statuses, checked above); each carries the report's
        # AUC, and the approval email the approver's comment.
        auc = f"{self.quality['auc']:.4g}"
        for m in messages:
            envelope = json.loads(m["Body"])
            if not re.search(rf"^\s*auc\s+{re.escape(auc)}$", envelope["Message"], re.M):
                raise Broken(f"the email '{envelope.get('Subject')}' lacks the report's AUC")
            if envelope.get("Subject", "").endswith(" Approved") and APPROVAL_COMMENT not in envelope["Message"]:
                raise Broken("the approval email lacks the approval comment")
        row.result = f"{len(messages)} email(s): " + "; ".join(subjects)

    def metrics(self, row):
        cw = self.client("cloudwatch")
        namespace = self.w.metrics.environment["METRICS_NAMESPACE"]
        now = dt.datetime.now(dt.timezone.utc)
        found = {}
        for metric in sorted(cw.list_metrics(Namespace=namespace)["Metrics"], key=lambda m: (m["MetricName"], _json(m["Dimensions"]))):
            stats = cw.get_metric_statistics(Namespace=namespace, MetricName=metric["MetricName"], Dimensions=metric["Dimensions"],
                                             StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
                                             Period=3600, Statistics=["Sum", "Maximum", "SampleCount"])["Datapoints"]
            total = sum(d["Sum"] for d in stats)
            dims = ", ".join(f"{d['Name']}={d['Value']}" for d in sorted(metric["Dimensions"], key=lambda d: d["Name"]))
            label = metric["MetricName"] + next((f"[{d['Value']}]" for d in metric["Dimensions"] if d["Name"] == "Metric"), "")
            found[label] = total
            self.p.say(f"{namespace}  {metric['MetricName']:<17} {dims:<70} = {total:g}", indent=6)
        expected = {"ModelsRegistered": 1.0, "ModelsApproved": 1.0, **{f"ModelQuality[{k}]": v for k, v in self.quality.items()}}
        wrong = {k: (found.get(k), v) for k, v in expected.items() if found.get(k) is None or abs(found[k] - v) > 1e-9}
        extra = sorted(set(found) - set(expected))
        if wrong or extra:
            raise Broken(f"metrics differ (got, expected): {wrong}; unexpected: {extra}")
        row.result = ", ".join(f"{k}={v:g}" for k, v in found.items())


STEPS = (
    ("Load config", Demo.load_config),
    ("Render the templates", Demo.render),
    ("Read the rendered templates for this env", Demo.read_wiring),
    ("Start the AWS emulator", Demo.start_emulator),
    ("Create the model package group", Demo.create_group),
    ("Upsert the SageMaker pipeline (pipeline_def)", Demo.upsert_pipeline),
    ("Register a model version with its quality report", Demo.register_version),
    ("EventBridge rules, SNS topic, subscriber", Demo.stand_up_delivery),
    ("Registration event", Demo.registration_event),
    ("Approve the version; approval event", Demo.approval_event),
    ("A model approved in another group", Demo.other_group_event),
    ("Email as a subscriber receives it", Demo.email),
    ("KPI metrics published", Demo.metrics),
    *deployment.STEPS,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev", help="environment from config/ (default: dev)")
    parser.add_argument("--scenario", choices=("approval", "promotion"), default=None,
                        help="approval: ENV's approval and deployment paths (the default, except for an env serving "
                             "another env's models); promotion: a version approved in one account served from another "
                             "(config/'s pair, else the test variant's)")
    return parser


def _promotion(project, env_name: str, progress: Progress):
    """(the Promotion demo, its steps, what it emulates) for config/'s promotion pair involving ENV (or its first);
    without one, for the test suite's promotion variant of config/ (the last env serving the first's models)."""
    from tests.demo import promotion
    from tests.support.concrete_envs import with_promotion

    found = promotion.pair(project, env_name)
    if found is None:
        project = with_promotion(project)
        found = promotion.pair(project, env_name)
        progress.say(f"config/ pairs no envs (deployment.models_from): rehearsing {found[1].name} serving {found[0].name}'s "
                     "models, with every option on and two accounts, as tests/support/concrete_envs.py's promotion variant "
                     "renders them", indent=0)
    return promotion.Promotion(project, *found, progress), promotion.STEPS, promotion.EMULATED


def main(argv: list[str] | None = None, out=None) -> int:
    args = _parser().parse_args(argv)
    progress = Progress(out)
    started = time.perf_counter()
    try:
        project = config.load(config.CONFIG_DIR)
        env = project.env(args.env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # An env serving another env's models has its deployment path only as the promotion: that is its default.
    scenario = args.scenario or ("promotion" if env.deployment and env.deployment.models_from else "approval")
    if scenario == "promotion":
        demo, steps, emulated = _promotion(project, env.name, progress)
        env = demo.env
    else:
        demo, steps, emulated = Demo(project, env, progress), STEPS, EMULATED
    progress.say(f"make demo: {scenario} of env {env.name}, no AWS account, no network", indent=0)
    progress.say(emulated, indent=0)
    progress.say("", indent=0)
    done = 0
    try:
        with offline.environment(env.region, demo.account), offline.network_blocked() as refused:
            try:
                for title, step in steps:
                    with progress.step(title) as row:
                        step(demo, row)
                    done += 1
            finally:
                if getattr(demo, "mock", None) is not None:
                    getattr(demo, "close", lambda: None)()
                    demo.forget_handler_clients()
                    demo.mock.stop()
    except Broken:
        pass
    elapsed = time.perf_counter() - started
    broken = done < len(steps) or bool(refused)
    progress.say("", indent=0)
    progress.say(f"Summary ({env.name}, {elapsed:.1f} s)", indent=0)
    progress.say(progress.table([title for title, _ in steps[len(progress.rows):]]), indent=0)
    progress.say("", indent=0)
    if demo.outcomes:
        progress.say("Events and what became of them:", indent=0)
        for label, notifier, metrics in demo.outcomes:
            progress.say(f"  {label:<38} notifier: {notifier:<60} metrics: {metrics}", indent=0)
        progress.say("", indent=0)
    progress.say(f"Network: {len(refused)} connection attempt(s) off this machine"
                 + (f", refused: {', '.join(refused)}" if refused else "."), indent=0)
    progress.say("A LINK BROKE: see the FAILED step (or the network line) above." if broken else "Every link held.", indent=0)
    return 1 if broken else 0
