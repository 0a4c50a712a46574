r"""The function approximators: an MLP, the Q and V critics, and the tanh-Gaussian policy.

Every network conditioned on the task takes the latent :math:`z` as extra input,
concatenated to the state (and action).
"""
from __future__ import annotations

import contextlib
import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

# The policy's log standard deviation is clamped to this range, as in SAC.
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
# Last layers start near zero so that early Q, V and policy outputs are small.
LAST_LAYER_INIT = 3e-3
#: How a network's weights start: ``"reference"`` (:class:`MLP`'s, the reference code's) or
#: ``"pytorch"`` (``nn.Linear``'s own, as the x35f/meta_rl reproduction has).
NETWORK_INITS = ("reference", "pytorch")


def initialise(module: nn.Module, network_init: str) -> nn.Module:
    r"""``module`` with every linear layer started as ``network_init`` (:data:`NETWORK_INITS`) says.

    With ``"pytorch"`` each layer is drawn again by ``nn.Linear.reset_parameters`` (weights and
    biases uniform in :math:`\pm 1/\sqrt{\text{fan-in}}`): after 256 hidden units a last layer
    starts within :math:`\pm 0.0625`, about 20x the reference's.
    """
    if network_init not in NETWORK_INITS:
        raise ValueError(f"network_init must be one of {list(NETWORK_INITS)}, got {network_init!r}")
    if network_init == "pytorch":
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
    return module


class MLP(nn.Module):
    r"""A ReLU multilayer perceptron with the reference code's initialisation.

    Hidden weights are uniform in :math:`\pm 1/\sqrt{\text{fan-in}}` with biases 0.1;
    the last layer is uniform in :math:`\pm 3\cdot10^{-3}`.

    Args:
        in_dim: input features.
        hidden_sizes: units of each hidden layer, e.g. ``(300, 300, 300)``.
        out_dim: output features.
    """

    def __init__(self, in_dim: int, hidden_sizes: tuple[int, ...], out_dim: int) -> None:
        super().__init__()
        sizes = (in_dim, *hidden_sizes)
        self.hidden = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:]))
        self.last = nn.Linear(sizes[-1], out_dim)
        for layer in self.hidden:
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.constant_(layer.bias, 0.1)
        nn.init.uniform_(self.last.weight, -LAST_LAYER_INIT, LAST_LAYER_INIT)
        nn.init.uniform_(self.last.bias, -LAST_LAYER_INIT, LAST_LAYER_INIT)

    #: dtype of the hidden layers' matrix products (``PearlAgent.set_precision`` sets it).
    hidden_dtype: torch.dtype = torch.float32

    def forward(self, x: Tensor) -> Tensor:
        # Mixed precision: the hidden layers multiply in bfloat16 (weights stay float32;
        # autocast casts them), the output layer in float32, because Q and V reach the
        # thousands where bfloat16 resolves one part in 256 (benchmarks/RESULTS.md measures it).
        low = self.hidden_dtype != torch.float32
        with torch.autocast(x.device.type, dtype=self.hidden_dtype) if low else contextlib.nullcontext():
            for layer in self.hidden:
                x = torch.relu(layer(x))
        return self.last(x.float())


class QNetwork(MLP):
    r""":math:`Q(s, a, z)`.

    Inputs ``(batch, obs_dim)``, ``(batch, action_dim)``, ``(batch, latent_dim)``; output ``(batch,)``.
    """

    def __init__(self, obs_dim: int, action_dim: int, latent_dim: int,
                 hidden_sizes: tuple[int, ...]) -> None:
        super().__init__(obs_dim + action_dim + latent_dim, hidden_sizes, 1)

    def forward(self, obs: Tensor, action: Tensor, z: Tensor) -> Tensor:  # type: ignore[override]
        return super().forward(torch.cat([obs, action, z], dim=-1)).squeeze(-1)


class VNetwork(MLP):
    r""":math:`V(s, z)`: inputs ``(batch, obs_dim)``, ``(batch, latent_dim)``; output ``(batch,)``."""

    def __init__(self, obs_dim: int, latent_dim: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__(obs_dim + latent_dim, hidden_sizes, 1)

    def forward(self, obs: Tensor, z: Tensor) -> Tensor:  # type: ignore[override]
        return super().forward(torch.cat([obs, z], dim=-1)).squeeze(-1)


class PolicyOutput(NamedTuple):
    """One pass of the tanh-Gaussian policy; every field has shape ``(batch, action_dim)``
    except ``log_pi``, shape ``(batch,)``."""

    action: Tensor  #: :math:`\tanh(u)`, a sample (or :math:`\tanh\mu` when deterministic)
    log_pi: Tensor  #: :math:`\log\pi(a|s,z)` of that action, tanh correction included
    mean: Tensor  #: :math:`\mu`, before the tanh
    log_std: Tensor  #: :math:`\log\sigma`, clamped to [-20, 2]


def tanh_gaussian_log_prob(pre_tanh: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    r"""Log-density of :math:`a = \tanh(u)`, :math:`u \sim \mathcal N(\mu, \sigma^2)`.

    .. math:: \log\pi(a) = \sum_i \Big[\log\mathcal N(u_i;\mu_i,\sigma_i^2)
              - \log\big(1 - \tanh^2 u_i\big)\Big],
       \qquad \log(1-\tanh^2 u) = 2\big(\log 2 - u - \operatorname{softplus}(-2u)\big)

    Args:
        pre_tanh: :math:`u`, shape ``(batch, action_dim)``.
        mean, log_std: the Gaussian's parameters, same shape.
    Returns:
        Shape ``(batch,)``. Book label: ``eq-tanh-logprob``.
    """
    # paper-vs-code: the reference subtracts log(1 - a^2 + 1e-6); the softplus form is the
    # same quantity without the epsilon and stays exact where tanh saturates.
    gaussian = -0.5 * ((pre_tanh - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    log_det = 2.0 * (math.log(2.0) - pre_tanh - nn.functional.softplus(-2.0 * pre_tanh))
    return (gaussian - log_det).sum(-1)


class TanhGaussianPolicy(MLP):
    r""":math:`\pi(a|s,z)`: a Gaussian squashed by tanh into :math:`[-1, 1]^d`.

    Inputs ``(batch, obs_dim)`` and ``(batch, latent_dim)``; see :class:`PolicyOutput`.
    """

    def __init__(self, obs_dim: int, latent_dim: int, action_dim: int,
                 hidden_sizes: tuple[int, ...]) -> None:
        super().__init__(obs_dim + latent_dim, hidden_sizes, 2 * action_dim)
        self.action_dim = action_dim

    def forward(self, obs: Tensor, z: Tensor, deterministic: bool = False) -> PolicyOutput:  # type: ignore[override]
        mean, log_std = super().forward(torch.cat([obs, z], dim=-1)).chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        # Reparameterised sample u = mu + sigma * eps, so gradients reach the policy through Q.
        pre_tanh = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
        log_pi = tanh_gaussian_log_prob(pre_tanh, mean, log_std)
        return PolicyOutput(torch.tanh(pre_tanh), log_pi, mean, log_std)
