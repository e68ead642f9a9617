"""One line per step as it happens (flushed), detail lines under it, and the closing table."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass


class Broken(Exception):
    """A link in the chain does not hold: the demo stops and exits 1."""


@dataclass
class Row:
    title: str
    result: str = ""
    ok: bool | None = None
    seconds: float = 0.0


class Progress:
    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.rows: list[Row] = []

    def say(self, text: str = "", indent: int = 4) -> None:
        pad = " " * indent
        for line in str(text).splitlines() or [""]:
            print(pad + line if line else "", file=self.out, flush=True)

    @contextmanager
    def step(self, title: str):
        """Yields the Row; the step sets row.result. Any exception marks it failed and stops the demo."""
        row = Row(title)
        self.rows.append(row)
        print(f"[{len(self.rows)}] {title}", file=self.out, flush=True)
        started = time.perf_counter()
        try:
            yield row
        except Exception as exc:
            row.ok, row.seconds = False, time.perf_counter() - started
            row.result = str(exc) if isinstance(exc, Broken) else f"{type(exc).__name__}: {exc}"
            self.say(f"FAILED: {row.result}")
            raise Broken(row.result) from exc
        row.ok, row.seconds = True, time.perf_counter() - started
        self.say(f"ok: {row.result}")

    def table(self, pending: list[str]) -> str:
        rows = [(str(i), r.title, "ok" if r.ok else "FAILED", f"{r.seconds:.1f}s", r.result) for i, r in enumerate(self.rows, 1)]
        rows += [(str(len(rows) + i), title, "not run", "", "") for i, title in enumerate(pending, 1)]
        head = ("#", "step", "result", "time", "detail")
        widths = [max(len(r[c]) for r in rows + [head]) for c in range(4)]
        lines = [f"{a:>{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {t:>{widths[3]}}  {d}" for a, b, c, t, d in [head] + rows]
        return "\n".join(lines)
