"""Meta-test runs of one family on the same goals, none of which any of them trained on.

    python benchmarks/common_goals.py RUN_DIR ... --tasks 1000-1099 [--seed 0] [--runs-per-task N]

A run's held-out tasks follow its training tasks in the family's fixed task list
(:func:`pearlkit.envs.tasks.split_tasks`), so runs with different ``num_train_tasks`` are
meta-tested on different goals: an Ant-Goal-2D run on 1,000 goals holds out tasks 1,000-1,029,
one on 150 holds out 150-179, and their figures differ by what the goals ask as well as by what
the agents learned (standing still returns -478.0 on the first set and -545.5 on the second).
``--tasks A-B`` meta-tests every run on the list's tasks A to B instead (both included), with
the protocol of its own config. A run that trained on any of them is refused, and so is a family
whose list is not the same whatever its length (then "task A" would name another goal in each
run).

Printed for each run: its iteration, the return after exploration on those goals, the return
with zero actions on the same goals (the floor, :func:`pearlkit.evaluate.zero_action_return`),
and how far above the floor the run is. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from per_run import per_run_main
from pearlkit.checkpoint import load_agent
from pearlkit.config import PearlConfig
from pearlkit.envs.tasks import Task, env_class
from pearlkit.evaluate import exploration_beliefs, meta_test, summarize, zero_action_return


def task_range(text: str) -> tuple[int, int]:
    """``"A-B"`` as ``(A, B)``, with 1 <= A <= B."""
    try:
        first, last = (int(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--tasks takes A-B, two task indices, got {text!r}") from None
    if not 1 <= first <= last:
        raise argparse.ArgumentTypeError(f"--tasks {text}: A must be at least 1 and at most B")
    return first, last


def same_tasks(a: list[Task], b: list[Task]) -> bool:
    """The same tasks, in the same order."""
    return len(a) == len(b) and all(x.keys() == y.keys() and all(np.allclose(x[k], y[k]) for k in x)
                                    for x, y in zip(a, b))


def on_goals(config: PearlConfig, first: int, last: int, run_dir: Path) -> PearlConfig:
    """``config`` with the family's tasks ``first`` to ``last`` as its held-out tasks.

    Raises:
        SystemExit: the run trained on some of them, the family's list changes with its length, or
            the family has no tasks but its training tasks.
    """
    if getattr(env_class(config.env_id), "shared_train_test_tasks", False):
        raise SystemExit(f"{config.env_id} meta-tests on its training tasks: it has no other goals to compare on")
    if first < config.num_train_tasks:
        raise SystemExit(f"{run_dir} trained on tasks 0-{config.num_train_tasks - 1}; --tasks {first}-{last} "
                         f"would meta-test it on some of them")
    moved = config.replace(num_train_tasks=first, num_test_tasks=last - first + 1)
    if not same_tasks(moved.split_tasks()[0][:config.num_train_tasks], config.split_tasks()[0]):
        raise SystemExit(f"{config.env_id}'s task list is not the same at another length, so task {first} is "
                         "another goal for each run; compare these runs on their own held-out tasks")
    return moved


def measure(run_dir: Path, args: argparse.Namespace) -> dict:
    agent, config, iteration = load_agent(run_dir, "cpu")
    first, last = args.tasks
    moved = on_goals(config, first, last, run_dir)
    tasks = moved.split_tasks()[1]
    result = meta_test(agent, tasks, moved, seed=args.seed, runs_per_task=args.runs_per_task or config.num_evals,
                       exploration_beliefs=exploration_beliefs(agent, moved, args.seed))
    after = summarize(result).return_after_exploration
    floor = zero_action_return(moved, args.seed)
    return {"iteration": iteration, "tasks": [first, last], "runs": int(result.returns.shape[0]),
            "return_after_exploration": round(after, 1), "zero_action_return": round(floor, 1),
            "above_floor": round(after - floor, 1)}


def show(run_dir: Path, result: dict, args: argparse.Namespace) -> None:
    first, last = result["tasks"]
    print(f"{run_dir} (iteration {result['iteration']}; tasks {first}-{last}, {result['runs']} runs, "
          f"seed {args.seed}): after exploration {result['return_after_exploration']:.1f}, zero actions "
          f"{result['zero_action_return']:.1f}, above the floor {result['above_floor']:+.1f}")


if __name__ == "__main__":
    per_run_main(__doc__, [], measure, show, lambda parser: (
        parser.add_argument("--tasks", type=task_range, required=True, metavar="A-B",
                            help="the family's tasks A to B, none of them any run's training task"),
        parser.add_argument("--runs-per-task", type=int, default=None,
                            help="runs of each task (default: each run's num_evals)")))
