"""python -m pearlkit status: where a run stands, read from a hand-written run folder."""
import csv
import json

import pytest

from pearlkit.cli import main as cli_main
from pearlkit.config import get_preset, most_env_steps_per_iteration
from pearlkit.run_status import format_status, run_status
from pearlkit.training import PROGRESS_COLUMNS

BUDGET = 200_000


def write_run(folder, config, rows: int, returns: dict[int, float], cpu: bool = True, checkpoint: bool = True):
    """A run folder as `train` leaves it after ``rows`` iterations of 1,000 env steps, 60 s of
    wall clock and 40 s of CPU each (after an initial collection of 10,000 steps)."""
    folder.mkdir()
    if checkpoint:
        (folder / "checkpoint.pt").write_bytes(b"")  # only its presence is read
    (folder / "config.json").write_text(config.to_json())
    with (folder / "progress.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PROGRESS_COLUMNS)
        writer.writeheader()
        for i in range(1, rows + 1):
            writer.writerow({"iteration": i, "env_steps": 10_000 + 1_000 * i, "grad_steps": 10 * i,
                             "seconds": 60.0 * i, "cpu_seconds": 40.0 * i if cpu else "",
                             "eval/return_after_exploration": returns.get(i, "")})
    return folder


@pytest.fixture
def config():
    return get_preset("sparse-point-robot-plain").replace(num_iterations=300, env_step_budget=BUDGET)


def test_a_running_run_projects_what_its_budget_leaves(tmp_path, config):
    run = write_run(tmp_path / "run", config, 20, {5: 1.0, 10: 3.0, 15: 2.0, 20: 2.5})
    status = run_status(run, now=(run / "progress.csv").stat().st_mtime + 120)
    # By hand: the budget lets iteration k run while 30,000 + 1,000 k + the most one iteration
    # can collect stays within 200,000; num_iterations (300) is far off.
    most = most_env_steps_per_iteration(config)
    assert status["iterations_left"] == (BUDGET - 30_000 - most) // 1_000 + 1
    assert status["hours_left"] == pytest.approx(status["iterations_left"] * 40 / 3600)  # at the CPU pace
    assert status["last_evaluations"] == [(10, 3.0), (15, 2.0), (20, 2.5)] and status["best_evaluation"] == (10, 3.0)
    assert status["minutes_since_last_iteration"] == pytest.approx(2.0)
    assert not status["finished"]
    text = format_status(status)
    assert f"iteration 20 of 300, 30,000 env steps of a budget of {BUDGET:,} (15%)" in text
    assert "2.5 (20); best 3.0 (10)" in text and "40 s of CPU each" in text
    assert f"resume: python -m pearlkit train --resume {run}" in text


def test_without_cpu_time_the_pace_is_wall_clock(tmp_path, config):
    status = run_status(write_run(tmp_path / "run", config, 6, {}, cpu=False))
    assert not status["seconds_are_cpu"] and status["seconds_per_iteration"] == pytest.approx(60.0)
    assert status["cpu_seconds"] is None and status["best_evaluation"] is None
    assert "60 s of wall clock each" in format_status(status)


def test_a_finished_run_says_what_ended_it(tmp_path, config):
    by_iterations = run_status(write_run(tmp_path / "a", config.replace(num_iterations=8), 8, {}))
    assert by_iterations["finished"] and by_iterations["iterations_left"] == 0
    assert "finished: its num_iterations ended it" in format_status(by_iterations)
    # 18,000 steps after 8 iterations: one step short of room for a ninth.
    tight = config.replace(env_step_budget=18_000 + most_env_steps_per_iteration(config) - 1)
    by_budget = run_status(write_run(tmp_path / "b", tight, 8, {}))
    assert by_budget["finished"] and "finished: its env_step_budget ended it" in format_status(by_budget)
    assert "resume:" not in format_status(by_budget)


def test_a_shipped_copy_has_no_checkpoint_to_resume(tmp_path, config):
    status = run_status(write_run(tmp_path / "copy", config, 6, {}, checkpoint=False))
    assert status["resume"] is None and not status["finished"]
    assert "no checkpoint.pt here (a shipped copy?)" in format_status(status)
    assert f"python -m pearlkit train --resume {tmp_path / 'copy'} --from-weights" in format_status(status)


def test_cli_status_reads_every_folder_before_printing(tmp_path, config, capsys):
    run = write_run(tmp_path / "run", config, 3, {})
    assert cli_main(["status", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["iteration"] == 3
    assert cli_main(["status", str(run), str(tmp_path / "missing")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "missing is not a run folder (no config.json)" in captured.err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text(config.to_json())
    assert cli_main(["status", str(tmp_path / "empty")]) == 2
    assert "no finished iteration yet" in capsys.readouterr().err


def test_the_status_names_the_number_format_the_run_trains_in(tmp_path, config):
    # "auto" decides at each start: the format is the one versions.json recorded last, not the config's word.
    auto = config.replace(precision="auto")
    run = write_run(tmp_path / "run", auto, 6, {})
    assert run_status(run)["precision"] == "auto"  # a run from before the pick was recorded
    (run / "versions.json").write_text(json.dumps({"cpu": "a CPU", "precision": "float32",
                                                   "resumed": [{"iteration": 3, "precision": "bfloat16"},
                                                               {"iteration": 5}]}))
    assert format_status(run_status(run)).splitlines()[0] == f"{run} ({auto.env_id}, bfloat16)"
    assert run_status(write_run(tmp_path / "float32", config, 6, {}))["precision"] == "float32"
