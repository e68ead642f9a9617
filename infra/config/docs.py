"""Render docs/configuration.md's key tables from infra/config/schema.py: `python -m infra.config.docs` rewrites
the part between the markers; tests/config/test_configuration_docs_follow_the_schema.py fails while it differs."""
from __future__ import annotations

import json
import re
from pathlib import Path

from infra.config import schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
BEGIN = "<!-- keys: generated from infra/config/schema.py by `python -m infra.config.docs`; edit the schema, not this -->"
END = "<!-- end of keys -->"


def _rows(schema_: dict, prefix: str = "", required: str | None = "yes"):
    """(key, required, default, meaning) for each described key; `required` is what to say of a required key here."""
    for key, sub in schema_.get("properties", {}).items():
        needed = required if key in schema_.get("required", ()) else None
        if "description" in sub:
            yield f"`{prefix}{key}`", needed or "no", _default(sub), sub["description"]
        yield from _rows(sub, f"{prefix}{key}.", needed)
    for case in schema_.get("allOf", ()):  # the keys of one source type
        yield from _rows(case["then"], prefix, required and f"for `{case['if']['properties']['type']['const']}`")


def _default(sub: dict) -> str:
    if "default" not in sub:
        return sub.get("x-default", "")
    text = json.dumps(sub["default"]).replace('"', "")
    return f"`{text}`" if text not in ("", "[]", "{}") else "none"


def table(schema_: dict) -> str:
    lines = ["| key | required | default | meaning |", "|---|---|---|---|"]
    return "\n".join(lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in _rows(schema_)])


def render(doc: str) -> str:
    """`doc` with the text between the markers replaced by the tables of both files."""
    tables = f"`config/project.yaml`:\n\n{table(schema.PROJECT)}\n\n`config/<env>.yaml`:\n\n{table(schema.ENVIRONMENT)}"
    return re.sub(f"{re.escape(BEGIN)}.*?{re.escape(END)}", lambda _: f"{BEGIN}\n\n{tables}\n\n{END}", doc, flags=re.S)


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
