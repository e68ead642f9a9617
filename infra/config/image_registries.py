"""The account of AWS's ECR registry of SageMaker's built-in images, per region, as sagemaker 2.257.7 ships it.

The model-build pipeline (pipeline_def/) runs SageMaker's scikit-learn 1.4-2 image (processing) and XGBoost
3.0-5 image (training, evaluation, serving); the SDK names their registry account per region in its bundled
image_uri_config (sklearn.json, xgboost.json). Both images live in the same account in every region the SDK
knows, so one table serves both. Kept here so the generator names that account in the roles that pull the
images (and in their boundary) offline, without installing the SDK (the Synth step installs only what
generating needs); tests/iam/test_image_registries.py holds this table to the pinned SDK's data for the versions
pipeline_def uses, so an SDK or image upgrade that moves a registry says to refresh it. Config refuses a
region missing here: no role could pull the images there.
"""
from __future__ import annotations

# region -> the AWS account whose ECR registry serves sagemaker-scikit-learn and sagemaker-xgboost there
BUILT_IN_IMAGE_REGISTRIES: dict[str, str] = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "ca-west-1": "190319476487",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-iso-east-1": "833128469047",
    "us-isob-east-1": "281123927165",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}
