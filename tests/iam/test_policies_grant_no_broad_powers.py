"""The IAM gate, over every policy in every template: the sample's PowerUser + IAMFullAccess never again."""
from __future__ import annotations

import json

import pytest

from infra.cfn import parameters
from infra.iam.policies import NO_RESOURCE_LEVEL_ACTIONS
from infra.stacks import BUILDERS
from tests.support.cfn import as_list, load, policies, role_statements, statements, text_of

TRUST = "AssumeRolePolicyDocument"
# The permissions boundaries grant nothing by themselves; tests/iam/test_boundary.py checks them on their own.
BOUNDARIES = {("boundaries.yaml", logical_id) for logical_id in ("DeliveryRolesBoundary", "BuildRolesBoundary", "JobRolesBoundary",
                                                                    "FunctionRolesBoundary")}


def _all_statements(envs, with_boundary: bool = False):
    for env in envs:
        for stack in env.stacks:
            for logical_id, rtype, prop, doc in policies(env.template(stack)):
                if (f"{stack}.yaml", logical_id) in BOUNDARIES and not with_boundary:
                    continue
                for st in statements(doc):
                    yield f"{env.label}/{stack}.yaml {logical_id} {prop} {st.get('Sid', '')}", rtype, prop, st


def test_no_wildcard_actions_in_allow_statements(envs):
    bad = []
    for where, _, prop, st in _all_statements(envs):
        if st["Effect"] == "Allow" and prop != TRUST:
            bad += [f"{where}: {a}" for a in as_list(st["Action"]) if "*" in a]
    assert not bad, bad


def test_no_iam_wildcards_anywhere(envs):
    for where, _, _, st in _all_statements(envs):
        assert "iam:*" not in as_list(st.get("Action", [])), where


def test_resource_star_only_for_actions_without_resource_level_permissions(envs):
    bad = []
    for where, rtype, prop, st in _all_statements(envs):
        if st["Effect"] != "Allow" or prop == TRUST or rtype == "AWS::KMS::Key":
            continue  # in a key policy, "*" means "this key"
        if "*" in as_list(st.get("Resource", [])):
            others = set(as_list(st["Action"])) - NO_RESOURCE_LEVEL_ACTIONS
            if others:
                bad.append(f"{where}: {sorted(others)}")
            if not st.get("Sid", "").endswith("NoResourceLevelPermission") and "Condition" not in st:
                bad.append(f"{where}: Resource * without a NoResourceLevelPermission Sid or a condition")
    assert not bad, bad


def test_pass_role_names_roles_and_the_service_they_go_to(envs):
    seen = {env.label: 0 for env in envs}
    for where, _, _, st in _all_statements(envs):
        if "iam:PassRole" not in as_list(st.get("Action", [])):
            continue
        seen[where.split("/")[0]] += 1
        assert as_list(st["Action"]) == ["iam:PassRole"], where
        for resource in as_list(st["Resource"]):
            assert not text_of(resource).endswith("*"), f"{where}: PassRole on a wildcard {resource}"
        passed = as_list(st["Condition"]["StringEquals"]["iam:PassedToService"])
        assert passed and all(p.endswith(".amazonaws.com") for p in passed), where
    assert all(count >= 4 for count in seen.values()), seen


def test_trust_policies_name_one_service_and_only_assume_role(envs):
    for where, rtype, prop, st in _all_statements(envs):
        if prop != TRUST:
            continue
        assert st["Effect"] == "Allow" and as_list(st["Action"]) == ["sts:AssumeRole"], where
        services = as_list(st["Principal"]["Service"])
        assert len(services) == 1 and services[0].endswith(".amazonaws.com"), where
        assert set(st["Principal"]) == {"Service"}, where


def test_resource_policies_never_open_to_everyone_without_a_condition(envs):
    for where, _, prop, st in _all_statements(envs):
        principal = st.get("Principal")
        if principal in ("*", {"AWS": "*"}) or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS", []))):
            assert "Condition" in st, f"{where}: principal * without a condition"


def _config_arns(env) -> list[str]:
    """The ARNs the env's config gives (a connection, uploaders, analysts…), written in as given: they name their
    own partition."""
    values = [v for value in parameters.config_values(env.names).values() for v in (value if isinstance(value, list) else [value])]
    values += env.names.env.quicksight_principals  # written in by the KPI stack itself
    return sorted({v for v in values if isinstance(v, str) and v.startswith("arn:")}, key=len, reverse=True)


def test_every_arn_names_the_partition_by_pseudo_parameter(envs):
    """Every ARN the generator composes; the config's own ARNs are the adopter's, in their partition."""
    for env in envs:
        for stack, text in env.texts().items():
            for given in _config_arns(env):
                text = text.replace(given, "<config>")
            assert "arn:aws:" not in text, f"{env.label}/{stack}.yaml hard-codes the aws partition"


def test_the_partition_check_sees_the_config_arns_written_in(envs):
    """The config's ARNs the check leaves out are really in the templates (a connection, the data uploaders)."""
    for env in envs:
        text = "".join(env.texts().values())
        assert all(given in text for given in _config_arns(env) if ":codeconnections:" in given or ":iam::" in given), env.label


@pytest.mark.parametrize("role", ["SageMakerExecutionRole", "CodePipelineRole", "SynthBuildRole", "UpsertBuildRole"])
def test_core_roles_exist_and_are_exported(envs, role):
    for env in envs:
        iam = env.template("iam")
        assert iam["Resources"][role]["Type"] == "AWS::IAM::Role", env.label
        assert iam["Outputs"][f"{role}Arn"]["Export"]["Name"] == {"Fn::Sub": f"${{AWS::StackName}}-{role}Arn"}, env.label


def test_no_managed_policies_are_attached(envs):
    """The sample attached PowerUserAccess, IAMFullAccess, SageMakerFullAccess and AmazonS3FullAccess."""
    for env in envs:
        for stack in env.stacks:
            for logical_id, resource in env.template(stack).get("Resources", {}).items():
                if isinstance(resource, dict):
                    assert "ManagedPolicyArns" not in resource.get("Properties", {}), f"{env.label}/{stack}.yaml {logical_id}"


def _role_stacks(env) -> list[str]:
    """The stacks that hold an IAM role."""
    return [stack for stack in env.stacks if any(isinstance(r, dict) and r.get("Type") == "AWS::IAM::Role"
                                               for r in env.template(stack).get("Resources", {}).values())]


def _role_resources(env):
    for stack in env.stacks:
        for logical_id, res in env.template(stack).get("Resources", {}).items():
            if isinstance(res, dict) and res["Type"] == "AWS::IAM::Role":
                yield stack, logical_id, res["Properties"]


def test_every_runtime_role_carries_the_boundary_of_its_kind_and_no_deploy_role_does(envs):
    """A role whose policy someone widens reaches only what roles of its kind use: a build that runs the
    repository's code never the pipeline's CloudFormation powers, a job never a build's."""
    from infra.iam.boundary import BOUNDARIES

    arn = "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy${{RolePath}}${{{}}}"
    kind_of = {"CodePipelineRole": "delivery", "SourceEventsRole": "delivery", "SynthBuildRole": "builds",
               "UpsertBuildRole": "builds", "SageMakerExecutionRole": "jobs", "ModelRole": "jobs", "NotifierRole": "functions",
               "MetricsFunctionRole": "functions", "PartitionsFunctionRole": "functions", "CrawlerRole": "functions",
               "SubscriberCheckFunctionRole": "functions", "SubscriberScheduleRole": "functions", "ChatChannelRole": "functions",
               "DeploymentPipelineRole": "delivery", "DeploymentEventsRole": "delivery", "ResolveFunctionRole": "serving",
               "SmokeTestFunctionRole": "smoke", "ArchivePinFunctionRole": "functions", "PromotionRole": "functions"}
    for env in envs:
        seen = set()
        for stack, logical_id, props in _role_resources(env):
            trusted = props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
            if trusted == ["cloudformation.amazonaws.com"]:  # a deploy role: only an administrator changes it
                assert stack in ("deploy-roles", "serving-iam") and "PermissionsBoundary" not in props, f"{env.label} {logical_id}"
            else:
                seen.add(logical_id)
                # The boundary's name as the env's template writes it in (its role path and boundary name).
                wanted = {"Fn::Sub": env.concrete(arn.format(BOUNDARIES[kind_of[logical_id]][1]))}
                assert props.get("PermissionsBoundary") == wanted, f"{env.label}/{stack}.yaml {logical_id} lacks its boundary"
        # The serving roles (serving-iam) only where the env serves models.
        serving = {"ModelRole", "DeploymentPipelineRole", "DeploymentEventsRole", "ResolveFunctionRole", "SmokeTestFunctionRole"}
        # The chat channels' role only where the env names chat channels.
        chat = set() if env.project.env(env.env).chat else {"ChatChannelRole"}
        # A source env's promotion roles only where another account serves its versions.
        source = set() if env.names.models_taker else {"ArchivePinFunctionRole", "PromotionRole"}
        assert seen == set(kind_of) - (set() if env.renders("serving-iam") else serving) - chat - source, env.label


IAM_WRITES = ("iam:Create", "iam:Delete", "iam:Update", "iam:Put", "iam:Attach", "iam:Detach", "iam:Tag", "iam:Untag",
              "iam:Add", "iam:Remove", "iam:Set")


# The one IAM write a role may hold: creating an AWS service's own service-linked role (AWS defines its trust and
# policy; nothing can be added to it), for a service named in the statement's iam:AWSServiceName condition.
SERVICE_LINKED_ROLES = {"sagemaker.application-autoscaling.amazonaws.com"}


def _creates_only_service_linked_roles(st: dict) -> bool:
    services = as_list(st.get("Condition", {}).get("StringEquals", {}).get("iam:AWSServiceName", []))
    resources = [text_of(r) for r in as_list(st.get("Resource", []))]
    return (bool(services) and set(services) <= SERVICE_LINKED_ROLES
            and all(f"role/aws-service-role/{services[0]}/" in r for r in resources))


def iam_write_problems(template_texts: dict[str, str]) -> list[str]:
    """IAM write actions any role the delivery pipeline runs as, or may hand to CloudFormation, holds."""
    problems = []
    for stack, text in sorted(template_texts.items()):
        for logical_id, resource in load(text).get("Resources", {}).items():
            if resource.get("Type") != "AWS::IAM::Role":
                continue
            for st in role_statements(load(text), logical_id):
                writes = sorted(a for a in as_list(st["Action"]) if st["Effect"] == "Allow" and a.startswith(IAM_WRITES)
                                and not (a == "iam:CreateServiceLinkedRole" and _creates_only_service_linked_roles(st)))
                if writes:
                    problems.append(f"{stack} {logical_id} {st.get('Sid')}: {', '.join(writes)}")
    return problems


def test_no_role_the_pipeline_runs_as_or_passes_may_write_to_iam(envs):
    """A push changes what the stacks contain, never a role or a trust policy: every role lives in the
    administrator-only IAM and deploy-roles stacks, and none of them may create, change or delete a role."""
    from infra.config.names import BOOTSTRAP_ONLY_STACKS
    from infra.stacks.pipeline import DEPLOYMENTS

    for env in envs:
        role_stacks = _role_stacks(env)  # every stack holding a role, so a new one cannot escape the check
        problems = iam_write_problems({f"{env.label}/{s}.yaml": env.text(s) for s in role_stacks})
        assert not problems, "\n".join(problems)
        assert set(role_stacks) <= set(BOOTSTRAP_ONLY_STACKS), f"{env.label}: roles outside the administrator-only stacks: {role_stacks}"
        for stack in (s for s in DEPLOYMENTS if env.renders(s)):
            types = {r["Type"] for r in env.template(stack)["Resources"].values()}
            assert not {t for t in types if t.startswith("AWS::IAM::")}, \
                f"{env.label}/{stack}.yaml, which the pipeline deploys, holds IAM resources"


def test_the_check_catches_a_service_linked_role_for_any_service():
    text = ("Resources:\n  ProductionEndpointDeployRole:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n"
            "      Policies:\n      - PolicyName: p\n        PolicyDocument:\n          Statement:\n"
            "          - {Sid: AnyServiceLinkedRole, Effect: Allow, Action: 'iam:CreateServiceLinkedRole',"
            " Resource: 'arn:aws:iam::111111111111:role/aws-service-role/*'}\n"
            "          - {Sid: OtherService, Effect: Allow, Action: 'iam:CreateServiceLinkedRole',"
            " Resource: 'arn:aws:iam::111111111111:role/aws-service-role/ec2.amazonaws.com/*',"
            " Condition: {StringEquals: {'iam:AWSServiceName': ec2.amazonaws.com}}}\n")
    assert iam_write_problems({"deploy-roles.yaml": text}) == [
        "deploy-roles.yaml ProductionEndpointDeployRole AnyServiceLinkedRole: iam:CreateServiceLinkedRole",
        "deploy-roles.yaml ProductionEndpointDeployRole OtherService: iam:CreateServiceLinkedRole"]


def test_the_check_catches_a_deploy_role_that_may_change_trust():
    text = ("Resources:\n  IamDeployRole:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n"
            "      Policies:\n      - PolicyName: p\n        PolicyDocument:\n          Statement:\n"
            "          - {Sid: ProjectRoles, Effect: Allow, Action: ['iam:CreateRole', 'iam:UpdateAssumeRolePolicy', 'iam:GetRole'],"
            " Resource: '*'}\n")
    assert iam_write_problems({"deploy-roles.yaml": text}) == [
        "deploy-roles.yaml IamDeployRole ProjectRoles: iam:CreateRole, iam:UpdateAssumeRolePolicy"]



def test_s3_prefix_conditions_only_scope_the_actions_whose_requests_carry_a_prefix(envs):
    """Under an s3:prefix condition, GetBucketLocation (or any non-list action) is silently never granted."""
    from infra.iam.policies import PREFIX_CONDITIONED_ACTIONS

    bad = []
    for where, _, _, st in _all_statements(envs):
        keys = {key for operator in st.get("Condition", {}).values() for key in operator}
        if "s3:prefix" in keys:
            others = set(as_list(st["Action"])) - PREFIX_CONDITIONED_ACTIONS
            bad += [f"{where}: {sorted(others)}"] if others else []
    assert not bad, bad


def test_the_crawler_may_ask_where_the_bucket_is(rendered):
    from infra.iam.runtime import functions

    (location,) = [s for s in functions.crawler_statements() if "s3:GetBucketLocation" in [a.JSONrepr() for a in s.Action]]
    assert not getattr(location, "Condition", None)


# Actions that decide who else may use a resource. A deploy role holding one unconditioned would let a push open
# the env's data or code to another account: the bucket and key policies stay with administrators, and the
# rest are held to the one principal, target or protocol the templates use.
OPENING = {
    "s3:PutBucketPolicy": None, "s3:DeleteBucketPolicy": None, "s3:PutBucketAcl": None, "s3:PutObjectAcl": None,
    "kms:PutKeyPolicy": None, "kms:CreateGrant": "kms:GrantIsForAWSResource",
    "lambda:AddPermission": "lambda:Principal", "events:PutTargets": "events:TargetArn", "sns:Subscribe": "sns:Protocol",
}


def opening_problems(deploy_roles_text: str, stack: str = "deploy-roles") -> list[str]:
    template = load(deploy_roles_text)
    problems = []
    for logical_id, resource in sorted(template["Resources"].items()):
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for st in role_statements(template, logical_id):
            if st["Effect"] != "Allow":
                continue
            for action in set(as_list(st["Action"])) & set(OPENING):
                needed = OPENING[action]
                if needed is None or needed not in json.dumps(st.get("Condition", {})):
                    problems.append(f"{stack}.yaml {logical_id} {st.get('Sid')}: {action}"
                                    + ("" if needed is None else f" without {needed}"))
    return problems


def test_no_deploy_role_may_open_the_envs_resources_to_anyone_else(envs):
    problems = [p for env in envs for stack in _role_stacks(env)
                for p in opening_problems(env.text(stack), f"{env.label}/{stack}")]
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_deploy_role_that_may_rewrite_the_bucket_policy(envs):
    text = envs[0].text("deploy-roles")
    broken = text.replace("s3:GetBucketPolicy", "s3:PutBucketPolicy", 1)
    assert broken != text
    assert any("s3:PutBucketPolicy" in p for p in opening_problems(broken))


def test_the_variants_turn_each_option_on_and_off(envs):
    """The checks above read the variants so that every statement some config makes is checked: each option is on in
    every 'every option on' env and off in every 'every option off' env."""
    from infra.stacks.pipeline import DEPLOYMENTS
    from tests.support.concrete_envs import ALL_OFF

    def options(env) -> dict[str, bool]:
        pipeline, kpi = env.text("pipeline"), env.template("kpi")
        stages = [s["Name"] for r in env.template("pipeline")["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"
                  for s in r["Properties"]["Stages"]]
        return {"data uploaders": "DataUploaders" in pipeline, "analysts": "Sid: Analysts" in pipeline,
                "quicksight": any(r["Type"] == "AWS::QuickSight::DataSource" for r in kpi["Resources"].values()),
                "deployment": DEPLOYMENTS["deployment"][0] in stages, "release approval": "ApproveRelease" in stages}

    variants = [env for env in envs if env.label not in env.project.environments]
    assert variants
    for env in variants:
        wanted = not env.label.startswith(ALL_OFF)
        assert options(env) == dict.fromkeys(options(env), wanted), env.label
