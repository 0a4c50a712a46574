"""benchmarks/compare_runs.py: the A/B tables of RESULTS.md, checked on two hand-written runs."""
import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pearlkit.config import PearlConfig
from pearlkit.training import PROGRESS_COLUMNS, read_progress

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "benchmarks" / "compare_runs.py"


def compare_runs():
    spec = importlib.util.spec_from_file_location("compare_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(folder: Path, config: PearlConfig, returns: dict[int, float], last: int, resumed=()) -> Path:
    """A run folder as `train` leaves it: config, versions and a progress.csv with ``last`` rows,
    evaluated where ``returns`` says."""
    folder.mkdir()
    (folder / "config.json").write_text(config.to_json())
    (folder / "versions.json").write_text(json.dumps({"resumed": list(resumed)}))
    with (folder / "progress.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PROGRESS_COLUMNS)
        writer.writeheader()
        for i in range(1, last + 1):
            value = returns.get(i)
            writer.writerow({"iteration": i, "env_steps": 100 * i, "grad_steps": 10 * i,
                             "eval/return_after_exploration": "" if value is None else value})
    return folder


@pytest.fixture
def runs(tmp_path):
    base = PearlConfig()
    a = write_run(tmp_path / "a", base, {5: 10.0, 10: 20.0, 15: 30.0, 20: 40.0}, last=22)
    # b evaluated one iteration fewer (it stopped at 17) and was resumed once at a new temperature.
    b = write_run(tmp_path / "b", base.replace(temperature=0.5), {5: 15.0, 10: 10.0, 15: 36.0}, last=17,
                  resumed=[{"iteration": 12, "cpu": "x", "changed": {"num_iterations": 40}}])
    return a, b


def test_the_table_and_the_summary_by_hand(runs):
    module = compare_runs()
    a, b = runs
    curves = [module.evaluations(read_progress(run), module.DEFAULT_COLUMN, run) for run in (a, b)]
    assert curves[1] == {5: 15.0, 10: 10.0, 15: 36.0}
    iterations = module.shared_iterations(curves, 0, None, 1)
    assert iterations == [5, 10, 15]  # 20 only in a
    assert module.shared_iterations(curves, 6, 15, 1) == [10, 15]
    assert module.shared_iterations(curves, 0, None, 2) == [5, 15]
    table = module.comparison_table(["a", "b"], curves, iterations).splitlines()
    assert table[0] == "| iteration | a | b | b - a |"
    assert table[3] == "| 10 | 20.0 | 10.0 | -10.0 |"
    lines = module.summary(["a", "b"], curves, iterations)
    assert lines[0] == "a: mean 20.0 over 3 evaluations (iterations 5-15)"
    # b - a: +5, -10, +6 -> mean +0.3, from -10 to +6, ahead at 2 of 3
    assert lines[1] == "b: mean 20.3; lead over a +0.3 (from -10.0 to +6.0), ahead at 2 of 3"


def test_differences_name_the_config_fields_and_the_resumes(runs):
    a, b = runs
    assert compare_runs().differences(a, b) == ["temperature: 1.0 -> 0.5", "num_iterations -> 40 (from iteration 12)"]
    assert compare_runs().differences(a, a) == []


def test_the_command_prints_and_draws(runs, tmp_path):
    a, b = runs
    png = tmp_path / "curves.png"
    out = subprocess.run([sys.executable, str(SCRIPT), f"first={a}", str(b), "--png", str(png)],
                         capture_output=True, text=True, check=True).stdout
    assert "b against first: temperature: 1.0 -> 0.5" in out
    assert "| 15 | 30.0 | 36.0 | +6.0 |" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("extra, message", [
    ([], "at least two runs"),
    (["--every", "0"], "--every must be at least 1"),
    (["--from", "30"], "no iteration in [30, last]"),
    (["--column", "eval/nope"], "no column 'eval/nope'"),
])
def test_bad_input_says_what_is_wrong(runs, extra, message):
    a, b = runs
    args = [str(a)] + ([] if extra == [] else [str(b)]) + extra
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr


def test_a_folder_without_a_run_is_named(tmp_path, runs):
    a, _ = runs
    result = subprocess.run([sys.executable, str(SCRIPT), str(a), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0 and f"no progress.csv in {tmp_path}" in result.stderr
