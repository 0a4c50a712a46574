import pytest
import torch

from pearlkit.buffers import MultiTaskReplayBuffer, Transitions


def transitions(n, task_value, start=0):
    obs = torch.full((n, 2), float(task_value))
    reward = torch.arange(start, start + n, dtype=torch.float32)
    return Transitions(obs, torch.zeros(n, 2), reward, -reward, obs + 1, torch.zeros(n))


def test_batches_come_from_the_right_tasks_with_dense_rewards():
    buffer = MultiTaskReplayBuffer(num_tasks=3, obs_dim=2, action_dim=2, capacity=100)
    for task in range(3):
        buffer.add(task, transitions(10, task))
    tasks = torch.tensor([2, 0, 2])
    batch = buffer.sample_batch(tasks, batch_size=5)
    assert batch.obs.shape == (15, 2) and batch.reward.shape == (15,)
    torch.testing.assert_close(batch.obs[:, 0], tasks.repeat_interleave(5).float())
    assert (batch.reward <= 0).all()  # the critic's batch carries the dense reward
    context = buffer.sample_context(tasks, 4, use_next_obs=True)
    assert context.shape == (3, 4, 2 + 2 + 1 + 2)
    assert (context[..., 4] >= 0).all()  # the context carries the task's own reward


def test_the_critic_reward_is_the_dense_the_tasks_own_or_their_sum_of_the_same_transitions():
    buffer = MultiTaskReplayBuffer(num_tasks=2, obs_dim=2, action_dim=2, capacity=100)
    for task in range(2):
        buffer.add(task, transitions(10, task, start=1))  # own reward 1..10, dense its negative
    tasks = torch.tensor([1, 0])
    batches = {}
    for name in ("dense", "sparse", "dense+sparse"):
        torch.manual_seed(0)  # the same slots for each
        batches[name] = buffer.sample_batch(tasks, batch_size=6, critic_reward=name)
    assert (batches["sparse"].reward >= 1).all()
    torch.testing.assert_close(batches["dense"].reward, -batches["sparse"].reward)
    torch.testing.assert_close(batches["dense+sparse"].reward, torch.zeros(12))
    with pytest.raises(ValueError, match="critic_reward must be one of .* got 'shaped'"):
        buffer.sample_batch(tasks, batch_size=6, critic_reward="shaped")


def test_clear_empties_only_that_task():
    buffer = MultiTaskReplayBuffer(2, 2, 2, capacity=100)
    buffer.add(0, transitions(10, 0))
    buffer.add(1, transitions(10, 1))
    buffer.clear(0)
    assert buffer.size.tolist() == [0, 10]
    buffer.add(0, transitions(3, 0, start=50))
    assert set(buffer.sample_context(torch.tensor([0]), 64, False)[0, :, 4].tolist()) == {50.0, 51.0, 52.0}


def test_ring_buffer_keeps_the_newest_and_grows_storage():
    buffer = MultiTaskReplayBuffer(1, 2, 2, capacity=3000)
    buffer.add(0, transitions(2500, 0))
    assert buffer.allocated >= 2500
    buffer.add(0, transitions(1000, 0, start=2500))
    assert buffer.size.item() == 3000
    kept = buffer.data["reward"][0, :, 0]
    assert kept.min() == 500 and kept.max() == 3499


def test_state_dict_round_trip():
    buffer = MultiTaskReplayBuffer(2, 2, 2, capacity=50)
    buffer.add(1, transitions(7, 1))
    copy = MultiTaskReplayBuffer(2, 2, 2, capacity=50)
    copy.load_state_dict(buffer.state_dict())
    assert copy.size.tolist() == [0, 7]
    torch.testing.assert_close(copy.data["reward"][1, :7], buffer.data["reward"][1, :7])


def add_trajectories(buffer, lengths):
    """Trajectory k of the given lengths, its observations all k."""
    for k, n in enumerate(lengths):
        buffer.add(0, transitions(n, k))


def trajectories_in_contexts(buffer, sampling, draws=200):
    """The set of trajectory markers in each of ``draws`` contexts of 16 transitions."""
    torch.manual_seed(0)
    contexts = buffer.sample_context(torch.zeros(draws, dtype=torch.long), 16, False, sampling)
    return [set(context[:, 0].tolist()) for context in contexts]


def test_a_context_can_come_from_one_stored_trajectory():
    buffer = MultiTaskReplayBuffer(1, 2, 2, capacity=1000)
    add_trajectories(buffer, [200, 50, 120])
    one = trajectories_in_contexts(buffer, "trajectory")
    assert all(len(markers) == 1 for markers in one)
    assert set().union(*one) == {0.0, 1.0, 2.0}  # each trajectory is drawn
    assert any(len(markers) > 1 for markers in trajectories_in_contexts(buffer, "transitions"))
    with pytest.raises(ValueError, match="sampling must be one of \\['transitions', 'trajectory'\\], got 'episode'"):
        buffer.sample_context(torch.tensor([0]), 4, False, "episode")


def test_an_overwritten_trajectory_is_no_longer_drawn_whole():
    buffer = MultiTaskReplayBuffer(1, 2, 2, capacity=500)
    add_trajectories(buffer, [200, 200, 200])  # the third overwrites the first's first 100 slots
    assert buffer.trajectories[0] == [(200, 200), (400, 200)]  # the third wraps around the end
    one = trajectories_in_contexts(buffer, "trajectory")
    assert all(len(markers) == 1 for markers in one) and set().union(*one) == {1.0, 2.0}
    buffer.clear(0)
    assert buffer.trajectories[0] == []
    with pytest.raises(RuntimeError, match="empty buffer of task 0"):
        buffer.sample_context(torch.tensor([0]), 4, False, "trajectory")
    add_trajectories(buffer, [200, 200])  # a cleared buffer holds two whole trajectories again
    assert buffer.trajectories[0] == [(0, 200), (200, 200)]


def test_trajectories_survive_a_checkpoint_and_older_checkpoints_hold_one_per_task():
    buffer = MultiTaskReplayBuffer(2, 2, 2, capacity=500)
    add_trajectories(buffer, [200, 200, 200])
    restored = MultiTaskReplayBuffer(2, 2, 2, capacity=500)
    restored.load_state_dict(buffer.state_dict())
    assert restored.trajectories == buffer.trajectories
    older = {k: v for k, v in buffer.state_dict().items() if k != "trajectories"}
    restored.load_state_dict(older)
    assert restored.trajectories == [[(100, 500)], []]  # all 500 kept slots, oldest (slot 100) first
    restored.load_state_dict(buffer.state_dict())
    for both in (buffer, restored):  # and the restored one drops the same overwritten trajectory
        both.add(0, transitions(150, 3))
    assert restored.trajectories == buffer.trajectories == [[(400, 200), (100, 150)], []]


def test_an_older_checkpoint_gets_its_trajectories_back_from_falls_and_the_horizon():
    buffer = MultiTaskReplayBuffer(1, 2, 2, capacity=1000)
    add_trajectories(buffer, [200, 200, 37, 200, 5])  # the third fell after 37 steps, the last after 5
    buffer.data["terminal"][0, [436, 641], 0] = 1.0
    older = {k: v for k, v in buffer.state_dict().items() if k != "trajectories"}
    restored = MultiTaskReplayBuffer(1, 2, 2, capacity=1000)
    restored.load_state_dict(older, max_path_length=200)
    assert restored.trajectories == buffer.trajectories == [[(0, 200), (200, 200), (400, 37), (437, 200), (637, 5)]]


def test_training_draws_the_encoders_contexts_as_the_config_says():
    from pearlkit import get_preset
    from pearlkit.pearl import encoder_context

    buffer = MultiTaskReplayBuffer(1, 2, 2, capacity=1000)
    add_trajectories(buffer, [200, 50, 120])
    config = get_preset("sparse-point-robot").replace(embedding_batch_size=16)
    ids = torch.zeros(200, dtype=torch.long)
    torch.manual_seed(0)
    assert any(len(set(c[:, 0].tolist())) > 1 for c in encoder_context(buffer, ids, config))
    one = encoder_context(buffer, ids, config.replace(context_sampling="trajectory"))
    assert all(len(set(c[:, 0].tolist())) == 1 for c in one)


@pytest.mark.parametrize("sampling", ["transitions", "trajectory"])
def test_a_reward_change_moves_the_rewards_of_the_same_transitions_and_nothing_else(sampling):
    buffer = MultiTaskReplayBuffer(num_tasks=2, obs_dim=2, action_dim=2, capacity=100)
    for task in range(2):
        buffer.add(task, transitions(10, task, start=1))
    tasks = torch.tensor([1, 0, 1])
    # a change that reads each transition's s' (task value + 1) and its task's row
    change = lambda next_obs: next_obs[..., 0] * torch.tensor([10.0, 100.0, 1000.0])[:, None]
    torch.manual_seed(0)
    batch = buffer.sample_batch(tasks, batch_size=4)
    torch.manual_seed(0)
    moved = buffer.sample_batch(tasks, batch_size=4, reward_change=change)
    torch.testing.assert_close(moved.reward - batch.reward, torch.tensor([20.0, 100.0, 2000.0]).repeat_interleave(4))
    for field in ("obs", "action", "next_obs", "terminal"):
        torch.testing.assert_close(getattr(moved, field), getattr(batch, field))
    torch.manual_seed(0)
    context = buffer.sample_context(tasks, 4, use_next_obs=False, sampling=sampling)
    torch.manual_seed(0)
    moved = buffer.sample_context(tasks, 4, use_next_obs=False, sampling=sampling, reward_change=change)
    per_task = torch.tensor([20.0, 100.0, 2000.0])[:, None].expand(3, 4)
    torch.testing.assert_close(moved[..., 4] - context[..., 4], per_task)
    torch.testing.assert_close(moved[..., :4], context[..., :4])
