"""The ``fresh_outputs`` extension (``_ext/fresh_outputs.py``): a cached notebook runs again when
``results/`` or ``pearlkit/`` changes, and only then.

Builds a one-page book in a temporary folder with the real ``jupyter-book build`` (needs the
``[book]`` extra: ``python -m pytest -m book``; `.ci/run` runs it). The page prints a file of its
``results/``, as the chapters read their shipped agents.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).parents[1]
CONFIG = f"""title: one page
only_build_toc_files: true
execute:
  execute_notebooks: cache
sphinx:
  local_extensions:
    fresh_outputs: {ROOT / "_ext"}
"""


def _build(book: Path) -> tuple[bool, str]:
    """Build the book; return whether its notebook was executed, and what the page printed."""
    jupyter_book = shutil.which("jupyter-book") or pytest.skip("jupyter-book is not installed (the [book] extra)")
    done = subprocess.run([jupyter_book, "build", str(book)], capture_output=True, text=True, cwd=book)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    page = (book / "_build" / "html" / "page.html").read_text()
    printed = page.split("value ", 1)[1].split("<", 1)[0].strip()
    return "Executing notebook" in done.stdout + done.stderr, printed


def test_a_changed_result_or_package_executes_the_cached_notebook_again(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    book = tmp_path / "book"
    (book / "results").mkdir(parents=True)
    (book / "pearlkit").mkdir()
    (book / "_config.yml").write_text(CONFIG)
    (book / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (book / "results" / "value.txt").write_text("1")
    (book / "pearlkit" / "module.py").write_text("A = 1\n")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Page"),
                      nbformat.v4.new_code_cell("print('value', open('results/value.txt').read())")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, book / "page.ipynb")

    assert _build(book) == (True, "1")
    assert _build(book) == (False, "1")  # nothing changed: the cache serves it
    (book / "results" / "value.txt").write_text("2")
    assert _build(book) == (True, "2")
    (book / "pearlkit" / "module.py").write_text("A = 2\n")
    assert _build(book) == (True, "2")
    (book / "pearlkit" / "__pycache__").mkdir()  # bytecode is not an input
    (book / "pearlkit" / "__pycache__" / "module.cpython.pyc").write_bytes(b"\0")
    assert _build(book) == (False, "2")


def test_the_book_uses_it():
    assert "fresh_outputs: _ext" in (ROOT / "_config.yml").read_text()
