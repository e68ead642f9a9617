"""Only the SageMaker jobs read the training data: no other role, and no boundary but the jobs', may read an object
under the pipeline's `input/` (what uploaders put there) or `data/` (the splits the jobs make).

Issue 25, P4 (training data leaves AWS): the builds and the functions run code a push wrote, with the internet; the
upsert build read every object of the pipeline's prefix though it only uploads the step code and, into an empty
`input/`, the sample. Now it lists `input/` (key names) and writes; the jobs, which read the data, have no network
(tests/iam/test_jobs_and_models_are_network_isolated.py). Checked over every env and variant, every policy document of
every rendered template (roles' policies, boundaries, bucket policies), for every S3 action that returns an object's
bytes, wildcards included.
"""
from __future__ import annotations

import fnmatch

from tests.support.cfn import as_list, policies, statements, text_of

# The role whose jobs read the data, and the boundary of its kind.
READERS = frozenset({"SageMakerExecutionRole", "JobRolesBoundary"})
# S3 actions that hand over an object's content (Service Authorization Reference, "Actions, resources, and condition
# keys for Amazon S3": the Read actions on the object resource type that return data).
READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTorrent", "s3:GetObjectVersionTorrent",
                "s3:GetObjectVersionForReplication")
DATA_FOLDERS = ("input", "data")


def _data_keys(env) -> list[str]:
    n = env.names
    bucket = f"arn:${{AWS::Partition}}:s3:::{n.artifact_bucket_prefix}-${{AWS::AccountId}}-${{AWS::Region}}"
    return [f"{bucket}/{n.sagemaker_prefix}{folder}/churn.csv" for folder in DATA_FOLDERS]


def reads(statement: dict, keys: list[str]) -> list[str]:
    """The data keys an Allow statement lets someone read (conditions are not weighed: a condition is no reason)."""
    if statement.get("Effect") != "Allow":
        return []
    if "NotAction" in statement or "NotResource" in statement:
        return list(keys)
    acts = [a.lower() for a in as_list(statement.get("Action", []))]
    if not any(fnmatch.fnmatchcase(read.lower(), a) for a in acts for read in READ_ACTIONS):
        return []
    return [k for k in keys if any(fnmatch.fnmatchcase(k, text_of(r)) for r in as_list(statement.get("Resource", [])))]


def test_nothing_but_the_jobs_reads_the_training_data(envs):
    found = []
    for env in envs:
        keys = _data_keys(env)
        for stack in env.stacks:
            for logical_id, _, prop, document in policies(env.template(stack)):
                if logical_id in READERS:
                    continue
                found += [f"{env.label}: {stack} {logical_id} {prop} {st.get('Sid')} reads {key.rsplit(':::', 1)[1]}"
                          for st in statements(document) for key in reads(st, keys)]
    assert not found, "\n".join(found)


def test_the_jobs_do_read_it(envs):
    """Else the check above could pass on keys no policy names."""
    for env in envs:
        keys = _data_keys(env)
        held = {key for stack in ("iam", "boundaries") for logical_id, _, _, document in policies(env.template(stack))
                if logical_id in READERS for st in statements(document) for key in reads(st, keys)}
        assert held == set(keys), (env.label, held)


def test_the_check_catches_a_read_of_the_whole_prefix_a_wildcard_and_not_a_list():
    keys = ["arn:aws:s3:::b/sagemaker/p/input/churn.csv"]
    assert reads({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/sagemaker/p/*"]}, keys) == keys
    assert reads({"Effect": "Allow", "Action": "s3:Get*", "Resource": {"Fn::Sub": "arn:aws:s3:::b/*"}}, keys) == keys
    assert reads({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, keys) == keys
    assert not reads({"Effect": "Allow", "Action": ["s3:ListBucket", "s3:PutObject"], "Resource": "*"}, keys)
    assert not reads({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/sagemaker/p/code/*"}, keys)


def writes_input(statement: dict, key: str) -> bool:
    """Whether an Allow statement lets a role put an object at `key` (conditions not weighed)."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement or "NotResource" in statement:
        return True
    acts = [a.lower() for a in as_list(statement.get("Action", []))]
    return any(fnmatch.fnmatchcase("s3:putobject", a) for a in acts) and \
        any(fnmatch.fnmatchcase(key, text_of(r)) for r in as_list(statement.get("Resource", [])))


def test_no_role_writes_the_input_where_config_seeds_no_sample(envs):
    """The upsert build seeds the sample only where config's `sample_data` is on: elsewhere (prod ships with it off)
    no project role may put an object into `input/`, which holds what uploaders put there (their grant is the bucket
    policy's)."""
    found, seeding = [], []
    for env in envs:
        n = env.names
        key = f"arn:${{AWS::Partition}}:s3:::{n.artifact_bucket_prefix}-${{AWS::AccountId}}-${{AWS::Region}}/{n.input_prefix}churn.csv"
        writers = [f"{env.label}: {stack} {logical_id} {st.get('Sid')}" for stack in env.stacks
                   for logical_id, rtype, _, document in policies(env.template(stack))
                   if rtype.startswith("AWS::IAM::") and stack != "boundaries"  # a boundary grants nothing
                   for st in statements(document) if writes_input(st, key)]
        if env.project.env(env.env).sample_data:
            seeding.append(bool(writers))
        else:
            found += writers
    assert not found, "\n".join(found)
    assert seeding and all(seeding), "the check saw no env whose upsert seeds the sample: it would pass on nothing"
