"""`make help`: the README's "Make targets" table, in the terminal. Standard library only: it runs before any venv.

The README is the one place that says what each target does; this prints its rows as `target  description`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def rows(text: str) -> list[tuple[str, str]]:
    """(target usage, what it does) for every table row that starts with a `make …` cell."""
    out = []
    for line in text.splitlines():
        if line.startswith("| `make "):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            out.append((cells[0].replace("`", ""), _LINK.sub(r"\1", cells[1]).replace("`", "")))
    return out


def main() -> int:
    for usage, what in rows(README.read_text(encoding="utf-8")):
        print(f"{usage:<50} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
