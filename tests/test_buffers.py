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
