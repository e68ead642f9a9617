"""`make approve ENV=… VERSION=… [DESCRIPTION=…]` / `make reject …`: decide a model version, as yourself.

Approving is a person's act: this runs with the caller's credentials (never a project role, none of which
may approve), says who decided what, and changes only a version that is waiting or decided the other way.

    python -m infra.ops.approve approve --env dev --version 3 --description "AUC 0.86, checked the drift report"
    python -m infra.ops.approve reject  --env dev --version 3 --description "leaks the churn date"
"""
from __future__ import annotations

import argparse

from infra.ops.common import OpsError, aws_session, env_names, run

STATUS = {"approve": "Approved", "reject": "Rejected"}


def find_version(sm, group: str, version: int) -> dict:
    """The group's package of that version (its summary), or OpsError naming the versions there are."""
    seen = []
    for page in sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
        for package in page["ModelPackageSummaryList"]:
            if package.get("ModelPackageVersion") == version:
                return package
            seen.append(package.get("ModelPackageVersion"))
    listed = ", ".join(str(v) for v in sorted(v for v in seen if v is not None)) or "none yet"
    raise OpsError(f"model package group {group} has no version {version} (versions: {listed})")


def decide(sm, group: str, version: int, decision: str, description: str, who: str) -> str:
    package = find_version(sm, group, version)
    before, after = package.get("ModelApprovalStatus"), STATUS[decision]
    if package.get("ModelPackageStatus") not in (None, "Completed"):
        raise OpsError(f"{group} v{version} is {package['ModelPackageStatus']}, not Completed: nothing to {decision} yet")
    if before == after:
        return f"{group} v{version} is already {after}; nothing changed"
    text = description or f"{after} by {who}"
    sm.update_model_package(ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus=after,
                            ApprovalDescription=text[:1024])
    return f"{group} v{version}: {before} -> {after} ({text[:200]})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops.approve", description="Approve or reject a model version")
    parser.add_argument("decision", choices=sorted(STATUS))
    parser.add_argument("--env", required=True)
    parser.add_argument("--version", required=True, help="the model package version (make … VERSION=3)")
    parser.add_argument("--description", default="", help="why; shown in the notification e-mail")
    args = parser.parse_args(argv)

    def command() -> int:
        if not args.version.isdigit() or int(args.version) < 1:
            raise OpsError(f"VERSION must be a model package version number like 3, got {args.version!r}")
        env, n = env_names(args.env)
        if n.models_source is not None:
            # Its endpoints serve what the source env's approvers decide (docs/promotion.md): a decision in this env's
            # own group would change nothing it serves.
            source = n.models_source
            raise OpsError(f"{env.name} serves the versions approved in {source.env_name}'s registry (account "
                           f"{source.env.account_id}): decide there, with that account's credentials "
                           f"(make {args.decision} ENV={source.env_name} VERSION={args.version})")
        s = aws_session(env)
        who = s.client("sts").get_caller_identity()["Arn"]
        print(decide(s.client("sagemaker"), n.model_package_group, int(args.version), args.decision, args.description, who))
        return 0

    return run(command)


if __name__ == "__main__":
    raise SystemExit(main())
