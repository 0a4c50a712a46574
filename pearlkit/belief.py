r"""What a belief means: how q(z|c) changes as context arrives, and where it sends the agent.

These are the computations behind the book's belief and exploration figures. They use the
agent's own encoder and policy (nothing is re-implemented here):

* :func:`beliefs_along` gives the belief after each prefix of a context, c_{1:n} for
  n = 0..N, so a figure can show the posterior narrowing transition by transition;
* :func:`imagined_paths` samples z from a belief and rolls the policy out with each sample,
  which shows what the belief *means* in the plane: where the agent would go if it acted
  on it;
* :func:`task_context` gathers, in time order, the transitions a meta-test run collected in
  one task (the context the agent accumulated there);
* :func:`factor_precisions` and :func:`belief_entropy` measure how much a meta-test's
  transitions narrowed the belief: each factor's precision, split by reward, and the belief's
  differential entropy;
* :func:`found_before` says which runs had already found their goal before each trajectory;
* :func:`misses_ignored` meta-tests the same agent with a belief that reads a transition
  without reward as no information, which separates what the learned belief costs from what
  the policy costs.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor

from pearlkit.buffers import Transitions, context_from_transitions
from pearlkit.envs import Task
from pearlkit.inference import MIN_FACTOR_VAR, sample_z
from pearlkit.runtime import seeded_stream
from pearlkit.sampler import EnvPool, rollout, valid_steps, visited_states

if TYPE_CHECKING:
    from pearlkit.evaluate import MetaTestResult
    from pearlkit.pearl import PearlAgent


class BeliefPath(NamedTuple):
    """The belief after each prefix of one task's context: row ``n`` has seen ``n`` transitions."""

    z_mean: Tensor  #: ``(N + 1, latent_dim)``
    z_var: Tensor  #: ``(N + 1, latent_dim)``


def task_context(result: MetaTestResult, task_index: int, num_trajs: int | None = None) -> Transitions:
    """The transitions a meta-test run collected in one task, in time order, flat ``(n, ·)``.

    Args:
        result: :func:`pearlkit.evaluate.meta_test`'s result.
        task_index: which task of that run.
        num_trajs: keep only the first ``num_trajs`` trajectories (default: all).
    """
    kept = result.trajectories[:num_trajs]
    pieces = [valid_steps(traj, result.valid[:, k], task_index) for k, traj in enumerate(kept)]
    return Transitions(*(torch.cat(field) for field in zip(*pieces)))


@torch.no_grad()
def beliefs_along(agent: PearlAgent, transitions: Transitions, use_next_obs: bool = False) -> BeliefPath:
    r"""The belief :math:`q(z \mid c_{1:n})` for every n = 0..N, with the agent's encoder.

    Row 0 is the belief without context (the prior). The N prefixes go through the encoder
    as N separate contexts, so each row is exactly what the agent would infer from it.
    """
    device = agent.device
    context = context_from_transitions(transitions, use_next_obs).to(device)
    means, variances = agent.encoder.belief_without_context(1, device)
    rows_mean, rows_var = [means], [variances]
    for n in range(1, context.shape[0] + 1):
        z_mean, z_var = agent.encoder(context[None, :n])
        rows_mean.append(z_mean)
        rows_var.append(z_var)
    return BeliefPath(torch.cat(rows_mean).cpu(), torch.cat(rows_var).cpu())


@torch.no_grad()
def imagined_paths(agent: PearlAgent, task: Task, z_mean: Tensor, z_var: Tensor, num_samples: int,
                   env_id: str, horizon: int, seed: int = 0) -> Tensor:
    r"""Where the agent goes when it acts on samples of one belief.

    Draws ``num_samples`` z from :math:`\mathcal N(\mu, \sigma^2)` and runs one deterministic
    trajectory (``a = tanh(mean)``) per sample in ``task``, as meta-test does.

    Args:
        z_mean, z_var: one belief, shape ``(latent_dim,)``.
        env_id: the environment family (navigation: positions are the observations).
    Returns:
        Observations along each path, ``(num_samples, horizon + 1, obs_dim)``, start included.
    """
    device = agent.device
    with seeded_stream(seed, device):  # the same draws for every frame: only the belief moves
        z = sample_z(z_mean.expand(num_samples, -1).to(device), z_var.expand(num_samples, -1).to(device))
    pool = EnvPool(env_id, seed)
    envs = pool.take([task] * num_samples)
    act = lambda obs, z_rows: agent.policy(obs, z_rows, deterministic=True).action
    traj, _, _ = rollout(pool, envs, act, z, horizon)
    return visited_states(traj)


@torch.no_grad()
def factor_precisions(agent: PearlAgent, result: MetaTestResult, use_next_obs: bool = False) -> dict[str, Tensor]:
    r"""The precision :math:`1/\sigma_n^2` of the factor the agent's encoder gives each transition
    of a meta-test, per latent dimension, split by whether the transition was rewarded.

    The belief's precision is the sum of its factors' (equation ``eq-product``), so a factor
    of precision 0 says nothing and one of precision 100 narrows the belief as much as a
    hundred factors of the prior's precision, 1.

    Args:
        result: :func:`pearlkit.evaluate.meta_test`'s result with ``agent`` (all its tasks and
            trajectories are measured).
    Returns:
        ``{"zero reward": (n0 * latent_dim,), "rewarded": (n1 * latent_dim,)}``, flat.
    """
    return _split_by_reward(result, use_next_obs, agent.device,  # the floor the product applies too
                            lambda context: 1.0 / agent.encoder.factors(context)[1].clamp(min=MIN_FACTOR_VAR))


@torch.no_grad()
def factor_pre_variances(agent: PearlAgent, result: MetaTestResult, use_next_obs: bool = False) -> dict[str, Tensor]:
    """What the encoder outputs for each transition's variance before it becomes one (the
    log-variance with ``factor_variance="exp"``), split as :func:`factor_precisions` splits.
    Beyond the clamp of ``"exp"`` (±16) an output gets no gradient: the mark of collapse."""
    return _split_by_reward(result, use_next_obs, agent.device, agent.encoder.factor_pre_variances)


def _split_by_reward(result: MetaTestResult, use_next_obs: bool, device: torch.device,
                     measure: Callable[[Tensor], Tensor]) -> dict[str, Tensor]:
    """``measure`` of each task's context (``(1, N, context_dim)`` to ``(1, N, latent_dim)``), its
    rows split by whether the transition was rewarded and flattened."""
    kinds = {"zero reward": [], "rewarded": []}
    for task_index in range(result.returns.shape[0]):
        steps = task_context(result, task_index)
        values = measure(context_from_transitions(steps, use_next_obs).to(device)[None])[0].cpu()
        rewarded = steps.reward.flatten() > 0
        kinds["rewarded"].append(values[rewarded].flatten())
        kinds["zero reward"].append(values[~rewarded].flatten())
    return {kind: torch.cat(values) for kind, values in kinds.items()}


def belief_entropy(z_var: Tensor) -> Tensor:
    r"""Differential entropy of a diagonal Gaussian belief, in nats, over the last dimension:

    .. math:: H = \tfrac12 \sum_d \log\big(2 \pi e\, \sigma_d^2\big)

    The unit prior in 5 dimensions has 7.09 nats; each halving of every standard deviation
    takes :math:`5 \log 2 \approx 3.47` away.
    """
    return 0.5 * torch.log(2 * math.pi * math.e * z_var).sum(-1)


def found_before(result: MetaTestResult) -> Tensor:
    """``(num_runs, K)`` bool: the run entered its goal in a trajectory before trajectory k
    (so trajectory k exploits; where False, it still searches)."""
    entered = result.successes.int()
    return torch.cumsum(entered, 1) - entered > 0


@contextmanager
def misses_ignored(agent: PearlAgent) -> Iterator[PearlAgent]:
    r"""Within the block, ``agent``'s encoder multiplies in only the factors
    of rewarded transitions, and the unit prior (its ``ignore_misses``):

    .. math:: q(z \mid c) \propto \mathcal N(0, I)
              \prod_{n:\, r_n \neq 0} \Psi(z \mid c_n)

    Until a reward arrives, the belief is the prior: the most a Gaussian
    belief can honestly make of a miss. Meta-test an agent inside the block
    and outside it to separate what its learned belief costs from what its
    policy costs. On leaving, the encoder infers as trained again.
    """
    encoder = agent.encoder
    if not encoder.probabilistic or encoder.mlp is None:
        raise ValueError("misses_ignored needs a probabilistic encoder "
                         "with context (latent_dim > 0)")
    trained = encoder.ignore_misses
    encoder.ignore_misses = True
    try:
        yield agent
    finally:
        encoder.ignore_misses = trained
