"""The roles pull SageMaker's built-in images only from AWS's registry account of their region.

An ECR ARN with a wildcard account let a role pull any account's repository named sagemaker-xgboost: a push
that registered a version with another account's image of that name got it served. Now the templates look the
account up per region (the BuiltInImageRegistry mapping) in infra/config/image_registries.py, and these tests
hold that table to the pinned SageMaker SDK and every ECR ARN of every rendered template to the account of the
images the SageMaker pipeline's definition actually names for that env's region.
"""
from __future__ import annotations

import dataclasses
import json
import re
from types import MappingProxyType

import pytest

from tests.conftest import SERVING_ENVS

from infra.cfn.mappings import IMAGE_REGISTRY_MAPPING
from infra.config import names as names_mod
from infra.config.image_registries import BUILT_IN_IMAGE_REGISTRIES
from infra.config.regions import KNOWN_REGIONS, SUPPORTED_PARTITIONS
from infra.output import render
from infra import stacks
from infra.stacks import BUILDERS
from tests.support.cfn import load, strings
from tests.support.resolve import resolve_all

# arn:<partition>:ecr:<region>:<account>:repository/<name>, and any other ECR ARN shape (so none slips past)
ECR_ARN = re.compile(r"^arn:[^:]*:ecr:")
REPOSITORY_ARN = re.compile(r"^arn:aws:ecr:(?P<region>[^:]+):(?P<account>\d{12}):repository/(?P<repository>[a-z0-9._/-]+)$")
# <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>
IMAGE_URI = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[^:@]+)[:@]")


# -- the table is the SDK's --------------------------------------------------------------------------
def _sdk_registries(framework: str, version: str) -> dict[str, dict[str, str]]:
    """scope -> {region: account} in the pinned SDK's image_uri_config, for every scope that has `version`."""
    from sagemaker import image_uris

    config = image_uris.config_for_framework(framework)
    return {scope: config[scope]["versions"][version]["registries"]
            for scope in sorted(config) if isinstance(config[scope], dict) and version in config[scope].get("versions", {})}


@pytest.mark.parametrize("framework, version_name", [("sklearn", "SKLEARN_VERSION"), ("xgboost", "XGBOOST_VERSION")])
def test_the_table_is_the_pinned_sdks_registry_of_each_image_pipeline_def_uses(framework, version_name):
    """Every scope (training, inference…) of the version pipeline_def names, in every region: one table serves
    scikit-learn and XGBoost only while they share the account everywhere; a new SDK or image version that
    moves one says to refresh infra/config/image_registries.py (or keep one table per image)."""
    from pipeline_def import pipeline

    version = getattr(pipeline, version_name)
    scopes = _sdk_registries(framework, version)
    assert scopes, f"the pinned SDK has no {framework} {version}"
    for scope, registries in scopes.items():
        assert registries == BUILT_IN_IMAGE_REGISTRIES, (
            f"{framework} {version} ({scope}): refresh infra/config/image_registries.py from the SDK's image_uri_config")


def test_the_table_holds_real_regions_and_account_ids():
    """Config refuses a region the table lacks (tests/config/test_config_errors.py); what it holds is botocore's regions."""
    assert set(BUILT_IN_IMAGE_REGISTRIES) <= set(KNOWN_REGIONS)
    assert all(re.fullmatch(r"\d{12}", account) for account in BUILT_IN_IMAGE_REGISTRIES.values())


# -- the templates name that account -------------------------------------------------------------------


def _pipeline_images(project, env: str) -> dict[str, str]:
    """repository -> registry account of every image the SageMaker pipeline's definition names for `env`."""
    from pipeline_def import cli

    definition = json.loads(cli.render(names_mod.for_env(project, env)))
    images = {}
    for text in strings(definition):
        match = IMAGE_URI.match(text)
        if match:
            assert match["region"] == project.env(env).region, text
            assert images.setdefault(match["repository"], match["account"]) == match["account"], text
    assert images, "the definition names no ECR image"
    return images


def image_pull_problems(rendered: dict[str, str], project) -> list[str]:
    """Every ECR ARN of every rendered template, resolved for each env: a concrete repository of the account
    the SageMaker pipeline's definition pulls that repository from in the env's region. Else a line saying why."""
    problems = []
    seen = 0
    for env in project.environments:
        region = project.env(env).region
        expected = _pipeline_images(project, env)
        for key, stack in resolve_all(rendered, project, env, list(BUILDERS)).items():
            for text in strings(stack.value(stack.template.get("Resources", {}))):
                if not ECR_ARN.match(text):
                    continue
                seen += 1
                arn = REPOSITORY_ARN.match(text)
                if "*" in text or not arn:
                    problems.append(f"env {env}: {key}.yaml: {text} is not one repository of one account")
                elif arn["region"] != region:
                    problems.append(f"env {env}: {key}.yaml: {text} is outside the env's region {region}")
                elif arn["repository"] not in expected:
                    problems.append(f"env {env}: {key}.yaml: {text}: the SageMaker pipeline pulls no {arn['repository']}")
                elif arn["account"] != expected[arn["repository"]]:
                    problems.append(f"env {env}: {key}.yaml: {text}: {arn['repository']} comes from account "
                                    f"{expected[arn['repository']]} in {region}, not {arn['account']}")
    assert seen, "no template names an ECR repository: the check would pass on nothing"
    return problems


def test_every_image_pull_names_awss_registry_account_for_the_configs_regions(rendered, project):
    problems = image_pull_problems(rendered, project)
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def two_region_project(fixture_project):
    """The fixture config with its envs in different regions (from the table, of a supported partition)."""
    regions = [r for r in sorted(BUILT_IN_IMAGE_REGISTRIES) if KNOWN_REGIONS[r] in SUPPORTED_PARTITIONS]
    picks = [regions[0], regions[-1]]
    assert BUILT_IN_IMAGE_REGISTRIES[picks[0]] != BUILT_IN_IMAGE_REGISTRIES[picks[1]]
    envs = {name: dataclasses.replace(env, region=picks[i % 2])
            for i, (name, env) in enumerate(fixture_project.environments.items())}
    assert len({env.region for env in envs.values()}) == 2, "the fixture config needs two envs"
    return dataclasses.replace(fixture_project, environments=MappingProxyType(envs))


def test_envs_in_two_regions_each_name_their_regions_account(two_region_project):
    rendered = render.render(two_region_project)
    problems = image_pull_problems(rendered, two_region_project)
    assert not problems, "\n".join(problems)
    for env in two_region_project.environments.values():
        mapped = 0
        for key in stacks.of_env(env):
            mapping = load(rendered[f"{env.name}/{key}.yaml"]).get("Mappings", {}).get(IMAGE_REGISTRY_MAPPING)
            if mapping is not None:  # the env's own region only: each env's templates are its own
                mapped += 1
                assert sorted(mapping) == [env.region], f"{env.name}/{key}.yaml"
                assert BUILT_IN_IMAGE_REGISTRIES[env.region] in mapping[env.region].values(), f"{env.name}/{key}.yaml: {mapping}"
        assert mapped, f"no template of env {env.name} maps its image registry"


def test_the_check_catches_a_wildcard_or_another_account(rendered, project):
    """The old pull statement (any account's repository of that name), and a concrete account that is not AWS's."""
    env = next(iter(project.environments.values()))
    other = next(a for a in ("111111111111", "222222222222") if a != BUILT_IN_IMAGE_REGISTRIES[env.region])
    mapped = "${ImageRegistry}:repository/"
    for replacement, complaint in (("*:repository/", "is not one repository of one account"),
                                   (f"{other}:repository/", f"not {other}")):
        broken = {path: text.replace(mapped, replacement) for path, text in rendered.items()}
        assert broken != rendered
        problems = image_pull_problems(broken, project)
        assert problems and all(complaint in p for p in problems), problems


def test_resolve_holds_a_version_to_the_image_the_model_role_may_pull(rendered, project):
    """The deployment's Resolve refuses a version whose serving image is not SERVING_IMAGES (so it stops before an
    endpoint fails to pull it); per env, that is exactly the repository and account the model role may pull."""
    for env in SERVING_ENVS:
        stacks = resolve_all(rendered, project, env, list(BUILDERS))
        function = stacks["deployment"].value(stacks["deployment"].template["Resources"]["ResolveFunction"]["Properties"])
        allowed = function["Environment"]["Variables"]["SERVING_IMAGES"].split(",")
        role = stacks["serving-iam"].value(stacks["serving-iam"].template["Resources"]["ModelRole"]["Properties"])
        pulls = {m["account"] + "/" + m["repository"] for text in strings(role) if (m := REPOSITORY_ARN.match(text))}
        region = project.env(env).region
        assert sorted(allowed) == sorted(f"{pull.split('/')[0]}.dkr.ecr.{region}.amazonaws.com/{pull.split('/', 1)[1]}"
                                         for pull in pulls), f"env {env}"
