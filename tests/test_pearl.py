"""The agent's update, data collection and meta-test, checked piece by piece."""
import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import pearlkit
import pearlkit.config
import pearlkit.pearl as pearl
from pearlkit.buffers import MultiTaskReplayBuffer
from pearlkit.envs.ant import AntGoal2DEnv
from pearlkit.envs.point_nav import dense_reward, sparse_reward
from pearlkit.evaluate import meta_test
from pearlkit.inference import kl_to_prior, sample_z
from pearlkit.pearl import (
    MetaTrainer,
    make_optimizers,
    meta_train_iteration,
    update_step,
)
from pearlkit.sac import q_target
from tests.conftest import agent_with_data, tiny_ant_goal_config, tiny_config


@pytest.fixture
def setup():
    return agent_with_data(tiny_config())


def sample_inputs(config, replay, context_buffer):
    tasks = torch.tensor([0, 3, 3, 5])
    return (replay.sample_batch(tasks, config.batch_size),
            context_buffer.sample_context(tasks, config.embedding_batch_size, False))


def critic_gradients(agent, batch, context, config, seed):
    """Gradients of L_Q + kl_lambda * KL alone, recomputed independently of update_step: one
    z per task and draw (``critic_z_samples`` draws), Q and the target averaged over the draws."""
    torch.manual_seed(seed)
    z_mean, z_var = agent.encoder(context)
    residuals = []  # per draw: (Q1 - y, Q2 - y)
    for z in [sample_z(z_mean, z_var) for _ in range(config.critic_z_samples)]:
        z = z.repeat_interleave(config.batch_size, dim=0)
        target = q_target(batch.reward, batch.terminal, agent.v_bar(batch.next_obs, z).detach(),
                          config.reward_scale, config.discount)
        residuals.append((agent.q1(batch.obs, batch.action, z) - target,
                          agent.q2(batch.obs, batch.action, z) - target))
    if len(residuals) == 1:
        loss = sum((r**2).mean() for r in residuals[0])
    else:  # the mean over ordered pairs of different draws of the product of their residuals
        pairs = [(j, k) for j in range(len(residuals)) for k in range(len(residuals)) if j != k]
        loss = sum((residuals[j][i] * residuals[k][i]).mean() for j, k in pairs for i in (0, 1)) / len(pairs)
    loss = loss + config.kl_lambda * kl_to_prior(z_mean, z_var).sum()
    if config.factor_log_var_limit is not None:  # each log-variance past the limit, squared
        _, log_var = agent.encoder.mlp(context).chunk(2, dim=-1)
        loss = loss + torch.relu(log_var.abs() - config.factor_log_var_limit).pow(2).mean()
    if not config.critic_spread_weight:
        modules = (agent.encoder, agent.q1)
        return torch.autograd.grad(loss, [p for m in modules for p in m.parameters()])
    # Q's weights step on (1 - w) times that plus w times the mean squared residual over the draws.
    per_draw = sum((r**2).mean() for draw in residuals for r in draw) / len(residuals)
    w = config.critic_spread_weight
    encoder_weights, q_weights = list(agent.encoder.parameters()), list(agent.q1.parameters())
    return (*torch.autograd.grad(loss, encoder_weights, retain_graph=True),
            *torch.autograd.grad((1 - w) * loss + w * per_draw, q_weights))


@pytest.mark.parametrize("draws, spread_weight, log_var_limit",
                         [(1, 0.0, None), (3, 0.0, None), (3, 0.3, None), (3, 1.0, None), (3, 0.0, 0.05)])
def test_encoder_gets_gradients_only_from_the_q_losses_and_the_kl(setup, draws, spread_weight, log_var_limit):
    config, agent, _, _, (replay, context_buffer), _ = setup
    if log_var_limit is not None:  # and from the penalty on log-variances past the limit
        changes = dict(factor_variance="exp", factor_log_var_limit=log_var_limit)
        config, agent, _, _, (replay, context_buffer), _ = agent_with_data(config.replace(**changes))
    config = config.replace(critic_z_samples=draws, critic_spread_weight=spread_weight)
    batch, context = sample_inputs(config, replay, context_buffer)
    before = copy.deepcopy(agent)
    expected = critic_gradients(before, batch, context, config, seed=123)
    torch.manual_seed(123)
    update_step(agent, make_optimizers(agent, config), batch, context, config)
    # After the step, .grad holds what the optimizers used. V and the policy also ran
    # backward (through z-bar and Q), yet the encoder's and Q's gradients are exactly the
    # critic loss + KL gradients: nothing else reached them.
    actual = [p.grad for m in (agent.encoder, agent.q1) for p in m.parameters()]
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e)
    assert all(p.grad is None for p in agent.v_bar.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for m in (agent.policy, agent.v)
               for p in m.parameters() if p.dim() > 1)


def test_every_network_moves_except_the_target_by_polyak_only(setup):
    config, agent, _, _, (replay, context_buffer), _ = setup
    batch, context = sample_inputs(config, replay, context_buffer)
    before = copy.deepcopy(agent)
    update_step(agent, make_optimizers(agent, config), batch, context, config)
    for name in ("encoder", "policy", "q1", "q2", "v"):
        moved = [not torch.equal(a, b) for a, b in zip(getattr(agent, name).parameters(),
                                                        getattr(before, name).parameters())]
        assert all(moved), name
    for t, b, v in zip(agent.v_bar.parameters(), before.v_bar.parameters(), agent.v.parameters()):
        torch.testing.assert_close(t, (1 - config.tau) * b + config.tau * v)


def test_q_bar_target_is_the_soft_value_of_the_target_qs_and_they_move_by_polyak():
    # critic_target="q-bar": no V; the target is min_i Qbar_i(s', a') - alpha log pi(a'|s'),
    # a' drawn from the policy after z. Recomputed here by hand, in the same random order.
    config = tiny_config(critic_target="q-bar", temperature=0.5)
    config, agent, _, _, (replay, context_buffer), _ = agent_with_data(config)
    assert not hasattr(agent, "v") and not hasattr(agent, "v_bar")
    with torch.no_grad():  # target Qs that differ from Q, so that using the wrong one shows
        for p in (*agent.q1_bar.parameters(), *agent.q2_bar.parameters()):
            p.add_(0.05 * torch.randn_like(p))
    batch, context = sample_inputs(config, replay, context_buffer)
    before = copy.deepcopy(agent)
    torch.manual_seed(7)
    z_mean, z_var = before.encoder(context)
    z = sample_z(z_mean, z_var).repeat_interleave(config.batch_size, dim=0)
    with torch.no_grad():
        pi = before.policy(batch.next_obs, z)
        soft_value = torch.min(before.q1_bar(batch.next_obs, pi.action, z),
                               before.q2_bar(batch.next_obs, pi.action, z)) - 0.5 * pi.log_pi
        y = config.reward_scale * batch.reward + config.discount * (1 - batch.terminal) * soft_value
    loss = sum(((q(batch.obs, batch.action, z) - y) ** 2).mean() for q in (before.q1, before.q2))
    loss = loss + config.kl_lambda * kl_to_prior(z_mean, z_var).sum()
    expected = torch.autograd.grad(loss, [*before.encoder.parameters(), *before.q1.parameters()])
    torch.manual_seed(7)
    losses = update_step(agent, make_optimizers(agent, config), batch, context, config)
    assert "v_loss" not in losses and {"q_loss", "kl", "policy_loss"} <= set(losses)
    for a, e in zip([p.grad for m in (agent.encoder, agent.q1) for p in m.parameters()], expected):
        torch.testing.assert_close(a, e)
    for name in ("q1", "q2"):
        target, old_target, q = getattr(agent, f"{name}_bar"), getattr(before, f"{name}_bar"), getattr(agent, name)
        for t, b, v in zip(target.parameters(), old_target.parameters(), q.parameters()):
            torch.testing.assert_close(t, (1 - config.tau) * b + config.tau * v)
            assert t.grad is None


def test_the_temperature_reaches_the_actor_side_only(setup):
    # The same step at temperatures 1 and 0.25: the critic and encoder step identically (their
    # loss has no entropy term); V and the policy do not. At 1 it is the reference's step.
    config, agent, _, _, (replay, context_buffer), _ = setup
    batch, context = sample_inputs(config, replay, context_buffer)
    agents = {}
    for temperature in (1.0, 0.25):
        agents[temperature] = copy.deepcopy(agent)
        step_config = config.replace(temperature=temperature)
        torch.manual_seed(0)
        update_step(agents[temperature], make_optimizers(agents[temperature], step_config), batch, context,
                    step_config)
    for name in ("encoder", "q1", "q2"):
        assert all(torch.equal(a, b) for a, b in zip(getattr(agents[1.0], name).parameters(),
                                                      getattr(agents[0.25], name).parameters())), name
    for name in ("policy", "v"):
        assert not all(torch.equal(a, b) for a, b in zip(getattr(agents[1.0], name).parameters(),
                                                          getattr(agents[0.25], name).parameters())), name
    reference = copy.deepcopy(agent)
    torch.manual_seed(0)
    update_step(reference, make_optimizers(reference, config), batch, context, config)
    assert all(torch.equal(a, b) for a, b in zip(reference.parameters(), agents[1.0].parameters()))


def test_a_learned_temperature_steps_with_the_actor_and_weighs_that_step_by_its_current_value(setup):
    config, agent, _, _, (replay, context_buffer), _ = setup
    config = config.replace(learn_temperature=True, temperature=0.5)
    batch, context = sample_inputs(config, replay, context_buffer)
    learned = pearl.PearlAgent(agent.obs_dim, agent.action_dim, config)
    learned.load_state_dict({**agent.state_dict(), "log_temperature": torch.tensor(np.log(0.5))})
    fixed = copy.deepcopy(agent)
    losses = []
    for model, step_config in ((learned, config), (fixed, config.replace(learn_temperature=False))):
        torch.manual_seed(0)
        losses.append(update_step(model, make_optimizers(model, step_config), batch, context, step_config))
    # This step used alpha = 0.5 in both, so the networks moved alike; then alpha moved.
    assert losses[0]["temperature"].item() == pytest.approx(0.5) and "temperature" not in losses[1]
    for name in ("encoder", "q1", "q2", "v", "policy"):
        assert all(torch.equal(a, b) for a, b in zip(getattr(learned, name).parameters(),
                                                      getattr(fixed, name).parameters())), name
    assert learned.log_temperature.item() != pytest.approx(np.log(0.5), abs=1e-6)


def test_critic_learns_from_dense_rewards_in_the_sparse_task(setup, monkeypatch):
    config, agent, train_tasks, _, (replay, context_buffer), _ = setup
    # what the buffers stored: the dense reward next to the sparse one, both by hand
    for task in range(config.num_train_tasks):
        n, goal = int(replay.size[task]), train_tasks[task]["goal"]
        next_pos = replay.data["next_obs"][task, :n].double().numpy()
        np.testing.assert_allclose(replay.data["dense_reward"][task, :n, 0], dense_reward(next_pos, goal), atol=1e-5)
        np.testing.assert_allclose(replay.data["reward"][task, :n, 0], sparse_reward(next_pos, goal), atol=1e-5)
    # what the Q target was built from inside the real update
    seen = []
    monkeypatch.setattr(pearl.sac, "q_target", lambda reward, *a: seen.append(reward) or q_target(reward, *a))
    batch, context = sample_inputs(config, replay, context_buffer)
    update_step(agent, make_optimizers(agent, config), batch, context, config)
    goals = torch.tensor(np.array([train_tasks[t]["goal"] for t in (0, 3, 3, 5)])).repeat_interleave(
        config.batch_size, 0)
    dense = -(batch.next_obs.double() - goals).norm(dim=-1)
    torch.testing.assert_close(seen[0].double(), dense, atol=1e-5, rtol=0)
    assert (seen[0] < 0).all()  # dense: never the sparse reward's 0-or-positive values


def test_the_critic_learns_from_the_reward_the_config_names(setup, monkeypatch):
    config, agent, train_tasks, _, (replay, context_buffer), pool = setup
    config = config.replace(critic_reward="dense+sparse", num_train_steps_per_itr=3)
    trainer = MetaTrainer(config, agent, make_optimizers(agent, config), replay, context_buffer, train_tasks, pool,
                          np.random.default_rng(0))
    seen, real_sample = [], replay.sample_batch
    monkeypatch.setattr(replay, "sample_batch",
                        lambda *args, **kwargs: seen.append(args[-1]) or real_sample(*args, **kwargs))
    meta_train_iteration(trainer, iteration=1)
    assert seen == ["dense+sparse"] * 3
    with pytest.raises(ValueError, match="critic_reward must be one of .*'dense\\+sparse'.* got 'shaped'"):
        config.replace(critic_reward="shaped")
    with pytest.raises(ValueError, match="critic_reward='sparse' needs a family whose reward is sparse"):
        config.replace(env_id="pearlkit/PointNav-v0", critic_reward="sparse")


def test_the_spread_weight_needs_several_draws_and_lies_in_0_1():
    with pytest.raises(ValueError, match="critic_spread_weight=0.5 needs critic_z_samples >= 2: .*got critic_z_samples=1"):
        tiny_config(critic_spread_weight=0.5)
    with pytest.raises(ValueError, match=r"critic_spread_weight must be in \[0, 1\], got 1.5"):
        tiny_config(critic_z_samples=2, critic_spread_weight=1.5)


def test_context_buffer_is_cleared_when_its_task_is_collected_again(setup):
    config, agent, train_tasks, _, (replay, context_buffer), pool = setup
    context_before = context_buffer.size.clone()
    replay_before = replay.size.clone()
    config = config.replace(num_extra_rl_steps_posterior=20, num_train_steps_per_itr=0, num_tasks_sample=2)
    trainer = MetaTrainer(config, agent, make_optimizers(agent, config), replay, context_buffer, train_tasks, pool,
                          np.random.default_rng(0))
    # the tasks the iteration will pick, drawn from a copy of its stream
    picked = sorted(np.random.default_rng(0).choice(config.num_train_tasks, size=2, replace=False).tolist())
    others = [task for task in range(config.num_train_tasks) if task not in picked]
    meta_train_iteration(trainer, iteration=1)  # not the first: no initial collection
    fresh = config.num_steps_prior + config.num_steps_posterior  # extra-RL data is not context
    assert context_buffer.size[picked].tolist() == [fresh, fresh]
    assert context_buffer.size[others].tolist() == context_before[others].tolist()
    assert (replay.size[picked] == replay_before[picked] + fresh + 20).all()
    # and the context now holds only new transitions: the replay buffer's newest ones
    task = picked[0]
    newest = replay.data["obs"][task, int(replay_before[task]):int(replay_before[task]) + fresh]
    torch.testing.assert_close(context_buffer.data["obs"][task, :fresh], newest)


def test_a_context_buffer_that_keeps_every_pick_grows_by_the_pick_and_keeps_what_it_held(setup):
    config, agent, train_tasks, _, (replay, context_buffer), pool = setup
    before = {key: value.clone() for key, value in context_buffer.data.items()}
    size_before = context_buffer.size.clone()
    config = config.replace(context_buffer_keeps="every-pick", num_extra_rl_steps_posterior=20,
                            num_train_steps_per_itr=0, num_tasks_sample=2)
    trainer = MetaTrainer(config, agent, make_optimizers(agent, config), replay, context_buffer, train_tasks, pool,
                          np.random.default_rng(0))
    picked = sorted(np.random.default_rng(0).choice(config.num_train_tasks, size=2, replace=False).tolist())
    replay_before = replay.size.clone()
    meta_train_iteration(trainer, iteration=1)
    fresh = config.num_steps_prior + config.num_steps_posterior
    assert (context_buffer.size[picked] == size_before[picked] + fresh).all()
    task, held = picked[0], int(size_before[picked[0]])
    assert held > 0  # the initial data, still there
    torch.testing.assert_close(context_buffer.data["obs"][task, :held], before["obs"][task, :held])
    torch.testing.assert_close(context_buffer.data["obs"][task, held:held + fresh],
                               replay.data["obs"][task, int(replay_before[task]):int(replay_before[task]) + fresh])
    with pytest.raises(ValueError, match="context_buffer_keeps must be one of .*'every-pick'.* got 'all'"):
        config.replace(context_buffer_keeps="all")


def test_distinct_picks_are_one_round_of_tasks_drawn_without_replacement():
    config = tiny_config(num_tasks_sample=4)
    expected = sorted(np.random.default_rng(3).choice(6, size=4, replace=False).tolist())
    assert pearl.collection_rounds(config, np.random.default_rng(3)) == [expected]
    # more picks than tasks: every task once
    assert pearl.collection_rounds(config.replace(num_tasks_sample=9), np.random.default_rng(3)) == [list(range(6))]


def test_picks_with_replacement_put_a_tasks_kth_pick_in_round_k():
    config = tiny_config(num_train_tasks=2, num_test_tasks=1, num_tasks_sample=5, task_picks="with-replacement")
    for seed in range(20):
        draws = np.random.default_rng(seed).integers(2, size=5).tolist()  # the reference's picks
        rounds = pearl.collection_rounds(config, np.random.default_rng(seed))
        assert sorted(task for round_ in rounds for task in round_) == sorted(draws)
        assert all(len(set(round_)) == len(round_) for round_ in rounds)  # one rollout each
        for task in (0, 1):  # a task picked k times is in the first k rounds
            assert [task in round_ for round_ in rounds] == [k < draws.count(task) for k in range(len(rounds))]


def test_task_picks_other_than_the_two_ways_are_refused():
    with pytest.raises(ValueError, match="task_picks must be one of \\['distinct', 'with-replacement'\\], got 'all'"):
        tiny_config(task_picks="all")


def test_a_task_picked_again_collects_again_and_keeps_its_last_picks_context(setup):
    config, agent, train_tasks, _, (replay, context_buffer), pool = setup
    config = config.replace(task_picks="with-replacement", num_tasks_sample=5, num_extra_rl_steps_posterior=20,
                            num_train_steps_per_itr=0)
    trainer = MetaTrainer(config, agent, make_optimizers(agent, config), replay, context_buffer, train_tasks, pool,
                          np.random.default_rng(3))
    draws = np.random.default_rng(3).integers(config.num_train_tasks, size=5).tolist()
    repeated = max(draws, key=draws.count)
    assert draws.count(repeated) == 3  # seed 3 picks one task three times
    replay_before = replay.size.clone()
    result = meta_train_iteration(trainer, iteration=1)
    fresh = config.num_steps_prior + config.num_steps_posterior
    per_pick = fresh + config.num_extra_rl_steps_posterior
    assert result.env_steps == 5 * per_pick == pearlkit.config.env_steps_per_iteration(config)
    for task in range(config.num_train_tasks):
        assert replay.size[task] == replay_before[task] + draws.count(task) * per_pick
    # the context is emptied at each pick: the repeated task's holds its last pick's data only
    assert context_buffer.size[repeated] == fresh
    last_pick = int(replay.size[repeated]) - per_pick
    torch.testing.assert_close(context_buffer.data["obs"][repeated, :fresh],
                               replay.data["obs"][repeated, last_pick:last_pick + fresh])


@pytest.mark.parametrize("vary", [False, True])
def test_vary_context_size_gives_each_task_a_context_size_from_1_to_the_batch(setup, monkeypatch, vary):
    config, agent, train_tasks, _, (replay, context_buffer), pool = setup
    config = config.replace(vary_context_size=vary, num_train_steps_per_itr=20)
    trainer = MetaTrainer(config, agent, make_optimizers(agent, config), replay, context_buffer, train_tasks, pool,
                          np.random.default_rng(0))
    seen = []
    real_step = pearl.update_step
    monkeypatch.setattr(pearl, "update_step", lambda *args: seen.append(args[-1]) or real_step(*args))
    meta_train_iteration(trainer, iteration=1)
    assert len(seen) == 20
    if not vary:
        assert all(sizes is None for sizes in seen)
        return
    sizes = torch.stack(seen)
    assert sizes.shape == (20, config.meta_batch)
    assert sizes.min() >= 1 and sizes.max() <= config.embedding_batch_size
    assert len(sizes.unique()) > config.embedding_batch_size // 2  # every size turns up, not one


@pytest.mark.parametrize("online", [False, True])
def test_meta_test_starts_from_the_prior_and_infers_from_all_gathered_context(setup, online):
    config, agent, _, test_tasks, _, _ = setup
    protocol = config.replace(num_exp_traj_eval=3, num_steps_per_eval=6 * config.max_path_length)
    result = meta_test(agent, test_tasks, protocol, seed=1, online_posterior=online)
    assert result.returns.shape == (3, 6) and result.z.shape == (3, 6, config.latent_dim)
    first_inferred = 1 if online else 3
    assert (result.z_means[:, :first_inferred] == 0).all() and (result.z_vars[:, :first_inferred] == 1).all()
    for k in range(first_inferred, 6):  # belief of trajectory k = encoder(all transitions of 0..k-1)
        context = torch.cat([torch.cat([t.obs, t.action, t.reward.unsqueeze(-1)], -1)
                             for t in result.trajectories[:k]], dim=1)
        z_mean, z_var = agent.encoder(context)
        torch.testing.assert_close(result.z_means[:, k], z_mean)
        torch.testing.assert_close(result.z_vars[:, k], z_var)
    # the context carries the sparse reward, and the returns are sparse returns
    assert all((t.reward >= 0).all() for t in result.trajectories)


def test_deterministic_variant_trains_its_encoder_through_q_without_kl():
    config, agent, _, _, buffers, _ = agent_with_data(tiny_config(probabilistic_encoder=False))
    batch, context = sample_inputs(config, *buffers)
    before = copy.deepcopy(agent.encoder)
    losses = update_step(agent, make_optimizers(agent, config), batch, context, config)
    assert losses["kl"] == 0 and losses["z_var"] == 0
    assert all(not torch.equal(a, b) for a, b in zip(agent.encoder.parameters(), before.parameters()))


def test_without_task_inference_the_networks_see_the_state_alone():
    # latent_dim=0, the no-context baseline: SAC on the whole family, same data and budget.
    config, agent, _, test_tasks, buffers, _ = agent_with_data(tiny_config(latent_dim=0))
    assert not list(agent.encoder.parameters())
    assert agent.policy.hidden[0].in_features == 2  # the point robot's (x, y), no z
    batch, context = sample_inputs(config, *buffers)
    before = copy.deepcopy(agent.q1)
    losses = update_step(agent, make_optimizers(agent, config), batch, context, config)
    assert losses["kl"] == 0 and "z_var" not in losses  # no belief to report
    assert all(torch.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(agent.q1.parameters(), before.parameters()))
    result = meta_test(agent, test_tasks, config, seed=0)
    assert result.z.shape[-1] == 0
    # One deterministic policy of the state: the same path in every task and trajectory.
    paths = torch.stack([t.obs for t in result.trajectories])
    assert torch.equal(paths, paths[:1, :1].expand_as(paths))
    with pytest.raises(ValueError, match="latent_dim must be >= 0, got -1"):
        tiny_config(latent_dim=-1)


def test_summary_splits_success_by_whether_exploration_found_the_goal():
    from pearlkit.evaluate import MetaTestResult, summarize
    successes = torch.tensor([[0, 1, 1], [0, 0, 0], [1, 0, 0], [0, 0, 1]], dtype=torch.bool)  # 2 exploration trajs
    returns = torch.tensor([[0.0, 5, 8], [0, 0, 0], [3, 0, 0], [0, 0, 4]])
    result = MetaTestResult(returns, successes, *(torch.zeros(4, 3, 1),) * 3, [], torch.ones(4, 3, 20).bool(), True,
                            counted=torch.ones(4, 3).bool(), num_exp_traj_eval=2, runs_per_task=2)
    metrics = summarize(result)
    assert metrics.found_during_exploration == 0.5  # runs 0 and 2
    assert metrics.success_rate == 0.5 and metrics.return_after_exploration == 3.0
    assert metrics.success_given_found == 0.5 and metrics.success_given_not_found == 0.5
    assert metrics.adaptation_curve == [0.75, 1.25, 3.0]
    assert (metrics.num_tasks, metrics.runs_per_task) == (2, 2)


def test_with_ignore_misses_a_context_without_reward_is_the_prior_and_leaves_the_encoder_alone(setup):
    config, agent, _, _, (replay, context_buffer), _ = setup
    config = config.replace(ignore_misses="always")
    agent.encoder.ignore_misses = True
    batch, context = sample_inputs(config, replay, context_buffer)
    context[..., agent.obs_dim + agent.action_dim] = 0.0  # no reward anywhere
    with torch.no_grad():
        z_mean, z_var = agent.encoder(context)
    assert torch.equal(z_mean, torch.zeros_like(z_mean)) and torch.equal(z_var, torch.ones_like(z_var))
    update_step(agent, make_optimizers(agent, config), batch, context, config)
    # Neither the Bellman error nor the KL (0 at the prior) reaches a factor that was left out.
    assert all(p.grad is None or not p.grad.any() for p in agent.encoder.parameters())
    assert all(torch.isfinite(p).all() for p in agent.parameters())


def test_the_linear_schedule_falls_from_each_configured_rate_to_a_last_step_of_one_nth():
    assert [pearl.learning_rate_factor("linear", i, 4) for i in range(4)] == [1.0, 0.75, 0.5, 0.25]
    assert pearl.learning_rate_factor("linear", 9, 4) == 0.25  # a resumed run past its end stays at the last
    assert pearl.learning_rate_factor("constant", 3, 4) == 1.0
    with pytest.raises(ValueError, match="lr_schedule must be one of \\['constant', 'linear'\\], got 'cosine'"):
        tiny_config(lr_schedule="cosine")


@pytest.mark.parametrize("schedule, factor", [("constant", 1.0), ("linear", 0.5)])
def test_each_iteration_steps_every_network_at_its_scheduled_rate(setup, monkeypatch, schedule, factor):
    config, agent, train_tasks, _, (replay, context_buffer), pool = setup
    config = config.replace(lr_schedule=schedule, num_iterations=4, num_train_steps_per_itr=1,
                            qf_lr=1e-3, context_lr=2e-3, policy_lr=3e-3, vf_lr=4e-3)
    trainer = MetaTrainer(config, agent, make_optimizers(agent, config), replay, context_buffer, train_tasks, pool,
                          np.random.default_rng(0))
    seen = []
    real_step = pearl.update_step
    monkeypatch.setattr(pearl, "update_step", lambda agent, optimizers, *args: seen.append(
        [g["lr"] for o in optimizers for g in o.param_groups]) or real_step(agent, optimizers, *args))
    meta_train_iteration(trainer, iteration=2)
    assert seen == [[factor * lr for lr in (1e-3, 1e-3, 2e-3, 3e-3, 4e-3)]]


@pytest.mark.parametrize("iteration, weight", [(1, 0.0), (2, 0.25)])
def test_the_spread_weight_applies_after_its_plain_iterations(setup, monkeypatch, iteration, weight):
    config, agent, train_tasks, _, (replay, context_buffer), pool = setup
    config = config.replace(critic_z_samples=2, critic_spread_weight=0.25, critic_spread_after=2,
                            num_train_steps_per_itr=2)
    trainer = MetaTrainer(config, agent, make_optimizers(agent, config), replay, context_buffer, train_tasks, pool,
                          np.random.default_rng(0))
    seen = []
    real_step = pearl.update_step
    monkeypatch.setattr(pearl, "update_step", lambda *args: seen.append(args[4].critic_spread_weight)
                        or real_step(*args))
    meta_train_iteration(trainer, iteration=iteration)  # 0-based: iterations 0 and 1 are the plain two
    assert seen == [weight, weight]
    with pytest.raises(ValueError, match="critic_spread_after=5 needs critic_spread_weight > 0"):
        tiny_config(critic_spread_after=5)
    with pytest.raises(ValueError, match="critic_spread_after must be .*got -1"):
        config.replace(critic_spread_after=-1)


def test_relabelled_goals_give_the_drawn_share_of_tasks_a_goal_from_the_family_and_change_only_theirs():
    config = tiny_ant_goal_config(relabel_goals=0.3)
    tasks = AntGoal2DEnv.sample_tasks(4)
    replay = MultiTaskReplayBuffer(4, 107, 8, 10)
    trainer = SimpleNamespace(config=config, rng=np.random.default_rng(5), tasks=tasks, replay=replay)
    task_ids = torch.as_tensor(np.arange(2000) % 4)
    change = pearl.relabelled_goals(trainer, task_ids)
    next_obs = torch.as_tensor(np.random.default_rng(1).uniform(-3, 3, size=(2000, 6, 107)), dtype=torch.float32)
    gained = change(next_obs)
    assert gained.shape == (2000, 6)
    relabelled = (gained != 0).any(1).numpy()
    assert relabelled.mean() == pytest.approx(0.3, abs=0.03)
    # the same draws, replayed: which tasks, then their goals from the family's distribution
    rng = np.random.default_rng(5)
    assert (rng.random(2000) < 0.3).tolist() == relabelled.tolist()
    goals = np.stack([tasks[i]["goal"] for i in task_ids.tolist()])
    new_goals = goals.copy()
    new_goals[relabelled] = [task["goal"] for task in AntGoal2DEnv.draw_tasks(int(relabelled.sum()), rng)]
    expected = AntGoal2DEnv.relabelled_reward_change(next_obs.double().numpy(), goals[:, None], new_goals[:, None])
    np.testing.assert_allclose(gained.numpy(), expected, atol=1e-4)
    # where no task is drawn, nothing changes
    trainer.config = config.replace(relabel_goals=1e-9)
    assert pearl.relabelled_goals(trainer, torch.arange(4)) is None


def test_an_iteration_with_relabelled_goals_trains_on_the_relabelled_rewards(monkeypatch):
    trainer = pearl.new_trainer(tiny_ant_goal_config(relabel_goals=1.0), torch.device("cpu"))
    moved = {"sample_batch": [], "sample_context": []}  # per draw: how far the rewards moved

    def spy(buffer, name, reward_of):
        sample = getattr(buffer, name)

        def spying(*args, reward_change=None):
            state = torch.get_rng_state()
            plain = sample(*args)
            torch.set_rng_state(state)  # the same transitions again, relabelled
            drawn = sample(*args, reward_change=reward_change)
            moved[name].append(float((reward_of(drawn) - reward_of(plain)).abs().min()))
            return drawn
        monkeypatch.setattr(buffer, name, spying)

    spy(trainer.replay, "sample_batch", lambda batch: batch.reward)
    spy(trainer.context_buffer, "sample_context", lambda context: context[..., 107 + 8])
    result = pearl.meta_train_iteration(trainer, iteration=0)
    # every task has a new goal at every step, so every reward moved, in the batch and the context
    assert len(moved["sample_batch"]) == len(moved["sample_context"]) == 3
    assert min(moved["sample_batch"] + moved["sample_context"]) > 0
    assert all(np.isfinite(value) for value in result.losses.values())
    with pytest.raises(ValueError, match="relabel_goals=0.5 needs a family .*HalfCheetahVel-v0's cannot"):
        tiny_ant_goal_config(env_id="pearlkit/HalfCheetahVel-v0", relabel_goals=0.5)
    with pytest.raises(ValueError, match="relabel_goals=0.5 needs .*AntGoal2DOracle-v0's cannot"):
        tiny_ant_goal_config(env_id="pearlkit/AntGoal2DOracle-v0", relabel_goals=0.5)
    with pytest.raises(ValueError, match=r"relabel_goals must be in \[0, 1\], got 1.5"):
        tiny_ant_goal_config(relabel_goals=1.5)
