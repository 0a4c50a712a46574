import torch
from torch.distributions import Normal, TanhTransform, TransformedDistribution

import pytest

from pearlkit.config import PearlConfig
from pearlkit.networks import (
    LAST_LAYER_INIT,
    LOG_STD_MAX,
    QNetwork,
    TanhGaussianPolicy,
    VNetwork,
    initialise,
    tanh_gaussian_log_prob,
)


def test_tanh_gaussian_log_prob_matches_transformed_distribution():
    mean, log_std = torch.randn(64, 3, dtype=torch.float64), torch.randn(64, 3, dtype=torch.float64) * 0.5
    pre_tanh = mean + log_std.exp() * torch.randn_like(mean)
    reference = TransformedDistribution(Normal(mean, log_std.exp()), TanhTransform())
    expected = reference.log_prob(torch.tanh(pre_tanh)).sum(-1)
    torch.testing.assert_close(tanh_gaussian_log_prob(pre_tanh, mean, log_std), expected)


def test_policy_shapes_bounds_and_determinism():
    policy = TanhGaussianPolicy(obs_dim=4, latent_dim=5, action_dim=2, hidden_sizes=(16, 16))
    obs, z = torch.randn(10, 4) * 100, torch.randn(10, 5)
    out = policy(obs, z)
    assert out.action.shape == (10, 2) and out.log_pi.shape == (10,)
    assert out.action.abs().max() <= 1 and out.log_std.max() <= LOG_STD_MAX
    det = policy(obs, z, deterministic=True)
    torch.testing.assert_close(det.action, torch.tanh(det.mean))


def test_critic_shapes_and_small_initial_outputs():
    q, v = QNetwork(4, 2, 5, (16,)), VNetwork(4, 5, (16,))
    obs, action, z = torch.randn(7, 4), torch.rand(7, 2), torch.randn(7, 5)
    assert q(obs, action, z).shape == (7,) and v(obs, z).shape == (7,)
    assert q(obs, action, z).abs().max() < 0.1  # last layer starts near zero


def test_pytorch_initialisation_redraws_every_linear_layer_within_its_fan_in_bound():
    torch.manual_seed(0)
    q = QNetwork(4, 2, 5, (64, 32))
    assert q.last.weight.abs().max() <= LAST_LAYER_INIT and (q.hidden[0].bias == 0.1).all()
    initialise(q, "pytorch")
    layers = [*q.hidden, q.last]
    for layer in layers:  # nn.Linear's own bound, 1/sqrt(fan-in), on weights and biases alike
        bound = layer.in_features ** -0.5
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert q.last.weight.abs().max() > 10 * LAST_LAYER_INIT  # 1/sqrt(32) = 0.18: far above the reference's
    assert not any((layer.bias == 0.1).any() for layer in q.hidden)  # biases drawn, not the reference's 0.1


def test_reference_initialisation_leaves_the_weights_and_bad_names_are_refused():
    v = VNetwork(4, 5, (16,))
    before = [p.clone() for p in v.parameters()]
    initialise(v, "reference")
    assert all(torch.equal(a, b) for a, b in zip(before, v.parameters()))
    with pytest.raises(ValueError, match="network_init must be one of .*'xavier'"):
        initialise(v, "xavier")
    with pytest.raises(ValueError, match="network_init.*'xavier'"):
        PearlConfig(network_init="xavier")
