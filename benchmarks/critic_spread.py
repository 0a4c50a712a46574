"""How much a trained critic's Bellman residual varies across draws of z from one belief.

    python benchmarks/critic_spread.py RUN_DIR [RUN_DIR ...] [--draws 16] [--batches 20]

For each run, loads its last checkpoint (agent and buffers), samples training batches and
contexts as a gradient step does (seeded, the same for every run), draws ``--draws`` z from
each task's belief and prints, averaged over transitions, for Q1:

- the squared residual averaged over the belief, :math:`(\\mathbb E_z[Q - y])^2`, what the
  unbiased critic (``critic_z_samples`` > 1) is trained on;
- the residual's spread across the draws, :math:`\\operatorname{Var}_z[Q - y]`, what it is
  not trained on (the one-draw loss charges it, and so does ``critic_spread_weight``);
- the standard deviation of Q itself across the draws, and the mean :math:`|Q|`.

A spread that is large against the first figure means Q is pinned only on average over the
belief: at a single z it may be far from any target. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from pearlkit.config import PearlConfig
from pearlkit.pearl import critic_over_draws
from pearlkit.training import new_run, restore_run


@torch.no_grad()
def critic_spread(run_dir: Path, draws: int = 16, batches: int = 20, seed: int = 0) -> dict:
    config = PearlConfig.from_file(run_dir / "config.json")
    run = new_run(config, torch.device("cpu"))
    restore_run(run, run_dir)
    trainer, agent = run.trainer, run.trainer.agent
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    figures = {"mean_residual_squared": [], "residual_variance": [], "q_sd": [], "q_abs": []}
    for _ in range(batches):
        task_ids = torch.as_tensor(rng.integers(config.num_train_tasks, size=config.meta_batch))
        batch = trainer.replay.sample_batch(task_ids, config.batch_size, config.critic_reward)
        context = trainer.context_buffer.sample_context(task_ids, config.embedding_batch_size,
                                                        config.use_next_obs_in_context)
        z_mean, z_var = agent.encoder(context)
        q, _, target, _ = critic_over_draws(agent, batch, z_mean, z_var, draws, config)
        residual, q = (q - target).view(draws, -1), q.view(draws, -1)  # (draws, transitions)
        figures["mean_residual_squared"].append(float((residual.mean(0) ** 2).mean()))
        figures["residual_variance"].append(float(residual.var(0).mean()))
        figures["q_sd"].append(float(q.std(0).mean()))
        figures["q_abs"].append(float(q.abs().mean()))
    return {"iteration": run.state.iteration, **{k: float(np.mean(v)) for k, v in figures.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", type=Path, nargs="+")
    parser.add_argument("--draws", type=int, default=16, help="draws of z per belief (default 16)")
    parser.add_argument("--batches", type=int, default=20, help="meta-batches sampled (default 20)")
    args = parser.parse_args()
    if args.draws < 2:
        parser.error(f"--draws must be at least 2 (a spread needs two draws), got {args.draws}")
    results = {}
    print(f"{'run':40s} {'iteration':>9s} {'(E_z[Q-y])^2':>13s} {'Var_z[Q-y]':>11s} {'sd_z Q':>7s} {'|Q|':>7s}")
    for run_dir in args.run_dirs:
        r = results[str(run_dir)] = critic_spread(run_dir, args.draws, args.batches)
        print(f"{run_dir.name:40s} {r['iteration']:9d} {r['mean_residual_squared']:13.1f} "
              f"{r['residual_variance']:11.1f} {r['q_sd']:7.1f} {r['q_abs']:7.1f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
