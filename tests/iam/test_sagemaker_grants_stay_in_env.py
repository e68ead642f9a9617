"""Every grant on a SageMaker job, model or endpoint config reaches only this env's, or is a reviewed exception.

SageMaker Pipelines names every pipeline's jobs `pipelines-<execution>-…`, and CloudFormation gives models and
endpoint configs generated names, so a grant on `processing-job/pipelines-*` or `model/*` reaches every env's and
every team's in the account and region: job code (which runs with the execution role) could read and stop another
pipeline's jobs. A grant is held to this env when its resource names the env, or when its condition does (a tag
only this env's resources carry; `ENV_TAGS`). What still reaches by type is in `BY_TYPE`, each with why it stays
(docs/security.md, open risks).
"""
from __future__ import annotations

import re


from tests.support.cfn import as_list, role_statements, text_of
from tests.support.iam_actions import resource_types

TYPES = ("processing-job", "training-job", "model", "endpoint-config")
_ARN = re.compile(r"^arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(?P<type>[a-z-]+)/(?P<name>.*)$")
_EXECUTIONS = "arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:pipeline/{pipeline}/execution/*"

# Condition key -> the operators accepted and this env's values (names: infra.config.names.Names). Each key is one
# AWS sets and no one else can: SageMaker Pipelines tags each job it starts with its execution's ARN (the SageMaker
# SDK's lineage code reads that tag from a pipeline's jobs); CloudFormation tags what it makes with its stack's name
# (AWS::SageMaker::Model's resource schema: cloudFormationSystemTags). Every SageMaker type here supports
# aws:ResourceTag (Service Authorization Reference, SageMaker resource types).
ENV_TAGS = {
    "aws:ResourceTag/sagemaker:pipeline-execution-arn":
        (("StringLike", "StringLikeIfExists"), lambda n: {_EXECUTIONS.format(pipeline=n.sagemaker_pipeline)}),
    "aws:ResourceTag/aws:cloudformation:stack-name":
        (("StringEquals",), lambda n: {n.stack("staging-endpoint"), n.stack("production-endpoint")}),
}

# (role, action, type) still granted by type in this account and region, and why. Keep it short.
_CREATE = "makes a new job: Pipelines names it, so only the type can be granted; it reads nothing of another's"
_ENDPOINT_STACK = ("CloudFormation names the stage's models and configs, and AWS does not document which tags "
                   "SageMaker's checks see at create; the open risk 'reach SageMaker models and endpoint configs by type'")
_CONFIG_READ = ("describe only: CloudFormation puts no stack tag on an endpoint config, and any env's endpoint deploy "
                "role may tag configs by type; the open risk 'reach SageMaker models and endpoint configs by type'")
BY_TYPE: dict[tuple[str, str, str], str] = {
    **{("SageMakerExecutionRole", f"sagemaker:Create{kind}Job", f"{kind.lower()}-job"): _CREATE
       for kind in ("Processing", "Training")},
    **{(role, action, "model"): _ENDPOINT_STACK
       for role in ("StagingEndpointDeployRole", "ProductionEndpointDeployRole")
       for action in ("sagemaker:CreateModel", "sagemaker:DeleteModel", "sagemaker:DescribeModel", "sagemaker:AddTags",
                      "sagemaker:DeleteTags", "sagemaker:ListTags")},
    **{(role, action, "endpoint-config"): _ENDPOINT_STACK
       for role in ("StagingEndpointDeployRole", "ProductionEndpointDeployRole")
       for action in ("sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig", "sagemaker:DescribeEndpointConfig",
                      "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags")},
    ("StagingEndpointDeployRole", "sagemaker:CreateEndpoint", "endpoint-config"): _ENDPOINT_STACK,
    ("StagingEndpointDeployRole", "sagemaker:UpdateEndpoint", "endpoint-config"): _ENDPOINT_STACK,
    ("ResolveFunctionRole", "sagemaker:CreateEndpoint", "endpoint-config"):
        "production's rollout puts its one endpoint on the config the production stack made; the open risk "
        "'Production's endpoint is changed by a Lambda'",
    ("ResolveFunctionRole", "sagemaker:UpdateEndpoint", "endpoint-config"):
        "production's rollout, as CreateEndpoint",
    ("ResolveFunctionRole", "sagemaker:DescribeEndpointConfig", "endpoint-config"):
        "counts the instances every endpoint of the account runs against the quota; the open risk "
        "'The Resolve role reads the account's endpoints and quotas'",
    ("SmokeTestFunctionRole", "sagemaker:DescribeEndpointConfig", "endpoint-config"): _CONFIG_READ,
}


def _names_the_env(name: str, n) -> bool:
    """The ARN's name, up to its first wildcard, holds one of this env's names as a whole part."""
    fixed = name.split("*", 1)[0]
    stems = {n.prefix, n.sagemaker_pipeline}
    return any(re.search(rf"(?:^|[^a-z0-9]){re.escape(s)}(?:[^a-z0-9]|$)", fixed.lower()) for s in stems)


def _held_by_tag(statement: dict, n) -> bool:
    """Some condition of the statement holds it to a tag only this env's resources carry, with only this env's values."""
    for operator, block in statement.get("Condition", {}).items():
        for key, values in block.items():
            if key in ENV_TAGS and operator in ENV_TAGS[key][0]:
                if {text_of(v) for v in as_list(values)} <= ENV_TAGS[key][1](n):
                    return True
    return False


def outside_the_env(resources: dict, role: str, n) -> list[str]:
    problems = []
    for statement in role_statements({"Resources": resources}, role):
        if statement["Effect"] != "Allow" or _held_by_tag(statement, n):
            continue
        for resource in as_list(statement["Resource"]):
            match = _ARN.match(text_of(resource))
            if not match or match["type"] not in TYPES or _names_the_env(match["name"], n):
                continue
            for action in as_list(statement["Action"]):
                # An action meets only the resource types IAM authorises it against (DescribeEndpoint: endpoint).
                if match["type"] in (resource_types(action) or []) and (role, action, match["type"]) not in BY_TYPE:
                    problems.append(f"{role} {statement.get('Sid')} {action} on {match['type']}/{match['name']}")
    return problems


def _roles(env) -> dict:
    return {logical_id: resource for stack in env.stacks for logical_id, resource in env.template(stack)["Resources"].items()
            if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")}


def test_every_sagemaker_job_model_or_config_grant_stays_in_the_env(envs):
    problems = []
    for env in envs:
        resources = _roles(env)
        for role in sorted(r for r, res in resources.items() if res["Type"] == "AWS::IAM::Role"):
            problems += [f"{env.label}: {p}" for p in outside_the_env(resources, role, env.names)]
    assert not problems, "\n".join(problems)


def test_the_exceptions_are_held_and_real(envs):
    """An exception no role holds any more is dropped from BY_TYPE; each names a real action of its type."""
    held = set()
    for env in envs:
        resources = _roles(env)
        for role in (r for r, res in resources.items() if res["Type"] == "AWS::IAM::Role"):
            for st in role_statements({"Resources": resources}, role):
                for resource in as_list(st.get("Resource", [])):
                    match = _ARN.match(text_of(resource))
                    held |= {(role, a, match["type"]) for a in as_list(st["Action"])
                             if match["type"] in (resource_types(a) or [])} if match else set()
    assert set(BY_TYPE) - held == set()
    assert all(t in (resource_types(a) or []) for _, a, t in BY_TYPE)


def test_the_check_catches_a_job_grant_by_name_pattern_and_a_tag_of_another_env(envs):
    n = envs[0].names
    jobs = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:processing-job/pipelines-*"
    other = _EXECUTIONS.format(pipeline=n.sagemaker_pipeline + "x")
    role = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
        {"Sid": "Any", "Effect": "Allow", "Action": "sagemaker:StopProcessingJob", "Resource": {"Fn::Sub": jobs}},
        {"Sid": "Other", "Effect": "Allow", "Action": "sagemaker:DescribeProcessingJob", "Resource": {"Fn::Sub": jobs},
         "Condition": {"StringLike": {"aws:ResourceTag/sagemaker:pipeline-execution-arn": {"Fn::Sub": other}}}},
        {"Sid": "Ours", "Effect": "Allow", "Action": "sagemaker:DescribeProcessingJob", "Resource": {"Fn::Sub": jobs},
         "Condition": {"StringLike": {"aws:ResourceTag/sagemaker:pipeline-execution-arn":
                                      {"Fn::Sub": _EXECUTIONS.format(pipeline=n.sagemaker_pipeline)}}}},
        {"Sid": "Models", "Effect": "Allow", "Action": "sagemaker:DescribeModel",
         "Resource": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:model/*"},
        {"Sid": "Named", "Effect": "Allow", "Action": "sagemaker:DescribeModel",
         "Resource": f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:model/{n.prefix}-*"},
    ]}}]}}
    assert outside_the_env({"Role": role}, "Role", n) == [
        "Role Any sagemaker:StopProcessingJob on processing-job/pipelines-*",
        "Role Other sagemaker:DescribeProcessingJob on processing-job/pipelines-*",
        "Role Models sagemaker:DescribeModel on model/*",
    ]
