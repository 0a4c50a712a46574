"""Is a two-direction agent short of its target because it infers the wrong direction, or
because it runs too slowly the right way? Measured on its own meta-test.

    python benchmarks/direction_diagnosis.py [RUN_DIR ...] [--runs-per-task 10] [--seed 0]
    (default: results/cheetah-fwd-back and results/ant-fwd-back)

For each run folder: meta-test the agent on its held-out tasks, ``--runs-per-task`` runs each (the
protocol of ``evaluate``), and print, per task, the mean return of every trajectory, then the
trajectory after exploration split at what zero actions score
(:func:`pearlkit.evaluate.zero_action_return`: about 0 for the cheetah, 203 for the ant, which
earns 1 a step for being alive). Below it the body went the wrong way (or fell), so the share
of such runs is roughly what the belief gets wrong, and the mean of the others is how fast the
policy runs when it goes the right way. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from pearlkit.checkpoint import load_agent
from pearlkit.evaluate import meta_test, zero_action_return

DEFAULT_RUNS = [Path("results/cheetah-fwd-back"), Path("results/ant-fwd-back")]


def diagnose(run_dir: Path, runs_per_task: int, seed: int) -> dict:
    """Per task: the mean return of each trajectory, and the trajectory after exploration split
    into wrong-way runs (below the zero-action return) and right-way runs."""
    agent, config, iteration = load_agent(run_dir, "cpu")
    _, tasks = config.split_tasks()
    returns = meta_test(agent, tasks, config, seed=seed, runs_per_task=runs_per_task).returns
    after, floor = config.num_exp_traj_eval, zero_action_return(config)
    out = {"iteration": iteration, "zero_action_return": round(floor, 1), "tasks": []}
    for index, task in enumerate(tasks):
        rows = returns[index * runs_per_task:(index + 1) * runs_per_task]  # run i is task i // runs_per_task
        exploit = rows[:, after]
        right = exploit[exploit >= floor]
        out["tasks"].append({
            "task": task, "mean_by_trajectory": [round(v, 1) for v in rows.mean(0).tolist()],
            "wrong_way_share": round((exploit < floor).float().mean().item(), 2),
            "right_way_mean": round(right.mean().item(), 1) if len(right) else None})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, default=DEFAULT_RUNS)
    parser.add_argument("--runs-per-task", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    figures = {}
    for run_dir in args.runs:
        figures[str(run_dir)] = result = diagnose(run_dir, args.runs_per_task, args.seed)
        print(f"{run_dir} (iteration {result['iteration']}, {args.runs_per_task} runs per task, seed {args.seed}; "
              f"zero actions score {result['zero_action_return']})")
        for task in result["tasks"]:
            print(f"  {task['task']}: mean return by trajectory {task['mean_by_trajectory']}; after exploration, "
                  f"below zero actions in {task['wrong_way_share']:.0%} of runs, {task['right_way_mean']} in the others")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
