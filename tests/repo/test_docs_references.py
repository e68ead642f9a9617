"""What the README and docs/ point to exists, and nothing in the repository points outside it.

Found: the README, the demo's output, code comments and test docstrings cited notes kept outside the
repository, the Makefile and pipeline_def/ named docs pages that did not exist, and the README's figures
had drifted from the code. This checks, for README.md and every docs/*.md: each relative markdown link
leads to a file of the repository (and its #anchor to a heading there), and each backticked repository
path (`infra/config/names.py`, `tests/test_x.py::test_y`, `docs/`) exists; and, for every file of the repository,
that each docs page it names exists and that it names no developer notes from outside the repository.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Built, not written out, so this file does not mention them either.
OUTSIDE_REFERENCES = ("../" + "shared", *(f"{name}.md" for name in ("FACTS", "STYLE", "REVIEW")))

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
DOCS_PAGE = re.compile(r"\bdocs/[\w.-]+\.md\b")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
PLACEHOLDER = re.compile(r"[<>*{}…$()\[\]|=]")


def repository_files(root: Path) -> list[Path]:
    """Tracked files, and new ones not ignored (so a page not yet added is checked too)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                                capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout")
    return sorted(root / rel for rel in listed if rel and (root / rel).is_file())


def markdown_pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def _inside(root: Path, target: Path) -> bool:
    try:
        target.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _shown(root: Path, path: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def link_problems(root: Path, page: Path) -> list[str]:
    shown = page.relative_to(root).as_posix()
    problems = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path) if path else page
            where = f"{shown}:{number}: link ({target})"
            if not _inside(root, dest):
                problems.append(f"{where} leads outside the repository")
            elif not dest.exists():
                problems.append(f"{where}: {_shown(root, dest)} does not exist")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: no heading #{anchor} in {_shown(root, dest)}")
    return problems


ENV_CONFIG_FILE = re.compile(r"config/(?!project\.yaml$)[a-z0-9-]+\.yaml")


def path_problems(root: Path, page: Path, top_level: set[str]) -> list[str]:
    """Backticked repository paths: the first segment is one of the repository's top-level entries."""
    shown = page.relative_to(root).as_posix()
    problems = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        for code in INLINE_CODE.findall(line):
            candidate = code.split("::", 1)[0]  # tests/test_x.py::test_name
            if " " in candidate or "://" in candidate or PLACEHOLDER.search(candidate):
                continue  # a command, a URL, or a pattern such as templates/<env>/*.json
            first = candidate.split("/", 1)[0]
            if first not in top_level or ("/" not in candidate and "." not in candidate and first != "Makefile"):
                continue
            if ENV_CONFIG_FILE.fullmatch(candidate):
                continue  # the sample's env files (config/dev.yaml): an adopter renames or drops them
            if not (root / candidate).exists():
                problems.append(f"{shown}:{number}: `{code}` does not exist")
    return problems


def top_level_entries(root: Path, files: list[Path]) -> set[str]:
    return {f.relative_to(root).parts[0] for f in files}


def outside_references(root: Path, files: list[Path]) -> list[str]:
    problems = []
    for path in files:
        if path.resolve() == Path(__file__).resolve():
            continue  # its broken examples below are the point; what it must not mention, it builds
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(root).as_posix()
        for needle in OUTSIDE_REFERENCES:
            if needle in text:
                problems.append(f"{rel}: mentions {needle}, which is not in the repository")
        for page in sorted(set(DOCS_PAGE.findall(text))):
            if not (root / page).is_file():
                problems.append(f"{rel}: names {page}, which does not exist")
    return problems


def test_every_link_in_the_readme_and_docs_leads_to_a_file_and_heading_of_the_repository():
    problems = [p for page in markdown_pages(ROOT) for p in link_problems(ROOT, page)]
    assert not problems, "\n".join(problems)


def test_every_repository_path_the_readme_and_docs_mention_exists():
    top = top_level_entries(ROOT, repository_files(ROOT))
    problems = [p for page in markdown_pages(ROOT) for p in path_problems(ROOT, page, top)]
    assert not problems, "\n".join(problems)


def test_nothing_in_the_repository_points_outside_it_or_to_a_missing_docs_page():
    problems = outside_references(ROOT, repository_files(ROOT))
    assert not problems, "\n".join(problems)


def test_the_readme_has_a_table_of_contents_and_stays_short():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, "depth belongs in docs/"
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = {anchor for anchor in re.findall(r"\]\(#([^)]+)\)", contents)}
    sections = {slug(m.group(2)) for _, line in _prose_lines(text) if (m := HEADING.match(line)) and len(m.group(1)) == 2}
    assert listed == sections - {"contents"}


# The checks themselves, on a small repository with deliberate mistakes: each must be found.
@pytest.fixture
def broken_repository(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "names.py").write_text("")
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Deploy: `make deploy ENV=dev`\n\nBack to the [README](../README.md).\n")
    (tmp_path / "README.md").write_text(
        "# Project\n\n"
        "Read [the guide](docs/guide.md), [its deploy part](docs/guide.md#deploy-make-deploy-envdev), "
        "[AWS](https://aws.amazon.com/) and `infra/names.py`; patterns like `templates/<env>/*.json` are skipped.\n"
        "Broken: [a missing page](docs/missing.md), [a missing heading](docs/guide.md#nowhere), "
        "[outside](../elsewhere.md), `infra/nameless.py`, `infra/names.py::test_gone` is a test of a file that exists.\n"
        "```\n[inside a fence](docs/not-checked.md) `infra/fenced.py`\n```\n"
    )
    (tmp_path / "infra" / "notes.py").write_text("# see docs/gone.md and " + OUTSIDE_REFERENCES[1] + "\n")
    return tmp_path


def test_the_checks_find_broken_links_paths_and_outside_references(broken_repository):
    root = broken_repository
    links = link_problems(root, root / "README.md")
    assert [p.split(": link ")[1] for p in links] == [
        "(docs/missing.md): docs/missing.md does not exist",
        "(docs/guide.md#nowhere): no heading #nowhere in docs/guide.md",
        "(../elsewhere.md) leads outside the repository",
    ]
    assert link_problems(root, root / "docs" / "guide.md") == []
    files = [root / "README.md", root / "docs" / "guide.md", root / "infra" / "names.py", root / "infra" / "notes.py"]
    assert path_problems(root, root / "README.md", top_level_entries(root, files)) == [
        "README.md:4: `infra/nameless.py` does not exist",
    ]
    assert outside_references(root, files) == [
        "README.md: names docs/missing.md, which does not exist",
        "README.md: names docs/not-checked.md, which does not exist",
        f"infra/notes.py: mentions {OUTSIDE_REFERENCES[1]}, which is not in the repository",
        "infra/notes.py: names docs/gone.md, which does not exist",
    ]


def test_github_heading_anchors():
    assert slug("Bootstrap: `make deploy ENV=dev`") == "bootstrap-make-deploy-envdev"
    assert slug("2. Give them Athena and Glue on their side") == "2-give-them-athena-and-glue-on-their-side"
    assert slug("Quick start: from zero to a first model") == "quick-start-from-zero-to-a-first-model"
