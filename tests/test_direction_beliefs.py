"""pearlkit.direction_beliefs: which task the belief from one exploring trajectory names, by
which way the body moved, on a case worked by hand; and on the shipped agents, as chapter 6
prints it."""
from pathlib import Path

import pytest
import torch

from pearlkit.direction_beliefs import (belief_by_motion, belief_with_other_reward, forward_velocity_index,
                                        named_tasks, read_directions, went_the_right_way)
from pearlkit.envs import make_env
from pearlkit.evaluate import MetaTestResult
from pearlkit.sampler import Trajectories

RESULTS = Path(__file__).parents[1] / "results"
OBS, ACTION, HORIZON = 2, 1, 4  # obs[:, 0] is the forward velocity


def trajectories(velocities: list[float], directions: list[float]) -> Trajectories:
    """One trajectory per run at a constant velocity, rewarded as Fwd-Back rewards it: direction × velocity."""
    velocity = torch.tensor(velocities)[:, None].expand(-1, HORIZON)
    reward = velocity * torch.tensor(directions)[:, None]
    obs = torch.stack([velocity, torch.zeros_like(velocity)], -1)
    return Trajectories(obs, torch.zeros(len(velocities), HORIZON, ACTION), reward, reward, obs,
                        torch.zeros(len(velocities), HORIZON))


def meta_test_result(trajectories: list[Trajectories], z_means: torch.Tensor) -> MetaTestResult:
    """Four runs, two per task, three trajectories each (two exploring), every step real."""
    return MetaTestResult(
        returns=torch.ones(4, 3), successes=torch.zeros(4, 3, dtype=torch.bool), z=z_means, z_means=z_means,
        z_vars=torch.ones(4, 3, 1), trajectories=trajectories, valid=torch.ones(4, 3, HORIZON, dtype=torch.bool),
        reports_success=False, counted=torch.ones(4, 3, dtype=torch.bool), num_exp_traj_eval=2, runs_per_task=2)


def reward_sign_encoder(context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An encoder that reads only whether the context was rewarded (a belief of +1 or -1)."""
    mean = context[..., OBS + ACTION].mean(-1, keepdim=True).sign()
    return mean, torch.ones_like(mean)


def test_an_encoder_that_reads_only_the_reward_sign_misreads_the_runs_that_were_punished():
    # Runs 0-1: forward task (direction +1); runs 2-3: backward (-1). Two exploring trajectories,
    # then one after exploration, whose beliefs (+1 forward, -1 backward) name the tasks' centres.
    directions = [1.0, 1.0, -1.0, -1.0]
    explore = [trajectories([2.0, -2.0, -2.0, 2.0], directions), trajectories([2.0, 2.0, -2.0, -2.0], directions)]
    after = trajectories([2.0, 2.0, -2.0, -2.0], directions)
    z_means = torch.zeros(4, 3, 1)
    z_means[:, 2, 0] = torch.tensor([1.0, 1.0, -1.0, -1.0])
    result = meta_test_result([*explore, after], z_means)
    counts = belief_by_motion(named_tasks(reward_sign_encoder, False, 0, result, torch.ones(4, dtype=torch.bool),
                                          ["forward", "backward"]))
    # Rewarded trajectories (forward task moving forward, backward task moving backward) look like
    # the forward task to it: right in the forward task, wrong in the backward one; punished ones
    # the other way round.
    assert counts == {"backward, moved backward": [0, 3], "backward, moved forward": [1, 1],
                      "forward, moved backward": [0, 1], "forward, moved forward": [3, 3]}


def test_no_reading_without_a_run_that_went_the_right_way_in_each_task():
    result = meta_test_result([], torch.zeros(4, 3, 1))
    right = torch.tensor([True, True, False, False])  # the backward task's runs all went wrong
    readings = named_tasks(reward_sign_encoder, False, 0, result, right, ["forward", "backward"])
    assert readings is None and belief_by_motion(readings) is None and belief_with_other_reward(readings, None) is None


def motion_encoder(context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An encoder that reads only which way the body moved (a belief of +1 or -1)."""
    mean = context[..., 0].mean(-1, keepdim=True).sign()
    return mean, torch.ones_like(mean)


def test_swapping_in_the_other_tasks_reward_changes_what_a_reward_reader_names_and_not_a_motion_reader():
    directions = [1.0, 1.0, -1.0, -1.0]
    explore = [trajectories([2.0, -2.0, -2.0, 2.0], directions), trajectories([2.0, 2.0, -2.0, -2.0], directions)]
    z_means = torch.zeros(4, 3, 1)
    z_means[:, 2, 0] = torch.tensor([1.0, 1.0, -1.0, -1.0])
    result = meta_test_result([*explore, trajectories([2.0, 2.0, -2.0, -2.0], directions)], z_means)
    other = lambda one: -one.reward  # no control cost in these trajectories
    reading = (False, 0, result, torch.ones(4, dtype=torch.bool), ["forward", "backward"])
    cells = {"backward, moved backward": 3, "backward, moved forward": 1, "forward, moved backward": 1,
             "forward, moved forward": 3}
    for encoder, changed in [(reward_sign_encoder, cells), (motion_encoder, dict.fromkeys(cells, 0))]:
        own, swapped = named_tasks(encoder, *reading), named_tasks(encoder, *reading, other)
        assert belief_with_other_reward(own, swapped) == {c: [changed[c], n] for c, n in cells.items()}


@pytest.mark.parametrize("env_id, index", [("pearlkit/HalfCheetahFwdBack-v0", 8), ("pearlkit/AntFwdBack-v1", 13)])
def test_the_forward_velocity_index_reads_the_simulators_root_x_velocity(env_id, index):
    env = make_env(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    obs, *_ = env.step(env.action_space.sample())
    assert forward_velocity_index(env_id) == index  # after qpos[1:] (cheetah) or qpos[2:] (ant)
    assert obs[index] == pytest.approx(env.unwrapped.data.qvel[0])


def test_the_right_way_means_up_to_the_end_and_at_least_the_floor():
    result = meta_test_result([trajectories([1.0] * 4, [1.0] * 4)] * 3, torch.zeros(4, 3, 1))
    returns = result.returns.clone()
    returns[:, 2] = torch.tensor([5.0, 1.0, 5.0, 3.0])  # the trajectory after exploration
    valid = result.valid.clone()
    valid[2, 2, -1] = False  # run 2 fell before its last step
    result = result._replace(returns=returns, valid=valid)
    assert went_the_right_way(result, HORIZON, floor=3.0).tolist() == [True, False, False, True]


def test_read_directions_counts_every_exploring_trajectory_and_refuses_a_family_without_forward_and_backward():
    counts = read_directions(RESULTS / "cheetah-fwd-back", runs_per_task=2, device="cpu")
    assert sum(total for _, total in counts.values()) == 2 * 2 * 2  # tasks x runs x exploring trajectories
    assert {cell.split(",")[0] for cell in counts} == {"forward", "backward"}
    with pytest.raises(ValueError, match="forward and backward.*HalfCheetahVel"):
        read_directions(RESULTS / "cheetah-vel")
