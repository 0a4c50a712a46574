"""Milliseconds per PEARL gradient step (encoder + all SAC networks updated), on synthetic data,
in float32 and in bfloat16 (``precision``) side by side, at 1 and 2 threads.

Sizes: the reference one (Q/V/policy 3x300, encoder 3x200, observation 20, action 6, latent 5,
16 tasks x 256 transitions, 100 context transitions per task), then every fast preset's own
(networks, batch and context sizes, on its environment's observation and action sizes).
The two precisions of one size are timed in alternation, step by step, so a change in the
machine's load hits both alike. The last line printed is one JSON object.

    python benchmarks/step_speed.py [--steps 20] [--threads 1 2] [--only reference]
    python benchmarks/step_speed.py --profile sparse-point-robot   # where a small step's time goes
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import pearlkit
from pearlkit.config import PearlConfig
from pearlkit.envs import make_env
from pearlkit.pearl import PearlAgent, make_optimizers, update_step
from pearlkit.sac import TransitionBatch

PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}
REFERENCE = dict(obs_dim=20, action_dim=6, context_size=100)


def sizes() -> dict[str, tuple[PearlConfig, int, int, int]]:
    """Name -> (config, obs_dim, action_dim, context transitions per task) for every timed size."""
    reference = pearlkit.get_preset("sparse-point-robot-paper").replace(meta_batch=16, batch_size=256)
    out = {"reference": (reference, REFERENCE["obs_dim"], REFERENCE["action_dim"], REFERENCE["context_size"])}
    for name, config in pearlkit.PRESETS.items():
        if name.endswith("-paper"):
            continue
        env = make_env(config.env_id)
        out[name] = (config, env.observation_space.shape[0], env.action_space.shape[0], config.embedding_batch_size)
    return out


def step_inputs(config: PearlConfig, obs_dim: int, action_dim: int, context_size: int):
    """A seeded agent, its optimizers, one synthetic batch and one context."""
    torch.manual_seed(0)
    agent = PearlAgent(obs_dim, action_dim, config)
    n = config.meta_batch * config.batch_size
    batch = TransitionBatch(torch.randn(n, obs_dim), torch.rand(n, action_dim) * 2 - 1, -torch.rand(n),
                            torch.randn(n, obs_dim), torch.zeros(n))
    context = torch.randn(config.meta_batch, context_size, agent.context_dim)
    return agent, make_optimizers(agent, config), batch, context


def ms_per_step(config: PearlConfig, obs_dim: int, action_dim: int, context_size: int, steps: int) -> dict[str, float]:
    """Median milliseconds of ``update_step`` per precision over ``steps`` steps (after 5 warm-up
    steps), the precisions taking turns step by step."""
    runs = {}
    for name, dtype in PRECISIONS.items():
        agent, optimizers, batch, context = step_inputs(config, obs_dim, action_dim, context_size)
        runs[name] = (agent.set_precision(dtype), optimizers, batch, context)
    times: dict[str, list[float]] = {name: [] for name in PRECISIONS}
    for i in range(steps + 5):
        for name, (agent, optimizers, batch, context) in runs.items():
            start = time.perf_counter()
            update_step(agent, optimizers, batch, context, config)
            if i >= 5:
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * sorted(t)[len(t) // 2] for name, t in times.items()}


def profile(name: str, steps: int = 20) -> None:
    """Print where one size's step spends its time, per precision (torch profiler, top operators)."""
    config, obs_dim, action_dim, context_size = sizes()[name]
    for precision, dtype in PRECISIONS.items():
        agent, optimizers, batch, context = step_inputs(config, obs_dim, action_dim, context_size)
        agent.set_precision(dtype)
        for _ in range(5):
            update_step(agent, optimizers, batch, context, config)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                update_step(agent, optimizers, batch, context, config)
        print(f"=== {name}, {precision}, {steps} steps, {torch.get_num_threads()} threads")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="+", default=None, help="time only these sizes (reference, preset names)")
    parser.add_argument("--profile", default=None, metavar="SIZE", help="profile one size instead of timing")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    table = sizes()
    unknown = sorted(set(args.only or []) - set(table))
    if unknown:
        raise SystemExit(f"unknown size(s) {unknown}; allowed: {sorted(table)}")
    results: dict[str, dict] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, (config, obs_dim, action_dim, context_size) in table.items():
            if args.only and name not in args.only:
                continue
            ms = ms_per_step(config, obs_dim, action_dim, context_size, args.steps)
            ratio = ms["float32"] / ms["bfloat16"]
            results.setdefault(name, {})[f"threads_{threads}"] = {**{k: round(v, 2) for k, v in ms.items()},
                                                                  "speedup": round(ratio, 2)}
            print(f"{threads} thread(s)  {name:24s} {config.hidden_sizes}/{config.encoder_hidden_sizes}, "
                  f"{config.meta_batch} x {config.batch_size}, context {context_size}: float32 {ms['float32']:7.1f} ms, "
                  f"bfloat16 {ms['bfloat16']:7.1f} ms, {ratio:.2f}x", flush=True)
    print(json.dumps({"ms_per_step": results, "cpu_bf16": pearlkit.runtime.cpu_has_native_bf16()}))


if __name__ == "__main__":
    main()
