"""An approved version is served from the archive that was registered, whatever a later push writes.

A model package names its archive by S3 key, and the SageMaker jobs (which run the repository's code) may write
under models/. So the deployment's Resolve function checks the archive was written once and tags that object
version (tests/functions/test_deploy_resolve.py), and here, over every rendered template:
- only the Resolve role may write object tags (and, in an env whose versions another account serves, the archive pin's
  role, which runs the same checks at approval: lambda_src/archive_pin), so no other code a push runs can make an
  archive look deployed;
- the roles that load or read a served archive (the endpoints' model role, the smoke test) read only tagged ones,
  so a rewrite after deployment (a new, untagged object version) cannot be loaded by a scale-out or a replacement.
"""
from __future__ import annotations

import fnmatch

import pytest

from infra.iam.boundary import BOUNDARIES, FUNCTIONS, SERVING_FUNCTIONS
from infra.stacks import BUILDERS
from lambda_src.shared import contract as shared_contract
from tests.support.cfn import as_list, policies, statements, text_of

TAG_WRITES = ("s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging",
              "s3:ReplicateTags")
READS = ("s3:GetObject", "s3:GetObjectVersion")

# AN_ARCHIVE and TAG_CONDITION name config values (${SageMakerPrefix}…) as the stacks do: each env's template has its
# own written in (EnvRender.concrete).
TAGGER = ("serving-iam.yaml", "ResolveFunctionRole")
TAGGER_BOUNDARY = ("boundaries.yaml", BOUNDARIES[SERVING_FUNCTIONS][0])  # the Resolve role's kind
SERVING_READERS = (("serving-iam.yaml", "ModelRole"), ("serving-iam.yaml", "SmokeTestFunctionRole"))
# The archives an env serves are its own, or (deployment.models_from) its source env's, pinned there: the Models* values.
AN_ARCHIVE = "arn:${AWS::Partition}:s3:::${ModelsBucketName}/${ModelsArchivePrefix}run/package/model.tar.gz"
TAG_CONDITION = {f"s3:ExistingObjectTag/{shared_contract.ARCHIVE_TAG}": [
    "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${ModelsAccountId}:model-package/${ModelsGroupName}/*"]}


def _matches(patterns, names) -> list[str]:
    return sorted({n for p in as_list(patterns) for n in names if fnmatch.fnmatchcase(n.lower(), str(p).lower())})


def _allows(env):
    """(template, logical id, statement) for every Allow statement of every identity policy and boundary of the env."""
    for stack in env.stacks:
        for logical_id, rtype, prop, doc in policies(env.template(stack)):
            if rtype.startswith("AWS::IAM::") and prop != "AssumeRolePolicyDocument":
                for st in statements(doc):
                    if st.get("Effect") == "Allow":
                        yield f"{stack}.yaml", logical_id, st


SOURCE_TAGGERS = (("iam.yaml", "ArchivePinFunctionRole"), ("boundaries.yaml", BOUNDARIES[FUNCTIONS][0]))


def tagging_problems(env) -> list[str]:
    taggers = (TAGGER, TAGGER_BOUNDARY, *(SOURCE_TAGGERS if env.names.models_taker else ()))
    return [f"{env.label}/{where} {logical_id} {st.get('Sid', '')}: {_matches(st.get('Action'), TAG_WRITES)}"
            for where, logical_id, st in _allows(env)
            if _matches(st.get("Action"), TAG_WRITES) and (where, logical_id) not in taggers]


def _conditions(st: dict) -> dict:
    return {key: sorted(text_of(v) for v in as_list(values))
            for op, by_key in (st.get("Condition") or {}).items() if op == "StringLike" for key, values in by_key.items()}


def untagged_read_problems(env) -> list[str]:
    problems = []
    archive, wanted = env.concrete(AN_ARCHIVE), {key: [env.concrete(v) for v in values] for key, values in TAG_CONDITION.items()}
    for where, logical_id, st in _allows(env):
        if (where, logical_id) not in SERVING_READERS or not _matches(st.get("Action"), READS):
            continue
        reaches = [text_of(r) for r in as_list(st.get("Resource")) if fnmatch.fnmatchcase(archive, text_of(r))]
        if reaches and {k: v for k, v in _conditions(st).items() if k in wanted} != wanted:
            problems.append(f"{env.label}/{where} {logical_id} {st.get('Sid', '')} reads {reaches} without {wanted}")
    return problems


def test_only_the_deployment_resolve_role_may_write_object_tags(envs):
    assert [p for env in envs for p in tagging_problems(env)] == []


def _serving(envs):
    """The envs that serve models: only they have the serving roles (serving-iam)."""
    serving = [env for env in envs if env.renders("serving-iam")]
    assert serving, "no env or variant serves models"
    return serving


def test_the_resolve_role_may_tag_archives(envs):
    """Its own env's; an env serving another env's models tags nothing (the source env's pin function does)."""
    for env in _serving(envs):
        tags = [st for where, logical_id, st in _allows(env) if (where, logical_id) == TAGGER
                and "s3:PutObjectVersionTagging" in as_list(st.get("Action"))]
        archive = env.concrete(AN_ARCHIVE)
        if env.names.models_source:
            assert not tags, env.label
            continue
        assert tags and any(fnmatch.fnmatchcase(archive, text_of(r)) for st in tags for r in as_list(st["Resource"])), env.label


@pytest.mark.parametrize("reader", SERVING_READERS, ids=lambda r: r[1])
def test_serving_reads_only_archives_the_deployment_tagged(envs, reader):
    for env in _serving(envs):
        archive = env.concrete(AN_ARCHIVE)
        reads = [st for where, logical_id, st in _allows(env) if (where, logical_id) == reader
                 and _matches(st.get("Action"), READS)
                 and any(fnmatch.fnmatchcase(archive, text_of(r)) for r in as_list(st.get("Resource")))]
        assert reads, f"{env.label}: {reader[1]} reads no model archive"
        assert untagged_read_problems(env) == []


def test_resolve_checks_the_folder_serving_reads(envs):
    serving = [env for env in envs if env.renders("deployment")]
    assert serving, "no env or variant serves models"
    for env in serving:
        function = env.template("deployment")["Resources"]["ResolveFunction"]["Properties"]
        folder = text_of(function["Environment"]["Variables"]["ARCHIVE_PREFIX"])
        assert folder + "run/package/model.tar.gz" in env.concrete(AN_ARCHIVE), env.label


# -- the checks catch what they are for ------------------------------------------------------------
def _with_statement(env, stack: str, role: str, statement: str):
    """A copy of `env` whose `role` (in `stack`) also holds `statement` (YAML flow mapping), in its first policy."""
    text = env.text(stack)
    anchor = f"  {role}:\n"
    start = text.index(anchor)
    marker = text.index("          Statement:\n", start) + len("          Statement:\n")
    return env.replaced(stack, text[:marker] + f"          - {statement}\n" + text[marker:])


def test_the_check_catches_a_job_role_that_may_tag(envs):
    broken = _with_statement(envs[0], "iam", "SageMakerExecutionRole",
                             "{Effect: Allow, Action: ['s3:Put*'], Resource: ['arn:aws:s3:::b/*']}")
    assert any("SageMakerExecutionRole" in p for p in tagging_problems(broken))


def test_the_check_catches_a_model_role_reading_untagged_archives(envs):
    env = _serving(envs)[0]
    broken = _with_statement(env, "serving-iam", "ModelRole",
                             "{Effect: Allow, Action: ['s3:GetObject'], Resource: [!Sub 'arn:${AWS::Partition}:s3:::"
                             + env.concrete("${ArtifactBucketPrefix}-${AWS::AccountId}-${AWS::Region}/${SageMakerPrefix}*']}"))
    assert any("ModelRole" in p for p in untagged_read_problems(broken))


# -- the bucket keeps the trace of a rewrite, and refuses copies into models/ ---------------------------
def _bucket(env) -> dict:
    return env.template("pipeline")["Resources"]["ArtifactBucket"]["Properties"]


def test_the_bucket_keeps_versions(envs):
    for env in envs:
        assert _bucket(env)["VersioningConfiguration"] == {"Status": "Enabled"}, env.label


def lifecycle_problems(env) -> list[str]:
    """A rule that expires noncurrent versions under models/ must keep the newest one of each key: otherwise, 30
    days after a rewrite, the key shows one version again and a rewritten archive looks written once. And no rule
    may expire the archives themselves."""
    problems = []
    archive = env.concrete("${SageMakerPrefix}models/run/package/model.tar.gz")
    assert "${" not in archive, archive
    for rule in _bucket(env)["LifecycleConfiguration"]["Rules"]:
        prefix = text_of(rule.get("Prefix", (rule.get("Filter") or {}).get("Prefix", "")))
        if rule.get("Status") != "Enabled" or not archive.startswith(prefix):
            continue
        expiry = rule.get("NoncurrentVersionExpiration")
        if expiry and int(expiry.get("NewerNoncurrentVersions", 0)) < 1:
            problems.append(f"{env.label}: {rule['Id']} expires every noncurrent version under {prefix or 'the whole bucket'}")
        if rule.get("ExpirationInDays") or rule.get("ExpirationDate"):
            problems.append(f"{env.label}: {rule['Id']} expires current objects under {prefix or 'the whole bucket'}")
    return problems


def test_the_lifecycle_never_erases_the_trace_of_a_rewritten_archive(envs):
    assert [p for env in envs for p in lifecycle_problems(env)] == []


def expiry_problems(env) -> list[str]:
    """An expiration on a versioned bucket only adds a delete marker: the rule must also delete noncurrent versions
    outright (no NewerNoncurrentVersions), or the bucket-wide rule keeps the expired object forever."""
    problems = []
    for rule in _bucket(env)["LifecycleConfiguration"]["Rules"]:
        expiry = rule.get("NoncurrentVersionExpiration") or {}
        if rule.get("ExpirationInDays") and (not expiry.get("NoncurrentDays") or expiry.get("NewerNoncurrentVersions")):
            problems.append(f"{env.label}: {rule['Id']} expires objects but keeps their last version")
        if rule.get("Prefix") and expiry and not rule.get("ExpirationInDays") and not rule.get("ExpiredObjectDeleteMarker"):
            problems.append(f"{env.label}: {rule['Id']} deletes noncurrent versions but leaves the delete markers behind")
    return problems


def test_what_expires_is_deleted(envs):
    assert [p for env in envs for p in expiry_problems(env)] == []


def test_the_expiry_check_catches_an_expiration_that_deletes_nothing(envs):
    text = envs[0].text("pipeline")
    start = text.index("Id: ExpireQueryResults")
    broken = text[:start] + text[start:].replace("          NoncurrentVersionExpiration:\n            NoncurrentDays: 30\n", "", 1)
    assert broken != text
    assert expiry_problems(envs[0].replaced("pipeline", broken))


def test_the_lifecycle_check_catches_a_rule_that_erases_it(envs):
    text = envs[0].text("pipeline")
    broken = text.replace("        - Id: KeepSageMakerData\n",
                          "        - Id: KeepSageMakerData\n          NoncurrentVersionExpiration:\n            NoncurrentDays: 30\n")
    assert broken != text
    assert lifecycle_problems(envs[0].replaced("pipeline", broken))


def test_nothing_may_be_copied_into_the_model_archives(envs):
    for env in envs:
        document = next(doc for logical_id, _, _, doc in policies(env.template("pipeline")) if logical_id == "ArtifactBucketPolicy")
        archive = env.concrete("${ArtifactBucket.Arn}/${SageMakerPrefix}models/run/package/model.tar.gz")  # its own
        denies = [st for st in statements(document) if st.get("Effect") == "Deny" and "s3:PutObject" in as_list(st["Action"])
                  and st.get("Condition") == {"Null": {"s3:x-amz-copy-source": "false"}}
                  and any(fnmatch.fnmatchcase(archive, text_of(r)) for r in as_list(st["Resource"]))]
        assert denies, f"{env.label}: the bucket policy must refuse CopyObject/UploadPartCopy into models/ (a copy keeps the source's tags)"


def test_the_step_that_writes_the_archive_runs_on_one_instance(project):
    """Every instance of a processing job uploads its output to the same key: more than one would write the archive
    more than once, and the deployment would refuse that version for good."""
    import json

    from infra.config import names as names_mod
    from pipeline_def import cli
    from pipeline_def.interface import STEP_PACKAGE

    def walk(steps):  # a condition step holds its branches' steps
        for step in steps:
            yield step
            yield from walk(step.get("Arguments", {}).get("IfSteps", []) + step.get("Arguments", {}).get("ElseSteps", []))

    for env in project.environments:
        steps = {s["Name"]: s for s in walk(json.loads(cli.render(names_mod.for_env(project, env)))["Steps"])}
        cluster = steps[STEP_PACKAGE]["Arguments"]["ProcessingResources"]["ClusterConfig"]
        assert cluster["InstanceCount"] == 1, f"env {env}: {cluster}"
