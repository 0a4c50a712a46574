"""How often exploring by one committed hypothesis per trajectory finds the goal.

At meta-test the reference protocol draws each exploration trajectory's z from the prior.
If, given a z, the policy heads straight for one hypothesised goal and stays there, the
best such explorer draws its hypotheses uniformly from the training goals and flies
straight to them (the oracle controller). This script computes, over the held-out goals,
how often k such trajectories enter the true goal's disc, and the oracle's return.

This is a reference point, not a bound on PEARL: a trained PEARL policy can do better by
sweeping along the arc within one trajectory, or by guessing well from where the reward was
*not* found (see benchmarks/RESULTS.md).

    python benchmarks/exploration_ceiling.py
"""
from __future__ import annotations

import json

import numpy as np

from pearlkit.config import PearlConfig
from pearlkit.envs.point_nav import GOAL_RADIUS, oracle_path, sparse_reward
from pearlkit.envs.tasks import split_tasks


def main() -> None:
    train, test = split_tasks(PearlConfig())
    train_goals = np.array([t["goal"] for t in train])
    test_goals = np.array([t["goal"] for t in test])
    paths = np.array([oracle_path(g) for g in train_goals])  # (80, horizon, 2)
    # hits[i, j]: flying to training goal j passes through held-out goal i's disc
    hits = np.linalg.norm(paths[None] - test_goals[:, None, None], axis=-1).min(-1) <= GOAL_RADIUS
    p_one = hits.mean(1)
    find = {k: float(np.mean(1 - (1 - p_one) ** k)) for k in (1, 2, 3, 5, 10)}
    oracle_return = float(np.mean([sparse_reward(oracle_path(g), g).sum() for g in test_goals]))
    for k, p in find.items():
        print(f"{k:2d} exploration trajectories committed to prior hypotheses find the goal with probability {p:.3f}")
    print(f"oracle return of one trajectory (held-out goals): {oracle_return:.2f}")
    print(json.dumps({"p_find_after_5": round(find[5], 4), "p_find": {k: round(v, 4) for k, v in find.items()},
                      "oracle_return": round(oracle_return, 3)}))


if __name__ == "__main__":
    main()
