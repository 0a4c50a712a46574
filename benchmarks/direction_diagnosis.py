"""Is a two-direction agent short of its target because it infers the wrong direction, or
because it runs too slowly the right way? Measured on its own meta-test.

    python benchmarks/direction_diagnosis.py [RUN_DIR ...] [--runs-per-task 10] [--seed 0]
    (default: results/cheetah-fwd-back and results/ant-fwd-back)

For each run folder: meta-test the agent on its held-out tasks, ``--runs-per-task`` runs each
(the protocol of ``evaluate``), and print, per task, the mean return of every trajectory, then
sort the runs by their trajectory after exploration: those where the body fell (the episode
ended before ``max_path_length``), those that stayed up but scored below what zero actions
score (:func:`pearlkit.evaluate.zero_action_return`: about 0 for the cheetah, 203 for the
ant, which earns 1 a step for being alive), which went the wrong way or hardly moved, and the
others, whose mean is how fast the policy runs when it goes the right way. The last line is
one JSON object.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from pearlkit.envs.tasks import env_class
from pearlkit.evaluate import held_out_meta_test, zero_action_return
from per_run import per_run_main

DEFAULT_RUNS = [Path("results/cheetah-fwd-back"), Path("results/ant-fwd-back")]


def diagnose(run_dir: Path, runs_per_task: int, seed: int) -> dict:
    """Per task: the mean return of each trajectory, and the share of runs whose trajectory
    after exploration fell, stayed up below the zero-action return, or rose above it (with
    those runs' mean return)."""
    result, config, tasks, iteration = held_out_meta_test(run_dir, seed, runs_per_task, device="cpu")
    after, floor = config.num_exp_traj_eval, zero_action_return(config)
    returns = result.returns.view(len(tasks), runs_per_task, -1)  # run i is task i // runs_per_task
    fell = (result.valid[:, after].sum(-1) < config.max_path_length).view(len(tasks), runs_per_task)
    describe = env_class(config.env_id).describe_task
    out = {"iteration": iteration, "zero_action_return": round(floor, 1), "tasks": []}
    for index, task in enumerate(tasks):
        exploit = returns[index, :, after]
        above = exploit[(exploit >= floor) & ~fell[index]]
        out["tasks"].append({
            "task": describe(task), "mean_by_trajectory": [round(v, 1) for v in returns[index].mean(0).tolist()],
            "fell": int(fell[index].sum()), "below_floor": int(((exploit < floor) & ~fell[index]).sum()),
            "above_floor": len(above), "above_floor_mean": round(above.mean().item(), 1) if len(above) else None})
    return out


def show(run_dir: Path, result: dict, args: argparse.Namespace) -> None:
    print(f"{run_dir} (iteration {result['iteration']}, {args.runs_per_task} runs per task, seed {args.seed}; "
          f"zero actions score {result['zero_action_return']})")
    for task in result["tasks"]:
        print(f"  {task['task']}: mean return by trajectory {task['mean_by_trajectory']}; after exploration "
              f"{task['fell']} fell, {task['below_floor']} stayed up below zero actions, "
              f"{task['above_floor']} above it (mean {task['above_floor_mean']})")


if __name__ == "__main__":
    per_run_main(__doc__, DEFAULT_RUNS, lambda run_dir, args: diagnose(run_dir, args.runs_per_task, args.seed), show,
                 lambda parser: parser.add_argument("--runs-per-task", type=int, default=10))
