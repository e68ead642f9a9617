#!/usr/bin/env python3
"""Render each environment's CloudFormation templates: templates/<env>/<stack>.yaml, concrete, and beside each
its TemplateConfiguration (<stack>.json: stack tags, stack policy, placeholders of run-time parameters).

    python generate.py                 # every stack, every environment, into templates/
    python generate.py --env dev       # only dev's files (the others are left as they are)
    python generate.py --check         # exit 1 if templates/ is not what the code renders now

A render also removes the files it made before and no longer makes (an environment taken out of config
leaves templates/<env>/ behind otherwise); `--check` reports them. It owns only the files under templates/
that it wrote, never anything else (infra/output/render.py, `leftovers`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra import config
from infra.output import render

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", help="render only this environment's files")
    parser.add_argument("--out", type=Path, default=ROOT / "templates", help="output folder (default: templates/)")
    parser.add_argument("--config", type=Path, default=config.CONFIG_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help="compare a fresh render with --out; list stale, missing or leftover files")
    args = parser.parse_args(argv)

    try:
        # Each env's files come from its own config alone: --env loads (and checks) only that env's file.
        project = config.load(args.config, only_env=args.env)  # refuses an unknown env with the configured names
        files = render.render(project)  # refuses a config whose templates CloudFormation would not take
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if args.check:
        problems = render.stale(args.out, files, only_env=args.env)
        if problems:
            print("\n".join(problems))
            print(f"{len(problems)} file(s) differ from a fresh render; run `make templates` to refresh them.", file=sys.stderr)
            return 1
        print(f"{len(files)} files up to date in {args.out}")
        return 0

    try:
        written = render.write_atomically(args.out, files)
        removed = render.remove_leftovers(args.out, files, only_env=args.env)
    except (render.OutsideOutput, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for rel in removed:
        print(f"removed: {args.out / rel} (config no longer renders it)")
    print(f"{len(files)} files rendered into {args.out} ({len(written)} changed, {len(removed)} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
