"""The code blocks of docs/*.md run as written (their asserts included)."""
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", ["custom_function.md"])
def test_doc_examples_run(page, capsys):
    blocks = BLOCK.findall((DOCS / page).read_text())
    assert blocks, f"{page} has no python block"
    for code in blocks:
        exec(compile(code, f"{page}", "exec"), {})
    assert "0.5" in capsys.readouterr().out


LINK = re.compile(r"\]\(([^)#\s]+)[^)]*\)")  # [text](target)


def test_docs_link_only_to_files_inside_the_repository():
    root, checked = DOCS.parent.resolve(), 0
    for path in list(DOCS.glob("*.md")) + [root / "README.md"]:
        for target in LINK.findall(path.read_text()):
            if "://" in target:
                continue
            resolved = (path.parent / target).resolve()
            assert resolved.is_relative_to(root) and resolved.exists(), f"{path.name} links to {target}"
            checked += 1
    assert checked >= 4  # the README links its docs pages
