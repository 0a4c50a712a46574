"""The project's promises about itself: README commands, CI, notebooks."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [b.strip() for b in blocks]


def test_readme_gives_the_two_fresh_machine_commands_and_ci_runs_the_test_one():
    install_and_train, install_and_test = readme_commands()[:2]
    assert "torch==2.13.0" in install_and_train and "pearlkit train" in install_and_train
    assert install_and_test.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert install_and_test in ci


def test_committed_notebooks_have_no_outputs():
    for notebook in ROOT.glob("chapters/**/*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        assert not any(c.get("outputs") for c in cells), notebook
