"""What the SageMaker pipeline promises the rest of the project: step names, report metrics.

Pure constants, no imports: the generator (infra/parts/kpi_dashboard.py) reads this module without the
SageMaker SDK, which only pipeline_def/pipeline.py imports. Tests hold both sides to it: the rendered
pipeline definition has exactly EXECUTED_STEPS, and evaluate.py's report exactly REPORT_METRICS.
"""

STEP_PREPROCESS = "PreprocessData"
STEP_TRAIN = "TrainModel"
STEP_EVALUATE = "EvaluateModel"
STEP_CONDITION = "CheckAucThreshold"
STEP_PACKAGE = "PackageModel"
STEP_REGISTER = "RegisterModel"
STEP_FAIL = "FailBelowThreshold"

# The step names an execution runs under (the StepName of SageMaker's StepFailed metric). The register
# step keeps its plain name (pipeline_def/pipeline.py renames the ModelStep's one sub-step).
EXECUTED_STEPS = (
    STEP_PREPROCESS,
    STEP_TRAIN,
    STEP_EVALUATE,
    STEP_CONDITION,
    STEP_PACKAGE,
    STEP_REGISTER,
    STEP_FAIL,
)

# What evaluate.py writes: {REPORT_SECTION: {metric: {"value": …, "standard_deviation": …}}}.
REPORT_SECTION = "binary_classification_metrics"
REPORT_METRICS = ("accuracy", "auc")
