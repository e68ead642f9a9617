"""Who may read the dead letters encrypted with the notifications key (the notifier's and the deployment functions'
queues): only config's `operations.dead_letter_readers`, only `kms:Decrypt`, only through SQS. Without them nobody
could redrive those queues; with a wider grant they could read the approvals topic's traffic or encrypt as the key."""
from __future__ import annotations

import json

import pytest

from tests.support.concrete_envs import EnvRender

def _key_policy(env: EnvRender) -> list[dict]:
    return env.template("messaging")["Resources"]["NotificationsKey"]["Properties"]["KeyPolicy"]["Statement"]


def _naming(statements: list[dict], arn: str) -> list[dict]:
    return [s for s in statements if arn in json.dumps(s)]


def test_readers_decrypt_only_through_sqs_and_nobody_else_is_a_reader(envs):
    problems = []
    for env in envs:
        readers = env.project.env(env.env).dead_letter_readers
        statements = _key_policy(env)
        granted = [s for s in statements if s.get("Sid") == "DeadLetterReadersDecryptThroughSqs"]
        if not readers:
            problems += [f"{env.label}: a readers' statement without readers in config"] if granted else []
            continue
        for arn in readers:
            for s in _naming(statements, arn):
                actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
                via = json.dumps(s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService", ""))
                if s["Effect"] == "Allow" and (actions != ["kms:Decrypt"] or not via.startswith(('"sqs.', '{"Fn::Sub": "sqs.'))):
                    problems.append(f"{env.label}: {arn} may {actions} via {via!r}")
            if not _naming(granted, arn):
                problems.append(f"{env.label}: config names {arn} a dead-letter reader, the key policy does not")
        for s in granted:
            queues = s["Condition"]["ArnEquals"].get("kms:EncryptionContext:aws:sqs:arn", [])
            if not queues or any(":sqs:" not in json.dumps(q) or "DeadLetter" not in json.dumps(q) and "dlq" not in json.dumps(q)
                                 for q in queues):
                problems.append(f"{env.label}: readers are not held to the dead-letter queues' messages: {queues}")
            named = s["Condition"]["ArnEquals"]["aws:PrincipalArn"]
            if sorted(named) != sorted(readers):
                problems.append(f"{env.label}: the key lets {named} read, config names {list(readers)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("with_readers", [False, True])
def test_some_variant_covers_each_case(envs, with_readers):
    assert any(bool(e.project.env(e.env).dead_letter_readers) == with_readers for e in envs)
