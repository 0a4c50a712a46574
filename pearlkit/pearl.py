r"""The PEARL agent and its meta-training loop.

One iteration: pick training tasks and collect data in them (first with z from the prior,
then with z from the posterior given the context collected so far), then take gradient
steps on batches that span ``meta_batch`` tasks at once. The encoder is trained only by
the critic's Bellman error and the KL term; the policy and V see z with its gradient cut.
"""
from __future__ import annotations

import contextlib
import copy
import math
from typing import Iterator, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from pearlkit.buffers import MultiTaskReplayBuffer
from pearlkit.config import PearlConfig
from pearlkit.envs import Task, make_env
from pearlkit.inference import ContextEncoder, kl_to_prior, sample_z
from pearlkit.networks import MLP, QNetwork, TanhGaussianPolicy, VNetwork
from pearlkit.runtime import resolve_precision
from pearlkit.sac import (
    TransitionBatch,
    policy_loss,
    polyak_update,
    q_loss,
    q_target,
    v_loss,
    v_target,
)
from pearlkit.sampler import EnvPool, rollout, valid_steps


class PearlAgent(nn.Module):
    """The inference network and the five SAC networks, conditioned on z.

    Args:
        obs_dim, action_dim: sizes of the environment's spaces.
        config: the run's configuration (network sizes, latent size, context layout).
    """

    def __init__(self, obs_dim: int, action_dim: int, config: PearlConfig) -> None:
        super().__init__()
        self.obs_dim, self.action_dim, self.latent_dim = obs_dim, action_dim, config.latent_size
        self.context_dim = obs_dim + action_dim + 1 + (obs_dim if config.use_next_obs_in_context else 0)
        hidden, latent = config.hidden_sizes, config.latent_size
        self.encoder = ContextEncoder(self.context_dim, latent, config.encoder_hidden_sizes,
                                      config.probabilistic_encoder)
        self.policy = TanhGaussianPolicy(obs_dim, latent, action_dim, hidden)
        self.qf1 = QNetwork(obs_dim, action_dim, latent, hidden)
        self.qf2 = QNetwork(obs_dim, action_dim, latent, hidden)
        self.vf = VNetwork(obs_dim, latent, hidden)
        self.target_vf = copy.deepcopy(self.vf).requires_grad_(False)
        self.precision = torch.float32

    def set_precision(self, dtype: torch.dtype) -> PearlAgent:
        """Run every network's hidden layers in ``dtype`` (float32 or bfloat16), in training,
        rollouts and meta-test alike."""
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"precision must be torch.float32 or torch.bfloat16, got {dtype}")
        self.precision = dtype
        for module in self.modules():
            if isinstance(module, MLP):
                module.hidden_dtype = dtype
        return self


def build_agent(config: PearlConfig, device: torch.device) -> PearlAgent:
    """A freshly initialised agent sized for ``config.env_id``'s spaces, on ``device``, in the
    precision ``config.precision`` resolves to there."""
    env = make_env(config.env_id)
    agent = PearlAgent(env.observation_space.shape[0], env.action_space.shape[0], config).to(device)
    return agent.set_precision(resolve_precision(config.precision, device))


class Optimizers(NamedTuple):
    """Adam for the critic side (Q1, Q2, encoder) and for the actor side (policy, V)."""

    critic: torch.optim.Optimizer
    actor: torch.optim.Optimizer


def make_optimizers(agent: PearlAgent, config: PearlConfig) -> Optimizers:
    """One Adam per side, one parameter group per network (so each keeps its own rate)."""
    # paper-vs-code: the reference has one Adam per network; Adam treats every parameter
    # separately, so grouping them changes no arithmetic, only the number of calls.
    group = lambda module, lr: {"params": list(module.parameters()), "lr": lr}
    critic = torch.optim.Adam([group(agent.qf1, config.qf_lr), group(agent.qf2, config.qf_lr),
                               group(agent.encoder, config.context_lr)])
    actor = torch.optim.Adam([group(agent.policy, config.policy_lr), group(agent.vf, config.vf_lr)])
    return Optimizers(critic, actor)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Within the block, gradients flow *through* ``modules`` but not *into* their weights."""
    flags = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def update_step(agent: PearlAgent, optimizers: Optimizers, batch: TransitionBatch, context: Tensor,
                config: PearlConfig) -> dict[str, Tensor]:
    r"""One gradient step on all networks, batched over the tasks of the meta-batch.

    Args:
        batch: ``num_tasks * batch_size`` transitions, task-major (see ``sample_batch``).
        context: ``(num_tasks, embedding_batch_size, context_dim)``, same task order.
    Returns:
        The detached losses: ``q_loss``, ``kl``, ``v_loss``, ``policy_loss``, and the mean
        belief variance ``z_var``.
    """
    num_tasks = context.shape[0]
    z_mean, z_var = agent.encoder(context)
    z = sample_z(z_mean, z_var).repeat_interleave(batch.obs.shape[0] // num_tasks, dim=0)

    # Critic and encoder: the Bellman error of Q1, Q2 (through z) plus the KL to the prior.
    with torch.no_grad():
        target = q_target(batch.reward, batch.terminal, agent.target_vf(batch.next_obs, z),
                          config.reward_scale, config.discount)
    loss_q = q_loss(agent.qf1(batch.obs, batch.action, z), agent.qf2(batch.obs, batch.action, z), target)
    # paper-vs-code: like the reference, the KL is summed over the tasks of the meta-batch.
    no_kl = torch.zeros((), device=z_mean.device)  # the deterministic variant has no KL term
    kl = kl_to_prior(z_mean, z_var).sum() if config.probabilistic_encoder else no_kl
    optimizers.critic.zero_grad(set_to_none=True)
    (loss_q + config.kl_lambda * kl).backward()
    optimizers.critic.step()

    # Actor and value: z is detached, so neither trains the encoder. Q is the updated one.
    z_bar = z.detach()
    pi = agent.policy(batch.obs, z_bar)
    with frozen(agent.qf1, agent.qf2):
        min_q_new = torch.min(agent.qf1(batch.obs, pi.action, z_bar), agent.qf2(batch.obs, pi.action, z_bar))
    loss_v = v_loss(agent.vf(batch.obs, z_bar), v_target(min_q_new, pi.log_pi))
    loss_pi = policy_loss(pi.log_pi, min_q_new, pi.mean, pi.log_std, config.policy_mean_reg, config.policy_std_reg)
    optimizers.actor.zero_grad(set_to_none=True)
    (loss_v + loss_pi).backward()
    optimizers.actor.step()
    polyak_update(agent.target_vf, agent.vf, config.tau)
    return {"q_loss": loss_q.detach(), "kl": kl.detach(), "v_loss": loss_v.detach(),
            "policy_loss": loss_pi.detach(), "z_var": z_var.detach().mean()}


@torch.no_grad()
def collect_data(agent: PearlAgent, pool: EnvPool, tasks: list[Task], task_ids: list[int],
                 replay: MultiTaskReplayBuffer, context_buffer: MultiTaskReplayBuffer, num_steps: int,
                 config: PearlConfig, update_posterior: bool, add_to_context: bool = True) -> int:
    """Collect whole trajectories in each of ``task_ids`` (in lockstep) until each has ``num_steps``.

    Starts from the prior; z is resampled after every trajectory. With ``update_posterior``,
    every ``update_post_train`` trajectories the belief is inferred from
    ``embedding_batch_size`` transitions of each task's context buffer.

    Returns:
        Transitions collected, over all tasks.
    """
    if num_steps <= 0:
        return 0
    device = next(agent.parameters()).device
    envs = pool.take([tasks[i] for i in task_ids])
    ids = torch.as_tensor(task_ids)
    z_mean, z_var = agent.encoder.belief_without_context(len(task_ids), device)
    act = lambda obs, z: agent.policy(obs, z).action
    collected = np.zeros(len(task_ids), dtype=int)
    trajectories_done = 0
    while (collected < num_steps).any():
        traj, valid, _ = rollout(pool, envs, act, sample_z(z_mean, z_var), config.max_path_length)
        for slot, task in enumerate(task_ids):
            if collected[slot] >= num_steps:
                continue  # this task has its share; its extra trajectory is dropped
            steps = valid_steps(traj, valid, slot)
            replay.add(task, steps)
            if add_to_context:
                context_buffer.add(task, steps)
            collected[slot] += steps.obs.shape[0]
        trajectories_done += 1
        if update_posterior and trajectories_done % config.update_post_train == 0:
            if (context_buffer.size[ids] > 0).all():
                context = context_buffer.sample_context(ids, config.embedding_batch_size,
                                                        config.use_next_obs_in_context)
                z_mean, z_var = agent.encoder(context)
    return int(collected.sum())


def collect_iteration(agent: PearlAgent, pool: EnvPool, tasks: list[Task], picked: list[int],
                      replay: MultiTaskReplayBuffer, context_buffer: MultiTaskReplayBuffer,
                      config: PearlConfig) -> int:
    """One iteration's data collection in the ``picked`` training tasks.

    Each picked task's context buffer is cleared first, then filled with this round's
    prior and posterior data only; the extra-RL data goes to the replay buffer alone.

    Returns:
        Transitions collected.
    """
    for task in picked:
        context_buffer.clear(task)
    collected = 0
    for steps, posterior, to_context in ((config.num_steps_prior, False, True),
                                         (config.num_steps_posterior, True, True),
                                         (config.num_extra_rl_steps_posterior, True, False)):
        collected += collect_data(agent, pool, tasks, picked, replay, context_buffer, steps, config,
                                  update_posterior=posterior, add_to_context=to_context)
    return collected


def first_bad_loss(losses: dict[str, Tensor]) -> str | None:
    """Name of the first non-finite loss, or None."""
    values = torch.stack(list(losses.values()))
    if torch.isfinite(values).all():
        return None
    return next(name for name, value in losses.items() if not math.isfinite(value.item()))
