"""Why a trained sparse-navigation agent stops exploring: its learned belief against the exact one.

    python benchmarks/belief_diagnosis.py RUN_DIR [--seeds 0 1 2] [--runs-per-task 1] [--misses-ignored]
        [--exploration-prior training-beliefs]

Meta-tests the run's agent on the 20 held-out goals as the reference does (20 trajectories,
5 exploring with z from the prior, then the belief inferred from all context before each
one) and measures, with the agent's own encoder:

- the **width of the factors**: the precision :math:`1/\\sigma_n^2` the encoder gives each
  context transition, median and 90th percentile over latent dimensions, split by whether
  the transition was rewarded (the prior's precision is 1); with ``factor_variance="exp"``,
  also the log-variances and the share past the clamp at ±16, where no gradient reaches
  them (posterior collapse);
- the **belief's entropy** before each trajectory (nats, summed over latent dimensions),
  mean over runs, for runs that have and have not yet found their goal;
- **revisits**: of trajectories 7-20 in runs that had not found the goal before them, the
  share that enter no goal disc the context had not already ruled out (every disc they
  cross was crossed before without reward), the exact belief's way of saying "wasted";
- the **success curve**, trajectory by trajectory, beside the ideal agent's
  (:func:`pearlkit.ideal_explorer.ideal_adaptation_curve`), and the two rates it is made of:
  **search**, the share of runs that had not found the goal whose trajectory enters it (the
  ideal agent's: 0.12 for a fresh hypothesis, more once misses rule goals out), and
  **exploitation**, the share of runs that had found it whose trajectory enters it again;
  with the goal discs a not-yet-successful trajectory enters (**coverage**; the ideal: 12.6);
- **where the prior sends the agent**: of the exploration trajectories (z from the prior), the
  share that end short of the arc (|s| < 0.8, where no goal lies) and how those that reach it
  spread over it, in 20-degree bins (the ideal agent's spread evenly).
- **how evenly the prior covers the goals**: for each of the family's 100 goals, the chance
  that one trajectory on a z from the prior enters its disc (2,000 draws), in ten stretches of
  the arc beside the ideal agent's, and what searching with fresh prior draws alone would find
  by trajectory 5 and 19 (:math:`1 - (1 - p_g)^k`, averaged over goals): what a belief that
  ignores misses can reach at trajectories 6 and 20, before exploitation's losses.

With ``--misses-ignored`` the meta-test runs with :func:`pearlkit.belief.misses_ignored`: the
same agent, but a transition without reward multiplies nothing into the belief, so it stays
the prior until a reward arrives (the factor precisions are still the encoder's own). Against
the plain run, that separates what the learned belief costs from what the policy costs.

The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from pearlkit.belief import (belief_entropy, factor_pre_variances, factor_precisions, found_before, imagined_paths,
                             misses_ignored)
from pearlkit.checkpoint import load_agent
from pearlkit.config import EXPLORATION_PRIORS
from pearlkit.envs.point_nav import goal_positions
from pearlkit.evaluate import exploration_beliefs, meta_test
from pearlkit.ideal_explorer import enters_disc, hypothesis_paths, ideal_adaptation_curve
from pearlkit.inference import EXP_LOG_VAR_CLAMP, pick_from_mixture
from pearlkit.sampler import visited_states

#: Goals lie at distance 1 from the start, their discs from 0.8 to 1.2: a path that ends nearer
#: the start than this ends where no goal lies.
ARC_EDGE = 0.8


@torch.no_grad()
def diagnose(run_dir: Path, seed: int, runs_per_task: int = 1, ignore_misses: bool = False,
             exploration_prior: str = "unit") -> dict:
    agent, config, _ = load_agent(run_dir, "cpu")
    config = config.exploring_with(exploration_prior)
    _, tasks = config.split_tasks()
    with misses_ignored(agent) if ignore_misses else nullcontext():
        result = meta_test(agent, tasks, config, seed=seed, runs_per_task=runs_per_task,
                           exploration_beliefs=exploration_beliefs(agent, config, seed))
    num_trajs = result.returns.shape[1]
    goals = goal_positions()
    precisions = factor_precisions(agent, result, config.use_next_obs_in_context)
    pre_variances = factor_pre_variances(agent, result, config.use_next_obs_in_context)
    entropy = belief_entropy(result.z_vars)  # (tasks, K)
    exploiting = found_before(result)
    searching = ~exploiting
    # Which of the family's goal discs each trajectory crossed, and which were crossed before without reward.
    crossed = np.stack([enters_disc(visited_states(traj).numpy(), goals).T for traj in result.trajectories], 1)
    revisits, considered = 0, 0
    for run in range(len(result.successes)):
        ruled_out = np.zeros(len(goals), dtype=bool)
        for k in range(num_trajs):
            if k >= config.num_exp_traj_eval + 1 and searching[run, k]:
                considered += 1
                revisits += not (crossed[run, k] & ~ruled_out).any()
            if not result.successes[run, k]:
                ruled_out |= crossed[run, k]
    stats = lambda x: {"median": float(x.median()), "p90": float(x.quantile(0.9)), "count": int(x.numel())} \
        if x.numel() else None
    successes = result.successes.float()
    rate = lambda mask: [float(successes[mask[:, k], k].mean()) if mask[:, k].any() else None for k in range(num_trajs)]
    return {
        "search_rate": rate(searching),
        "exploitation_rate": rate(exploiting),
        "coverage": [float(crossed[searching[:, k].numpy(), k].sum(-1).mean()) for k in range(num_trajs)],
        "exploration_ends": exploration_ends(result),
        "factor_precision": {kind: stats(values) for kind, values in precisions.items()},
        "factor_pre_variance": {kind: {"p10": float(x.quantile(0.1)), "median": float(x.median()),
                                       "p90": float(x.quantile(0.9)),
                                       "past_clamp": float((x.abs() > EXP_LOG_VAR_CLAMP).float().mean())}
                                if x.numel() else None for kind, x in pre_variances.items()},
        "entropy_not_found": [float(entropy[searching[:, k], k].mean()) if searching[:, k].any()
                              else None for k in range(num_trajs)],
        "entropy_found": [float(entropy[exploiting[:, k], k].mean()) if exploiting[:, k].any() else None
                          for k in range(num_trajs)],
        "revisit_share": revisits / considered if considered else None,
        "trajectories_considered": considered,
        "success_curve": result.successes.float().mean(0).tolist(),
    }


def exploration_ends(result) -> dict:
    """Where the exploration trajectories (z from the prior) end: the share short of the arc
    and, of those on it, how many end in each 20-degree bin of its 180 degrees."""
    exploring = result.trajectories[:result.num_exp_traj_eval]
    ends = np.concatenate([visited_states(traj).numpy()[:, -1] for traj in exploring])
    on_arc = np.linalg.norm(ends, axis=-1) >= ARC_EDGE
    angles = np.degrees(np.arctan2(ends[on_arc, 1], ends[on_arc, 0]))
    return {"short_of_arc": float(1 - on_arc.mean()),
            "per_20_degrees": np.histogram(angles, bins=np.linspace(0, 180, 10))[0].tolist()}


def prior_coverage(agent, config, num_samples: int = 2000, beliefs=None) -> dict:
    """Per goal of the family, the share of ``num_samples`` trajectories on z from the prior
    (or from the mixture of ``beliefs``, ``exploration_prior="training-beliefs"``) that enter
    its disc, and the same for the ideal agent's hypotheses (one per goal)."""
    _, tasks = config.split_tasks()
    prior = torch.zeros(config.latent_dim), torch.ones(config.latent_dim)
    if beliefs is not None:  # one component per draw; imagined_paths samples each row once
        prior = pick_from_mixture(beliefs.means, beliefs.variances, num_samples)
    paths = imagined_paths(agent, tasks[0], *prior, num_samples, config.env_id, config.max_path_length)
    goals = goal_positions()  # the path does not depend on the task: only the reward does
    return {"agent": enters_disc(paths[:, 1:].numpy(), goals).mean(1).tolist(),
            "ideal": enters_disc(hypothesis_paths(), goals).mean(1).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs-per-task", type=int, default=1, help="meta-test runs per goal and seed")
    parser.add_argument("--misses-ignored", action="store_true",
                        help="meta-test with a belief that stays the prior until a reward (pearlkit.belief.misses_ignored)")
    parser.add_argument("--exploration-prior", choices=EXPLORATION_PRIORS, default="unit",
                        help="what z is drawn from while the belief is the prior (default: unit)")
    args = parser.parse_args()
    torch.manual_seed(0)
    runs = {seed: diagnose(args.run_dir, seed, args.runs_per_task, args.misses_ignored, args.exploration_prior)
            for seed in args.seeds}
    agent, config, _ = load_agent(args.run_dir, "cpu")
    config = config.exploring_with(args.exploration_prior)
    _, tasks = config.split_tasks()
    ideal = ideal_adaptation_curve(np.array([t["goal"] for t in tasks]), draws=1000)["success"]
    mean = lambda key: np.mean([r[key] for r in runs.values()], axis=0)
    print(f"{args.run_dir}, evaluation seeds {args.seeds}, 20 held-out goals, {args.runs_per_task} run(s) each"
          + (", misses ignored" if args.misses_ignored else "")
          + (", exploration z from the training beliefs" if args.exploration_prior != "unit" else ""))
    for kind in ("zero reward", "rewarded"):
        medians = [r["factor_precision"][kind]["median"] for r in runs.values() if r["factor_precision"][kind]]
        p90 = [r["factor_precision"][kind]["p90"] for r in runs.values() if r["factor_precision"][kind]]
        if medians:
            print(f"  factor precision, {kind:11s}: median {np.mean(medians):9.1f}, 90th percentile {np.mean(p90):9.1f}"
                  "  (the prior's: 1)")
    if config.factor_variance == "exp":  # where collapse shows: outputs past the clamp get no gradient
        for kind in ("zero reward", "rewarded"):
            rows = [r["factor_pre_variance"][kind] for r in runs.values() if r["factor_pre_variance"][kind]]
            if rows:
                at = lambda key: np.mean([row[key] for row in rows])
                print(f"  factor log-variance, {kind:11s}: 10th / 50th / 90th percentile {at('p10'):.1f} / "
                      f"{at('median'):.1f} / {at('p90'):.1f}; past the clamp (|f| > {EXP_LOG_VAR_CLAMP:g}, no "
                      f"gradient): {at('past_clamp'):.2f}")
    print("  success per trajectory, agent: " + " ".join(f"{v:.2f}" for v in mean("success_curve")))
    print("  success per trajectory, ideal: " + " ".join(f"{v:.2f}" for v in ideal))
    for key, label, digits in (("search_rate", "search: enters the goal, not found before", 2),
                               ("exploitation_rate", "exploitation: enters it again, found before", 2),
                               ("coverage", "coverage: goal discs entered, not found before", 1)):
        pooled = [np.mean([r[key][k] for r in runs.values() if r[key][k] is not None] or [np.nan])
                  for k in range(len(ideal))]
        print(f"  {label}: " + " ".join("  - " if np.isnan(v) else f"{v:4.{digits}f}" for v in pooled))
    # The ideal agent flies back to a found goal, so its success curve is its share found so far.
    found_before_ideal = np.concatenate([[0.0], ideal[:-1]])
    searching_ideal = 1 - found_before_ideal
    print("  search, ideal: " + " ".join(f"{(ideal[k] - found_before_ideal[k]) / searching_ideal[k]:4.2f}"
                                         if searching_ideal[k] > 1e-3 else "  - " for k in range(len(ideal))))
    not_found = [np.mean([r["entropy_not_found"][k] for r in runs.values() if r["entropy_not_found"][k] is not None])
                 for k in range(len(ideal))]
    print("  belief entropy before each trajectory, goal not yet found (nats): "
          + " ".join(f"{v:.1f}" for v in not_found))
    short = np.mean([r["exploration_ends"]["short_of_arc"] for r in runs.values()])
    bins = np.sum([r["exploration_ends"]["per_20_degrees"] for r in runs.values()], axis=0)
    print(f"  exploration trajectories ending short of the arc (|s| < {ARC_EDGE}): {short:.2f}; those on it, "
          "per 20 degrees from 0 to 180: " + " ".join(str(int(b)) for b in bins))
    with misses_ignored(agent) if args.misses_ignored else nullcontext():
        beliefs = exploration_beliefs(agent, config, args.seeds[0])
    coverage = {who: np.array(p) for who, p in prior_coverage(agent, config, beliefs=beliefs).items()}
    for who, p in coverage.items():
        stretches = " ".join(f"{chunk.mean():.3f}" for chunk in np.array_split(p, 10))
        found = lambda k: (1 - (1 - p) ** k).mean()
        print(f"  a prior draw enters a goal's disc, {who:5s}: {p.mean():.3f}; per 18 degrees: {stretches}; "
              f"fresh draws alone find {found(5):.2f} by 5, {found(19):.2f} by 19")
    print(f"  revisits: {np.mean([r['revisit_share'] for r in runs.values()]):.2f} of trajectories 7-20 "
          "that had not found the goal entered only discs already ruled out")
    print(json.dumps({"runs": runs, "ideal_success_curve": ideal.tolist(),
                      "prior_coverage": {who: p.tolist() for who, p in coverage.items()}}))


if __name__ == "__main__":
    main()
