"""How well *ideal* posterior sampling can do on sparse navigation: an upper bound for PEARL.

Meta-tests :mod:`pearlkit.ideal_explorer`'s ideal agent (perfect encoder, perfect policy,
exact belief) on the 20 held-out goals, under the protocol of DESIGN §3 (5 exploration
trajectories with z from the prior, then infer) and the paper's Algorithm 2 (belief
updated after every trajectory), and prints how often it finds the goal and succeeds after
exploration, and its success at each of the reference's 20 trajectories (the reference
reports the 20th), beside an agent whose belief stays the prior until a reward arrives (the
best a Gaussian belief can do without one, since it cannot rule regions out). Its last line is
one JSON object with every figure.

    python benchmarks/exploration_ceiling.py [--draws N] [--seed S]
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from pearlkit.config import PearlConfig
from pearlkit.envs.point_nav import oracle_path, sparse_reward
from pearlkit.ideal_explorer import (
    best_spread_find_probability,
    ideal_adaptation_curve,
    ideal_meta_test,
)


def rounded(curve: dict) -> dict:
    """An ideal adaptation curve for JSON: its per-trajectory arrays and its found share, to 4 digits."""
    return {key: round(values, 4) if isinstance(values, float) else [round(float(v), 4) for v in values]
            for key, values in curve.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000, help="meta-test runs per held-out goal")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    _, test = PearlConfig().split_tasks()
    test_goals = np.array([t["goal"] for t in test])
    oracle_return = float(np.mean([sparse_reward(oracle_path(g), g).sum() for g in test_goals]))
    summary = {"oracle_return": round(oracle_return, 3),
               "p_find_best_spread_5": round(best_spread_find_probability(test_goals, 5), 4)}
    print(f"oracle return of one trajectory (held-out goals): {oracle_return:.2f}")
    for protocol, online in (("prior_then_infer", False), ("online_posterior", True)):
        curve = {k: ideal_meta_test(test_goals, k, online, args.draws, args.seed) for k in (1, 2, 3, 5, 10)}
        summary[protocol] = {k: {key: round(v, 4) for key, v in s.items()} for k, s in curve.items()}
        for k, s in curve.items():
            print(f"ideal agent, {protocol}, {k:2d} exploration trajectories: found {s['found']:.3f}; "
                  f"after exploration success {s['success_sampled']:.3f} (return {s['return_sampled']:.2f}) "
                  f"sampling from the belief, {s['success_best']:.3f} (return {s['return_best']:.2f}) "
                  "with the best single guess")
    # The reference's whole meta-test: 20 trajectories (400 steps), 5 exploring; it reports the 20th.
    for protocol, online in (("prior_then_infer", False), ("online_posterior", True)):
        curve = ideal_adaptation_curve(test_goals, 20, 5, online, draws=args.draws, seed=args.seed)
        summary[f"{protocol}_curve"] = rounded(curve)
        print(f"ideal agent, {protocol}, success per trajectory 1-20: "
              + " ".join(f"{v:.2f}" for v in curve["success"]))
    # A Gaussian belief cannot say "not there"; the honest best it can do without a reward is
    # to stay the prior. Then, after the reference's 5 exploring trajectories, every trajectory
    # until the goal is found draws from the prior again.
    curve = ideal_adaptation_curve(test_goals, 20, 5, rule_out=False, draws=args.draws, seed=args.seed)
    summary["prior_until_reward_curve"] = rounded(curve)
    print("belief that stays the prior until a reward, success per trajectory 1-20: "
          + " ".join(f"{v:.2f}" for v in curve["success"]))
    print(f"5 hypotheses from the best possible distribution over goals find the goal with "
          f"probability {summary['p_find_best_spread_5']:.3f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
