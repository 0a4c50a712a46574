"""What bfloat16 does to the critic: the error it puts on Q and on the Bellman error, measured on
a trained agent's own meta-test data, for three ways of placing the number format.

    python benchmarks/precision_error.py [RUN_DIR ...]   (default: the shipped cheetahs)

For each run folder: meta-test the agent (float32) to get real states, actions, rewards and
beliefs, then evaluate Q1 and the Bellman target on them in

- ``float32``: the reference;
- ``hidden bf16``: pearlkit's ``precision="bfloat16"`` (hidden layers in bfloat16, output layer
  and everything after it in float32);
- ``all bf16``: the output layer in bfloat16 too (the whole forward under ``torch.autocast``).

It prints, per variant, the RMS error on Q against float32, the RMS Bellman error
:math:`\\delta = Q - y` itself (what the critic is trained to shrink), the error on
:math:`\\delta` relative to it, and the cosine between the float32 and the variant's gradient
of the Q loss. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from pearlkit.checkpoint import load_agent
from pearlkit.evaluate import meta_test
from pearlkit.pearl import next_state_value
from pearlkit.sac import q_loss, q_target

ROOT = Path(__file__).parents[1]
VARIANTS = ("float32", "hidden bf16", "all bf16")


def critic_batch(run_dir: Path, seed: int = 0):
    """Transitions, z and the agent from one float32 meta-test of ``run_dir``'s agent."""
    agent, config, _ = load_agent(run_dir, "cpu")
    _, tasks = config.split_tasks()
    result = meta_test(agent, tasks, config, seed=seed)
    k = config.num_exp_traj_eval  # the first trajectory after exploration, with z from the belief
    traj, valid = result.trajectories[k], result.valid[:, k]
    z = result.z[:, k, None, :].expand(-1, traj.obs.shape[1], -1)
    pick = lambda x: x[valid]
    return agent, config, (pick(traj.obs), pick(traj.action), pick(traj.dense_reward), pick(traj.next_obs),
                           pick(traj.terminal), pick(z))


def critic_pass(agent, config, batch, variant: str):
    """Q1, the Bellman error and the gradient of the Q loss on Q1's weights, in ``variant``."""
    obs, action, reward, next_obs, terminal, z = batch
    agent.set_precision(torch.float32 if variant == "float32" else torch.bfloat16)
    agent.q1.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant == "all bf16"):
        with torch.no_grad():
            torch.manual_seed(0)  # with critic_target="q-bar" the target samples a'; the same draws in each variant
            target = q_target(reward, terminal, next_state_value(agent, next_obs, z, config).float(),
                              config.reward_scale, config.discount)
        q1 = agent.q1(obs, action, z).float()
    q_loss(q1, q1.detach(), target).backward()
    grad = torch.cat([p.grad.flatten() for p in agent.q1.parameters()])
    agent.set_precision(torch.float32)
    return q1.detach(), (q1 - target).detach(), grad


def measure(run_dir: Path) -> dict:
    agent, config, batch = critic_batch(run_dir)
    reference_q, reference_delta, reference_grad = critic_pass(agent, config, batch, "float32")
    rms = lambda x: x.pow(2).mean().sqrt().item()
    figures = {"transitions": int(batch[0].shape[0]), "rms_q": rms(reference_q), "rms_delta": rms(reference_delta)}
    for variant in VARIANTS[1:]:
        q, delta, grad = critic_pass(agent, config, batch, variant)
        figures[variant] = {
            "rms_q_error": rms(q - reference_q),
            "delta_error_over_rms_delta": rms(delta - reference_delta) / rms(reference_delta),
            "grad_cosine": torch.nn.functional.cosine_similarity(grad, reference_grad, dim=0).item(),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", type=Path,
                        default=[ROOT / "results" / "cheetah-vel", ROOT / "results" / "cheetah-fwd-back"])
    args = parser.parse_args()
    torch.manual_seed(0)
    out = {}
    for run_dir in args.run_dirs:
        figures = out[run_dir.name] = measure(run_dir)
        print(f"{run_dir.name}: {figures['transitions']} transitions, RMS Q {figures['rms_q']:.1f}, "
              f"RMS Bellman error {figures['rms_delta']:.2f}")
        for variant in VARIANTS[1:]:
            f = figures[variant]
            print(f"  {variant:12s} Q error (RMS) {f['rms_q_error']:7.3f}   Bellman-error error / RMS Bellman error "
                  f"{f['delta_error_over_rms_delta']:6.3f}   gradient cosine {f['grad_cosine']:.4f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
