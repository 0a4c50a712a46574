"""Does an Ant-Goal-2D agent walk to its goal, or stay where it starts? Measured on its own
meta-test.

    python benchmarks/goal_approach.py [RUN_DIR ...] [--seed 0]   (default: results/ant-goal-2d)

For each run folder: meta-test the agent on its held-out goals (the protocol of ``evaluate``, its
runs) and follow the torso, whose x, y open each observation (Ant-Goal-2D keeps them). Per
trajectory index, averaged over the runs: the straight-line distance to the goal at the start, at
the end and at its closest; how far the torso ended from where it started; the share of runs
whose torso ended upside down; and the return split into its terms
(:func:`pearlkit.envs.ant.ant_goal_reward`): the goal term (the L1 distance summed over the
steps), the control cost and the contact cost. Whether the belief knows the goal: how much of
the goals' spread a linear map from the belief's mean explains (R², each task's runs predicted by
a fit to the other tasks'; at or below 0 the belief says nothing linear about where the goal
is). As a check, the goal term is recomputed from the
observed positions and compared with what the return leaves once the costs are taken out: the
``residual`` column, the largest gap over the runs, should read about 0 (the observations are
stored in float32, so about 0.01 over 200 steps). The last line is one JSON object.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pearlkit.config import PearlConfig
from pearlkit.envs.ant import GOAL_CONTROL_COST
from pearlkit.envs.tasks import make_env
from pearlkit.evaluate import held_out_meta_test
from per_run import per_run_main

XY, QUATERNION = slice(0, 2), slice(3, 7)  # the observation opens with qpos: torso x, y, z, then w, x, y, z
CONTACT_FORCES = 78  # Ant-v5 ends its observation with the clipped cfrc_ext of its 13 bodies (6 each)
CONTACT_COST = 5e-4  # Ant-v5's contact_cost_weight, on those clipped forces


def torso_points_down(quaternion: np.ndarray) -> np.ndarray:
    """Whether the torso's own z axis points below the horizon: its world z component,
    :math:`1 - 2(q_x^2 + q_y^2)`, is negative (the ant lies on its back)."""
    return 1.0 - 2.0 * (quaternion[..., 1] ** 2 + quaternion[..., 2] ** 2) < 0.0


def held_out_r2(features: np.ndarray, targets: np.ndarray, groups: np.ndarray) -> float:
    """R² of an affine least-squares map from ``features`` to ``targets``, each group's rows
    predicted by a fit to the other groups' rows (so a map that only memorised the tasks scores
    at or below 0)."""
    design = np.concatenate([features, np.ones((len(features), 1))], axis=1)
    predicted = np.empty_like(targets)
    for group in np.unique(groups):
        held = groups == group
        weights, *_ = np.linalg.lstsq(design[~held], targets[~held], rcond=None)
        predicted[held] = design[held] @ weights
    return 1.0 - float(np.square(targets - predicted).sum() / np.square(targets - targets.mean(0)).sum())


def goal_terms(run_dir: Path, seed: int) -> dict:
    """Per trajectory index, the mean over runs of the distances, the displacement, the share
    upside down at the end, and each term of the return."""
    env_id = PearlConfig.from_file(run_dir / "config.json").env_id
    if "AntGoal" not in env_id:
        raise SystemExit(f"{run_dir} trained on {env_id}; this diagnosis is for Ant-Goal-2D only")
    result, config, tasks, iteration = held_out_meta_test(run_dir, seed, device="cpu")
    out = {"iteration": iteration, "runs": int(result.returns.shape[0]), "by_trajectory": []}
    to_control = make_env(config.env_id).to_control  # the agent acts in [-1, 1]; the cost is on the motors' range
    goals = np.repeat([np.asarray(task["goal"], dtype=float) for task in tasks], config.num_evals, axis=0)
    task_of_run = np.repeat(np.arange(len(tasks)), config.num_evals)
    for k, traj in enumerate(result.trajectories):
        valid = result.valid[:, k].numpy()
        steps = valid.sum(1)
        last = steps - 1
        runs = np.arange(len(steps))
        obs, next_obs = traj.obs.numpy(), traj.next_obs.numpy()
        total = lambda x: (x * valid).sum(1)  # per run, over its real steps
        to_goal = next_obs[..., XY] - goals[:, None, :]
        distance = np.linalg.norm(to_goal, axis=-1)
        distance[~valid] = np.inf
        goal_term = -total(np.abs(to_goal).sum(-1))
        control = total(GOAL_CONTROL_COST * np.square(to_control(traj.action.numpy())).sum(-1))
        contact = total(CONTACT_COST * np.square(next_obs[..., -CONTACT_FORCES:]).sum(-1))
        returns = result.returns[:, k].numpy()
        mean = lambda x: round(float(np.mean(x)), 2)
        out["by_trajectory"].append({
            "return": round(float(returns.mean()), 1),
            "goal_term": round(float(goal_term.mean()), 1),
            "control_cost": round(float(control.mean()), 1),
            "contact_cost": round(float(contact.mean()), 1),
            "residual": round(float(np.abs(returns - goal_term + control + contact).max()), 3),
            "start_distance": mean(np.linalg.norm(obs[:, 0, XY] - goals, axis=-1)),
            "end_distance": mean(distance[runs, last]),
            "closest": mean(distance.min(1)),
            "moved": mean(np.linalg.norm(next_obs[runs, last, XY] - obs[:, 0, XY], axis=-1)),
            "upside_down": mean(torso_points_down(next_obs[runs, last, QUATERNION])),
            "belief_r2": round(held_out_r2(result.z_means[:, k].numpy(), goals, task_of_run), 2)})
    return out


def show(run_dir: Path, result: dict, args: argparse.Namespace) -> None:
    print(f"{run_dir} (iteration {result['iteration']}, {result['runs']} runs, seed {args.seed})")
    print("  trajectory  return = goal term - control - contact (residual)"
          "   distance to goal (m): start, end, closest   moved (m)   upside down   belief R²")
    for k, t in enumerate(result["by_trajectory"], start=1):
        print(f"  {k:10d}  {t['return']:6.0f} = {t['goal_term']:9.0f} - {t['control_cost']:7.1f} - "
              f"{t['contact_cost']:7.1f} ({t['residual']:.3f})   {t['start_distance']:5.2f}, "
              f"{t['end_distance']:5.2f}, {t['closest']:5.2f}   {t['moved']:9.2f}   {t['upside_down']:11.2f}   "
              f"{t['belief_r2']:9.2f}")


if __name__ == "__main__":
    per_run_main(__doc__, [Path("results/ant-goal-2d")], lambda run_dir, args: goal_terms(run_dir, args.seed), show)
