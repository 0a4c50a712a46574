"""Where a MuJoCo family's time goes: simulator, environment, batched rollouts, gradient steps.

For one family (default ``cheetah-vel``), measures on this machine, in one run:

* ``raw_mujoco_steps_per_s``: ``mujoco.mj_step`` alone, counted in environment steps
  (one environment step is ``frame_skip`` physics steps);
* ``env_steps_per_s``: ``env.step`` of one pearlkit environment (reward, observation, Python);
* ``rollout_steps_per_s``: pearlkit's sampler with the preset's policy, N environments in
  lockstep and one policy forward for all of them, for N in ``--envs``;
* ``grad_steps_per_s``: PEARL gradient steps at the preset's size (encoder and all SAC networks).

The last line printed is one JSON object.

    python benchmarks/locomotion_speed.py [--family cheetah-vel] [--envs 1 10 100] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import time

import mujoco
import numpy as np
import torch
from step_speed import ms_per_step

import pearlkit
from pearlkit.envs import make_env
from pearlkit.pearl import build_agent
from pearlkit.sampler import EnvPool, rollout


def raw_mujoco_rate(env, seconds: float = 2.0) -> float:
    """Environment steps per second of the bare simulator (``frame_skip`` ``mj_step`` calls each)."""
    model, data = env.model, env.data
    mujoco.mj_resetData(model, data)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        data.ctrl[:] = rng.uniform(-0.4, 0.4, size=model.nu)
        for _ in range(env.frame_skip):
            mujoco.mj_step(model, data)
        steps += 1
        if steps % 1000 == 0:
            mujoco.mj_resetData(model, data)
    return steps / (time.perf_counter() - start)


def env_rate(env, seconds: float = 2.0) -> float:
    """Environment steps per second of ``env.step`` with random actions (resetting when done)."""
    env.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, _, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or steps % 200 == 0:
            env.reset()
    return steps / (time.perf_counter() - start)


def rollout_rate(config: pearlkit.PearlConfig, num_envs: int, horizon: int = 200) -> float:
    """Steps per second of one lockstep rollout in ``num_envs`` environments (valid steps only)."""
    agent = build_agent(config, torch.device("cpu"))
    env_cls = type(make_env(config.env_id))
    pool = EnvPool(config.env_id, seed=0)
    envs = pool.take(env_cls.sample_tasks(num_envs))
    z = torch.randn(num_envs, config.latent_dim)
    act = lambda obs, z_: agent.policy(obs, z_).action
    rollout(pool, envs, act, z, 5)  # warm-up
    start = time.perf_counter()
    _, valid, _ = rollout(pool, envs, act, z, horizon)
    return int(valid.sum()) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="cheetah-vel", help="a locomotion preset name")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = pearlkit.get_preset(args.family)
    env = make_env(config.env_id)
    raw, single = raw_mujoco_rate(env), env_rate(env)
    print(f"{args.family} ({config.env_id}, frame_skip {env.frame_skip})")
    print(f"  raw MuJoCo:          {raw:9.0f} env steps/s")
    print(f"  one environment:     {single:9.0f} env steps/s ({single / raw:.0%} of raw MuJoCo)")
    rollouts = {}
    for n in args.envs:
        rollouts[n] = rollout_rate(config, n)
        print(f"  rollout, {n:3d} envs:  {rollouts[n]:9.0f} env steps/s ({rollouts[n] / raw:.0%} of raw MuJoCo), "
              f"policy {config.hidden_sizes}")
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    ms = ms_per_step(config, obs_dim, action_dim, config.embedding_batch_size, steps=20)
    print(f"  gradient steps:      {1e3 / ms:9.1f} per s ({ms:.1f} ms; {config.hidden_sizes} / "
          f"{config.encoder_hidden_sizes}, {config.meta_batch} tasks x {config.batch_size})")
    print(json.dumps({"family": args.family, "raw_mujoco_steps_per_s": round(raw), "env_steps_per_s": round(single),
                      "rollout_steps_per_s": {str(n): round(r) for n, r in rollouts.items()},
                      "grad_steps_per_s": round(1e3 / ms, 2), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
