"""`make demo SCENARIO=promotion` (tests/demo/promotion.py): the version A approved is what B serves, byte for byte,
and every call B's code makes on A's resources must be allowed by both accounts' rendered policies."""
from __future__ import annotations

import io
import re

import pytest

from tests.conftest import CONFIGURED_ENVS
from tests.demo import promotion, run
from tests.support.concrete_envs import with_promotion


def _rehearse(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return run.main(list(args), out=out), out.getvalue()


@pytest.fixture(scope="module")
def promoted(project):
    return with_promotion(project)


@pytest.fixture(scope="module")
def rehearsal(promoted):
    """`make demo ENV=<the serving env>` where config pairs two envs: the promotion is that env's default."""
    taker = next(e.name for e in promoted.environments.values() if e.deployment and e.deployment.models_from)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run.config, "load", lambda *_a, **_k: promoted)
        return _rehearse("--env", taker)


def test_an_env_serving_another_envs_models_rehearses_the_promotion_by_default(rehearsal, promoted):
    code, text = rehearsal
    source = next(e.deployment.models_from for e in promoted.environments.values() if e.deployment and e.deployment.models_from)
    assert code == 0, text
    assert f"make demo: promotion of env {source}, no AWS account, no network" in text
    assert "config/ pairs no envs" not in text


def test_the_served_archive_is_what_the_source_accounts_training_wrote(rehearsal):
    code, text = rehearsal
    assert code == 0, text
    assert re.search(r"^ *13 +B's model role reads what A's training wrote +ok .* identical, byte for byte: \d+ bytes, sha256 ", text, re.M)
    assert text.rstrip().endswith("Network: 0 connection attempt(s) off this machine.\nEvery link held.")


def test_every_cross_account_call_is_listed_allowed_by_both_sides(rehearsal):
    _, text = rehearsal
    decided = re.findall(r"^ +(allowed|DENIED ) (\S+) ", text, re.M)
    actions = {action for _, action in decided}
    assert decided and all(verdict == "allowed" for verdict, _ in decided)
    # Resolve's registry reads and archive checks, the smoke test's and the model role's reads and their decryption.
    assert {"sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage", "s3:GetObject", "kms:Decrypt"} <= actions


def test_the_rehearsal_says_what_moto_proves_and_what_it_does_not(rehearsal):
    _, text = rehearsal
    assert promotion.EMULATED in text


def test_a_grant_the_source_account_withdraws_fails_the_rehearsal_naming_the_call(monkeypatch, project):
    """A's bucket policy without the serving roles' archive read: the smoke test's GetObject of the archive is denied,
    and the failed step names the call, the role and the policy that refused it."""
    real = promotion.Promotion.read_pair

    def narrowed(self, row):
        real(self, row)
        policy = self.a_policies["bucket"]
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "ServingReadsPinnedArchives"]

    monkeypatch.setattr(promotion, "STEPS", tuple((t, narrowed if f is real else f) for t, f in promotion.STEPS))
    code, text = _rehearse("--env", CONFIGURED_ENVS[0], "--scenario", "promotion")
    assert code == 1
    if promotion.pair(project, CONFIGURED_ENVS[0]) is None:  # config/ pairs none: the variant, and it says so
        assert "config/ pairs no envs (deployment.models_from): rehearsing " in text
    assert re.search(r"FAILED: .*DENIED +s3:GetObject +arn:aws:s3:::\S+ .*refused by account \d{12}'s "
                     r"resource policy", text), text


ROLE = "arn:aws:iam::222222222222:role/p/reader"
OBJECT = "arn:aws:s3:::a-bucket/models/model.tar.gz"


def _gate(identity_actions, boundary_actions):
    from tests.demo import accounts

    allow = lambda actions, **extra: {"Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*", **extra}]}
    bucket_policy = allow(["s3:GetObject"], Principal={"AWS": "arn:aws:iam::222222222222:root"},
                          Condition={"ArnEquals": {"aws:PrincipalArn": ROLE}})
    owner = accounts.Owner(account="111111111111", region="eu-west-1", bucket="a-bucket", bucket_policy=bucket_policy,
                           key_arn="k", key_alias="alias/k", key_policy=allow([]), group_policy=allow([]))
    return accounts.Gate(owner, {ROLE: accounts.Identity(ROLE, [allow(identity_actions)], allow(boundary_actions))}, role=ROLE)


@pytest.mark.parametrize("identity, boundary, refused_by", [
    (["s3:GetObject"], ["s3:GetObject"], ""),
    (["s3:GetObjectTagging"], ["s3:GetObject"], "its identity policy"),
    (["s3:GetObject"], ["s3:ListBucket"], "its boundary"),
])
def test_the_gate_needs_the_callers_policy_its_boundary_and_the_owners_policy(identity, boundary, refused_by):
    gate = _gate(identity, boundary)
    gate._decide("s3:GetObject", OBJECT, {}, gate.owner.bucket_policy)
    gate._decide("s3:GetObject", OBJECT, {}, {"Statement": []})  # the owner grants nothing: always refused
    first, second = gate.decisions
    assert first.allowed == (not refused_by) and (refused_by in first.why if refused_by else first.why == "")
    assert not second.allowed and "account 111111111111's resource policy" in second.why
    gate._decide("s3:PutObject", OBJECT, {}, None)  # a call the gate's table does not know
    assert not gate.decisions[-1].allowed and "does not know" in gate.decisions[-1].why
