"""The README's first screen: what is verified offline and what only a deploy shows, then the quick start, then the
diagrams (a new user reads the first steps before the architecture)."""
from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _at(pattern: str) -> int:
    found = re.search(pattern, README, re.MULTILINE)
    assert found, pattern
    return found.start()


def test_what_is_verified_comes_first_then_the_quick_start_then_the_diagrams():
    verified = _at(r"^## What is verified offline, and what only a first deploy shows$")
    quick_start = _at(r"^## Quick start")
    first_diagram = _at(r"^```mermaid")
    assert verified < quick_start < first_diagram
    assert [h for h in re.findall(r"^## (.+)$", README[:verified], re.MULTILINE)] == []  # nothing before it but the intro


def test_the_verified_section_names_both_sides():
    section = README[_at(r"^## What is verified offline"):_at(r"^## Contents")]
    assert "**Verified offline" in section and "**Only a first deploy shows:**" in section
