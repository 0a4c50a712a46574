r"""Soft Actor-Critic as PEARL uses it (the SAC paper's first version, with a V network).

Five networks: :math:`Q_1, Q_2` (no target Qs), :math:`V` and its Polyak-averaged copy
:math:`\bar V`, and the policy :math:`\pi`. The temperature is fixed at 1; the reward scale
sets the balance between reward and entropy instead. All networks see the task through z;
only the Q losses (and the KL) train the encoder.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn


class TransitionBatch(NamedTuple):
    """Transitions from the replay buffers, flattened over tasks: shapes ``(batch, ·)``."""

    obs: Tensor  #: :math:`s`, ``(batch, obs_dim)``
    action: Tensor  #: :math:`a`, ``(batch, action_dim)``
    reward: Tensor  #: the critic's reward (dense for sparse tasks), ``(batch,)``
    next_obs: Tensor  #: :math:`s'`, ``(batch, obs_dim)``
    terminal: Tensor  #: :math:`d \in \{0, 1\}`, ``(batch,)``


def q_target(reward: Tensor, terminal: Tensor, next_v: Tensor, reward_scale: float,
             discount: float) -> Tensor:
    r"""Bellman target of the Q functions, using the target value network.

    .. math:: y = \text{scale}\cdot r + \gamma\,(1-d)\,\bar V(s', z)

    Args:
        reward, terminal, next_v: shape ``(batch,)`` each.
    Returns:
        Shape ``(batch,)``, no gradient. Book label: ``eq-q-target``.
    """
    return (reward_scale * reward + discount * (1.0 - terminal) * next_v).detach()


def q_loss(q1_pred: Tensor, q2_pred: Tensor, target: Tensor) -> Tensor:
    r"""Bellman error of both Q functions; the only RL loss that reaches the encoder.

    .. math:: L_Q = \mathbb E\big[(Q_1(s,a,z) - y)^2\big] + \mathbb E\big[(Q_2(s,a,z) - y)^2\big]

    Args:
        q1_pred, q2_pred, target: shape ``(batch,)``.
    Returns:
        Scalar. Book label: ``eq-q-loss``.
    """
    return ((q1_pred - target) ** 2).mean() + ((q2_pred - target) ** 2).mean()


def mean_over_draws(values: Tensor, draws: int) -> Tensor:
    r"""Average over ``draws`` samples of z, each row's values given draw-major.

    .. math:: \bar Q(s, a) = \frac1K \sum_{k=1}^K Q(s, a, z_k), \qquad z_k \sim q_\phi(z|c)

    With ``critic_z_samples`` = K > 1 the Bellman error is taken between these averages (and
    the average of the K targets), so it no longer charges the belief for its width, only
    for being wrong on average (see :class:`pearlkit.config.PearlConfig`).

    Args:
        values: shape ``(draws * batch,)``, draw-major (all rows of draw 1, then draw 2, ...).
    Returns:
        Shape ``(batch,)``; ``values`` unchanged when ``draws`` is 1.
    """
    return values.view(draws, -1).mean(dim=0)


def v_target(q_pi: Tensor, log_pi: Tensor) -> Tensor:
    r"""Soft value target: :math:`y_V = \min_i Q_i(s, \tilde a, \bar z) - \log\pi(\tilde a|s,\bar z)`,
    :math:`\tilde a \sim \pi`.

    Args:
        q_pi: :math:`\min_i Q_i(s, \tilde a, \bar z)`, ``(batch,)``.
        log_pi: :math:`\log\pi(\tilde a|s,\bar z)`, ``(batch,)``.
    Returns:
        Shape ``(batch,)``, no gradient. Book label: ``eq-v-target``.
    """
    return (q_pi - log_pi).detach()


def v_loss(v_pred: Tensor, target: Tensor) -> Tensor:
    r""":math:`L_V = \mathbb E\big[(V(s,\bar z) - y_V)^2\big]`; shapes ``(batch,)``, scalar out.
    Book label: ``eq-v-loss``."""
    return ((v_pred - target) ** 2).mean()


def policy_loss(log_pi: Tensor, q_pi: Tensor, mean: Tensor, log_std: Tensor,
                mean_reg: float = 1e-3, std_reg: float = 1e-3) -> Tensor:
    r"""Reparameterised policy loss with the reference code's small regularisers.

    .. math:: L_\pi = \mathbb E\big[\log\pi(\tilde a|s,\bar z) - \min_i Q_i(s,\tilde a,\bar z)\big]
              + \lambda_\mu\,\overline{\mu^2} + \lambda_\sigma\,\overline{(\log\sigma)^2}

    (bars are means over the batch and the action dimensions; the reference, and the book's
    equation, use :math:`\lambda_\mu = \lambda_\sigma = 10^{-3}`.)

    Args:
        log_pi, q_pi: shape ``(batch,)``; ``q_pi`` (:math:`\min_i Q_i(s,\tilde a,\bar z)`) must carry the gradient
            through :math:`\tilde a` but not into the Q parameters.
        mean, log_std: the policy's Gaussian, ``(batch, action_dim)``.
        mean_reg, std_reg: :math:`\lambda_\mu` and :math:`\lambda_\sigma`.
    Returns:
        Scalar. Book label: ``eq-policy-loss``.
    """
    return (log_pi - q_pi).mean() + mean_reg * (mean**2).mean() + std_reg * (log_std**2).mean()


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    r"""Soft target update, in place: :math:`\bar\theta \leftarrow \tau\,\theta + (1-\tau)\,\bar\theta`.

    ``tau = 1`` copies ``source``; ``tau = 0`` leaves ``target`` unchanged. Book label: ``eq-polyak``.
    """
    for target_param, source_param in zip(target.parameters(), source.parameters()):
        target_param.lerp_(source_param, tau)
