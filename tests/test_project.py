"""The project's promises about itself: README commands, CI, the book's notebooks."""
import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [b.strip() for b in blocks]


def cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


def test_readme_gives_the_two_fresh_machine_commands_and_ci_runs_the_test_one():
    build_book, install_and_test = readme_commands()[:2]
    assert "torch==2.13.0" in build_book and build_book.endswith("jupyter-book build .")
    assert install_and_test.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert install_and_test in ci
    assert "jupyter-book build . --warningiserror" in ci and "pytest -m browser" in ci


def test_a_chapter_that_fails_fails_the_build():
    execute = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]
    assert execute["raise_on_error"] is True and execute["allow_errors"] is False


def test_committed_notebooks_have_no_outputs():
    assert NOTEBOOKS
    for notebook in NOTEBOOKS:
        for cell in cells(notebook):
            assert not cell.get("outputs") and not cell.get("execution_count"), notebook.name


def test_every_notebook_cell_has_a_unique_id():
    # nbformat 4.5 requires them; a cell added by hand without one draws a warning on every build
    for notebook in NOTEBOOKS:
        ids = [cell.get("id") for cell in cells(notebook)]
        assert None not in ids and len(set(ids)) == len(ids), notebook.name


def test_the_table_of_contents_lists_every_chapter_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = [toc["root"]] + [entry["file"] for entry in toc["chapters"]]
    assert listed == [f"chapters/{n.stem}" for n in NOTEBOOKS] + ["chapters/notation", "chapters/references"]


def test_each_chapter_installs_from_the_books_repository_on_colab_and_picks_its_device():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for notebook in NOTEBOOKS:
        setup = "".join(next(c for c in cells(notebook) if c["cell_type"] == "code")["source"])
        assert '"google.colab" in sys.modules' in setup and f"git+{url}" in setup, notebook.name
        assert 'os.environ["MUJOCO_GL"] = "egl"' in setup and "pick_device()" in setup, notebook.name


def test_a_chapter_that_needs_rliable_gets_it_on_colab_and_in_the_book_build():
    # pearlkit.report's statistics import rliable, an optional dependency; with raise_on_error a
    # chapter that calls them fails to build or run without it.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras["stats"]) <= set(extras["book"]) and set(extras["stats"]) <= set(extras["sweep"])
    for notebook in NOTEBOOKS:
        code = "".join("".join(c["source"]) for c in cells(notebook) if c["cell_type"] == "code")
        if re.search(r"\b(mean_with_interval|plot_curves|report)\(", code):
            setup = "".join(next(c for c in cells(notebook) if c["cell_type"] == "code")["source"])
            assert "pearlkit[stats] @ git+" in setup, notebook.name


def test_each_chapter_follows_the_books_skeleton():
    for notebook in NOTEBOOKS:
        text = "\n".join("".join(c["source"]) for c in cells(notebook) if c["cell_type"] == "markdown")
        assert re.match(r"\(ch-[a-z-]+\)=\n# ", text), f"{notebook.name}: label and title first"
        for part in ("At a glance", "## Overview" if notebook.stem != "00_introduction" else "## Why",
                     "## References", "{ref}`references`"):
            assert part in text, f"{notebook.name} lacks {part!r}"
        if notebook.stem != "00_introduction":
            assert "## Exercises" in text and "{solution-start}" in text and "## Summary" in text, notebook.name


def test_the_book_executes_its_notebooks_again_when_results_or_pearlkit_change():
    # _ext/fresh_outputs.py, tested on a one-page book in tests/test_fresh_outputs.py (-m book)
    assert "fresh_outputs: _ext" in (ROOT / "_config.yml").read_text()
