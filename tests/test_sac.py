import copy

import pytest
import torch

from pearlkit.networks import VNetwork
from pearlkit.sac import (
    policy_loss,
    polyak_update,
    q_loss,
    q_loss_over_draws,
    q_target,
    residual_spread_over_draws,
    temperature_loss,
    v_target,
)


def test_q_target_is_the_scaled_bellman_backup():
    reward, terminal, next_v = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0]), torch.tensor([10.0, 10.0])
    y = q_target(reward, terminal, next_v, reward_scale=5.0, discount=0.9)
    torch.testing.assert_close(y, torch.tensor([5.0 + 9.0, 10.0]))  # no bootstrap after a terminal


def test_losses_by_hand():
    assert q_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.0])).item() == \
        pytest.approx(2.5 + 0.0 + 0.0 + 0.0)  # (1+4)/2 + 0
    torch.testing.assert_close(v_target(torch.tensor([3.0]), torch.tensor([1.0])), torch.tensor([2.0]))
    loss = policy_loss(torch.tensor([1.0]), torch.tensor([3.0]), torch.full((1, 2), 2.0), torch.full((1, 2), 1.0))
    assert loss.item() == pytest.approx(-2.0 + 1e-3 * 4.0 + 1e-3 * 1.0)


def test_the_temperature_weighs_the_entropy_terms_only():
    q_pi, log_pi = torch.tensor([3.0, -1.0]), torch.tensor([1.0, -2.0])
    torch.testing.assert_close(v_target(q_pi, log_pi, temperature=0.25), torch.tensor([2.75, -0.5]))
    mean, log_std = torch.zeros(2, 1), torch.zeros(2, 1)
    loss = policy_loss(log_pi, q_pi, mean, log_std, temperature=0.25)
    assert loss.item() == pytest.approx(((0.25 * 1.0 - 3.0) + (0.25 * -2.0 + 1.0)) / 2)
    # The reference's temperature, 1, is the default, to the bit.
    assert torch.equal(v_target(q_pi, log_pi, temperature=1.0), v_target(q_pi, log_pi))


def test_the_temperature_loss_by_hand_and_its_pull_toward_the_target_entropy():
    log_temperature = torch.tensor(0.5, requires_grad=True)
    log_pi = torch.tensor([-1.0, -3.0], requires_grad=True)  # entropy about 2 nats a sample
    loss = temperature_loss(log_temperature, log_pi, target_entropy=-6.0)
    assert loss.item() == pytest.approx(-0.5 * ((-1.0 - 6.0) + (-3.0 - 6.0)) / 2)
    loss.backward()
    assert log_pi.grad is None or torch.all(log_pi.grad == 0)  # the policy is not trained by it
    assert log_temperature.grad.item() > 0  # more random than the target (2 > -6): descent lowers alpha
    log_temperature.grad = None
    temperature_loss(log_temperature, torch.tensor([8.0]), target_entropy=-6.0).backward()
    assert log_temperature.grad.item() < 0  # less random than the target: alpha rises


def test_q_loss_over_draws_by_hand_and_without_the_width_charge():
    # two draws of one row: the product of the residuals, for each Q
    q1, q2, y = torch.tensor([3.0, 1.0]), torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    assert q_loss_over_draws(q1, q2, y, draws=2).item() == pytest.approx((3 - 1) * (1 - 0) + (0 - 1) * (2 - 0))
    # Residuals with mean 0.5 and variance 4 (a wide belief, right on average): one draw charges
    # the variance, E = 0.25 + 4 per Q; four draws estimate the squared mean alone, 0.25 per Q.
    generator = torch.Generator().manual_seed(0)
    residual = 0.5 + 2.0 * torch.randn(4 * 200_000, generator=generator)
    zero = torch.zeros_like(residual)
    assert q_loss(residual, residual, zero).item() == pytest.approx(2 * 4.25, rel=0.02)
    assert q_loss_over_draws(residual, residual, zero, draws=4).item() == pytest.approx(2 * 0.25, abs=0.03)
    with pytest.raises(ValueError, match="draws >= 2, got 1"):
        q_loss_over_draws(q1, q2, y, draws=1)
    # The spread across draws is the variance (4 per Q), and with the unbiased estimate it makes
    # the mean squared residual over the draws, exactly.
    assert residual_spread_over_draws(residual, residual, zero, draws=4).item() == pytest.approx(2 * 4.0, rel=0.02)
    q1, q2, y = torch.randn(3, 4 * 50, generator=generator)
    torch.testing.assert_close(q_loss_over_draws(q1, q2, y, 4) + residual_spread_over_draws(q1, q2, y, 4),
                               q_loss(q1, q2, y))


def test_polyak_endpoints_and_midpoint():
    source, target = VNetwork(2, 1, (4,)), VNetwork(2, 1, (4,))
    before = copy.deepcopy(target)
    polyak_update(target, source, tau=0.0)
    for a, b in zip(target.parameters(), before.parameters()):
        torch.testing.assert_close(a, b)
    polyak_update(target, source, tau=0.25)
    for t, s, b in zip(target.parameters(), source.parameters(), before.parameters()):
        torch.testing.assert_close(t, 0.25 * s + 0.75 * b)
    polyak_update(target, source, tau=1.0)
    for t, s in zip(target.parameters(), source.parameters()):
        torch.testing.assert_close(t, s)
