"""benchmarks/critic_curves.py: a reproduction's log and our runs on one axis of critic
transitions, checked on a hand-written event file and run folders."""
import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pearlkit.config import PearlConfig
from pearlkit.report import PUBLISHED_GRADIENT_STEPS, PUBLISHED_TRANSITIONS_PER_STEP
from pearlkit.training import PROGRESS_COLUMNS
from test_tfevents_summary import event

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "benchmarks" / "critic_curves.py"
WALKER_EPOCH = 4000 * 16 * 256 / 1e6  # x35f/meta_rl's walker: 4,000 steps of 16 x 256 transitions an epoch


@pytest.fixture
def critic_curves(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script: tfevents_summary beside it
    spec = importlib.util.spec_from_file_location("critic_curves", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "critic_curves", module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def events(tmp_path):
    """A walker reproduction's log: evaluations after epochs 1, 2, 4 and 8 (80,000 initial steps,
    10,000 an epoch), each logged at the env steps collected."""
    path = tmp_path / "events.out.tfevents.1"
    path.write_bytes(b"".join(event(80_000 + 10_000 * epoch, {"performance/eval_return": value, "misc/other": 1.0})
                              for epoch, value in [(1, 100.0), (2, 200.0), (4, 300.0), (8, 500.0)]))
    return path


@pytest.fixture
def run(tmp_path):
    """One of ours: 10 tasks x 128 transitions a step, 1,000 steps an iteration, evaluated at 5 and 10."""
    folder = tmp_path / "ours"
    folder.mkdir()
    (folder / "config.json").write_text(PearlConfig(meta_batch=10, batch_size=128).to_json())
    with (folder / "progress.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PROGRESS_COLUMNS)
        writer.writeheader()
        for i in range(1, 11):
            writer.writerow({"iteration": i, "env_steps": 5_000 * i, "grad_steps": 1_000 * i, "seconds": 20.0 * i,
                             "cpu_seconds": 10.0 * i,
                             "eval/return_after_exploration": {5: 150.0, 10: 250.0}.get(i, "")})
    return folder


def test_the_schedule_counts_the_reproductions_transitions(critic_curves):
    walker = critic_curves.REPRODUCTIONS["walker-2d-params"]
    assert walker.critic_transitions(90_000) == 4000 * 16 * 256  # one epoch after the initial collection
    assert walker.critic_transitions(1_090_000) == 101 * 4000 * 16 * 256
    # The first evaluation x35f/meta_rl's Cheetah-Vel run logged was at 205,000 env steps: one epoch.
    assert critic_curves.REPRODUCTIONS["cheetah-vel"].critic_transitions(205_000) == 2000 * 16 * 256


def test_the_books_published_gradient_steps_follow_from_the_schedules(critic_curves):
    # Chapter 7's critic-transition column: the x35f/meta_rl runs' last logged env steps, through
    # their schedules, give the gradient steps pearlkit.report records.
    logged = {"cheetah-vel": 780_000, "cheetah-fwd-back": 1_444_000, "ant-fwd-back": 2_004_000,
              "walker-2d-params": 1_090_000}
    for family, env_steps in logged.items():
        assert critic_curves.REPRODUCTIONS[family].critic_transitions(env_steps) == \
            PUBLISHED_GRADIENT_STEPS[family] * PUBLISHED_TRANSITIONS_PER_STEP


def test_both_curves_by_hand(critic_curves, events, run):
    reproduction = critic_curves.reproduction_curve(events, critic_curves.REPRODUCTIONS["walker-2d-params"])
    np.testing.assert_allclose(reproduction.transitions, np.array([1, 2, 4, 8]) * WALKER_EPOCH)
    ours = critic_curves.run_curve(f"mine={run}")
    assert ours.name == "mine"
    np.testing.assert_allclose(ours.transitions, [5 * 1.28, 10 * 1.28])  # 1,000 steps x 1,280 transitions each
    assert list(ours.returns) == [150.0, 250.0] and list(ours.env_steps) == [25_000, 50_000]
    assert ours.seconds_kind == "CPU" and ours.seconds_per_million == pytest.approx(100.0 / 12.8)
    # Within a factor sqrt(2) of 2 epochs' transitions lies only the second evaluation; of 3, the
    # second and the third (2 and 4 epochs: 3/sqrt(2) = 2.1 > 2, so not the second).
    assert critic_curves.near(reproduction, 2 * WALKER_EPOCH) == (200.0, 100_000)
    assert critic_curves.near(reproduction, 3 * WALKER_EPOCH) == (300.0, 120_000)
    assert critic_curves.near(reproduction, 100 * WALKER_EPOCH) is None
    assert critic_curves.first_reaching(reproduction, 200.0, window=2) == pytest.approx(4 * WALKER_EPOCH)
    assert critic_curves.first_reaching(reproduction, 600.0, window=2) is None


def test_an_oyster_progress_csv_counts_its_own_gradient_steps(critic_curves, tmp_path):
    log = tmp_path / "progress.csv"
    log.write_text("Epoch,Number of train steps total,Number of env steps total,AverageReturn_all_test_tasks\n"
                   "0,4000,206461,491.5\n1,8000,211932,300.0\n")
    curve = critic_curves.reproduction_curve(log, critic_curves.REPRODUCTIONS["humanoid-dir-2d"])
    assert curve.name == "ZiyiLiubird/CRL humanoid-dir"
    np.testing.assert_allclose(curve.transitions, [4000 * 16 * 256 / 1e6, 8000 * 16 * 256 / 1e6])
    assert list(curve.env_steps) == [206461, 211932] and list(curve.returns) == [491.5, 300.0]


def test_the_command_prints_projects_and_draws(events, run, tmp_path):
    png = tmp_path / "curves.png"
    out = subprocess.run([sys.executable, str(SCRIPT), "walker-2d-params", str(events), str(run), "--marks", "8", "64",
                          "--bar", "250", "--png", str(png)], capture_output=True, text=True, check=True).stdout
    assert "| critic transitions (M) | x35f/meta_rl walker-rand-params | ours |" in out
    assert "| 8 | — | 150 (0.03 M env steps) |" in out  # only ours has an evaluation near 8 M
    assert "| 64 | 300 (0.12 M env steps) | — |" in out
    # The 5-evaluation mean of 100, 200, 300, 500 never reaches 250: there are only 4.
    assert "never reaches 250" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("case, message", [
    ("a family without a reproduction", "invalid choice: 'ant-goal-2d'"),
    ("no log file", "no log file at"),
    ("an unknown column", "has no column 'eval/nope'"),
    ("a CSV that is not oyster's", "lacks ['Number of train steps total'"),
    ("a mark of 0", "--marks must be positive"),
    ("another log", "has no tag 'performance/eval_return'"),
    ("a folder that is not a run", "no progress.csv in"),
    ("a progress.csv without its config", "no config.json in"),
])
def test_bad_input_says_what_is_wrong(events, run, tmp_path, case, message):
    other_log = tmp_path / "other.tfevents"
    other_log.write_bytes(event(90_000, {"misc/other": 1.0}))
    without_config = tmp_path / "without-config"
    without_config.mkdir()
    (without_config / "progress.csv").write_bytes((run / "progress.csv").read_bytes())
    args = {
        "a family without a reproduction": ["ant-goal-2d", events, run],
        "no log file": ["walker-2d-params", tmp_path / "nope", run],
        "an unknown column": ["walker-2d-params", events, run, "--column", "eval/nope"],
        "a CSV that is not oyster's": ["humanoid-dir-2d", run / "progress.csv", run],
        "a mark of 0": ["walker-2d-params", events, run, "--marks", "0"],
        "another log": ["walker-2d-params", other_log, run],
        "a folder that is not a run": ["walker-2d-params", events, tmp_path],
        "a progress.csv without its config": ["walker-2d-params", events, without_config],
    }[case]
    result = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr
