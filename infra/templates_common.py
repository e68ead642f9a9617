"""What every template starts with."""
from __future__ import annotations

from troposphere import Template

FORMAT_VERSION = "2010-09-09"


def new_template(description: str) -> Template:
    template = Template(Description=description)
    template.set_version(FORMAT_VERSION)
    return template
