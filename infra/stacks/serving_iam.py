"""Serving IAM stack: the roles of model deployment, apart from the IAM stack (whose template would pass
CloudFormation's 51,200 bytes inline with them).

Administrator-only, like the IAM and deploy-roles stacks: `make deploy` creates and changes it, the pipelines
never deploy it. It holds the runtime roles (the model-deployment pipeline's, the role EventBridge starts it with,
the resolve and smoke-test functions', the role SageMaker serves the endpoints' models with), each under the
boundary of its kind, and the roles CloudFormation deploys the deployment stack and each endpoint stack with (one
role per endpoint stack). Only an env whose config has a `deployment` block renders it (infra/stacks SERVING_STACKS):
elsewhere no role may serve a model, and turning serving on takes an administrator's `make deploy`.
"""
from __future__ import annotations

from troposphere import Template

from infra.config.names import Names
from infra.cfn.mappings import add_image_registries
from infra.cfn.templates_common import new_template
from infra.iam import deploy_policies
from infra.iam.boundary import DELIVERY, JOBS, SERVING_FUNCTIONS, SMOKE_TEST
from infra.iam.roles import exported_service_role
from infra.iam.runtime import delivery, functions, jobs

CLOUDFORMATION = "cloudformation.amazonaws.com"


def build(n: Names) -> Template:
    takes = n.models_source is not None  # serves another env's models (docs/promotion-serving.md)
    t = new_template("IAM roles of the SageMaker MLOps project's model deployment; changed only by an administrator")
    exported_service_role(t, "DeploymentPipelineRole", "DeploymentPipelineRoleName", "codepipeline.amazonaws.com",
                          "the model-deployment pipeline's service role", delivery.deployment_pipeline_statements(), DELIVERY)
    exported_service_role(t, "DeploymentEventsRole", "DeploymentEventsRoleName", "events.amazonaws.com",
                          "the role EventBridge uses to start the deployment pipeline on an approval or rejection",
                          delivery.deployment_events_statements(), DELIVERY)
    exported_service_role(t, "ResolveFunctionRole", "ResolveFunctionRoleName", "lambda.amazonaws.com",
                          "the resolve Lambda's role", functions.resolve_function_statements(takes), SERVING_FUNCTIONS)
    exported_service_role(t, "SmokeTestFunctionRole", "SmokeTestFunctionRoleName", "lambda.amazonaws.com",
                          "the smoke-test Lambda's role", functions.smoke_test_function_statements(takes), SMOKE_TEST)
    exported_service_role(t, "ModelRole", "ModelRoleName", "sagemaker.amazonaws.com",
                          "the role SageMaker serves the endpoints' models with", jobs.model_serving_statements(takes), JOBS)
    exported_service_role(t, "DeploymentDeployRole", "DeploymentDeployRoleName", CLOUDFORMATION,
                          "the role CloudFormation deploys the deployment stack with", deploy_policies.deployment_stack(),
                          boundary=None)
    # One role per endpoint stack: the Staging stage runs before the smoke test and the person's production approval,
    # so the role it passes reaches nothing of production's.
    exported_service_role(t, "StagingEndpointDeployRole", "StagingEndpointDeployRoleName", CLOUDFORMATION,
                          "the role CloudFormation deploys (and deletes) the staging endpoint stack with",
                          deploy_policies.staging_endpoint_stack(), boundary=None)
    exported_service_role(t, "ProductionEndpointDeployRole", "ProductionEndpointDeployRoleName", CLOUDFORMATION,
                          "the role CloudFormation deploys the production endpoint stack with",
                          deploy_policies.production_endpoint_stack(), boundary=None)
    add_image_registries(t, n.env.region)  # the registry account the image pulls name
    return t
