import torch
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from pearlkit.networks import (
    LOG_STD_MAX,
    QNetwork,
    TanhGaussianPolicy,
    VNetwork,
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
