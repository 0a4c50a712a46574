import pytest
import torch
from torch.distributions import Normal, kl_divergence

from pearlkit.inference import (
    FACTOR_VARIANCES,
    ContextEncoder,
    kl_to_prior,
    log_var_excess,
    product_of_gaussians,
    sample_z,
)


def test_product_of_gaussians_matches_closed_form():
    mu = torch.tensor([[[1.0], [3.0]]])  # one task, two factors, one latent dim
    var = torch.tensor([[[1.0], [4.0]]])
    z_mean, z_var = product_of_gaussians(mu, var)
    # precisions add: 1 + 1/4; mean is the precision-weighted mean (1*1 + 3/4) / (5/4)
    assert z_var.item() == pytest.approx(1 / 1.25)
    assert z_mean.item() == pytest.approx((1.0 + 3.0 / 4.0) / 1.25)


def test_product_of_gaussians_equals_folding_in_one_factor_at_a_time():
    mu, var = torch.randn(3, 7, 5, dtype=torch.float64), torch.rand(3, 7, 5, dtype=torch.float64) + 0.1
    z_mean, z_var = product_of_gaussians(mu, var)
    m, v = mu[:, 0], var[:, 0]
    for n in range(1, 7):  # Bayes update of a Gaussian by one Gaussian factor
        m, v = (m * var[:, n] + mu[:, n] * v) / (v + var[:, n]), v * var[:, n] / (v + var[:, n])
    torch.testing.assert_close(z_mean, m)
    torch.testing.assert_close(z_var, v)


def test_product_clamps_tiny_variances():
    z_mean, z_var = product_of_gaussians(torch.zeros(1, 2, 1), torch.zeros(1, 2, 1))
    assert torch.isfinite(z_mean).all() and z_var.item() == pytest.approx(0.5e-7)


def test_kl_matches_torch_distributions():
    z_mean, z_var = torch.randn(4, 5), torch.rand(4, 5) + 0.05
    expected = kl_divergence(Normal(z_mean, z_var.sqrt()), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl_to_prior(z_mean, z_var), expected)
    assert kl_to_prior(torch.zeros(2, 5), torch.ones(2, 5)).abs().max() == 0


def test_posterior_is_permutation_invariant():
    encoder = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16, 16))
    context = torch.randn(2, 9, 5)
    permuted = context[:, torch.randperm(9)]
    for a, b in zip(encoder(context), encoder(permuted)):
        torch.testing.assert_close(a, b)
    assert not torch.allclose(encoder(context)[0], encoder(context[:, :4])[0])  # but it does depend on the set


def test_more_context_narrows_the_belief():
    encoder = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,))
    context = torch.randn(1, 20, 5)
    variances = [encoder(context[:, :n])[1] for n in (1, 5, 20)]
    assert (variances[0] > variances[1]).all() and (variances[1] > variances[2]).all()


def test_empty_context_gives_the_prior_and_deterministic_gives_zero():
    probabilistic = ContextEncoder(5, 3, (8,))
    z_mean, z_var = probabilistic(torch.zeros(4, 0, 5))
    assert z_mean.shape == (4, 3) and (z_mean == 0).all() and (z_var == 1).all()
    deterministic = ContextEncoder(5, 3, (8,), probabilistic=False)
    z_mean, z_var = deterministic(torch.zeros(4, 0, 5))
    assert (z_mean == 0).all() and (z_var == 0).all()


def test_deterministic_encoder_is_the_mean_of_its_outputs():
    encoder = ContextEncoder(5, 3, (8,), probabilistic=False)
    context = torch.randn(2, 6, 5)
    z_mean, z_var = encoder(context)
    torch.testing.assert_close(z_mean, encoder.mlp(context).mean(1))
    torch.testing.assert_close(sample_z(z_mean, z_var), z_mean)  # no noise without variance


def test_sample_z_is_reparameterised():
    z_mean = torch.zeros(2, 3, requires_grad=True)
    z_var = torch.ones(2, 3, requires_grad=True)
    sample_z(z_mean, z_var).sum().backward()
    assert z_mean.grad is not None and z_var.grad is not None


@pytest.mark.parametrize("probabilistic", [True, False])
def test_num_transitions_equals_the_truncated_context(probabilistic):
    torch.manual_seed(0)
    encoder = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,), probabilistic=probabilistic)
    context = torch.randn(3, 8, 5)
    sizes = torch.tensor([1, 4, 8])
    z_mean, z_var = encoder(context, sizes)
    for i, n in enumerate(sizes.tolist()):
        mean_i, var_i = encoder(context[i:i + 1, :n])
        torch.testing.assert_close(z_mean[i], mean_i[0])
        torch.testing.assert_close(z_var[i], var_i[0])


def test_left_out_transitions_get_no_gradient():
    encoder = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,))
    context = torch.randn(2, 6, 5, requires_grad=True)
    z_mean, z_var = encoder(context, torch.tensor([2, 6]))
    (z_mean.sum() + z_var.sum()).backward()
    assert torch.isfinite(context.grad).all()
    assert context.grad[0, 2:].abs().max() == 0 and context.grad[0, :2].abs().max() > 0
    assert (context.grad[1].abs().sum(-1) > 0).all()


def test_num_transitions_out_of_range_is_named():
    encoder = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,))
    with pytest.raises(ValueError, match=r"between 1 and the context's 6 transitions, got \[0, 6\]"):
        encoder(torch.randn(2, 6, 5), torch.tensor([0, 6]))


def test_prior_factor_multiplies_the_unit_prior_into_the_belief():
    torch.manual_seed(0)
    plain = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,))
    with_prior = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,), prior_factor=True)
    with_prior.load_state_dict(plain.state_dict())
    context = torch.randn(2, 6, 5)
    mu, var = plain.factors(context)
    precision = 1 + (1 / var).sum(1)  # Bayes: the prior's precision 1 plus each factor's
    z_mean, z_var = with_prior(context)
    torch.testing.assert_close(z_var, 1 / precision)
    torch.testing.assert_close(z_mean, (mu / var).sum(1) / precision)
    # With a mask, the prior stays in and only the left-out transitions go.
    z_mean, z_var = with_prior(context, torch.tensor([2, 6]))
    torch.testing.assert_close(z_var[0], 1 / (1 + (1 / var[0, :2]).sum(0)))


def test_prior_factor_needs_the_probabilistic_encoder():
    import pearlkit

    with pytest.raises(ValueError, match="prior_factor=True needs probabilistic_encoder=True"):
        pearlkit.get_preset("sparse-point-robot").replace(prior_factor=True, probabilistic_encoder=False)
    with pytest.raises(ValueError, match="prior_factor and ignore_misses need the probabilistic encoder"):
        ContextEncoder(5, 3, (8,), probabilistic=False, prior_factor=True)


def test_factor_variance_exp_reads_the_output_as_a_log_variance():
    torch.manual_seed(0)
    softplus = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,))
    exp = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,), factor_variance="exp")
    exp.load_state_dict(softplus.state_dict())
    context = torch.randn(2, 4, 5)
    _, pre_var = softplus.mlp(context).chunk(2, dim=-1)
    torch.testing.assert_close(softplus.factors(context)[1], torch.nn.functional.softplus(pre_var))
    torch.testing.assert_close(exp.factors(context)[1], torch.exp(pre_var))


def test_an_unknown_factor_variance_is_named():
    import pearlkit

    with pytest.raises(ValueError, match="factor_variance must be one of"):
        pearlkit.get_preset("sparse-point-robot").replace(factor_variance="relu")
    with pytest.raises(ValueError, match=r"factor_variance must be one of \['exp', 'softplus'\], got 'relu'"):
        ContextEncoder(5, 3, (8,), factor_variance="relu")


def test_log_var_excess_is_zero_inside_the_limit_and_squares_what_lies_beyond():
    log_var = torch.tensor([-12.0, -3.0, 0.0, 9.5, 10.0, 13.0])
    # only -12 and 13 lie beyond +-10: (2^2 + 3^2) / 6
    torch.testing.assert_close(log_var_excess(log_var, 10.0), torch.tensor(13.0 / 6))
    torch.testing.assert_close(log_var_excess(log_var[1:5], 10.0), torch.tensor(0.0))


def test_an_exp_factor_past_the_clamp_gets_a_gradient_only_from_the_excess_penalty():
    # Why factor_log_var_limit exists: through the clamp of "exp", an output beyond 16 gets no
    # gradient from anything that depends on the variance, so nothing can bring it back.
    log_var = torch.tensor([3.0, 50.0], requires_grad=True)
    precision = 1.0 / FACTOR_VARIANCES["exp"](log_var)
    (grad,) = torch.autograd.grad(precision.sum(), log_var)
    assert grad[0] < 0 and grad[1] == 0
    (grad,) = torch.autograd.grad(log_var_excess(log_var, 10.0), log_var)
    assert grad[0] == 0 and grad[1] > 0  # descent moves 50 down, toward the limit


@pytest.mark.parametrize("changes, message", [
    (dict(factor_log_var_limit=10.0, factor_variance="softplus"), "needs factor_variance='exp'"),
    (dict(factor_log_var_limit=20.0), r"factor_log_var_limit must be in \(0, 16.0\], got 20.0"),
    (dict(factor_log_var_limit=0.0), r"factor_log_var_limit must be in \(0, 16.0\], got 0.0"),
])
def test_a_bad_factor_log_var_limit_is_named(changes, message):
    import pearlkit

    with pytest.raises(ValueError, match=message):
        pearlkit.get_preset("sparse-point-robot").replace(**changes)


@pytest.mark.parametrize("options", [{}, {"prior_factor": True}, {"ignore_misses": True, "reward_column": 4}])
def test_one_pass_gives_the_belief_and_the_pre_variances(options):
    torch.manual_seed(0)
    encoder = ContextEncoder(context_dim=5, latent_dim=3, hidden_sizes=(16,), factor_variance="exp", **options)
    context = torch.randn(3, 6, 5)
    context[0, :3, 4] = 0.0  # some misses, and one task with a rewarded transition among its first 4
    sizes = torch.tensor([4, 6, 2])
    z_mean, z_var, pre_var = encoder.belief_and_pre_variances(context, sizes)
    mu, log_var = encoder.mlp(context).chunk(2, dim=-1)
    torch.testing.assert_close(pre_var, log_var)
    for i, n in enumerate(sizes.tolist()):  # by hand: precisions add, means weigh by precision
        kept = [k for k in range(n) if not options.get("ignore_misses") or context[i, k, 4] != 0]
        precision, weighted = torch.exp(-log_var[i, kept]), mu[i, kept] * torch.exp(-log_var[i, kept])
        with_prior = float(bool(options.get("prior_factor") or options.get("ignore_misses")))  # N(0, I) as a factor
        torch.testing.assert_close(z_var[i], 1 / (precision.sum(0) + with_prior))
        torch.testing.assert_close(z_mean[i], weighted.sum(0) / (precision.sum(0) + with_prior))
