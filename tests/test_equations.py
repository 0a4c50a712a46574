"""Every labelled equation of the book maps to the one pearlkit function that computes it, and
every label a docstring names is an equation of the book."""
import ast
import json
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parents[1]
BOOK_LABEL = re.compile(r"Book label: ``(eq-[a-z0-9-]+)``")


def chapter_labels() -> set[str]:
    """The labels of the chapters' display equations, ``$$ ... $$ (eq-...)``."""
    labels = set()
    for notebook in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                labels |= set(re.findall(r"\$\$\s*\((eq-[a-z0-9-]+)\)", "".join(cell["source"])))
    return labels


def docstring_labels() -> dict[str, list[str]]:
    """Label -> the pearlkit functions and classes whose docstring names it."""
    named = defaultdict(list)
    for path in sorted((ROOT / "pearlkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                for label in BOOK_LABEL.findall(ast.get_docstring(node) or ""):
                    named[label].append(f"{path.stem}.{node.name}")
    return named


def test_the_chapters_label_their_equations():
    assert len(chapter_labels()) >= 14


def test_each_labelled_equation_is_named_by_exactly_one_docstring():
    named = docstring_labels()
    assert {label: named.get(label, []) for label in chapter_labels() if len(named.get(label, [])) != 1} == {}


def test_each_label_a_docstring_names_is_an_equation_of_the_book():
    assert sorted(set(docstring_labels()) - chapter_labels()) == []


def test_the_notation_page_names_identifiers_that_exist():
    import torch

    import pearlkit
    from pearlkit import buffers, evaluate, inference, pearl, sac
    from pearlkit.envs import point_nav

    config = pearlkit.get_preset("sparse-point-robot")
    agent = pearl.build_agent(config, torch.device("cpu"))
    pi = agent.policy(torch.zeros(1, 2), torch.zeros(1, config.latent_dim))
    scope = {"config": config, "agent": agent, "pi": pi, "sac": sac, "pearl": pearl, "evaluate": evaluate,
             "inference": inference, "buffers": buffers, "point_nav": point_nav,
             "MetaTestSummary": evaluate.MetaTestSummary}
    page = (ROOT / "chapters" / "notation.md").read_text()
    rows = [line.split("|")[3] for line in page.splitlines() if line.startswith("| ") and "pearlkit |" not in line]
    dotted = {name for row in rows for name in re.findall(r"`([a-z_A-Z]+(?:\.[a-z_0-9]+)+)(?:\(\))?`", row)}
    assert len(dotted) > 25
    missing = []
    for name in sorted(dotted):
        head, *rest = name.split(".")
        obj = scope.get(head)
        for part in rest:
            obj = getattr(obj, part, None)
        if obj is None and not (head == "MetaTestSummary" and rest[0] in evaluate.MetaTestSummary.__dataclass_fields__):
            missing.append(name)
    assert missing == []
