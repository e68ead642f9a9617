"""What the rest of the project relies on from the model-build code: bring your own model, keep these.

docs/bring-your-own-model.md explains each. Replacing preprocess/train/evaluate is welcome; breaking one of
these fails here, naming which part of the system would stop working.
"""
from __future__ import annotations

import json

import numpy as np

from pipeline_def import interface
from pipeline_def.steps import evaluate


def _condition_path(definition: dict) -> str:
    condition = next(s for s in definition["Steps"] if s["Type"] == "Condition")
    (check,) = condition["Arguments"]["Conditions"]
    return check["LeftValue"]["Std:JsonGet"]["Path"]


def contract_problems(report: dict, definition: dict) -> list[str]:
    """Each broken promise, with who depends on it."""
    problems = []
    section = report.get(interface.REPORT_SECTION)
    if not isinstance(section, dict):
        return [f"the report has no '{interface.REPORT_SECTION}' section: the notifier, the KPI metrics and Athena read it"]
    for metric in interface.REPORT_METRICS:
        value = section.get(metric, {}).get("value") if isinstance(section.get(metric), dict) else None
        if not isinstance(value, (int, float)):
            problems.append(f"report lacks {interface.REPORT_SECTION}.{metric}.value: the dashboard's quality graph lists it")
    node = report
    for part in _condition_path(definition).split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, (int, float)):
        problems.append(f"the condition reads {_condition_path(definition)}, which the report does not have: no version would register")
    executed = {s["Name"] for step in definition["Steps"] for s in [step, *step.get("Arguments", {}).get("IfSteps", []),
                                                                  *step.get("Arguments", {}).get("ElseSteps", [])]}
    missing = sorted(set(interface.EXECUTED_STEPS) - executed)
    if missing:
        problems.append(f"steps {missing} are not in the definition: the dashboard's failed-steps graph lists them")
    return problems


def _report() -> dict:
    labels = np.array([0, 0, 1, 1, 0, 1])
    return evaluate.report(labels, np.array([0.1, 0.4, 0.8, 0.7, 0.2, 0.9]))


def test_the_report_and_the_definition_keep_their_promises(definitions):
    for env, definition in definitions.items():
        assert contract_problems(_report(), definition) == [], env


def test_both_functions_read_the_report_evaluate_writes():
    from lambda_src.get_model_metadata import report as notifier_report
    from lambda_src.registry_metrics import report as metrics_report

    doc = _report()
    assert set(metrics_report.quality_metrics(json.dumps(doc).encode())) == set(interface.REPORT_METRICS)
    lines = "\n".join(notifier_report.format_metrics(doc))
    assert all(metric in lines for metric in interface.REPORT_METRICS)


def test_a_renamed_metric_or_step_is_named_with_what_breaks(definitions):
    definition = next(iter(definitions.values()))
    renamed = _report()
    renamed[interface.REPORT_SECTION]["roc_auc"] = renamed[interface.REPORT_SECTION].pop("auc")
    problems = contract_problems(renamed, definition)
    assert any("auc.value: the dashboard" in p for p in problems) and any("no version would register" in p for p in problems)
    trimmed = {**definition, "Steps": [s for s in definition["Steps"] if s["Name"] != interface.STEP_TRAIN]}
    assert any("the dashboard's failed-steps graph" in p for p in contract_problems(_report(), trimmed))
