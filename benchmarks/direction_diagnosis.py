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
others, whose mean is how fast the policy runs when it goes the right way. Then, for each
exploring trajectory alone, which task its belief names (the nearer of the two tasks' beliefs
after exploration, in runs that went the right way), by which way the body moved in it: an
encoder that reads only part of what a context says names the wrong task in some cell. The last
line is one JSON object.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import torch

from pearlkit.buffers import context_from_transitions
from pearlkit.checkpoint import load_agent
from pearlkit.envs.tasks import env_class
from pearlkit.evaluate import MetaTestResult, held_out_meta_test, zero_action_return
from per_run import per_run_main

DEFAULT_RUNS = [Path("results/cheetah-fwd-back"), Path("results/ant-fwd-back")]
#: Where the root's forward (x) velocity sits in each two-direction family's observation: after
#: Half-Cheetah's qpos[1:] (8 entries), after Ant's qpos[2:] (13).
FORWARD_VELOCITY = {"pearlkit/HalfCheetahFwdBack-v0": 8, "pearlkit/AntFwdBack-v1": 13}


def belief_by_motion(encoder: Callable, use_next_obs: bool, velocity_index: int, result: MetaTestResult,
                     right: torch.Tensor, names: list[str]) -> dict[str, list[int]] | None:
    """For each exploring trajectory of each run, alone: does the belief ``encoder`` gives it name
    the run's task? Counted as ``[named right, trajectories]`` per ``"<task's name>, moved
    forward|backward"`` (the sign of its mean forward velocity, ``obs[:, velocity_index]``).

    The named task is the one whose belief after exploration, averaged over the runs that went
    the right way (``right``), is nearer. None where a task has no such run."""
    task_of_run = torch.arange(len(right)) // result.runs_per_task
    after = result.num_exp_traj_eval
    if any(not right[task_of_run == task].any() for task in range(len(names))):
        return None
    centres = torch.stack([result.z_means[(task_of_run == task) & right, after].mean(0) for task in range(len(names))])
    counts: dict[str, list[int]] = {}
    for k in range(after):
        trajectories, valid = result.trajectories[k], result.valid[:, k]
        for run, task in enumerate(task_of_run.tolist()):
            one = type(trajectories)(*[field[run][valid[run]] for field in trajectories])
            with torch.no_grad():
                mean, _ = encoder(context_from_transitions(one, use_next_obs).unsqueeze(0))
            named = int(torch.cdist(mean, centres).argmin())
            moved = "forward" if float(one.obs[:, velocity_index].mean()) > 0 else "backward"
            cell = counts.setdefault(f"{names[task]}, moved {moved}", [0, 0])
            cell[0] += named == task
            cell[1] += 1
    return dict(sorted(counts.items()))


def diagnose(run_dir: Path, runs_per_task: int, seed: int) -> dict:
    """Per task: the mean return of each trajectory, and the share of runs whose trajectory
    after exploration fell, stayed up below the zero-action return, or rose above it (with
    those runs' mean return)."""
    result, config, tasks, iteration = held_out_meta_test(run_dir, seed, runs_per_task, device="cpu")
    after, floor = config.num_exp_traj_eval, zero_action_return(config)
    returns = result.returns.view(len(tasks), runs_per_task, -1)  # run i is task i // runs_per_task
    fell_in_run = result.valid[:, after].sum(-1) < config.max_path_length
    fell = fell_in_run.view(len(tasks), runs_per_task)
    describe = env_class(config.env_id).describe_task
    right = (result.returns[:, after] >= floor) & ~fell_in_run
    out = {"iteration": iteration, "zero_action_return": round(floor, 1), "tasks": [],
           "belief_by_motion": None}
    if config.env_id in FORWARD_VELOCITY:
        agent = load_agent(run_dir, "cpu")[0]
        out["belief_by_motion"] = belief_by_motion(agent.encoder, config.use_next_obs_in_context,
                                                   FORWARD_VELOCITY[config.env_id], result, right,
                                                   [describe(task) for task in tasks])
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
    if result["belief_by_motion"]:
        print("  the belief from one exploring trajectory alone names its task (right / trajectories):")
        for cell, (named, total) in result["belief_by_motion"].items():
            print(f"    {cell}: {named} / {total}")


if __name__ == "__main__":
    per_run_main(__doc__, DEFAULT_RUNS, lambda run_dir, args: diagnose(run_dir, args.runs_per_task, args.seed), show,
                 lambda parser: parser.add_argument("--runs-per-task", type=int, default=10))
