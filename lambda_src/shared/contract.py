"""What the functions share with the generator. Pure constants, no imports: the generator reads this module.

ARCHIVE_TAG: the tag put on the one S3 object version of an archive that may be served (value: the model package
version's ARN; shared/archives.py). The endpoints' model role reads archives only with this tag
(infra/iam/runtime/jobs.py), and no role that runs the repository's code may tag objects: an archive overwritten by a
later push is a new, untagged object version that serving cannot load.
"""

ARCHIVE_TAG = "approved-model-package"
