"""The documentation's links and citations point at things that exist.

Checked in README.md, docs/*.md, config/README.md and profiles/slurm/README.md:
- every relative Markdown link names an existing file or folder, and a `page.md#anchor` link a
  heading of that page (GitHub's slug);
- every test file cited (`test_x.py`, `tests/.../x.py`) exists somewhere under tests/ (tests may
  live in subfolders);
- every source path cited (`src/o1pruner/...`, `o1pruner/x.py`) exists;
- README.md stays a short guide (at most 160 lines).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 160


def doc_files(repo: Path = REPO) -> list[Path]:
    files = [repo / "README.md", *sorted((repo / "docs").glob("*.md")),
             repo / "config" / "README.md", repo / "profiles" / "slurm" / "README.md"]
    return [f for f in files if f.is_file()]


# ---- Markdown parsing ------------------------------------------------------------------------

FENCE = re.compile(r"^ {0,3}(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    out, fenced = [], None
    for no, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fenced is None:
                fenced = m.group(1)
            elif m.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            out.append((no, line))
    return out


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every inline link and link reference definition outside code."""
    found = []
    for no, line in prose_lines(text):
        m = REFERENCE_DEF.match(line)
        if m:
            found.append((no, m.group(1)))
            continue
        bare = INLINE_CODE.sub(lambda c: "x" * len(c.group(0)), line)  # keep the link, drop code
        found += [(no, m.group(1)) for m in INLINE_LINK.finditer(bare)]
    return found


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: inline Markdown dropped, lower case, punctuation
    removed (letters, digits, `_`, `-` and spaces kept), spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # [text](url) -> text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a Markdown page; a repeated slug gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(text):
        m = HEADING.match(line)
        if not m:
            continue
        slug = github_slug(m.group(2))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


# ---- the checks, each returning its problems ---------------------------------------------------

def dead_links(doc: Path, repo: Path = REPO) -> list[str]:
    problems = []
    text = doc.read_text(encoding="utf-8")
    for no, target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # http:, https:, mailto:, ...
        path_part, _, anchor = target.partition("#")
        where = f"{doc.relative_to(repo)}:{no}: ({target})"
        if path_part:
            base = repo if path_part.startswith("/") else doc.parent
            dest = (base / path_part.lstrip("/")).resolve()
            if not dest.exists():
                problems.append(f"{where} {path_part} does not exist")
                continue
        else:
            dest = doc
        if anchor and dest.is_file() and dest.suffix.lower() == ".md":
            if anchor.lower() not in anchors(dest.read_text(encoding="utf-8")):
                problems.append(f"{where} no heading of {path_part or doc.name} has the anchor #{anchor}")
    return problems


CITED_TEST = re.compile(r"(?<![\w.-])(tests/[\w./-]+\.py|test_\w+\.py)\b")


def cited_tests(text: str) -> set[str]:
    return set(CITED_TEST.findall(text))


def missing_tests(doc: Path, repo: Path = REPO) -> list[str]:
    present = {p.name for p in (repo / "tests").rglob("*.py")}
    return [f"{doc.relative_to(repo)}: {cited} (no {Path(cited).name} under tests/)"
            for cited in sorted(cited_tests(doc.read_text(encoding="utf-8")))
            if Path(cited).name not in present]


CITED_SOURCE = re.compile(r"(?<![\w/.-])((?:src/)?o1pruner/(?:[\w.-]+/)*(?:[\w-]+\.\w+|[\w-]+/?)?)")


def cited_sources(text: str) -> set[str]:
    return set(CITED_SOURCE.findall(text))


def missing_sources(doc: Path, repo: Path = REPO) -> list[str]:
    problems = []
    for cited in sorted(cited_sources(doc.read_text(encoding="utf-8"))):
        rel = cited[len("src/"):] if cited.startswith("src/") else cited
        if not (repo / "src" / rel).exists():
            problems.append(f"{doc.relative_to(repo)}: {cited} does not exist")
    return problems


def readme_too_long(readme: Path) -> list[str]:
    n = len(readme.read_text(encoding="utf-8").splitlines())
    if n <= README_MAX_LINES:
        return []
    return [f"README.md has {n} lines, at most {README_MAX_LINES}: move the detail into docs/"]


# ---- the tests on the repository's docs --------------------------------------------------------

def test_the_docs_are_found():
    names = {str(p.relative_to(REPO)) for p in doc_files()}
    assert {"README.md", "config/README.md", "profiles/slurm/README.md"} <= names
    assert any(n.startswith("docs/") for n in names)


def test_relative_links_and_anchors_resolve():
    problems = [p for doc in doc_files() for p in dead_links(doc)]
    assert not problems, "dead links:\n" + "\n".join(problems)


def test_cited_test_files_exist():
    problems = [p for doc in doc_files() for p in missing_tests(doc)]
    assert not problems, "cited test files that do not exist:\n" + "\n".join(problems)


def test_cited_source_paths_exist():
    problems = [p for doc in doc_files() for p in missing_sources(doc)]
    assert not problems, "cited source paths that do not exist:\n" + "\n".join(problems)


def test_readme_is_short():
    problems = readme_too_long(REPO / "README.md")
    assert not problems, problems


# ---- each check can fail -----------------------------------------------------------------------

@pytest.fixture
def fake_repo(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "tests" / "grading").mkdir(parents=True)
    (tmp_path / "tests" / "grading" / "test_moved.py").write_text("")
    (tmp_path / "src" / "o1pruner" / "grading").mkdir(parents=True)
    (tmp_path / "src" / "o1pruner" / "cli.py").write_text("")
    (tmp_path / "docs" / "page.md").write_text(
        "# A page\n\n## CUDA driver: 580 or newer\n\n## Tables 2–3 and `aes`\n\n## Repeat\n\n## Repeat\n\n"
        "```\n## not a heading\n```\n")
    return tmp_path


def _doc(repo: Path, text: str) -> Path:
    doc = repo / "README.md"
    doc.write_text(text)
    return doc


def test_github_slugs():
    assert github_slug("CUDA driver: 580 or newer") == "cuda-driver-580-or-newer"
    assert github_slug("AES: the Accuracy-Efficiency Score and the paper's tables") == \
        "aes-the-accuracy-efficiency-score-and-the-papers-tables"
    assert github_slug("Does the build converge? `o1pruner toy-check`") == \
        "does-the-build-converge-o1pruner-toy-check"
    assert github_slug("λ from the config to the loss") == "λ-from-the-config-to-the-loss"
    assert github_slug("Tables 2–3 and [the code](x.py)") == "tables-23-and-the-code"


def test_dead_link_checks_can_fail(fake_repo):
    good = _doc(fake_repo, "[p](docs/page.md) [a](docs/page.md#cuda-driver-580-or-newer) "
                "[b](docs/page.md#tables-23-and-aes) [r](docs/page.md#repeat-1) [d](docs/) "
                "[w](https://example.org/missing.md) `[code](missing.md)`\n"
                "```\n[fenced](missing.md)\n```\n[self](#top)\n# Top\n")
    assert dead_links(good, fake_repo) == []
    bad = _doc(fake_repo, "x [gone](docs/gone.md) and [anchor](docs/page.md#no-such-heading)\n"
               "[fenced heading](docs/page.md#not-a-heading) [repeat](docs/page.md#repeat-2)\n"
               "[`code text`](docs/gone2.md)\n[ref]: docs/gone3.md\n")
    problems = dead_links(bad, fake_repo)
    assert len(problems) == 6, problems
    assert "README.md:1:" in problems[0] and "docs/gone.md does not exist" in problems[0]
    assert "#no-such-heading" in problems[1]


def test_missing_test_check_can_fail(fake_repo):
    doc = _doc(fake_repo, "`test_moved.py::test_x`, `tests/test_moved.py`, tests/grading/test_moved.py\n")
    assert missing_tests(doc, fake_repo) == []
    doc = _doc(fake_repo, "see `tests/test_data.py` and test_datasets.py, not bench_grading.py\n")
    problems = missing_tests(doc, fake_repo)
    assert [p.split(": ", 1)[1].split(" ")[0] for p in problems] == ["test_datasets.py", "tests/test_data.py"]


def test_missing_source_check_can_fail(fake_repo):
    doc = _doc(fake_repo, "`src/o1pruner/grading/`, `o1pruner/cli.py`, src/o1pruner/cli.py. "
               "StarDewXXX/O1-Pruner, `o1pruner.grading.Grader`\n")
    assert missing_sources(doc, fake_repo) == []
    doc = _doc(fake_repo, "`src/o1pruner/plan.py`, `o1pruner/lh_trainer.py`, `src/o1pruner/cluster/`.\n")
    problems = missing_sources(doc, fake_repo)
    assert len(problems) == 3, problems


def test_readme_length_check_can_fail(fake_repo):
    assert readme_too_long(_doc(fake_repo, "line\n" * README_MAX_LINES)) == []
    assert readme_too_long(_doc(fake_repo, "line\n" * (README_MAX_LINES + 1)))
