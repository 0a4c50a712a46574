"""Milliseconds per PEARL gradient step (encoder + all SAC networks updated), on synthetic data.

Two sizes: the reference one (Q/V/policy 3x300, encoder 3x200, observation 20, action 6,
latent 5, 16 tasks x 256 transitions, 100 context transitions per task) and the
``sparse-point-robot`` preset's (its own networks, batch and context sizes, on the point
robot's 2-D observations and actions). The last line printed is one JSON object.

    python benchmarks/step_speed.py [--steps 30] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import pearlkit
from pearlkit.config import PearlConfig
from pearlkit.pearl import PearlAgent, make_optimizers, update_step
from pearlkit.sac import TransitionBatch


def ms_per_step(config: PearlConfig, obs_dim: int, action_dim: int, context_size: int, steps: int) -> float:
    """Median wall-clock milliseconds of ``update_step`` over ``steps`` steps (after 5 warm-up steps)."""
    torch.manual_seed(0)
    agent = PearlAgent(obs_dim, action_dim, config)
    optimizers = make_optimizers(agent, config)
    n = config.meta_batch * config.batch_size
    batch = TransitionBatch(torch.randn(n, obs_dim), torch.rand(n, action_dim) * 2 - 1, -torch.rand(n),
                            torch.randn(n, obs_dim), torch.zeros(n))
    context = torch.randn(config.meta_batch, context_size, agent.context_dim)
    times = []
    for i in range(steps + 5):
        start = time.perf_counter()
        update_step(agent, optimizers, batch, context, config)
        if i >= 5:
            times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    reference = pearlkit.get_preset("sparse-point-robot-paper").replace(meta_batch=16, batch_size=256)
    fast = pearlkit.get_preset("sparse-point-robot")
    ms_reference = ms_per_step(reference, obs_dim=20, action_dim=6, context_size=100, steps=args.steps)
    print(f"reference size (3x300 / 3x200, 16 x 256, context 100): {ms_reference:.1f} ms per step", flush=True)
    ms_fast = ms_per_step(fast, obs_dim=2, action_dim=2, context_size=fast.embedding_batch_size, steps=args.steps)
    print(f"sparse-point-robot preset ({fast.hidden_sizes} / {fast.encoder_hidden_sizes}, "
          f"{fast.meta_batch} x {fast.batch_size}, context {fast.embedding_batch_size}): {ms_fast:.1f} ms per step")
    print(json.dumps({"ms_per_step_reference": round(ms_reference, 2), "ms_per_step_fast": round(ms_fast, 2),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
