"""What the artifact bucket keeps, folder by folder: the one table the bucket's lifecycle is built from and
tests/iam/test_push_cannot_expire_retained_data.py checks every writer against.

The bucket is versioned, so an overwrite or a delete only makes a version noncurrent: data is lost when the lifecycle
expires that version. Code a push controls (the builds, the SageMaker jobs, the functions) may write under several
folders, so in a folder that holds data no version ever expires: whatever a push writes there, the original stays,
and no project role may delete an object version. Only scratch folders expire. A key under no folder of the table has
no rule either: it is kept.
"""
from __future__ import annotations

from dataclasses import dataclass

from infra.config.names import (ATHENA_RESULTS_PREFIX, BUILD_CACHE_PREFIX, DATA_CAPTURE_PREFIX, DECISIONS_PREFIX,
                                LAMBDA_PREFIX, RELEASE_KEY, REGISTRY_LEDGER_PREFIX)


@dataclass(frozen=True)
class Folder:
    """A key prefix (a template Sub string) and what the lifecycle does there. `retained`: every version is kept
    (replaced versions move to a cheaper storage class); else current objects expire after `days` (None: never) and
    replaced or deleted ones after `noncurrent_days`."""

    rule_id: str
    prefix: str
    why: str
    retained: bool = False
    days: int | None = None
    noncurrent_days: int | None = None


NONCURRENT_VERSION_DAYS = 30
RETAINED_TRANSITION_DAYS = 30  # S3 moves a noncurrent version to STANDARD_IA after 30 days at the earliest

FOLDERS: tuple[Folder, ...] = (
    Folder("KeepSageMakerData", "${SageMakerPrefix}", retained=True,
           why="input data, step code, splits and contract, model archives and evaluation reports: what trained, "
               "evaluated and ships each registered version"),
    Folder("KeepModelDecisions", DECISIONS_PREFIX, retained=True,
           why="who approved or rejected each model version and when: the analysts' decisions table"),
    Folder("KeepCapturedRequests", DATA_CAPTURE_PREFIX, retained=True,
           why="requests and responses the production endpoint captured"),
    Folder("ExpireQueryResults", ATHENA_RESULTS_PREFIX, days=30, noncurrent_days=NONCURRENT_VERSION_DAYS,
           why="Athena query results, read once right after the query"),
    Folder("ExpireReplacedBuildCaches", BUILD_CACHE_PREFIX, days=30, noncurrent_days=1,
           why="the upsert build's pip cache, rewritten by every build"),
    Folder("ExpirePipelineRunArtifacts", "${PipelineArtifactsPrefix}", days=90, noncurrent_days=NONCURRENT_VERSION_DAYS,
           why="the delivery pipeline's run artifacts, read only during their run"),
    Folder("ExpireDeploymentRunArtifacts", "${DeploymentArtifactsPrefix}", days=90,
           noncurrent_days=NONCURRENT_VERSION_DAYS,
           why="the model-deployment pipeline's run artifacts, read only during their run"),
    Folder("ExpireReplacedLambdaCode", LAMBDA_PREFIX, noncurrent_days=NONCURRENT_VERSION_DAYS,
           why="function zips, keyed by their content: Lambda keeps its own copy of deployed code"),
    Folder("ExpireReplacedReleases", RELEASE_KEY, noncurrent_days=NONCURRENT_VERSION_DAYS,
           why="the templates the delivery pipeline last released, replaced by every release"),
    Folder("ExpireReleasedLedgerMarkers", REGISTRY_LEDGER_PREFIX, noncurrent_days=NONCURRENT_VERSION_DAYS,
           why="empty markers that a registry change was counted or a change announced; losing one counts a KPI or "
               "sends a message twice, no data"),
)

RETAINED = tuple(folder for folder in FOLDERS if folder.retained)
