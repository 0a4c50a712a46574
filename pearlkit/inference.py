r"""The inference network :math:`q_\phi(z \mid c)`: from context transitions to a belief over z.

Each context transition :math:`c_n` is mapped by one MLP to a Gaussian factor
:math:`\mathcal N(\mu_n, \sigma_n^2)`; the belief is their product, which does not depend
on the order of the transitions. A KL term pulls the belief toward the unit Gaussian
prior. The deterministic variant replaces the product by a plain mean and drops the KL.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from pearlkit.networks import MLP

# Factor variances are clamped from below so a single transition cannot claim certainty.
MIN_FACTOR_VAR = 1e-7
#: With ``factor_variance="exp"`` the log-variance is clamped to ±16 so the variance stays
#: finite. The clamp passes no gradient: an output beyond it is stuck there
#: (``factor_log_var_limit`` in the config pulls it back).
EXP_LOG_VAR_CLAMP = 16.0
#: How the encoder's output becomes a factor's variance (``factor_variance`` in the config):
#: softplus, as the reference, or exp of a log-variance.
FACTOR_VARIANCES = {"softplus": nn.functional.softplus,
                    "exp": lambda x: torch.exp(x.clamp(-EXP_LOG_VAR_CLAMP, EXP_LOG_VAR_CLAMP))}


def product_of_gaussians(mu: Tensor, var: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""Multiply N Gaussian factors into one Gaussian, per task and latent dimension.

    .. math:: \sigma^2 = \Big(\sum_{n=1}^N \sigma_n^{-2}\Big)^{-1}, \qquad
              \mu = \sigma^2 \sum_{n=1}^N \frac{\mu_n}{\sigma_n^2}

    Args:
        mu: factor means, shape ``(num_tasks, N, latent_dim)``.
        var: factor variances, same shape, positive (clamped at ``1e-7``).
        mask: optional ``(num_tasks, N)`` booleans; a factor where it is False is left out
            (its precision counts as 0). Each task needs at least one factor left.
    Returns:
        ``(z_mean, z_var)``, each ``(num_tasks, latent_dim)``. Book label: ``eq-product``.
    """
    var = var.clamp(min=MIN_FACTOR_VAR)
    if mask is not None:  # an infinitely wide factor multiplies in nothing
        var = torch.where(mask.unsqueeze(-1), var, torch.inf)
    z_var = 1.0 / (1.0 / var).sum(dim=-2)
    z_mean = z_var * (mu / var).sum(dim=-2)
    return z_mean, z_var


def kl_to_prior(z_mean: Tensor, z_var: Tensor) -> Tensor:
    r"""KL divergence from the belief :math:`q(z|c)` to the prior :math:`\mathcal N(0, I)`, per task.

    .. math:: D_{KL}\big(\mathcal N(\mu,\sigma^2)\,\|\,\mathcal N(0,I)\big)
              = \tfrac12 \sum_{j} \big(\sigma_j^2 + \mu_j^2 - 1 - \log\sigma_j^2\big)

    Args:
        z_mean: belief means, shape ``(num_tasks, latent_dim)``.
        z_var: belief variances, same shape, positive.
    Returns:
        Shape ``(num_tasks,)``, summed over latent dimensions. Book label: ``eq-kl``.
    """
    return 0.5 * (z_var + z_mean**2 - 1.0 - z_var.log()).sum(dim=-1)


def log_var_excess(log_var: Tensor, limit: float) -> Tensor:
    r"""How far the factors' log-variances :math:`f^\sigma_n` stray outside :math:`[-\ell, \ell]`:

    .. math:: \mathcal L_\text{excess} = \operatorname{mean}_{n,j}\,
              \max\big(0, |f^\sigma_{n,j}| - \ell\big)^2

    Zero inside the limit, so it changes nothing there. Outside, its gradient pulls the output
    back to where the clamp of ``factor_variance="exp"`` passes one (the clamp passes none).

    Args:
        log_var: the encoder's log-variance outputs, any shape.
        limit: :math:`\ell` (``factor_log_var_limit``), at most the clamp's 16.
    Returns:
        A scalar.
    """
    return (log_var.abs() - limit).clamp(min=0).square().mean()


def sample_z(z_mean: Tensor, z_var: Tensor) -> Tensor:
    r"""Reparameterised sample :math:`z = \mu + \sigma\,\epsilon`, :math:`\epsilon\sim\mathcal N(0,I)`.

    Shapes ``(num_tasks, latent_dim)`` in and out; gradients flow to ``z_mean`` and ``z_var``.
    """
    return z_mean + z_var.sqrt() * torch.randn_like(z_mean)


def pick_from_mixture(means: Tensor, variances: Tensor, count: int,
                      allowed: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""For ``count`` draws from the equal mixture :math:`\frac1M \sum_{j=1}^M \mathcal N(\mu_j, \sigma_j^2)`
    of ``M`` beliefs, the component each comes from, picked uniformly: ``(mean, variance)``,
    each ``(count, latent_dim)``. :func:`sample_z` on them completes the draws.

    Args:
        means, variances: ``(M, latent_dim)``.
        allowed: optional ``(count, M)`` booleans: draw ``i`` picks uniformly among the
            components allowed to it (among all of them where none is).
    """
    if allowed is None:
        picked = torch.randint(means.shape[0], (count,), device=means.device)
    else:
        weights = allowed.float()
        weights[~allowed.any(dim=1)] = 1.0  # every component ruled out: start over
        picked = torch.multinomial(weights, 1).squeeze(1).to(means.device)
    return means[picked], variances[picked]


def prior(num_tasks: int, latent_dim: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """The belief with no context: zero means and unit variances, each ``(num_tasks, latent_dim)``."""
    return (torch.zeros(num_tasks, latent_dim, device=device),
            torch.ones(num_tasks, latent_dim, device=device))


class ContextEncoder(nn.Module):
    r"""The inference network: context ``(num_tasks, N, context_dim)`` to a belief over z.

    Probabilistic (PEARL): the MLP gives :math:`(\mu_n, \operatorname{softplus}(\cdot) = \sigma_n^2)`
    per transition and :func:`product_of_gaussians` combines them. Deterministic: the MLP
    gives a vector per transition and the belief is their mean, with zero variance.

    Args:
        context_dim: features of one transition, :math:`|s| + |a| + 1` (+ :math:`|s'|`).
        latent_dim: dimension of z; 0 for no task inference (an empty belief, and no MLP: the
            baseline of a policy that sees only the state).
        hidden_sizes: hidden units of the per-transition MLP.
        probabilistic: PEARL's Gaussian belief (True) or the deterministic variant.
        prior_factor: multiply the unit prior in as one more factor (``prior_factor`` in
            :class:`pearlkit.config.PearlConfig`; not the paper's belief).
        factor_variance: ``"softplus"`` (the reference) or ``"exp"`` (:data:`FACTOR_VARIANCES`).
        reward_column: where the reward sits in a context row (after s and a), for
            ``ignore_misses``.
        ignore_misses: multiply in only the rewarded transitions' factors and the prior
            (``ignore_misses`` in :class:`pearlkit.config.PearlConfig`; not the paper's belief).
            An attribute, so :func:`pearlkit.belief.misses_ignored` can switch it for a meta-test.
    """

    def __init__(self, context_dim: int, latent_dim: int, hidden_sizes: tuple[int, ...],
                 probabilistic: bool = True, prior_factor: bool = False, factor_variance: str = "softplus",
                 reward_column: int | None = None, ignore_misses: bool = False) -> None:
        super().__init__()
        if (prior_factor or ignore_misses) and not probabilistic:
            raise ValueError("prior_factor and ignore_misses need the probabilistic encoder: the deterministic "
                             "one has no factors")
        self.latent_dim = latent_dim
        self.probabilistic = probabilistic
        self.prior_factor = prior_factor
        self.reward_column = reward_column
        self.ignore_misses = ignore_misses
        if factor_variance not in FACTOR_VARIANCES:
            raise ValueError(f"factor_variance must be one of {sorted(FACTOR_VARIANCES)}, got {factor_variance!r}")
        self.variance = FACTOR_VARIANCES[factor_variance]
        outputs = 2 * latent_dim if probabilistic else latent_dim  # (mean, variance) or z itself
        self.mlp = MLP(context_dim, hidden_sizes, outputs) if latent_dim else None

    def factors(self, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Per-transition factors :math:`\Psi_\phi(z|c_n) = \mathcal N(\mu_n, \sigma_n^2)` with
        :math:`(\mu_n, \sigma_n^2) = (f^\mu_\phi(c_n), \mathrm{softplus}(f^\sigma_\phi(c_n)))`
        (or :math:`\exp f^\sigma_\phi(c_n)` with ``factor_variance="exp"``).

        Args:
            context: ``(num_tasks, N, context_dim)``.
        Returns:
            ``(mu, var)``, each ``(num_tasks, N, latent_dim)``. Book label: ``eq-factor``.
        """
        mu, pre_var = self._factor_outputs(context)
        return mu, self.variance(pre_var)

    def factor_pre_variances(self, context: Tensor) -> Tensor:
        """The MLP's output before it becomes a variance, ``(num_tasks, N, latent_dim)``: the
        log-variance with ``factor_variance="exp"``."""
        return self._factor_outputs(context)[1]

    def _factor_outputs(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """The MLP's two halves per transition: the factor's mean and its pre-variance."""
        if not self.probabilistic or self.mlp is None:
            raise RuntimeError("the deterministic encoder, and one with latent_dim=0, has no Gaussian factors")
        mu, pre_var = self.mlp(context).chunk(2, dim=-1)
        return mu, pre_var

    def belief_without_context(self, num_tasks: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        """The unit Gaussian prior; for the deterministic variant z = 0 exactly (zero variance)."""
        z_mean, z_var = prior(num_tasks, self.latent_dim, device)
        return (z_mean, z_var) if self.probabilistic else (z_mean, torch.zeros_like(z_var))

    def forward(self, context: Tensor, num_transitions: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Belief ``(z_mean, z_var)``, each ``(num_tasks, latent_dim)``; an empty context
        (N = 0) gives :meth:`belief_without_context`.

        Args:
            context: ``(num_tasks, N, context_dim)``.
            num_transitions: optional ``(num_tasks,)`` counts from 1 to N: task i's belief
                uses only its first ``num_transitions[i]`` transitions.
        """
        num_tasks, n = context.shape[:2]
        if n == 0 or self.mlp is None:
            return self.belief_without_context(num_tasks, context.device)
        if self.probabilistic:
            return self.belief_and_pre_variances(context, num_transitions)[:2]
        codes, mask = self.mlp(context), self._kept(context, num_transitions)
        if mask is None:
            z_mean = codes.mean(dim=1)
        else:
            z_mean = (codes * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True)
        return z_mean, torch.zeros_like(z_mean)

    def belief_and_pre_variances(self, context: Tensor, num_transitions: Tensor | None = None
                                 ) -> tuple[Tensor, Tensor, Tensor]:
        """The belief, as :meth:`forward` (of a non-empty context), and every factor's
        pre-variance (:meth:`factor_pre_variances`), from one pass of the MLP: training needs
        both with ``factor_log_var_limit``. Probabilistic encoder with ``latent_dim > 0`` only."""
        num_tasks = context.shape[0]
        mu, pre_var = self._factor_outputs(context)
        var, mask = self.variance(pre_var), self._kept(context, num_transitions)
        if self.ignore_misses:  # a transition without reward multiplies in nothing
            if self.reward_column is None:
                raise ValueError("ignore_misses needs the encoder's reward_column")
            rewarded = context[..., self.reward_column] != 0
            mask = rewarded if mask is None else mask & rewarded
        if self.prior_factor or self.ignore_misses:  # the prior N(0, I) as factor 0, always kept
            prior_mu, prior_var = prior(num_tasks, self.latent_dim, context.device)
            mu, var = torch.cat([prior_mu[:, None], mu], 1), torch.cat([prior_var[:, None], var], 1)
            mask = None if mask is None else torch.cat([torch.ones_like(mask[:, :1]), mask], 1)
        return *product_of_gaussians(mu, var, mask=mask), pre_var

    @staticmethod
    def _kept(context: Tensor, num_transitions: Tensor | None) -> Tensor | None:
        """``(num_tasks, N)``: True for the transitions each task's belief uses (its first
        ``num_transitions[i]``); None for all of them."""
        if num_transitions is None:
            return None
        n = context.shape[1]
        if not ((num_transitions >= 1) & (num_transitions <= n)).all():
            raise ValueError(f"num_transitions must be between 1 and the context's {n} transitions, "
                             f"got {num_transitions.tolist()}")
        return torch.arange(n, device=context.device) < num_transitions.to(context.device).unsqueeze(1)
