"""What every template starts with."""
from __future__ import annotations

from troposphere import Template

FORMAT_VERSION = "2010-09-09"


def new_template(description: str) -> Template:
    template = Template(Description=description)
    template.set_version(FORMAT_VERSION)
    return template


# What holds data outlives its stack and any replacement. A stack whose *creation* fails still cleans up
# (RetainExceptOnCreate): a retained orphan would make the retry fail with "already exists".
RETAIN_DELETION = "RetainExceptOnCreate"
RETAIN_REPLACEMENT = "Retain"
RETAINED = ("Retain", "RetainExceptOnCreate")


def retain(resource):
    """Keep what holds data (see above); returns the resource."""
    resource.DeletionPolicy = RETAIN_DELETION
    resource.UpdateReplacePolicy = RETAIN_REPLACEMENT
    return resource
