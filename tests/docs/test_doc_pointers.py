"""Docs and code point only at what the repository holds: defect codes, doc links, files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METHOD = ROOT / "docs" / "method.md"
CODE = re.compile(r"(?<![\w/#-])([WB])-(\d+)\b")
LINK = re.compile(r"\]\(([^)#\s]*\.md)?(?:#([\w-]+))?\)")


def _files() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for folder in ("src", "tests", "bench", "integrations"):
        found += sorted(p for p in (ROOT / folder).rglob("*")
                        if p.suffix in (".py", ".md", ".sh", ".yaml") and p.is_file()
                        and "__pycache__" not in p.parts)
    return [p for p in found if p != Path(__file__).resolve()]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a markdown file's headings."""
    out = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def test_every_defect_code_is_defined_in_method_md() -> None:
    defined = {a.upper() for a in _anchors(METHOD) if re.fullmatch(r"[wb]-\d+", a)}
    assert len(defined) == 26  # W-1..W-15, B-1..B-11
    cited: dict[str, set[str]] = {}
    for path in _files():
        for kind, number in CODE.findall(path.read_text()):
            cited.setdefault(f"{kind}-{number}", set()).add(str(path.relative_to(ROOT)))
    assert cited, "no code cited anywhere: the pattern reads nothing"
    undefined = {code: sorted(where) for code, where in cited.items() if code not in defined}
    assert not undefined, undefined


def test_every_file_citing_a_code_says_where_it_is_defined() -> None:
    for path in _files():
        text = path.read_text()
        if path == METHOD or not CODE.search(text):
            continue
        if path.suffix == ".md":  # each code is a link into method.md
            bare = [m.group(0) for m in CODE.finditer(text)
                    if not text[m.end():].startswith("](")]
            assert not bare, (path, bare)
        else:
            assert "docs/method.md" in text, path


def test_links_between_docs_resolve() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target, anchor in LINK.findall(path.read_text()):
            if target.startswith("http"):
                continue
            doc = (path.parent / target).resolve() if target else path
            assert doc.exists(), (path, target)
            if anchor:
                assert anchor in _anchors(doc), (path, target, anchor)


def test_nothing_points_outside_the_repository() -> None:
    notes = r"DESIGN\.md|execverify-method|integration-notes|sandbox-notes|" \
            r"integrations/openrlhf/script\.sh"
    # Tests and benches may look for the project's benchmark data beside the checkout (and
    # skip without it); what a user reads or runs may not.
    user_facing = re.compile(notes + r"|\.\./shared")
    anywhere = re.compile(notes)
    found = []
    for path in _files():
        rel = path.relative_to(ROOT)
        pattern = anywhere if rel.parts[0] in ("tests", "bench") else user_facing
        if pattern.search(path.read_text()):
            found.append(str(rel))
    assert not found, found
