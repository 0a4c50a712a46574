"""Where a Humanoid-Dir-2D agent's return comes from: staying up, or moving its task's way?
Measured on its own meta-test.

    python benchmarks/humanoid_motion.py [RUN_DIR ...] [--seed 0]   (default: results/humanoid-dir-2d)

For each run folder: meta-test the agent on its held-out tasks (the protocol of ``evaluate``, its runs) and
split each trajectory's return (:func:`pearlkit.envs.humanoid.humanoid_direction_reward`) into its
terms: the bonus for every step alive, the control cost (on the actions rescaled to the motors'
range, as the environment pays it), the contact cost (from the external contact forces in each
next observation, as Gymnasium's ``Humanoid-v5`` computes it) and what is left, the velocity
term, from which the mean velocity of the centre of mass along the task's direction follows. As
a check from another source, the root body's velocity (in the observation) along the same
direction. Printed per trajectory index, averaged over the runs; the last line is one JSON
object.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pearlkit.config import PearlConfig
from pearlkit.envs.humanoid import ALIVE_BONUS, CONTROL_COST, VELOCITY_WEIGHT
from pearlkit.envs.tasks import make_env
from pearlkit.evaluate import held_out_meta_test, velocity_along_task
from per_run import per_run_main

CONTACT_COST, CONTACT_COST_CAP = 5e-7, 10.0  # Humanoid-v5's contact_cost_weight and range


def reward_terms(run_dir: Path, seed: int) -> dict:
    """Per trajectory index, the mean over runs of: steps alive, the share of runs that stayed
    up the whole trajectory, each term of the return, and the mean velocity along the task's
    direction."""
    env_id = PearlConfig.from_file(run_dir / "config.json").env_id
    if "Humanoid" not in env_id:
        raise SystemExit(f"{run_dir} trained on {env_id}; this split holds for the humanoid only")
    result, config, tasks, iteration = held_out_meta_test(run_dir, seed, device="cpu")
    out = {"iteration": iteration, "runs": int(result.returns.shape[0]), "by_trajectory": []}
    env = make_env(config.env_id)
    contact_forces = env.observation_slice("cfrc_ext")
    root_along = velocity_along_task(result, tasks, config.env_id)
    # The agent acts in [-1, 1]; the control cost is on the motors' range (env.to_control).
    for k, traj in enumerate(result.trajectories):
        valid = result.valid[:, k].numpy()
        steps = valid.sum(1)
        next_obs = traj.next_obs.numpy()
        total = lambda x: (x * valid).sum(1)  # per run, over its real steps
        control = total(CONTROL_COST * np.square(env.to_control(traj.action.numpy())).sum(-1))
        contact = total(np.minimum(CONTACT_COST * np.square(next_obs[..., contact_forces]).sum(-1), CONTACT_COST_CAP))
        bonus = ALIVE_BONUS * steps
        velocity_term = result.returns[:, k].numpy() - bonus + control + contact
        out["by_trajectory"].append({
            "steps": round(float(steps.mean()), 1),
            "whole": round(float(np.mean(steps == config.max_path_length)), 2),
            "return": round(float(result.returns[:, k].mean()), 1),
            "alive_bonus": round(float(bonus.mean()), 1),
            "control_cost": round(float(control.mean()), 1),
            "contact_cost": round(float(contact.mean()), 1),
            "velocity_term": round(float(velocity_term.mean()), 1),
            "velocity_along_task": round(float((velocity_term / (VELOCITY_WEIGHT * steps)).mean()), 3),
            "root_velocity_along_task": round(float(root_along[:, k].mean()), 3)})
    return out


def show(run_dir: Path, result: dict, args: argparse.Namespace) -> None:
    print(f"{run_dir} (iteration {result['iteration']}, {result['runs']} runs, seed {args.seed})")
    print("  trajectory  steps  whole  return = alive bonus - control - contact + velocity term"
          "   velocity along the task (m/s): centre of mass, root")
    for k, t in enumerate(result["by_trajectory"], start=1):
        print(f"  {k:10d}  {t['steps']:5.0f}  {t['whole']:5.2f}  {t['return']:6.0f} = {t['alive_bonus']:11.0f} - "
              f"{t['control_cost']:7.0f} - {t['contact_cost']:7.0f} + {t['velocity_term']:13.0f}"
              f"   {t['velocity_along_task']:+.3f}, {t['root_velocity_along_task']:+.3f}")


if __name__ == "__main__":
    per_run_main(__doc__, [Path("results/humanoid-dir-2d")], lambda run_dir, args: reward_terms(run_dir, args.seed),
                 show)
