"""The model-build pipeline: preprocess -> train -> evaluate -> (AUC >= threshold ? register : fail).

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
from infra.names import Names
from pipeline_def.contract import STEP_CONDITION, STEP_EVALUATE, STEP_FAIL, STEP_PREPROCESS, STEP_REGISTER, STEP_TRAIN
from pipeline_def.steps import evaluate as evaluate_script

STEPS_DIR = Path(__file__).resolve().parent / "steps"
SCRIPTS = ("preprocess.py", "evaluate.py")

# Container versions: the newest the SDK's bundled image_uri_config knows for both, kept fixed so the
# definition (and so the pipeline) changes only when we change them.
SKLEARN_VERSION = "1.2-1"
XGBOOST_VERSION = "1.7-1"
PY_VERSION = "py3"

STEP_ORDER = (STEP_PREPROCESS, STEP_TRAIN, STEP_EVALUATE, STEP_CONDITION)

# The report evaluate.py writes, and where in it the condition looks.
REPORT_NAME = "EvaluationReport"
REPORT_FILE = evaluate_script.REPORT_FILE
REPORT_METRIC_PATH = evaluate_script.REPORT_METRIC_PATH

XGBOOST_HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "num_round": "100",
    "max_depth": "5",
    "eta": "0.2",
    "gamma": "4",
    "min_child_weight": "6",
    "subsample": "0.8",
}


def script_key(names: Names, script: str) -> str:
    """S3 key of a step script: content-addressed, so an unchanged script keeps its key (and the definition)."""
    digest = hashlib.sha256((STEPS_DIR / script).read_bytes()).hexdigest()[:16]
    return f"{names.sagemaker_prefix}code/{digest}/{script}"


def default_input_data_url(names: Names, bucket: str) -> str:
    return f"s3://{bucket}/{names.sagemaker_prefix}input/churn.csv"


def parameters(names: Names, env: Environment, bucket: str) -> dict:
    """The pipeline parameters (name -> parameter), defaults from the env's config."""
    params = [
        ParameterString("ProcessingInstanceType", default_value=env.processing_instance_type),
        ParameterInteger("ProcessingInstanceCount", default_value=1),
        ParameterString("TrainingInstanceType", default_value=env.training_instance_type),
        ParameterInteger("TrainingInstanceCount", default_value=1),
        ParameterString("InputDataUrl", default_value=default_input_data_url(names, bucket)),
        ParameterString(
            "ModelApprovalStatus",
            default_value="PendingManualApproval",
            enum_values=["PendingManualApproval", "Approved", "Rejected"],
        ),
        ParameterFloat("ModelApprovalThreshold", default_value=env.model_approval_threshold),
    ]
    return {p.name: p for p in params}


def build_pipeline(names: Names, env: Environment, session: PipelineSession, *, role_arn: str) -> Pipeline:
    """The SageMaker pipeline for one environment. `session` must have its default bucket set."""
    bucket = session.default_bucket()  # set by pipeline_def.session: returns without calling AWS
    region = session.boto_region_name
    p = parameters(names, env, bucket)
    data_uri = f"s3://{bucket}/{names.sagemaker_prefix}"
    execution = ExecutionVariables.PIPELINE_EXECUTION_ID

    # -- preprocess: split the input into train/validation/test -----------------------------------
    preprocessor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
        role=role_arn,
        instance_type=p["ProcessingInstanceType"],
        instance_count=p["ProcessingInstanceCount"],
        base_job_name=f"{names.sagemaker_pipeline}-preprocess",
        sagemaker_session=session,
    )
    step_preprocess = ProcessingStep(
        STEP_PREPROCESS,
        step_args=preprocessor.run(
            code=f"s3://{bucket}/{script_key(names, 'preprocess.py')}",
            inputs=[ProcessingInput(source=p["InputDataUrl"], destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(
                    output_name=split,
                    source=f"/opt/ml/processing/{split}",
                    destination=Join(on="", values=[f"{data_uri}data/", execution, f"/{split}"]),
                )
                for split in ("train", "validation", "test")
            ],
        ),
    )
    split_uri = {
        split: step_preprocess.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri
        for split in ("train", "validation", "test")
    }

    # -- train: built-in XGBoost, binary:logistic ---------------------------------------------------
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
        sagemaker_session=session,
    )
    step_train = TrainingStep(
        STEP_TRAIN,
        step_args=estimator.fit(
            inputs={
                "train": TrainingInput(split_uri["train"], content_type="text/csv"),
                "validation": TrainingInput(split_uri["validation"], content_type="text/csv"),
            }
        ),
    )
    model_data = step_train.properties.ModelArtifacts.S3ModelArtifacts

    # -- evaluate: writes evaluation.json where the KPI crawler looks ------------------------------
    evaluation_uri = Join(on="", values=[f"s3://{bucket}/{names.evaluation_prefix}", execution])
    evaluation_file = Join(on="", values=[f"s3://{bucket}/{names.evaluation_prefix}", execution, f"/{REPORT_FILE}"])
    report = PropertyFile(name=REPORT_NAME, output_name="evaluation", path=REPORT_FILE)
    evaluator = ScriptProcessor(
        image_uri=xgboost_image,
        command=["python3"],
        role=role_arn,
        instance_type=p["ProcessingInstanceType"],
        instance_count=p["ProcessingInstanceCount"],
        base_job_name=f"{names.sagemaker_pipeline}-evaluate",
        sagemaker_session=session,
    )
    step_evaluate = ProcessingStep(
        STEP_EVALUATE,
        step_args=evaluator.run(
            code=f"s3://{bucket}/{script_key(names, 'evaluate.py')}",
            inputs=[
                ProcessingInput(source=model_data, destination="/opt/ml/processing/model"),
                ProcessingInput(source=split_uri["test"], destination="/opt/ml/processing/test"),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation", destination=evaluation_uri)],
        ),
        property_files=[report],
    )
    auc = JsonGet(step_name=step_evaluate.name, property_file=report, json_path=REPORT_METRIC_PATH)

    # -- register into the project's group, with the report as model-quality statistics ------------
    model = Model(image_uri=xgboost_image, model_data=model_data, role=role_arn, sagemaker_session=session)
    step_register = ModelStep(
        STEP_REGISTER,
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=names.model_package_group,
            approval_status=p["ModelApprovalStatus"],
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(s3_uri=evaluation_file, content_type="application/json")
            ),
        ),
    )
    step_fail = FailStep(
        STEP_FAIL,
        error_message=Join(
            on="", values=["Model not registered: test AUC ", auc, " is below the approval threshold ", p["ModelApprovalThreshold"]]
        ),
    )
    step_condition = ConditionStep(
        STEP_CONDITION,
        conditions=[ConditionGreaterThanOrEqualTo(left=auc, right=p["ModelApprovalThreshold"])],
        if_steps=[step_register],
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
