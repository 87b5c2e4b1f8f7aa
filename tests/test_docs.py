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


def test_docs_do_not_point_outside_the_repository():
    for path in list(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]:
        text = path.read_text()
        assert "../shared" not in text and "DESIGN.md" not in text, path.name
