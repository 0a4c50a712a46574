"""Where a Walker-2D-Params agent's return comes from: staying up, or walking? And does it fall
less once it has explored, and in which tasks? Measured on its own meta-test.

    python benchmarks/walker_motion.py [RUN_DIR ...] [--seed 0]   (default: results/walker-2d-params)

For each run folder: meta-test the agent on its held-out tasks (the protocol of ``evaluate``, its
runs) and split each trajectory's return (:func:`pearlkit.envs.walker_params.walker_reward`)
into the bonus for every step alive, the control cost, and what is left, the forward-velocity
term, from which the mean forward speed follows. As a check from another source, the torso's x
velocity in the observation (``qvel[0]``). Printed per trajectory index, averaged over the runs;
then, per held-out task, how many of its runs stayed up the whole trajectory, first on the prior
and then after exploration. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pearlkit.envs.walker_params import ALIVE_BONUS, CONTROL_COST
from pearlkit.envs.tasks import make_env
from pearlkit.evaluate import held_out_meta_test
from per_run import per_run_main

X_VELOCITY = 8  # Walker2d-v5's observation: qpos[1:] (8 numbers), then qvel, the torso's x velocity first


def whole_by_task(steps: np.ndarray, task_of_run: np.ndarray, horizon: int) -> list[int]:
    """For each task (0, 1, ... in order), how many of its runs lasted the whole ``horizon``."""
    whole = steps >= horizon
    return [int(whole[task_of_run == task].sum()) for task in range(int(task_of_run.max()) + 1)]


def motion_terms(run_dir: Path, seed: int) -> dict:
    """Per trajectory index, the mean over runs of: steps alive, the share of runs that stayed up
    the whole trajectory, each term of the return, and the forward speed; per task, the runs that
    stayed up in the first trajectory and in the one after exploration."""
    result, config, tasks, iteration = held_out_meta_test(run_dir, seed, device="cpu")
    if "Walker" not in config.env_id:
        raise SystemExit(f"{run_dir} trained on {config.env_id}; this split holds for the walker only")
    out = {"iteration": iteration, "runs": int(result.returns.shape[0]), "by_trajectory": []}
    env = make_env(config.env_id)  # for its time step and its tasks' names
    for k, traj in enumerate(result.trajectories):
        valid = result.valid[:, k].numpy()
        steps = valid.sum(1)
        total = lambda x: (x * valid).sum(1)  # per run, over its real steps
        control = total(CONTROL_COST * np.square(traj.action.numpy()).sum(-1))
        bonus = ALIVE_BONUS * steps
        velocity_term = result.returns[:, k].numpy() - bonus + control
        out["by_trajectory"].append({
            "steps": round(float(steps.mean()), 1),
            "whole": round(float(np.mean(steps == config.max_path_length)), 2),
            "return": round(float(result.returns[:, k].mean()), 1),
            "alive_bonus": round(float(bonus.mean()), 1),
            "control_cost": round(float(control.mean()), 2),
            "velocity_term": round(float(velocity_term.mean()), 1),
            "speed": round(float((velocity_term / steps).mean()), 3),
            "observed_speed": round(float((total(traj.next_obs.numpy()[..., X_VELOCITY]) / steps).mean()), 3),
            "distance": round(float((velocity_term * env.dt).mean()), 2)})
    task_of_run = np.repeat(np.arange(len(tasks)), config.num_evals)  # run i is task i // num_evals
    after = config.num_exp_traj_eval  # the trajectory after exploration, 0-based
    out["tasks"] = [{"task": env.describe_task(task), "runs": config.num_evals,
                     "whole_first": first, "whole_after_exploration": later}
                    for task, first, later in zip(
                        tasks, whole_by_task(result.valid[:, 0].numpy().sum(1), task_of_run, config.max_path_length),
                        whole_by_task(result.valid[:, after].numpy().sum(1), task_of_run, config.max_path_length))]
    return out


def show(run_dir: Path, result: dict, args: argparse.Namespace) -> None:
    print(f"{run_dir} (iteration {result['iteration']}, {result['runs']} runs, seed {args.seed})")
    print("  trajectory  steps  whole  return = alive bonus - control + velocity term"
          "   forward speed (m/s): from the return, observed   distance (m)")
    for k, t in enumerate(result["by_trajectory"], start=1):
        print(f"  {k:10d}  {t['steps']:5.0f}  {t['whole']:5.2f}  {t['return']:6.0f} = {t['alive_bonus']:11.0f} - "
              f"{t['control_cost']:7.2f} + {t['velocity_term']:13.0f}   {t['speed']:+.3f}, {t['observed_speed']:+.3f}"
              f"   {t['distance']:6.2f}")
    print("  runs that stayed up the whole trajectory, per held-out task: first trajectory -> after exploration")
    for t in result["tasks"]:
        print(f"    {t['whole_first']}/{t['runs']} -> {t['whole_after_exploration']}/{t['runs']}   {t['task']}")


if __name__ == "__main__":
    per_run_main(__doc__, [Path("results/walker-2d-params")], lambda run_dir, args: motion_terms(run_dir, args.seed),
                 show)
