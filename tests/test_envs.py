import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pearlkit
from pearlkit.config import PearlConfig
from pearlkit.envs import ENV_IDS, PointNavEnv, SparsePointNavEnv, is_navigation, make_env
from pearlkit.envs.point_nav import (
    goal_positions,
    oracle_action,
    oracle_path,
    oracle_return,
    sparse_reward,
)
from pearlkit.envs.tasks import env_class


@pytest.mark.parametrize("env_id", ["pearlkit/PointNav-v0", "pearlkit/SparsePointNav-v0"])
def test_registered_envs_pass_the_gymnasium_checker(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            break
    assert steps == 20 and truncated  # the registered horizon


def test_sparse_reward_by_hand():
    env = SparsePointNavEnv()
    env.set_task({"goal": np.array([0.0, 0.25])})
    env.reset()
    _, r, _, _, info = env.step(np.array([0.0, 1.0]))  # at (0, 0.1): 0.15 from the goal
    assert r == pytest.approx(1 - 0.15) and info["dense_reward"] == pytest.approx(-0.15) and info["is_success"]
    _, r, _, _, info = env.step(np.array([0.0, 1.0]))  # at (0, 0.2): 0.05 away
    assert r == pytest.approx(0.95)
    env.set_task({"goal": np.array([1.0, 0.0])})
    env.reset()
    _, r, _, _, info = env.step(np.array([-1.0, 0.0]))  # 1.1 away: outside the disc
    assert r == 0 and info["dense_reward"] == pytest.approx(-1.1) and not info["is_success"]


def test_dense_env_reward_and_clipped_actions():
    env = PointNavEnv()
    env.reset(options={"task": {"goal": np.array([0.0, 1.0])}})
    obs, r, *_ = env.step(np.array([5.0, 5.0]))  # clipped to (1, 1): moves 0.1 per axis
    np.testing.assert_allclose(obs, [0.1, 0.1], rtol=1e-6)
    assert r == pytest.approx(-np.hypot(0.1, 0.9))


def test_goal_split_is_80_20_on_the_upper_half_circle():
    train, test = PearlConfig().split_tasks()
    assert len(train) == 80 and len(test) == 20
    goals = np.array([t["goal"] for t in train + test])
    np.testing.assert_allclose(np.linalg.norm(goals, axis=1), 1.0)
    assert (goals[:, 1] >= -1e-12).all()
    # every one of the 100 goals exactly once: the split is disjoint and complete
    expected = goal_positions(100)
    order = np.lexsort(goals.T)
    np.testing.assert_allclose(goals[order], expected[np.lexsort(expected.T)], atol=1e-12)
    again_train, again_test = PearlConfig(seed=7).split_tasks()  # the split never depends on the run seed
    np.testing.assert_array_equal([t["goal"] for t in test], [t["goal"] for t in again_test])


def test_bad_task_and_unknown_env_errors():
    env = SparsePointNavEnv()
    with pytest.raises(ValueError, match="keys \\['goal'\\]"):
        env.set_task({"target": [0, 1]})
    with pytest.raises(ValueError, match="unknown env_id 'pearlkit/Nope-v0'.*SparsePointNav"):
        make_env("pearlkit/Nope-v0")
    assert "90 deg" in SparsePointNavEnv.describe_task({"goal": np.array([0.0, 1.0])})
    assert pearlkit.__version__


def test_oracle_in_the_simulator_matches_its_closed_form_and_scores_about_13():
    _, test = PearlConfig().split_tasks()
    env = SparsePointNavEnv()
    returns = []
    for task in test:
        obs, _ = env.reset(options={"task": task})
        total = 0.0
        for _ in range(20):
            obs, reward, *_ = env.step(oracle_action(obs.astype(np.float64), task["goal"]))
            total += reward
        closed_form = sparse_reward(oracle_path(task["goal"]), task["goal"]).sum()
        assert total == pytest.approx(closed_form, abs=1e-4)
        returns.append(total)
    assert 12.5 < np.mean(returns) < 13.5  # the ceiling for one episode
    assert oracle_return(np.array([task["goal"] for task in test])) == pytest.approx(np.mean(returns), abs=1e-4)


@pytest.mark.parametrize("env_id", sorted(ENV_IDS))
def test_registration_states_the_spaces_and_class_each_environment_has(env_id):
    env = make_env(env_id)
    registration = ENV_IDS[env_id]
    assert env.observation_space.shape == (registration.obs_dim,)
    assert env.action_space.shape == (registration.action_dim,)
    assert env_class(env_id) is type(env)


def test_is_navigation_names_the_point_families_and_rejects_an_unknown_id():
    assert [env_id for env_id in sorted(ENV_IDS) if is_navigation(env_id)] == \
        ["pearlkit/PointNav-v0", "pearlkit/SparsePointNav-v0"]
    with pytest.raises(ValueError, match="unknown env_id 'pearlkit/Nav-v9'"):
        is_navigation("pearlkit/Nav-v9")
