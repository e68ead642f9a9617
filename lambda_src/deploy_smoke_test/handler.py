"""Lambda entry point of the deployment pipeline's SmokeTest action (a CodePipeline Lambda invoke action).

Environment: LATENCY_BUDGET_MS, a positive integer.
UserParameters: {"EndpointName": "<staging endpoint>", "ModelPackageArn": "#{Resolve.ModelPackageArn}"}
(CodePipeline substitutes the variable before invoking); with "StillApprovedOnly": true (right before production
changes) only check 2 runs; with "RolloutSeconds": n (production, beside its rollout) the version's contract
requests go to the endpoint while its rollout runs (bake.py), nothing else.
Output variables: LatencyMs (the median latency, whole ms), Summary (one line).

Checks, in order; the first that fails fails the action with a one-line message naming it:
1. the endpoint is InService and every production variant serves ModelPackageArn;
2. the package is still Approved (rejected since it was resolved: do not promote it);
3. its archive's contract.json gives the request columns (contract.py builds the rows);
4. a text/csv request (sent REPEATS times) and an application/json request succeed, and each answer
   has exactly one probability per row, each finite and in [0, 1];
5. the median latency over all requests (wall time around InvokeEndpoint) is within the budget.
"""
from __future__ import annotations

import statistics
import time

from shared import clients, pipeline_job
from shared.pipeline_job import Failed, Job, Succeeded

from . import answers, bake, contract, endpoint, parameters

FUNCTION = "deploy_smoke_test"
REPEATS = 3  # text/csv requests; with the JSON one, the median is over 4 timings


def _package(package_arn: str) -> dict:
    package = clients.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        raise Failed("not_approved", f"model package {package_arn} is {status} now, not Approved: not promoting it")
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return {"model_data_url": containers[0].get("ModelDataUrl", ""), "version": package.get("ModelPackageVersion"),
            "arn": package_arn}


def _invoke(endpoint_name: str, content_type: str, body: bytes, rows: int, clock) -> tuple[float, str]:
    """(latency in ms, the invoked variant); a Failed naming the request when it fails any check."""
    runtime = clients.client("sagemaker-runtime")
    started = clock()
    try:
        response = runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType=content_type, Accept=content_type,
                                           Body=body)
        answer = response["Body"].read(answers.MAX_ANSWER_BYTES + 1)
    except Exception as exc:  # noqa: BLE001 - an endpoint that errors or times out fails the smoke test
        if not clients.is_aws_error(exc):
            raise
        raise Failed("request_failed", f"{content_type} request to {endpoint_name} failed: "
                                       f"{clients.error_code(exc)}: {pipeline_job.one_line(exc, 500)}") from None
    latency_ms = (clock() - started) * 1000.0
    try:
        answers.probabilities(answer, content_type, rows)
    except answers.BadAnswer as exc:
        raise Failed("bad_answer", f"{content_type} answer from {endpoint_name}: {exc}") from None
    return latency_ms, response.get("InvokedProductionVariant", "")


def smoke_test(job: Job, clock=time.perf_counter, remaining_ms=lambda: 0) -> Succeeded:
    given = parameters.read(job)
    if given.rollout_seconds:
        return bake.run(job, given.endpoint_name, _package(given.package_arn), given.rollout_seconds, remaining_ms)
    if given.approved_only:
        # Right before production changes: a version rejected while its run waited for the production approval
        # must not go out because a person then approved the run.
        package = _package(given.package_arn)
        line = f"version {package['version']} ({given.package_arn}) is still Approved"
        return Succeeded("still_approved", {"Summary": line}, line, {"model_package_arn": given.package_arn})
    variants = endpoint.check(given.endpoint_name, given.package_arn)
    package = _package(given.package_arn)
    request_contract = contract.load(package["model_data_url"])
    request_rows = contract.rows(request_contract)
    csv_body = contract.csv_body(request_contract, request_rows)
    requests = [("text/csv", csv_body)] * REPEATS + [("application/json", contract.json_body(request_rows))]
    timings = [_invoke(given.endpoint_name, kind, body, len(request_rows), clock) for kind, body in requests]

    latencies = [ms for ms, _ in timings]
    median, slowest = statistics.median(latencies), max(latencies)
    invoked = sorted({v for _, v in timings if v}) or variants
    where = {"endpoint": given.endpoint_name, "model_package_arn": given.package_arn,
             "latencies_ms": [round(ms, 1) for ms in latencies], "budget_ms": given.budget_ms}
    if median > given.budget_ms:
        raise Failed("too_slow", f"p50 latency {median:.0f} ms over budget {given.budget_ms} ms "
                                 f"({len(latencies)} requests to {given.endpoint_name}, slowest {slowest:.0f} ms)", **where)
    summary = (f"{given.endpoint_name} serves version {package['version']} ({', '.join(invoked)}): "
               f"{len(request_rows)} rows x {len(requests)} requests (text/csv, application/json) answered with "
               f"probabilities; p50 {median:.0f} ms, slowest {slowest:.0f} ms, budget {given.budget_ms} ms")
    return Succeeded("passed", {"LatencyMs": str(round(median)), "Summary": summary[:1000]}, summary, where)


def lambda_handler(event, context=None, *, clock=time.perf_counter):
    remaining_ms = context.get_remaining_time_in_millis if context is not None else (lambda: 0)
    return pipeline_job.run(event, FUNCTION, lambda job: smoke_test(job, clock, remaining_ms))
