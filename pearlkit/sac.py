r"""Soft Actor-Critic as PEARL uses it (the SAC paper's first version, with a V network).

Five networks: :math:`Q_1, Q_2` (no target Qs), :math:`V` and its Polyak-averaged copy
:math:`\bar V`, and the policy :math:`\pi`. The reference fixes the temperature :math:`\alpha`
at 1 and sets the balance between reward and entropy by the reward scale instead
(``PearlConfig.temperature`` can lower it). All networks see the task through z;
only the Q losses (and the KL) train the encoder.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn


#: Where the Bellman target's next-state value comes from (``PearlConfig.critic_target``):
#: ``"v-bar"``, :math:`\bar V(s', \bar z)` (the reference's, and this module's first version of
#: SAC), or ``"q-bar"``, :math:`\min_i \bar Q_i(s', \tilde a', \bar z) - \alpha\log\pi(\tilde a'|s', \bar z)`
#: with Polyak-averaged copies of both Qs and no V (the second SAC paper's, as x35f/meta_rl has).
CRITIC_TARGETS = ("v-bar", "q-bar")


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

    .. math:: y = \text{scale}\cdot r + \gamma\,(1-d)\,\bar V(s', \bar z)

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


def q_loss_over_draws(q1_pred: Tensor, q2_pred: Tensor, target: Tensor, draws: int) -> Tensor:
    r"""The Bellman error of Q *averaged over the belief*, estimated from K draws of z per task
    (``critic_z_samples`` in :class:`pearlkit.config.PearlConfig`; not the paper's loss).

    With residuals :math:`\delta_k = Q_i(s,a,z_k) - y_k` of draws :math:`z_1, \dots, z_K`, each
    Q's term is the unbiased estimate of :math:`\big(\mathbb E_z[Q_i(s,a,z) - y]\big)^2`:

    .. math:: \frac{1}{K(K-1)} \sum_{j \ne k} \delta_j \delta_k
              = \frac{(\sum_k \delta_k)^2 - \sum_k \delta_k^2}{K(K-1)}

    :func:`q_loss` at one draw equals that square plus :math:`\operatorname{Var}_z[\delta]`, a
    charge for the belief's width whatever the context says; this loss leaves the charge out.
    One estimate can be negative; its mean cannot.

    Args:
        q1_pred, q2_pred, target: shape ``(draws * batch,)``, draw-major (all rows of the
            first draw, then the second, ...).
        draws: K, at least 2.
    Returns:
        Scalar. Book label: ``eq-unbiased-critic``.
    """
    if draws < 2:
        raise ValueError(f"q_loss_over_draws needs draws >= 2, got {draws}; one draw is q_loss")
    loss = 0.0
    for q_pred in (q1_pred, q2_pred):
        residual = (q_pred - target).view(draws, -1)
        loss = loss + ((residual.sum(0) ** 2 - (residual**2).sum(0)) / (draws * (draws - 1))).mean()
    return loss


def residual_spread_over_draws(q1_pred: Tensor, q2_pred: Tensor, target: Tensor, draws: int) -> Tensor:
    r"""How much each Q's Bellman residual varies across the K draws of z, the unbiased
    sample variance :math:`s^2 = \frac{1}{K-1}\big(\sum_k \delta_k^2 - \frac1K(\sum_k \delta_k)^2\big)`,
    averaged over transitions and summed over Q1, Q2.

    Added to :func:`q_loss_over_draws` it gives the mean squared residual over the draws,
    :math:`\frac1K \sum_k \delta_k^2` (``critic_spread_weight`` steps Q's weights, not the
    encoder, on a share of it). Arguments as :func:`q_loss_over_draws`.
    """
    spread = 0.0
    for q_pred in (q1_pred, q2_pred):
        residual = (q_pred - target).view(draws, -1)
        spread = spread + ((residual**2).sum(0) - residual.sum(0) ** 2 / draws).mean() / (draws - 1)
    return spread


def v_target(q_pi: Tensor, log_pi: Tensor, temperature: float | Tensor = 1.0) -> Tensor:
    r"""Soft value target: :math:`y_V = \min_i Q_i(s, \tilde a, \bar z) - \alpha\log\pi(\tilde a|s,\bar z)`,
    :math:`\tilde a \sim \pi`.

    Args:
        q_pi: :math:`\min_i Q_i(s, \tilde a, \bar z)`, ``(batch,)``.
        log_pi: :math:`\log\pi(\tilde a|s,\bar z)`, ``(batch,)``.
        temperature: :math:`\alpha` (the reference's: 1).
    Returns:
        Shape ``(batch,)``, no gradient. Book label: ``eq-v-target``.
    """
    return (q_pi - temperature * log_pi).detach()


def v_loss(v_pred: Tensor, target: Tensor) -> Tensor:
    r""":math:`L_V = \mathbb E\big[(V(s,\bar z) - y_V)^2\big]`; shapes ``(batch,)``, scalar out.
    Book label: ``eq-v-loss``."""
    return ((v_pred - target) ** 2).mean()


def policy_loss(log_pi: Tensor, q_pi: Tensor, mean: Tensor, log_std: Tensor,
                mean_reg: float = 1e-3, std_reg: float = 1e-3, temperature: float | Tensor = 1.0) -> Tensor:
    r"""Reparameterised policy loss with the reference code's small regularisers.

    .. math:: L_\pi = \mathbb E\big[\alpha\log\pi(\tilde a|s,\bar z) - \min_i Q_i(s,\tilde a,\bar z)\big]
              + \lambda_\mu\,\overline{\mu^2} + \lambda_\sigma\,\overline{(\log\sigma)^2}

    (bars are means over the batch and the action dimensions; the reference, and the book's
    equation, use :math:`\lambda_\mu = \lambda_\sigma = 10^{-3}`.)

    Args:
        log_pi, q_pi: shape ``(batch,)``; ``q_pi`` (:math:`\min_i Q_i(s,\tilde a,\bar z)`) must carry the gradient
            through :math:`\tilde a` but not into the Q parameters.
        mean, log_std: the policy's Gaussian, ``(batch, action_dim)``.
        mean_reg, std_reg: :math:`\lambda_\mu` and :math:`\lambda_\sigma`.
        temperature: :math:`\alpha` (the reference's: 1).
    Returns:
        Scalar. Book label: ``eq-policy-loss``.
    """
    return (temperature * log_pi - q_pi).mean() + mean_reg * (mean**2).mean() + std_reg * (log_std**2).mean()


def temperature_loss(log_temperature: Tensor, log_pi: Tensor, target_entropy: float) -> Tensor:
    r"""Loss of a learned temperature (the second SAC paper's; an option, ``learn_temperature``).

    .. math:: L_\alpha = -\mathbb E\big[\log\alpha\,\big(\log\pi(\tilde a|s,\bar z) + \bar{\mathcal H}\big)\big]

    Its gradient raises :math:`\alpha` while the policy's entropy :math:`-\log\pi` is below the
    target :math:`\bar{\mathcal H}` and lowers it above, so the entropy settles near the target.

    Args:
        log_temperature: :math:`\log\alpha`, a scalar with its gradient.
        log_pi: :math:`\log\pi(\tilde a|s,\bar z)`, ``(batch,)``; no gradient reaches the policy.
        target_entropy: :math:`\bar{\mathcal H}`, in nats (pearlkit: :math:`-\dim\mathcal A`).
    Returns:
        Scalar. Book label: ``eq-temperature-loss``.
    """
    return -(log_temperature * (log_pi + target_entropy).detach()).mean()


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    r"""Soft target update, in place: :math:`\bar\theta \leftarrow \tau\,\theta + (1-\tau)\,\bar\theta`.

    ``tau = 1`` copies ``source``; ``tau = 0`` leaves ``target`` unchanged. Book label: ``eq-polyak``.
    """
    for target_param, source_param in zip(target.parameters(), source.parameters()):
        target_param.lerp_(source_param, tau)
