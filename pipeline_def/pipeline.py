"""The model-build pipeline: preprocess -> train -> evaluate -> (AUC >= threshold ? package, register : fail).

`build_pipeline` is pure: it reads names and config values, the session's default bucket (set by
pipeline_def.session, never looked up) and the step scripts' bytes. No AWS calls, no uploads: the
step scripts are referenced by content-addressed s3:// URIs (code_uri) that upsert uploads first.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.network import NetworkConfig
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from infra.config import Environment
from infra.config.names import CODE_FOLDER, Names
from pipeline_def.interface import (
    STEP_CONDITION,
    STEP_EVALUATE,
    STEP_FAIL,
    STEP_PACKAGE,
    STEP_PREPROCESS,
    STEP_REGISTER,
    STEP_TRAIN,
)
from pipeline_def import sample_data
from pipeline_def.steps import evaluate as evaluate_script
from pipeline_def.steps import package as package_script

STEPS_DIR = Path(__file__).resolve().parent / "steps"
SCRIPTS = ("preprocess.py", "evaluate.py", "package.py")
# Modules the scripts import, fetched into every processing job's LIB_DIR; package.py also puts them
# into the registered model as its serving code.
LIBRARY = ("contract.py", "inference.py")
LIB_DIR = "/opt/ml/processing/input/lib"

# Container versions: the newest the pinned SDK's bundled image_uri_config knows (1.2-1 and 1.7-1
# run Python 3.9, past its end of life). scikit-learn 1.4-2 ships pandas 2.x and numpy 2.x; XGBoost
# 3.0-5 ships xgboost 3.0.5, pandas 2.2 and numpy 2.1 on Python 3.10: the scripts use only pandas,
# numpy and xgboost's Booster/DMatrix API, which all of these keep. Fixed here so the definition
# changes only when we change them.
SKLEARN_VERSION = "1.4-2"
XGBOOST_VERSION = "3.0-5"
PY_VERSION = "py3"

REGISTERED_STATUS = "PendingManualApproval"
STEP_ORDER = (STEP_PREPROCESS, STEP_TRAIN, STEP_EVALUATE, STEP_CONDITION)

# The report evaluate.py writes, and where in it the condition looks.
REPORT_NAME = "EvaluationReport"
REPORT_FILE = evaluate_script.REPORT_FILE
REPORT_METRIC_PATH = evaluate_script.REPORT_METRIC_PATH

# Early stopping on the validation AUC: rounds stop once it has not improved for 10 rounds (on the
# sample it peaks well before the cap), and the serving code predicts with the best round only.
XGBOOST_HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "num_round": "300",
    "early_stopping_rounds": "10",
    "max_depth": "5",
    "eta": "0.2",
    "gamma": "4",
    "min_child_weight": "6",
    "subsample": "0.8",
}


def script_key(names: Names, script: str) -> str:
    """S3 key of a step script: content-addressed, so an unchanged script keeps its key (and the definition)."""
    digest = hashlib.sha256((STEPS_DIR / script).read_bytes()).hexdigest()[:16]
    return f"{names.sagemaker_prefix}{CODE_FOLDER}/{digest}/{script}"


def library_prefix(names: Names) -> str:
    """S3 prefix holding LIBRARY, addressed by the content of all its files together."""
    digest = hashlib.sha256()
    for name in LIBRARY:
        digest.update(name.encode() + b"\0" + (STEPS_DIR / name).read_bytes() + b"\0")
    return f"{names.sagemaker_prefix}{CODE_FOLDER}/lib-{digest.hexdigest()[:16]}/"


# Every job runs with network isolation: its container reaches no network, so job code (a push's) cannot send the data
# it reads anywhere; SageMaker itself fetches the inputs and the code (ProcessingInputs) and uploads the outputs. The
# containers need nothing else: the built-in scikit-learn and XGBoost images hold every package the steps import, and
# the step code comes as an input, never installed. The execution role may start a job only so
# (sagemaker:NetworkIsolation, infra/iam/runtime/jobs.py).
ISOLATED = NetworkConfig(enable_network_isolation=True)


def default_input_data_url(names: Names, bucket: str) -> str:
    """A prefix: every file in it that matches FilePattern is read (the sample lands as input/churn.csv)."""
    return f"s3://{bucket}/{names.input_prefix}"


def parameters(names: Names, env: Environment, bucket: str) -> dict:
    """The pipeline parameters (name -> parameter), defaults from the env's config."""
    params = [
        ParameterString("ProcessingInstanceType", default_value=env.processing_instance_type),
        ParameterInteger("ProcessingInstanceCount", default_value=1),
        ParameterString("TrainingInstanceType", default_value=env.training_instance_type),
        ParameterInteger("TrainingInstanceCount", default_value=1),
        ParameterString("InputDataUrl", default_value=default_input_data_url(names, bucket)),
        # Dataset options; the defaults fit the generated sample (pipeline_def/sample_data.py).
        ParameterString("TargetColumn", default_value=sample_data.TARGET_COLUMN),
        ParameterString("PositiveValues", default_value=",".join(sample_data.POSITIVE_VALUES)),
        ParameterString("DropColumns", default_value=",".join(sample_data.DROP_COLUMNS)),
        ParameterString("FilePattern", default_value="*.csv"),
        ParameterFloat("ModelApprovalThreshold", default_value=env.model_approval_threshold),
    ]
    return {p.name: p for p in params}


def _option(flag: str, value) -> Join:
    """`--flag=<value>` as one argument: an empty value (DropColumns="") stays a non-empty argument."""
    return Join(on="", values=[f"--{flag}=", value])


# Instance types a registered version lists for real-time inference: these, and the ones the env's endpoints use.
DEFAULT_INFERENCE_INSTANCES = ("ml.t2.medium", "ml.m5.large")


def inference_instance_types(names: Names) -> list[str]:
    """What the version says it runs on: the defaults, and the endpoints' types of the env serving its versions (this
    env, and the env taking its models from another account, docs/promotion.md)."""
    types = set(DEFAULT_INFERENCE_INSTANCES)
    for served in (names, names.models_taker):
        if served is not None and served.env.deployment is not None:
            types |= {served.env.deployment.instance_type, served.env.deployment.staging_instance_type}
    return sorted(types)


def build_pipeline(names: Names, env: Environment, session: PipelineSession, *, role_arn: str, key_arn: str) -> Pipeline:
    """The SageMaker pipeline for one environment. `session` must have its default bucket set.

    `key_arn` is the artifact key's ARN: every processing and training job encrypts its outputs with it by name.
    The bucket policy refuses an upload naming any other key, and compares the key ARN form (not an alias)."""
    bucket = session.default_bucket()  # set by pipeline_def.session: returns without calling AWS
    region = session.boto_region_name
    p = parameters(names, env, bucket)
    data_uri = f"s3://{bucket}/{names.sagemaker_prefix}"
    execution = ExecutionVariables.PIPELINE_EXECUTION_ID
    library = ProcessingInput(input_name="lib", source=f"s3://{bucket}/{library_prefix(names)}", destination=LIB_DIR)

    # -- preprocess: validate, split (stratified), fit the contract on train ------------------------
    preprocessor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        role=role_arn,
        instance_type=p["ProcessingInstanceType"],
        instance_count=p["ProcessingInstanceCount"],
        base_job_name=f"{names.sagemaker_pipeline}-preprocess",
        output_kms_key=key_arn,
        network_config=ISOLATED,
        sagemaker_session=session,
    )
    outputs = ("train", "validation", "test", "contract")
    step_preprocess = ProcessingStep(
        STEP_PREPROCESS,
        step_args=preprocessor.run(
            code=f"s3://{bucket}/{script_key(names, 'preprocess.py')}",
            inputs=[ProcessingInput(input_name="data", source=p["InputDataUrl"], destination="/opt/ml/processing/input/data"), library],
            outputs=[
                ProcessingOutput(
                    output_name=name,
                    source=f"/opt/ml/processing/{name}",
                    destination=Join(on="", values=[f"{data_uri}data/", execution, f"/{name}"]),
                )
                for name in outputs
            ],
            arguments=[
                _option("target-column", p["TargetColumn"]),
                _option("positive-values", p["PositiveValues"]),
                _option("drop-columns", p["DropColumns"]),
                _option("file-pattern", p["FilePattern"]),
            ],
        ),
    )
    output_uri = {name: step_preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri for name in outputs}

    # -- train: built-in XGBoost, binary:logistic, early stopping on validation AUC ----------------
    xgboost_image = image_uris.retrieve(
        framework="xgboost", region=region, version=XGBOOST_VERSION, py_version=PY_VERSION, instance_type=env.training_instance_type
    )
    estimator = Estimator(
        image_uri=xgboost_image,
        role=role_arn,
        instance_type=p["TrainingInstanceType"],
        instance_count=p["TrainingInstanceCount"],
        output_path=f"{data_uri}models",
        base_job_name=f"{names.sagemaker_pipeline}-train",
        hyperparameters=XGBOOST_HYPERPARAMETERS,
        output_kms_key=key_arn,
        enable_network_isolation=True,
        # No Debugger tensors or profiler reports: nobody reads them, and neither config can name a KMS key.
        debugger_hook_config=False,
        disable_profiler=True,
        sagemaker_session=session,
    )
    step_train = TrainingStep(
        STEP_TRAIN,
        step_args=estimator.fit(
            inputs={
                "train": TrainingInput(output_uri["train"], content_type="text/csv"),
                "validation": TrainingInput(output_uri["validation"], content_type="text/csv"),
            }
        ),
    )
    model_data = step_train.properties.ModelArtifacts.S3ModelArtifacts

    def xgboost_processor(job: str, instance_count=p["ProcessingInstanceCount"]) -> ScriptProcessor:
        return ScriptProcessor(
            image_uri=xgboost_image,
            command=["python3"],
            role=role_arn,
            instance_type=p["ProcessingInstanceType"],
            instance_count=instance_count,
            base_job_name=f"{names.sagemaker_pipeline}-{job}",
            output_kms_key=key_arn,
            network_config=ISOLATED,
            sagemaker_session=session,
        )

    model_input = ProcessingInput(input_name="model", source=model_data, destination="/opt/ml/processing/model")
    contract_input = ProcessingInput(input_name="contract", source=output_uri["contract"], destination="/opt/ml/processing/contract")

    # -- evaluate: raw test rows through the serving code; evaluation.json where the KPI crawler looks --
    evaluation_uri = Join(on="", values=[f"s3://{bucket}/{names.evaluation_prefix}", execution])
    evaluation_file = Join(on="", values=[f"s3://{bucket}/{names.evaluation_prefix}", execution, f"/{REPORT_FILE}"])
    report = PropertyFile(name=REPORT_NAME, output_name="evaluation", path=REPORT_FILE)
    step_evaluate = ProcessingStep(
        STEP_EVALUATE,
        step_args=xgboost_processor("evaluate").run(
            code=f"s3://{bucket}/{script_key(names, 'evaluate.py')}",
            inputs=[
                model_input,
                ProcessingInput(input_name="test", source=output_uri["test"], destination="/opt/ml/processing/test"),
                contract_input,
                library,
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation", destination=evaluation_uri)],
        ),
        property_files=[report],
    )
    auc = JsonGet(step_name=step_evaluate.name, property_file=report, json_path=REPORT_METRIC_PATH)

    # -- package: booster + contract + serving code, the archive the model package points to --------
    step_package = ProcessingStep(
        STEP_PACKAGE,
        # One instance: every instance uploads its output to the same key, and the deployment refuses an archive
        # written more than once (lambda_src/deploy_resolve/archive.py).
        step_args=xgboost_processor("package", instance_count=1).run(
            code=f"s3://{bucket}/{script_key(names, 'package.py')}",
            inputs=[model_input, contract_input, library],
            outputs=[ProcessingOutput(output_name="package", source="/opt/ml/processing/package",
                                      destination=Join(on="", values=[f"{data_uri}models/", execution, "/package"]))],
        ),
    )
    packaged_model = Join(on="", values=[
        step_package.properties.ProcessingOutputConfig.Outputs["package"].S3Output.S3Uri, "/model.tar.gz"
    ])

    # -- register into the project's group, with the report as model-quality statistics ------------
    model = Model(
        image_uri=xgboost_image,
        model_data=packaged_model,
        role=role_arn,
        # The container's framework mode: serve with the packaged code (steps/inference.py).
        env=dict(package_script.SERVING_ENVIRONMENT),
        sagemaker_session=session,
    )
    step_register = ModelStep(
        f"{STEP_REGISTER}Collection",  # the collection's own name never reaches the definition
        step_args=model.register(
            content_types=["text/csv", "application/json"],
            response_types=["text/csv", "application/json"],
            inference_instances=inference_instance_types(names),
            transform_instances=["ml.m5.large"],
            model_package_group_name=names.model_package_group,
            # Fixed, not a parameter: approving is a person's act, and the execution role may create
            # only PendingManualApproval versions (sagemaker:ModelApprovalStatus condition, iam.yaml).
            approval_status=REGISTERED_STATUS,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(s3_uri=evaluation_file, content_type="application/json")
            ),
        ),
    )
    _rename_single_step(step_register, STEP_REGISTER)
    step_fail = FailStep(
        STEP_FAIL,
        error_message=Join(
            on="", values=["Model not registered: test AUC ", auc, " is below the approval threshold ", p["ModelApprovalThreshold"]]
        ),
    )
    step_condition = ConditionStep(
        STEP_CONDITION,
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=p["ModelApprovalThreshold"])],
        if_steps=[step_package, step_register],
        else_steps=[step_fail],
    )
    return Pipeline(
        name=names.sagemaker_pipeline,
        parameters=list(p.values()),
        steps=[step_preprocess, step_train, step_evaluate, step_condition],
        sagemaker_session=session,
        # No experiment/trial per execution: nobody reads them, and the execution role may not create them.
        pipeline_experiment_config=None,
    )


def _rename_single_step(collection: ModelStep, name: str) -> None:
    """ModelStep names its one register step "<collection>-RegisterModel"; give it the plain name we document."""
    (step,) = collection.steps  # a model without entry_point registers in one step, no repack
    step.name = name
