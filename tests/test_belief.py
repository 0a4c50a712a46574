"""The belief views' computations: beliefs along a context, imagined paths, a task's context,
factor precisions, the belief's entropy and the belief that ignores misses."""
import pytest
import torch

from pearlkit.belief import (belief_entropy, beliefs_along, factor_pre_variances, factor_precisions, found_before,
                             imagined_paths, misses_ignored, task_context)
from pearlkit.buffers import context_from_transitions
from pearlkit.evaluate import meta_test
from pearlkit.pearl import build_agent
from tests.conftest import agent_with_data, tiny_config


def _meta_test(agent, config, tasks, num_trajs=3):
    protocol = config.replace(num_exp_traj_eval=2, num_steps_per_eval=num_trajs * config.max_path_length)
    return meta_test(agent, tasks, protocol, seed=0)


def test_task_context_is_the_tasks_transitions_in_time_order():
    config, agent, _, tasks, _, _ = agent_with_data(tiny_config())
    result = _meta_test(agent, config, tasks)
    context = task_context(result, 1, num_trajs=2)
    assert context.obs.shape == (2 * config.max_path_length, 2)
    assert torch.equal(context.obs[:20], result.trajectories[0].obs[1])
    assert torch.equal(context.next_obs[20:], result.trajectories[1].next_obs[1])


def test_beliefs_along_a_context_match_the_encoder_on_each_prefix():
    config, agent, _, tasks, _, _ = agent_with_data(tiny_config())
    context = task_context(_meta_test(agent, config, tasks), 0)
    path = beliefs_along(agent, context)
    n = context.obs.shape[0]
    assert path.z_mean.shape == (n + 1, config.latent_dim)
    assert torch.equal(path.z_mean[0], torch.zeros(config.latent_dim))  # no context: the prior
    assert torch.equal(path.z_var[0], torch.ones(config.latent_dim))
    rows = context_from_transitions(context, False)
    with torch.no_grad():
        for k in (1, 7, n):
            mean, var = agent.encoder(rows[None, :k])
            torch.testing.assert_close(path.z_mean[k], mean[0])
            torch.testing.assert_close(path.z_var[k], var[0])


def test_imagined_paths_start_at_the_origin_and_leave_the_callers_randomness_alone():
    config, agent, _, tasks, _, _ = agent_with_data(tiny_config())
    torch.manual_seed(3)
    expected_next = torch.rand(1)
    torch.manual_seed(3)
    wide = imagined_paths(agent, tasks[0], torch.zeros(5), torch.ones(5), 6, config.env_id, 20, seed=1)
    assert torch.equal(torch.rand(1), expected_next)
    assert wide.shape == (6, 21, 2)
    assert torch.equal(wide[:, 0], torch.zeros(6, 2))
    again = imagined_paths(agent, tasks[0], torch.zeros(5), torch.ones(5), 6, config.env_id, 20, seed=1)
    assert torch.equal(wide, again)
    # A belief with no width sends every sample down the same path; the prior does not.
    narrow = imagined_paths(agent, tasks[0], torch.zeros(5), torch.zeros(5), 6, config.env_id, 20, seed=1)
    # (equal up to rounding: rows of one batched matmul may round differently)
    torch.testing.assert_close(narrow, narrow[:1].expand_as(narrow), rtol=0, atol=1e-6)
    assert (wide - wide[:1]).abs().max() > 1e-3  # an untrained policy moves little, but z matters


def test_factor_precisions_cover_every_transition_and_add_up_to_the_beliefs_precision():
    config, agent, _, tasks, _, _ = agent_with_data(tiny_config())
    result = _meta_test(agent, config, tasks)
    precisions = factor_precisions(agent, result)
    contexts = [task_context(result, i) for i in range(len(tasks))]
    rewarded = sum(int((c.reward > 0).sum()) for c in contexts)
    total = sum(c.obs.shape[0] for c in contexts)
    assert precisions["rewarded"].numel() == rewarded * config.latent_dim
    assert precisions["zero reward"].numel() == (total - rewarded) * config.latent_dim
    # The belief is the product of its factors, so its precision is their sum, task by task.
    with torch.no_grad():
        beliefs = [agent.encoder(context_from_transitions(c, False)[None])[1][0] for c in contexts]
    summed = sum(kind.view(-1, config.latent_dim).sum(0) for kind in precisions.values())
    torch.testing.assert_close(sum(1 / var for var in beliefs), summed, rtol=1e-4, atol=1e-3)


def test_factor_pre_variances_are_the_log_variances_of_the_precisions_with_exp():
    config, agent, _, tasks, _, _ = agent_with_data(tiny_config().replace(factor_variance="exp"))
    result = _meta_test(agent, config, tasks)
    precisions, pre_variances = factor_precisions(agent, result), factor_pre_variances(agent, result)
    for kind in ("rewarded", "zero reward"):
        torch.testing.assert_close(precisions[kind], torch.exp(-pre_variances[kind]))


def test_ignoring_misses_keeps_the_prior_until_a_reward_then_multiplies_in_only_rewarded_factors():
    config, agent, _, _, _, _ = agent_with_data(tiny_config())
    context = torch.randn(2, 12, agent.context_dim)
    reward = agent.obs_dim + agent.action_dim
    context[..., reward] = 0.0
    context[1, [3, 8], reward] = 1.0  # task 1 saw two rewards; task 0 none
    trained = agent.encoder
    with torch.no_grad(), misses_ignored(agent):
        z_mean, z_var = agent.encoder(context)
        first_five = agent.encoder(context, torch.tensor([5, 5]))
        no_context = agent.encoder(context[:, :0])
        mu, var = trained.factors(context[1, [3, 8]][None])
    assert agent.encoder is trained and not trained.ignore_misses  # infers as trained again on leaving
    assert torch.equal(z_mean[0], torch.zeros(config.latent_dim)) and torch.equal(z_var[0], torch.ones(config.latent_dim))
    # Task 1: the prior (precision 1, mean 0) times the two rewarded factors, by hand.
    precision = 1 + (1 / var[0]).sum(0)
    torch.testing.assert_close(z_var[1], 1 / precision)
    torch.testing.assert_close(z_mean[1], (mu[0] / var[0]).sum(0) / precision)
    # Within the first five transitions task 1 has one reward (row 3); task 0 still the prior.
    mu3, var3 = trained.factors(context[1, 3][None, None])
    torch.testing.assert_close(first_five[1][1], 1 / (1 + 1 / var3[0, 0]))
    torch.testing.assert_close(first_five[1][0], torch.ones(config.latent_dim))
    assert torch.equal(no_context[1], torch.ones(2, config.latent_dim))


def test_ignoring_misses_needs_a_probabilistic_encoder():
    agent = build_agent(tiny_config(probabilistic_encoder=False), torch.device("cpu"))
    with pytest.raises(ValueError, match="probabilistic encoder"):
        with misses_ignored(agent):
            pass
    with pytest.raises(ValueError, match="ignore_misses='meta-test' needs probabilistic_encoder=True"):
        tiny_config(probabilistic_encoder=False, ignore_misses="meta-test")
    with pytest.raises(ValueError, match="ignore_misses must be one of"):
        tiny_config(ignore_misses="sometimes")


def test_an_agent_trained_to_ignore_misses_infers_as_misses_ignored_does():
    config = tiny_config(ignore_misses="always")
    agent = build_agent(config, torch.device("cpu"))
    context = torch.randn(2, 6, agent.context_dim)
    context[..., agent.obs_dim + agent.action_dim] = 0.0
    context[0, 2, agent.obs_dim + agent.action_dim] = 1.0
    with torch.no_grad():
        z_mean, z_var = agent.encoder(context)
        mu, var = agent.encoder.factors(context[:1, 2:3])
    torch.testing.assert_close(z_var[0], 1 / (1 + 1 / var[0, 0]))
    torch.testing.assert_close(z_mean[0], mu[0, 0] / var[0, 0] * z_var[0])
    assert torch.equal(z_var[1], torch.ones(config.latent_dim))  # no reward: the prior


def test_ignoring_misses_at_meta_test_is_the_trained_agent_meta_tested_with_misses_ignored():
    config, agent, _, tasks, _, _ = agent_with_data(tiny_config())
    assert not agent.encoder.ignore_misses  # "never", the default; "meta-test" builds the same agent
    assert not build_agent(config.replace(ignore_misses="meta-test"), torch.device("cpu")).encoder.ignore_misses
    protocol = config.replace(num_exp_traj_eval=2, num_steps_per_eval=4 * config.max_path_length)
    with misses_ignored(agent):
        expected = meta_test(agent, tasks, protocol, seed=0)
    ignoring = meta_test(agent, tasks, protocol.replace(ignore_misses="meta-test"), seed=0)
    plain = meta_test(agent, tasks, protocol, seed=0)
    torch.testing.assert_close(ignoring.z_vars, expected.z_vars)
    torch.testing.assert_close(ignoring.returns, expected.returns)
    # Every belief is the prior until a run is rewarded; the plain belief narrows from its first inference.
    rewarded_before = torch.cumsum(ignoring.returns > 0, 1) - (ignoring.returns > 0).int() > 0
    assert torch.equal(ignoring.z_vars[~rewarded_before], torch.ones_like(ignoring.z_vars[~rewarded_before]))
    assert (plain.z_vars[:, 2:] < 1).all()


def test_found_before_marks_the_trajectories_after_the_first_success():
    class Result:  # only the field found_before reads
        successes = torch.tensor([[False, True, False, True], [False, False, False, False], [True, False, False, False]])
    expected = torch.tensor([[False, False, True, True], [False, False, False, False], [False, True, True, True]])
    assert torch.equal(found_before(Result()), expected)


def test_belief_entropy_is_the_gaussians():
    z_var = torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0], [0.5, 2.0, 0.01, 3.0, 1.0]])
    expected = torch.distributions.Normal(torch.zeros_like(z_var), z_var.sqrt()).entropy().sum(-1)
    torch.testing.assert_close(belief_entropy(z_var), expected)
