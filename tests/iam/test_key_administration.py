"""A template change can reach this project's KMS keys and no other team's.

The deploy roles once held PutKeyPolicy, ScheduleKeyDeletion and UpdateAlias on `key/*`: one push that
added a key policy or alias change to a template could rewrite or delete any key in the account whose
policy delegates to IAM. Now a deploy role's IAM policy only lists aliases (no deploy role creates a key: CreateKey
takes the new key's policy); what it may do to a key that exists comes from that key's own policy, which names the
role. Keys in a stack only an administrator deploys name no deploy role at all.
"""
from __future__ import annotations


from infra.iam.deploy_policies import KEY_LOOKUP_ACTIONS
from infra.stacks import BUILDERS
from tests.support.cfn import as_list, load, role_statements, statements, text_of

KEY_WIDE = ("*", "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*")
LOOKUPS = {f"kms:{action}" for action in KEY_LOOKUP_ACTIONS}


def deploy_role_key_problems(deploy_roles_text: str, label: str = "deploy-roles.yaml") -> list[str]:
    """KMS actions a deploy role holds on keys it does not name, beyond listing aliases."""
    template = load(deploy_roles_text)
    problems = []
    for logical_id, resource in sorted(template["Resources"].items()):
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in role_statements(template, logical_id):
            if statement["Effect"] != "Allow" or "kms:ResourceAliases" in str(statement.get("Condition")):
                continue  # use of one named key (by its alias) is scoped already
            kms_actions = {a for a in as_list(statement["Action"]) if a.startswith("kms:")}
            wide = [text_of(r) for r in as_list(statement["Resource"]) if text_of(r) in KEY_WIDE]
            beyond = sorted(kms_actions - LOOKUPS)
            if wide and beyond:
                problems.append(f"{label} {logical_id} {statement.get('Sid')}: {', '.join(beyond)} on {wide[0]}")
    return problems


def test_deploy_roles_only_list_aliases_through_iam(envs):
    problems = [p for env in envs for p in deploy_role_key_problems(env.text("deploy-roles"), f"{env.label}/deploy-roles.yaml")]
    assert not problems, "\n".join(problems)


def test_every_key_names_the_deploy_role_of_its_stack_as_administrator(envs):
    from infra.stacks.pipeline import DEPLOYMENTS

    for env in envs:
        found = 0
        for stack in env.stacks:
            template = env.template(stack)
            where = f"{env.label}/{stack}.yaml"
            for logical_id, resource in template["Resources"].items():
                if resource["Type"] != "AWS::KMS::Key":
                    continue
                found += 1
                if stack not in DEPLOYMENTS:  # administrator-only: the account administers it, no deploy role
                    by_roles = [s for s in statements(resource["Properties"]["KeyPolicy"]) if "Administers" in s.get("Sid", "")
                                and s.get("Principal") != {"AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]}]
                    assert not by_roles, f"{where} {logical_id}: administered by {by_roles}"
                    continue
                role_export = DEPLOYMENTS[stack][2]
                # The import names the env's deploy-roles stack, written in.
                principal = {"AWS": [{"Fn::ImportValue": env.concrete(f"${{DeployRolesStackName}}-{role_export}")}]}
                admins = [s for s in statements(resource["Properties"]["KeyPolicy"]) if "Administers" in s.get("Sid", "")
                          and s.get("Principal") == principal]
                assert admins, f"{where} {logical_id}: no key-policy statement names the {role_export} deploy role"
                granted = {a for s in admins for a in as_list(s["Action"])}
                assert {"kms:EnableKeyRotation", "kms:DescribeKey", "kms:CreateAlias", "kms:TagResource"} <= granted, where
                assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & granted, f"{where}: administration, not use"
                # Who may use a key, and whether it exists, stay with the account's administrators: not a push.
                assert not {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"} & granted, f"{where} {logical_id}"
        assert found >= 2, env.label


def test_the_check_catches_key_administration_on_every_key(envs):
    """The deploy roles as they were: PutKeyPolicy and ScheduleKeyDeletion on key/*."""
    text = envs[0].text("deploy-roles")
    old = text.replace("- kms:ListAliases\n", "- kms:ListAliases\n            - kms:PutKeyPolicy\n", 1)
    if old == text:  # flow-style action lists
        old = text.replace("['kms:ListAliases']", "['kms:ListAliases', 'kms:PutKeyPolicy']", 1)
    assert old != text
    problems = deploy_role_key_problems(old)
    assert problems and all(p.endswith("kms:PutKeyPolicy on *") for p in problems)
