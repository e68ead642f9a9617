"""The delivery pipeline's cost per run: what Synth installs, and how many CodeBuild builds a run starts."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.common import ROOT, Row

# Installed with every venv, and already on the CodeBuild image: not the generator's footprint.
BOOTSTRAP = ("pip", "setuptools", "_distutils_hack", "distutils-precedence.pth")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path.is_dir() else path.stat().st_size


def synth_install_footprint() -> tuple[float, float, float, int]:
    """(site-packages MB, same without pip/setuptools, install seconds, distributions) of a fresh venv with requirements.txt."""
    with tempfile.TemporaryDirectory(prefix="synth-venv-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        start = time.perf_counter()
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
             "--quiet", "-r", str(ROOT / "requirements.txt")],
            check=True,
        )
        seconds = time.perf_counter() - start
        site = next((venv / "lib").glob("python3*/site-packages"))
        total = _size(site)
        bootstrap = sum(_size(p) for p in site.iterdir() if p.name.split("-")[0] in BOOTSTRAP or p.name in BOOTSTRAP)
        dists = len([p for p in site.glob("*.dist-info") if p.name.split("-")[0] not in BOOTSTRAP])
    return total / 2**20, (total - bootstrap) / 2**20, seconds, dists


def codebuild_builds_per_run() -> int:
    """The most CodeBuild builds a run starts, over the envs' pipelines (templates/<env>/pipeline.yaml)."""
    import cfn_flip

    counts = []
    for path in sorted((ROOT / "templates").glob("*/pipeline.yaml")):
        tpl = json.loads(cfn_flip.to_json(path.read_text(), clean_up=False))
        stages = tpl["Resources"]["DeliveryPipeline"]["Properties"]["Stages"]
        counts.append(sum(1 for s in stages for a in s["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"))
    return max(counts)


def rows() -> list[Row]:
    total, own, seconds, dists = synth_install_footprint()
    builds = codebuild_builds_per_run()
    return [
        Row(f"Synth install: requirements.txt in a fresh venv ({dists} dists, site-packages without pip/setuptools), MB", f"{own:.1f}",
            "< 40 MB", "ok" if own < 40 else "OVER"),
        Row("  same, counting the venv's own pip/setuptools, MB", f"{total:.1f}"),
        Row("  pip install time (no cache, this machine's network), s", f"{seconds:.1f}"),
        Row("CodeBuild builds per pipeline run", str(builds), "2", "ok" if builds == 2 else "OVER"),
    ]
