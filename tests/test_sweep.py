"""Sweeps on Ray (local, 2 CPUs) and their report: run folders, retry and resume, statistics, errors."""
import csv
import json
import os
import signal
import threading
import time

import numpy as np
import pytest

import pearlkit
from pearlkit.checkpoint import load_agent
from pearlkit.cli import main as cli_main
from pearlkit.cli import with_overrides
from pearlkit.envs.point_nav import oracle_path, sparse_reward
from pearlkit.report import load_presets, report
from pearlkit.sweep import (
    BOOKKEEPING_DIR,
    Trial,
    parse_seeds,
    read_manifest,
    sweep,
    write_manifest,
)
from pearlkit.training import PROGRESS_COLUMNS, finished_iterations, read_progress

ray = pytest.importorskip("ray")

PRESETS = ["sparse-point-robot", "sparse-point-robot-paper"]
TINY = ["num_iterations=2", "num_train_tasks=6", "num_test_tasks=3", "hidden_sizes=32,32", "encoder_hidden_sizes=32",
        "num_initial_steps=40", "num_tasks_sample=2", "num_steps_prior=20", "num_steps_posterior=40",
        "num_train_steps_per_itr=5", "meta_batch=4", "batch_size=16", "embedding_batch_size=8",
        "num_steps_per_eval=140", "eval_every=1", "num_evals=1"]


def configs(assignments, presets=PRESETS):
    return {preset: with_overrides(pearlkit.get_preset(preset), assignments) for preset in presets}


def test_seeds_are_read_as_ranges_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,7") == [0, 2, 7]
    assert parse_seeds("0-2,1,9") == [0, 1, 2, 9]


@pytest.mark.parametrize("argv, message", [
    (["sweep", "no-such-preset", "--seeds", "0-1"], "no-such-preset"),
    (["sweep", "sparse-point-robot", "--seeds", "3-1"], "--seeds range '3-1' is empty"),
    (["sweep", "sparse-point-robot", "--seeds", "a"], "--seeds takes seeds and ranges"),
    (["sweep", "sparse-point-robot", "--seeds", "0", "--set", "kl_weight=1"], "unknown config key 'kl_weight'"),
])
def test_bad_input_fails_before_any_run_starts(tmp_path, capsys, argv, message):
    assert cli_main([*argv, "--out", str(tmp_path / "sweep")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()  # nothing planned, nothing written


def test_a_local_sweep_of_two_presets_and_two_seeds_leaves_valid_run_folders(tmp_path):
    out = tmp_path / "sweep"
    trials, summaries = sweep(PRESETS, [0, 1], configs(TINY), out, TINY, cpus_per_trial=1, progress=False)
    assert [t.name for t in trials] == [f"{p}-seed{s}" for p in PRESETS for s in (0, 1)]
    assert all("error" not in s and s["iteration"] == 2 for s in summaries)
    assert [(t["preset"], t["seed"]) for t in read_manifest(out)] == [(p, s) for p in PRESETS for s in (0, 1)]
    for trial in trials:  # the layout `train` writes, readable by everything that reads a run
        assert {"config.json", "progress.csv", "versions.json", "agent.pt", "checkpoint.pt"} <= \
            {p.name for p in trial.run_dir.iterdir()}
        agent, config, iteration = load_agent(trial.run_dir, device="cpu")
        assert iteration == 2 and config.seed == trial.seed and config == trial.config
    # the seed reaches the run: two seeds of one preset train differently
    first, second = (read_progress(t.run_dir)[-1]["train/q_loss"] for t in trials[:2])
    assert first != second


def test_a_run_whose_worker_is_killed_is_retried_and_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "sweep"
    slow = TINY[1:] + ["num_iterations=8", "num_train_steps_per_itr=40"]
    run_dir = out / "sparse-point-robot-seed0"
    seen = {}

    def kill_after_two_iterations():
        deadline = time.monotonic() + 300
        while finished_iterations(run_dir) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["iteration"] = finished_iterations(run_dir)
        pid = int((out / BOOKKEEPING_DIR / f"{run_dir.name}.pid").read_text())
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_after_two_iterations)
    killer.start()
    _, summaries = sweep(["sparse-point-robot"], [0], configs(slow, PRESETS[:1]), out, slow,
                         max_retries=2, progress=False, poll_seconds=0.2)
    killer.join()
    assert summaries[0]["iteration"] == 8 and "error" not in summaries[0]
    starts = [int(line) for line in (out / BOOKKEEPING_DIR / f"{run_dir.name}.attempts").read_text().split()]
    assert len(starts) == 2 and starts[0] == 0
    assert starts[1] >= seen["iteration"] >= 2  # resumed: at most the iteration in flight was lost
    assert [int(r["iteration"]) for r in read_progress(run_dir)] == list(range(1, 9))


def synthetic_sweep(root, finals, successes):
    """A sweep folder whose runs' progress.csv hold made-up evaluations (no training)."""
    trials = []
    for preset, by_seed in finals.items():
        config = pearlkit.get_preset(preset).replace(num_test_tasks=5)
        for seed, final in by_seed.items():
            run_dir = root / f"{preset}-seed{seed}"
            run_dir.mkdir(parents=True)
            (run_dir / "config.json").write_text(config.replace(seed=seed).to_json())
            final_success = successes[preset][seed]
            rows = [{"iteration": i, "eval/return_after_exploration": value, "eval/success_rate": success,
                     "eval/reported_success": reported}
                    for i, value, success, reported in ((2, final / 2, 0.0, 0.0), (3, "", "", ""),
                                                        (4, final, final_success, min(1.0, 2 * final_success)))]
            with (run_dir / "progress.csv").open("w") as f:
                writer = csv.DictWriter(f, fieldnames=PROGRESS_COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
            trials.append(Trial(preset, seed, config.replace(seed=seed), run_dir))
    write_manifest(root, trials, [])


def test_the_reports_numbers_match_a_hand_computation(tmp_path):
    finals = {"sparse-point-robot": {0: 3.0, 1: 5.0, 2: 10.0}, "sparse-point-robot-paper": {0: 1.0, 1: 2.0, 2: 12.0}}
    successes = {"sparse-point-robot": {0: 0.2, 1: 0.4, 2: 0.9}, "sparse-point-robot-paper": {0: 0.1, 1: 0.1, 2: 1.0}}
    synthetic_sweep(tmp_path, finals, successes)
    results = {r.preset: r for r in load_presets(tmp_path)}
    nav = results["sparse-point-robot"]
    assert nav.final_return.tolist() == [3.0, 5.0, 10.0] and nav.final_success.tolist() == [0.2, 0.4, 0.9]
    assert nav.curve_iterations.tolist() == [2, 4] and nav.curves[:, 0].tolist() == [1.5, 2.5, 5.0]

    markdown = report(tmp_path, reps=2000)
    assert "| sparse-point-robot | 0, 1, 2 | 6.00 [" in markdown  # mean of 3, 5, 10
    assert "| 0.50 [" in markdown  # mean success of 0.2, 0.4, 0.9
    assert nav.final_reported_success.tolist() == [0.4, 0.8, 1.0]
    assert "| 0.73 [" in markdown  # mean reported success of 0.4, 0.8, 1.0
    # the normalized score: 0 = zero actions (0 on sparse navigation), 1 = the oracle's return
    _, test_tasks = pearlkit.get_preset("sparse-point-robot").replace(num_test_tasks=5).split_tasks()
    oracle = np.mean([sparse_reward(oracle_path(t["goal"]), t["goal"]).sum() for t in test_tasks])
    normalized = np.sort(np.array([3, 5, 10, 1, 2, 12]) / oracle)
    iqm = normalized[1:-1].mean()  # 6 runs: the interquartile mean drops one at each end
    line = next(line for line in markdown.splitlines() if line.startswith("Across"))
    value, low, high = map(float, line.split("normalized score ")[1].replace("[", "").replace("]", "")
                           .replace(",", "").split()[:3])
    assert value == pytest.approx(iqm, abs=0.005)
    assert normalized[0] <= low <= value <= high <= normalized[-1]
    for name in ("report.md", "curves.png", "profile.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0


def test_a_report_of_runs_that_never_evaluated_says_which(tmp_path):
    synthetic_sweep(tmp_path, {"sparse-point-robot": {0: 1.0}}, {"sparse-point-robot": {0: 0.0}})
    run_dir = tmp_path / "sparse-point-robot-seed0"
    (run_dir / "progress.csv").write_text(",".join(PROGRESS_COLUMNS) + "\n1" + "," * (len(PROGRESS_COLUMNS) - 1) + "\n")
    with pytest.raises(ValueError, match="have no evaluation yet"):
        load_presets(tmp_path)
    assert cli_main(["report", str(tmp_path / "nowhere")]) == 2


def test_the_manifest_is_json_that_names_each_run(tmp_path):
    synthetic_sweep(tmp_path, {"sparse-point-robot": {0: 1.0}}, {"sparse-point-robot": {0: 0.0}})
    manifest = json.loads((tmp_path / "sweep.json").read_text())
    assert manifest["trials"] == [{"preset": "sparse-point-robot", "seed": 0, "run_dir": "sparse-point-robot-seed0"}]
