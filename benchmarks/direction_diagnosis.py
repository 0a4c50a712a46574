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
encoder that reads only part of what a context says names the wrong task in some cell. For the
cheetah, also whether that named task changes when the trajectory's reward is swapped for the
other task's: it always should, since the reward is all that tells the tasks apart. The last
line is one JSON object.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from pearlkit.checkpoint import load_agent
from pearlkit.direction_beliefs import (belief_by_motion, belief_with_other_reward, forward_and_backward,
                                        forward_velocity_index, named_tasks, went_the_right_way)
from pearlkit.envs.half_cheetah import CONTROL_COST
from pearlkit.envs.tasks import env_class
from pearlkit.evaluate import held_out_meta_test, zero_action_return
from per_run import per_run_main

DEFAULT_RUNS = [Path("results/cheetah-fwd-back"), Path("results/ant-fwd-back")]
#: The other task's reward for the same transition, where the context holds all it needs: the
#: cheetah's reward is d v - c|a|^2 (pearlkit.envs.half_cheetah.direction_reward), so the other
#: direction's is -r - 2c|a|^2. (The ant's also holds a contact cost that its context lacks.)
OTHER_TASK_REWARD = {"pearlkit/HalfCheetahFwdBack-v0":
                     lambda one: -one.reward - 2 * CONTROL_COST * one.action.square().sum(-1)}


def diagnose(run_dir: Path, runs_per_task: int, seed: int) -> dict:
    """Per task: the mean return of each trajectory, and the share of runs whose trajectory
    after exploration fell, stayed up below the zero-action return, or rose above it (with
    those runs' mean return)."""
    result, config, tasks, iteration = held_out_meta_test(run_dir, seed, runs_per_task, device="cpu")
    after, floor = config.num_exp_traj_eval, zero_action_return(config)
    returns = result.returns.view(len(tasks), runs_per_task, -1)  # run i is task i // runs_per_task
    fell_in_run = result.valid[:, after].sum(-1) < config.max_path_length
    fell = fell_in_run.view(len(tasks), runs_per_task)
    names = [env_class(config.env_id).describe_task(task) for task in tasks]
    right = went_the_right_way(result, config.max_path_length, floor)
    right_by_task = right.view(len(tasks), runs_per_task)
    out = {"iteration": iteration, "zero_action_return": round(floor, 1), "tasks": [],
           "belief_by_motion": None, "belief_with_other_reward": None}
    if forward_and_backward(names):
        reading = (load_agent(run_dir, "cpu")[0].encoder, config.use_next_obs_in_context,
                   forward_velocity_index(config.env_id), result, right, names)
        own = named_tasks(*reading)
        out["belief_by_motion"] = belief_by_motion(own)
        if config.env_id in OTHER_TASK_REWARD:
            out["belief_with_other_reward"] = belief_with_other_reward(
                own, named_tasks(*reading, OTHER_TASK_REWARD[config.env_id]))
    for index, task in enumerate(tasks):
        exploit = returns[index, :, after]
        above = exploit[right_by_task[index]]
        out["tasks"].append({
            "task": names[index], "mean_by_trajectory": [round(v, 1) for v in returns[index].mean(0).tolist()],
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
    if result["belief_with_other_reward"]:
        print("  with the other task's reward in its place, the task it names changes (changed / trajectories):")
        for cell, (changed, total) in result["belief_with_other_reward"].items():
            print(f"    {cell}: {changed} / {total}")


if __name__ == "__main__":
    per_run_main(__doc__, DEFAULT_RUNS, lambda run_dir, args: diagnose(run_dir, args.runs_per_task, args.seed), show,
                 lambda parser: parser.add_argument("--runs-per-task", type=int, default=10))
