"""Staging endpoint stack: the approved version the deployment pipeline resolved, on one instance, for the smoke test.

No rollout guardrails, alarms, autoscaling or data capture: nothing but the smoke test calls it, and the deployment
pipeline's Staging stage deletes the stack once the smoke test has run (unless config deployment.keep_staging).
"""
from __future__ import annotations

from troposphere import Template

from infra.config.names import Names
from infra.cfn import parameters, scanner_skips
from infra.cfn.parameters import deployment_settings
from infra.cfn.templates_common import new_template
from infra.config.serving import STAGING_INSTANCES
from infra.parts import endpoint


def build(n: Names) -> Template:
    t = new_template("Staging SageMaker endpoint: the approved model version the deployment pipeline smoke-tests")
    parameters.declare_run_time(t)
    Model = endpoint.model(t)
    EndpointConfig = endpoint.endpoint_config(t, Model, deployment_settings(n).staging_instance_type, STAGING_INSTANCES)
    endpoint.endpoint(t, EndpointConfig, "StagingEndpointName")
    scanner_skips.apply(t, "staging-endpoint")
    return t
