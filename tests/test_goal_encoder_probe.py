"""benchmarks/goal_encoder_probe.py: the contexts it trains its probe on."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from goal_encoder_probe import PooledEncoder, goals_on_disc, own_tasks_r2, relabelled_contexts  # noqa: E402

from pearlkit.envs.ant import GOAL_DISC_RADIUS  # noqa: E402


def test_goals_cover_the_disc_evenly():
    goals = goals_on_disc(20_000, np.random.default_rng(0))
    radius = np.linalg.norm(goals, axis=1)
    assert radius.max() <= GOAL_DISC_RADIUS
    # Uniform over the area: the share within half the radius is a quarter.
    assert np.mean(radius < GOAL_DISC_RADIUS / 2) == pytest.approx(0.25, abs=0.01)
    assert np.abs(goals.mean(0)).max() < 0.03


def _marked_data(rng, count=5, horizon=7, obs_dim=4, action_dim=2):
    """Trajectories whose observation opens with (trajectory, step), and whose reward is a goal
    term plus a fixed cost."""
    next_xy = rng.normal(size=(count, horizon, 2))
    old_goals = rng.normal(size=(count, 2))
    data = {"obs": rng.normal(size=(count, horizon, obs_dim)), "action": rng.normal(size=(count, horizon, action_dim)),
            "next_xy": next_xy, "goal": old_goals,
            "reward": -np.abs(next_xy - old_goals[:, None, :]).sum(-1) - 0.3}
    data["obs"][..., 0] = np.arange(count)[:, None]
    data["obs"][..., 1] = np.arange(horizon)[None, :]
    return data


@pytest.mark.parametrize("rows", [np.array([[0, 1], [2, 3], [4, 5]]), np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])],
                         ids=["a pair each", "three trajectories each"])
def test_a_fixed_task_context_draws_from_its_own_trajectories_and_pays_its_goal(rows):
    data = _marked_data(np.random.default_rng(0), count=rows.size)
    goals = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, -2.5]])
    context, drawn_goals = relabelled_contexts(data, 40, 9, np.random.default_rng(1), (rows, goals))
    trajectory, step = context[..., 0].long().numpy(), context[..., 1].long().numpy()
    task = np.array([np.flatnonzero((goals == g).all(1))[0] for g in drawn_goals])
    assert len(np.unique(task)) == 3  # all three tasks drawn
    assert all(set(drawn) <= set(rows[t]) for drawn, t in zip(trajectory, task))
    assert set(trajectory.ravel()) == set(rows.ravel())  # every trajectory of every task is drawn from
    expected = -np.abs(data["next_xy"][trajectory, step] - drawn_goals[:, None, :]).sum(-1) - 0.3
    np.testing.assert_allclose(context[..., -1].numpy(), expected, rtol=1e-5, atol=1e-5)


def test_each_context_pays_its_new_goal_from_two_trajectories():
    data = _marked_data(np.random.default_rng(0))
    obs_dim, action_dim = data["obs"].shape[-1], data["action"].shape[-1]
    context, goals = relabelled_contexts(data, 50, 9, np.random.default_rng(1))
    assert context.shape == (50, 9, obs_dim + action_dim + 1)
    trajectory, step = context[..., 0].long().numpy(), context[..., 1].long().numpy()
    assert all(len(np.unique(rows)) <= 2 for rows in trajectory)  # two trajectories a context
    expected = -np.abs(data["next_xy"][trajectory, step] - goals[:, None, :]).sum(-1) - 0.3
    np.testing.assert_allclose(context[..., -1].numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(context[..., obs_dim:obs_dim + action_dim].numpy(), data["action"][trajectory, step],
                               rtol=1e-6)


def test_an_encoder_that_names_each_fixed_task_s_goal_scores_1_on_its_own_tasks():
    data = _marked_data(np.random.default_rng(0), count=12)
    rows = np.arange(12).reshape(6, 2)
    goals = np.random.default_rng(2).uniform(-3, 3, size=(6, 2))
    task_of_trajectory = np.repeat(np.arange(6), 2)

    def memoriser(context):  # the goal of the task whose trajectory the context opens with
        mean = torch.as_tensor(goals[task_of_trajectory[context[:, 0, 0].long().numpy()]], dtype=torch.float32)
        return mean, torch.ones_like(mean)

    assert own_tasks_r2(memoriser, data, (rows, goals), 9, seed=0) == pytest.approx(1.0)


def test_the_pooled_encoder_reads_a_context_as_a_set_and_can_learn_what_one_factor_cannot():
    torch.manual_seed(0)
    encoder = PooledEncoder(context_dim=2, latent_dim=1, hidden_sizes=(32,))
    context = torch.randn(3, 50, 2)
    shuffled = context[:, torch.randperm(50)]
    mean, variance = encoder(context)
    assert mean.shape == (3, 1) and variance is None
    torch.testing.assert_close(encoder(shuffled)[0], mean)  # the order of the transitions does not count
    # The slope between a context's two features, which no single transition holds: the network
    # after the average learns it.
    optimizer = torch.optim.Adam(encoder.parameters(), lr=3e-3)
    for _ in range(1500):
        x = torch.randn(64, 50, 1)
        slope = torch.randn(64, 1, 1)
        context = torch.cat([x, slope * x + 0.1 * torch.randn(64, 50, 1)], -1)
        loss = (encoder(context)[0] - slope[:, 0]).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1  # of a target whose variance is 1
