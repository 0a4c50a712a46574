"""The ``fresh_outputs`` extension (``_ext/fresh_outputs.py``): a cached notebook runs again when
``results/`` or ``pearlkit/`` changes, and only then.

Builds a one-page book in a temporary folder with the real ``jupyter-book build`` (needs the
``[book]`` extra: ``python -m pytest -m book``; `.ci/run` runs it). The page prints a file of its
``results/``, as the chapters read their shipped agents.
"""
from __future__ import annotations

import subprocess
import sys
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


def _jupyter_book() -> Path:
    """This Python's ``jupyter-book``, not another one on PATH."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        pytest.skip("jupyter-book is not installed (the [book] extra)")
    return jupyter_book


def _build(book: Path) -> tuple[bool, str, str]:
    """Build the book; return whether its notebook was executed, what the page printed, and the log."""
    done = subprocess.run([str(_jupyter_book()), "build", str(book)], capture_output=True, text=True, cwd=book)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    page = (book / "_build" / "html" / "page.html").read_text()
    printed = page.split("VALUE = ", 1)[1].split("<", 1)[0].strip()  # the output (the source reads 'VALUE', '=')
    return "Executing notebook" in log, printed, log


def _one_page_book(tmp_path: Path) -> Path:
    """A book of one page that prints ``results/value.txt`` (1), beside a ``pearlkit/`` module."""
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
                      nbformat.v4.new_code_cell("import os, time\n"
                                                "while os.path.exists('slow'):\n    time.sleep(0.1)\n"
                                                "print('VALUE', '=', open('results/value.txt').read())")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, book / "page.ipynb")
    return book


def test_a_changed_result_or_package_executes_the_cached_notebook_again(tmp_path):
    book = _one_page_book(tmp_path)
    assert _build(book)[:2] == (True, "1")
    assert _build(book)[:2] == (False, "1")  # nothing changed: the cache serves it
    (book / "results" / "value.txt").write_text("2")
    executed, printed, log = _build(book)
    assert (executed, printed) == (True, "2")
    assert "fresh_outputs: results/ or pearlkit/ changed since" in log  # the log says why
    (book / "pearlkit" / "module.py").write_text("A = 2\n")
    assert _build(book)[:2] == (True, "2")
    (book / "pearlkit" / "__pycache__").mkdir()  # bytecode is not an input
    (book / "pearlkit" / "__pycache__" / "module.cpython.pyc").write_bytes(b"\0")
    assert _build(book)[:2] == (False, "2")


def test_a_build_killed_after_emptying_the_cache_leaves_no_stale_page(tmp_path):
    """A change empties the cache, then the build is killed while the notebook runs: the build
    after it must execute the page, not keep the one Sphinx saved before the change."""
    book = _one_page_book(tmp_path)
    assert _build(book)[:2] == (True, "1")
    (book / "results" / "value.txt").write_text("2")
    (book / "slow").touch()  # the page's cell waits while this file is there
    build = subprocess.Popen([str(_jupyter_book()), "build", str(book)], cwd=book, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in build.stdout:
        if "Executing notebook" in line:
            build.kill()
            break
    build.wait()
    (book / "slow").unlink()
    assert _build(book)[:2] == (True, "2")
