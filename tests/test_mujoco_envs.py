"""The six MuJoCo task families: Gymnasium's checker, rewards recomputed by hand from the
simulator state, fixed task splits, and Walker-2D-Params really changing the physics."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pearlkit  # noqa: F401  (registers the environments)
from pearlkit.config import PearlConfig
from pearlkit.envs import make_env
from pearlkit.envs.ant import GOAL_CODE_BIASES, GOAL_CODE_WEIGHTS, AntFwdBackEnv, AntGoal2DEnv, goal_code

FAMILIES = ["pearlkit/HalfCheetahVel-v0", "pearlkit/HalfCheetahFwdBack-v0", "pearlkit/AntFwdBack-v1",
            "pearlkit/AntGoal2D-v0", "pearlkit/HumanoidDir2D-v0", "pearlkit/Walker2DParams-v1"]


@pytest.mark.parametrize("env_id", FAMILIES)
def test_passes_the_gymnasium_checker_and_acts_in_the_unit_box(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == 200
    assert (env.action_space.low == -1).all() and (env.action_space.high == 1).all()
    for task in type(env.unwrapped).sample_tasks(2):
        obs, _ = env.reset(seed=0, options={"task": task})
        assert env.observation_space.contains(obs)
        np.testing.assert_equal(env.unwrapped.get_task(), {k: np.asarray(v, dtype=float) for k, v in task.items()})


def _step_by_hand(env, action):
    """Step ``env`` and return (reward, simulator state before, state after)."""
    data = env.unwrapped.data
    before = {"qpos": data.qpos.copy(), "torso": data.body("torso").xpos.copy(), "com": _com(env)}
    _, reward, *_ = env.step(action)
    after = {"qpos": data.qpos.copy(), "torso": data.body("torso").xpos.copy(), "com": _com(env),
             "cfrc_ext": data.cfrc_ext.copy()}
    return reward, before, after


def _com(env):
    model, data = env.unwrapped.model, env.unwrapped.data
    return (model.body_mass[:, None] * data.xipos).sum(0) / model.body_mass.sum()


def _random_steps(env_id, task, num_steps=15, seed=0):
    env = make_env(env_id)
    env.reset(seed=seed, options={"task": task})
    rng = np.random.default_rng(seed)
    for _ in range(num_steps):
        action = rng.uniform(-1, 1, size=env.action_space.shape)
        yield env, action, *_step_by_hand(env, action)


def test_cheetah_vel_reward_by_hand():
    task = {"velocity": 1.7}
    for env, a, reward, before, after in _random_steps("pearlkit/HalfCheetahVel-v0", task):
        v = (after["qpos"][0] - before["qpos"][0]) / 0.05
        assert reward == pytest.approx(-abs(v - 1.7) - 0.05 * np.sum(a ** 2), abs=1e-9)


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_cheetah_fwd_back_reward_by_hand(direction):
    for env, a, reward, before, after in _random_steps("pearlkit/HalfCheetahFwdBack-v0", {"direction": direction}):
        v = (after["qpos"][0] - before["qpos"][0]) / 0.05
        assert reward == pytest.approx(direction * v - 0.05 * np.sum(a ** 2), abs=1e-9)


def _ant_contact_cost(cfrc_ext):
    return 0.5 * 1e-3 * np.sum(np.square(np.clip(cfrc_ext, -1, 1)))


@pytest.mark.parametrize("angle", [0.0, np.pi])
def test_ant_fwd_back_reward_by_hand(angle):
    for env, a, reward, before, after in _random_steps("pearlkit/AntFwdBack-v1", {"angle": angle}):
        v = (after["torso"][:2] - before["torso"][:2]) / 0.05
        expected = (v @ [np.cos(angle), np.sin(angle)] - 0.5 * np.sum(a ** 2)
                    - _ant_contact_cost(after["cfrc_ext"]) + 1.0)
        assert reward == pytest.approx(expected, abs=1e-9)
    assert np.abs(after["cfrc_ext"]).sum() > 0  # the contact term was really exercised


def test_ant_goal_reward_by_hand_and_position_in_the_observation():
    goal = np.array([1.5, -2.0])
    for env, a, reward, before, after in _random_steps("pearlkit/AntGoal2D-v0", {"goal": goal}):
        expected = (-np.abs(after["torso"][:2] - goal).sum() - 0.1 * np.sum(a ** 2)
                    - _ant_contact_cost(after["cfrc_ext"]))
        assert reward == pytest.approx(expected, abs=1e-9)
    obs = env.unwrapped._get_obs()
    np.testing.assert_allclose(obs[:2], after["qpos"][:2])  # x, y: the goal is a position


#: Each oracle, its family, and what it should be told of a task (the unit vector along the
#: direction named, for Ant-Fwd-Back).
ORACLES = [("pearlkit/AntGoal2DOracle-v0", "pearlkit/AntGoal2D-v0", lambda task: task["goal"]),
           ("pearlkit/AntFwdBackOracle-v1", "pearlkit/AntFwdBack-v1",
            lambda task: {"forward": [1.0, 0.0], "backward": [-1.0, 0.0]}[AntFwdBackEnv.describe_task(task)])]


@pytest.mark.parametrize("oracle_id, family_id, told", ORACLES, ids=[o[0] for o in ORACLES])
def test_an_oracle_is_its_family_with_the_task_observed(oracle_id, family_id, told):
    oracle, plain = gym.make(oracle_id), make_env(family_id)
    check_env(oracle.unwrapped, skip_render_check=True)
    rng = np.random.default_rng(0)
    for task in type(plain).sample_tasks(2):  # a second task: what is told follows set_task
        obs, _ = oracle.reset(seed=3, options={"task": task})
        plain_obs, _ = plain.reset(seed=3, options={"task": task})
        for _ in range(5):
            np.testing.assert_allclose(obs, np.concatenate([plain_obs, told(task)]), rtol=0, atol=1e-15)
            action = rng.uniform(-1, 1, size=8)
            obs, reward, *_ = oracle.step(action)
            plain_obs, plain_reward, *_ = plain.step(action)
            assert reward == plain_reward


def test_the_noisy_oracle_observes_its_goal_off_by_one_offset_an_episode():
    noisy, oracle = gym.make("pearlkit/AntGoal2DNoisyOracle-v0"), make_env("pearlkit/AntGoal2DOracle-v0")
    check_env(noisy.unwrapped, skip_render_check=True)
    task = type(oracle).sample_tasks(1)[0]
    offsets = []
    for seed in range(200):
        obs, _ = noisy.reset(seed=seed, options={"task": task})
        exact, _ = oracle.reset(seed=seed, options={"task": task})
        np.testing.assert_array_equal(obs[:-2], exact[:-2])  # the body is the oracle's
        offset = obs[-2:] - task["goal"]
        for _ in range(3):  # one offset for the whole episode; the reward is the true goal's
            action = np.full(8, 0.3)
            obs, reward, *_ = noisy.step(action)
            np.testing.assert_allclose(obs[-2:] - task["goal"], offset)
            assert reward == oracle.step(action)[1]
        offsets.append(offset)
    offsets = np.array(offsets)
    assert abs(offsets.mean()) < 0.1 and offsets.std() == pytest.approx(0.7, rel=0.1)
    np.testing.assert_array_equal(noisy.reset(seed=5)[0][-2:], noisy.reset(seed=5)[0][-2:])  # seeded
    with pytest.raises(ValueError, match="goal_noise must be >= 0 \\(metres\\), got -1"):
        gym.make("pearlkit/AntGoal2DNoisyOracle-v0", goal_noise=-1)
    assert gym.make("pearlkit/AntGoal2DNoisierOracle-v0").unwrapped.goal_noise == 1.2


def test_the_coded_noisy_oracle_observes_the_noisy_goal_through_a_fixed_smooth_map():
    coded, noisy = gym.make("pearlkit/AntGoal2DCodedNoisyOracle-v0"), make_env("pearlkit/AntGoal2DNoisyOracle-v0")
    check_env(coded.unwrapped, skip_render_check=True)
    task = type(noisy).sample_tasks(1)[0]
    for seed in range(3):
        obs, _ = coded.reset(seed=seed, options={"task": task})
        noisy_obs, _ = noisy.reset(seed=seed, options={"task": task})
        for _ in range(3):  # the same body, offset and reward as the noisy oracle; only the goal's form differs
            np.testing.assert_array_equal(obs[:-5], noisy_obs[:-2])
            np.testing.assert_allclose(obs[-5:], np.tanh(GOAL_CODE_WEIGHTS @ noisy_obs[-2:] + GOAL_CODE_BIASES))
            action = np.full(8, 0.3)
            (obs, reward, *_), (noisy_obs, noisy_reward, *_) = coded.step(action), noisy.step(action)
            assert reward == noisy_reward
    # The map is bent but not folded: a linear read of the code places goals over the disc
    # well, yet not as exactly as the goal itself.
    goals = np.array([t["goal"] for t in type(noisy).draw_tasks(2000, np.random.default_rng(0))])
    codes = np.c_[goal_code(goals), np.ones(len(goals))]
    residual = goals - codes @ np.linalg.lstsq(codes, goals, rcond=None)[0]
    assert 0.9 < 1 - residual.var(0).sum() / goals.var(0).sum() < 0.99


def test_humanoid_dir_reward_by_hand_with_rescaled_actions():
    angle = 2.0
    for env, a, reward, before, after in _random_steps("pearlkit/HumanoidDir2D-v0", {"angle": angle}, num_steps=5):
        control = 0.4 * a  # the humanoid's motors accept [-0.4, 0.4]; the agent acts in [-1, 1]
        np.testing.assert_allclose(env.unwrapped.data.ctrl, control)
        v = (after["com"][:2] - before["com"][:2]) / 0.015
        contact = min(5e-7 * np.sum(after["cfrc_ext"] ** 2), 10.0)
        expected = 1.25 * v @ [np.cos(angle), np.sin(angle)] - 0.1 * np.sum(control ** 2) - contact + 5.0
        assert reward == pytest.approx(expected, abs=1e-8)


def test_walker_params_reward_by_hand():
    task = type(make_env("pearlkit/Walker2DParams-v1")).sample_tasks(1)[0]
    for env, a, reward, before, after in _random_steps("pearlkit/Walker2DParams-v1", task):
        v = (after["qpos"][0] - before["qpos"][0]) / 0.016  # 8 physics steps of 2 ms
        assert reward == pytest.approx(v + 1.0 - 1e-3 * np.sum(a ** 2), abs=1e-9)


def _walker_trajectory(env, task, actions):
    env.reset(seed=3, options={"task": task})
    return np.array([env.step(a)[0] for a in actions])


def test_walker_params_tasks_change_the_simulation_and_switching_back_restores_it():
    env = make_env("pearlkit/Walker2DParams-v1")
    nominal_model = {k: getattr(env.model, k).copy() for k in ("body_mass", "body_inertia", "dof_damping",
                                                                 "geom_friction")}
    nominal, (task_a, task_b) = env.nominal_task(), type(env).sample_tasks(2)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(40, 6))
    base = _walker_trajectory(env, nominal, actions)
    path_a = _walker_trajectory(env, task_a, actions)
    path_b = _walker_trajectory(env, task_b, actions)
    assert np.abs(path_a - base).max() > 0.1 and np.abs(path_b - path_a).max() > 0.1
    np.testing.assert_allclose(env.model.body_mass, nominal_model["body_mass"] * task_b["body_mass"])
    assert not np.allclose(env.model.dof_damping, nominal_model["dof_damping"])
    # Back to nominal: the same arrays bit for bit, and the same trajectory as before.
    np.testing.assert_array_equal(_walker_trajectory(env, nominal, actions), base)
    for name, value in nominal_model.items():
        np.testing.assert_array_equal(getattr(env.model, name), value)
    np.testing.assert_array_equal(_walker_trajectory(make_env("pearlkit/Walker2DParams-v1"), nominal, actions), base)


def test_walker_params_multipliers_span_the_reference_range():
    tasks = type(make_env("pearlkit/Walker2DParams-v1")).sample_tasks(50)
    mass = np.concatenate([t["body_mass"] for t in tasks])
    damping = np.concatenate([t["dof_damping"] for t in tasks])
    assert 1.5 ** -3 <= mass.min() < 0.4 and 2.5 < mass.max() <= 1.5 ** 3
    assert 1.3 ** -3 <= damping.min() and damping.max() <= 1.3 ** 3


@pytest.mark.parametrize("env_id, num_train, num_test", [("pearlkit/HalfCheetahVel-v0", 100, 30),
                                                         ("pearlkit/AntGoal2D-v0", 150, 30)])
def test_task_splits_are_fixed_and_disjoint(env_id, num_train, num_test):
    config = PearlConfig(env_id=env_id, num_train_tasks=num_train, num_test_tasks=num_test, max_path_length=200,
                         num_steps_per_eval=600, num_exp_traj_eval=2)
    train, test = config.split_tasks()
    again_train, again_test = config.replace(seed=5).split_tasks()  # the run seed never moves the split
    key = next(iter(train[0]))
    assert len(train) == num_train and len(test) == num_test
    np.testing.assert_array_equal([t[key] for t in test], [t[key] for t in again_test])
    values = {tuple(np.atleast_1d(t[key])) for t in train + test}
    assert len(values) == num_train + num_test  # no test task is also a training task


def test_cheetah_vel_targets_and_ant_goals_follow_the_reference_distributions():
    velocities = np.array([t["velocity"] for t in make_env("pearlkit/HalfCheetahVel-v0").sample_tasks(500)])
    assert velocities.min() >= 0 and velocities.max() <= 3 and abs(velocities.mean() - 1.5) < 0.1
    goals = np.array([t["goal"] for t in make_env("pearlkit/AntGoal2D-v0").sample_tasks(2000)])
    radius = np.linalg.norm(goals, axis=1)
    assert radius.max() <= 3 and abs(np.mean(radius < 1.5) - 0.25) < 0.04  # uniform over the disc's area


@pytest.mark.parametrize("env_id", ["pearlkit/HalfCheetahFwdBack-v0", "pearlkit/AntFwdBack-v1"])
def test_fwd_back_families_meta_test_on_their_two_training_tasks(env_id):
    config = PearlConfig(env_id=env_id, num_train_tasks=2, num_test_tasks=2, max_path_length=200,
                         num_steps_per_eval=600, num_exp_traj_eval=2)
    train, test = config.split_tasks()
    describe = type(make_env(env_id)).describe_task
    assert [describe(t) for t in train] == [describe(t) for t in test] == ["forward", "backward"]


def test_bad_tasks_are_refused_with_the_expected_keys():
    env = make_env("pearlkit/HalfCheetahVel-v0")
    with pytest.raises(ValueError, match=r"\['velocity'\]"):
        env.set_task({"goal": 1.0})
    walker = make_env("pearlkit/Walker2DParams-v1")
    bad = {**walker.nominal_task(), "body_mass": np.ones(3)}
    with pytest.raises(ValueError, match="body_mass.*shape"):
        walker.set_task(bad)


@pytest.mark.parametrize("env_id", FAMILIES)
def test_a_longer_task_list_starts_with_the_shorter_one(env_id):
    env_cls = type(make_env(env_id))
    short, long = env_cls.sample_tasks(5), env_cls.sample_tasks(12)
    for a, b in zip(short, long):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("env_id", FAMILIES)
def test_making_a_family_prints_nothing_however_it_is_made(env_id, capfd):
    # MuJoCo 4 reports half_cheetah.xml's deprecated `settotalmass` on the C stderr at every compile.
    gym.make(env_id)
    make_env(env_id)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_ant_fwd_back_observes_the_references_27_numbers():
    env = make_env("pearlkit/AntFwdBack-v1")
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        assert obs.shape == (27,) and env.observation_space.shape == (27,)
        np.testing.assert_allclose(obs, np.concatenate([env.data.qpos[2:], env.data.qvel]))
        obs, *_ = env.step(env.action_space.sample())
    assert make_env("pearlkit/AntFwdBack-v0").observation_space.shape == (105,)  # the shipped v0 agent's


def test_the_x35f_ant_directions_are_what_its_seed_draws():
    # x35f/meta_rl: np.random.seed(35), then its ant_dir.py's np.random.uniform(0, 2 pi, size=2).
    drawn = np.random.RandomState(35).uniform(0.0, 2.0 * np.pi, size=2)
    env = make_env("pearlkit/AntTwoDirections-v1")
    tasks = type(env).sample_tasks(2)
    np.testing.assert_allclose([t["angle"] for t in tasks], drawn)
    assert [type(env).describe_task(t) for t in tasks] == ["165°", "111°"]
    assert env.observation_space.shape == (27,)
    # The same body and reward as Ant-Fwd-Back: only the direction differs.
    env.reset(seed=0, options={"task": tasks[0]})
    x_before = env.data.body("torso").xpos[:2].copy()
    action = np.full(8, 0.3)
    _, reward, *_ = env.step(action)
    velocity = (env.data.body("torso").xpos[:2] - x_before) / env.dt
    contact = 5e-4 * np.sum(np.clip(env.data.cfrc_ext, -1, 1) ** 2)
    by_hand = velocity @ [np.cos(drawn[0]), np.sin(drawn[0])] - 0.5 * np.sum(action ** 2) - contact + 1
    assert reward == pytest.approx(by_hand, abs=1e-9)


def test_walker_params_steps_the_references_0_016_seconds():
    env = make_env("pearlkit/Walker2DParams-v1")
    assert env.dt == pytest.approx(0.016) and env.model.opt.timestep == pytest.approx(0.002)
    env.reset(seed=0)
    before = env.data.time
    env.step(np.zeros(6))
    assert env.data.time - before == pytest.approx(0.016)
    assert make_env("pearlkit/Walker2DParams-v0").dt == pytest.approx(0.008)


@pytest.mark.parametrize("env_id, contact_forces", [
    ("pearlkit/AntGoal2D-v0", lambda env: env.contact_forces[1:].ravel()),  # clipped, the world body left out
    ("pearlkit/AntGoal2DOracle-v0", lambda env: env.contact_forces[1:].ravel()),
    ("pearlkit/HumanoidDir2D-v0", lambda env: env.data.cfrc_ext[1:].ravel()),
])
def test_observation_slice_finds_each_part_in_the_simulator(env_id, contact_forces):
    env = make_env(env_id)
    obs, _ = env.reset(seed=0)
    skipped = env.observation_structure["skipped_qpos"]
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, *_ = env.step(rng.uniform(-1, 1, size=env.action_space.shape))
        np.testing.assert_allclose(obs[env.observation_slice("qpos")], env.data.qpos[skipped:])
        np.testing.assert_allclose(obs[env.observation_slice("qvel")], env.data.qvel)
        np.testing.assert_allclose(obs[env.observation_slice("cfrc_ext")], contact_forces(env))
    if "Oracle" in env_id:
        assert env.observation_slice("goal") == slice(obs.size - 2, obs.size)
        np.testing.assert_array_equal(obs[env.observation_slice("goal")], env._task["goal"])
    else:
        with pytest.raises(ValueError, match="observes no 'goal'.*'qpos'"):
            env.observation_slice("goal")


def _rewards_and_positions(goal, actions):
    """Per step: the reward, the torso where the reward measures it (the body's position, which
    MuJoCo computes before the last physics substep), and the x, y the observation reports."""
    env = make_env("pearlkit/AntGoal2D-v0")
    env.reset(seed=0, options={"task": {"goal": goal}})
    rewards, torso, observed = [], [], []
    for action in actions:
        obs, reward, *_ = env.step(action)
        rewards.append(reward)
        torso.append(env.unwrapped.data.body("torso").xpos[:2].copy())
        observed.append(obs[:2])
    return np.array(rewards), np.array(torso), np.array(observed)


def test_relabelled_rewards_are_what_the_other_goal_pays():
    # The goal does not change the dynamics: one seed and one action sequence under two goals
    # give the same trajectory, and the rewards differ by the goal term alone.
    actions = np.random.default_rng(0).uniform(-1, 1, size=(20, 8))
    goal, new_goal = np.array([1.5, -2.0]), np.array([-0.5, 2.5])
    reward, torso, observed = _rewards_and_positions(goal, actions)
    new_reward, new_torso, _ = _rewards_and_positions(new_goal, actions)
    np.testing.assert_array_equal(torso, new_torso)
    assert not np.allclose(reward, new_reward, atol=0.1)
    change = AntGoal2DEnv.relabelled_reward_change
    np.testing.assert_allclose(reward + change(torso, goal, new_goal), new_reward, atol=1e-9)
    # From the observed x, y (what a buffer keeps), off by the torso's travel in one substep
    # (0.01 s) in each of the two distances.
    lag = np.abs(observed - torso).sum(-1)
    assert 0 < lag.max() < 0.01
    np.testing.assert_allclose(reward + change(observed, goal, new_goal), new_reward, atol=2 * lag.max())
