"""benchmarks/goal_approach.py: its measures of an Ant-Goal-2D agent, on cases worked by hand or
against the simulator."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pearlkit
from pearlkit.envs.ant import GOAL_DISC_RADIUS

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from goal_approach import (closed_by_read_error, goal_terms, held_out_prediction, held_out_r2,  # noqa: E402
                           ideal_goal_means, meta_test_copy, position_spread, torso_points_down,
                           training_tasks_diagnosis)

from tests.conftest import tiny_cheetah_config  # noqa: E402


@pytest.fixture
def goals():
    return np.random.default_rng(0).normal(size=(60, 2))


TASK_OF_RUN = np.repeat(np.arange(30), 2)  # two runs per task, as meta-test runs them


def test_a_belief_that_holds_the_goal_linearly_explains_it(goals):
    rng = np.random.default_rng(1)
    belief = np.concatenate([goals @ np.array([[1.0, 2.0], [3.0, -1.0]]), rng.normal(size=(60, 3))], axis=1)
    assert held_out_r2(belief, goals, TASK_OF_RUN) > 0.99


def test_a_belief_that_says_nothing_explains_nothing(goals):
    assert held_out_r2(np.random.default_rng(2).normal(size=(60, 5)), goals, TASK_OF_RUN) < 0.05


def test_memorising_the_tasks_explains_nothing_on_held_out_ones(goals):
    # One feature per task: a perfect fit to the training tasks, no information about a new one.
    one_hot = np.eye(30)[TASK_OF_RUN]
    assert held_out_r2(one_hot, goals, TASK_OF_RUN) <= 0.0


def test_the_held_out_map_reads_an_affine_belief_exactly_and_a_constant_one_as_the_other_tasks_mean(goals):
    belief = goals @ np.array([[1.0, 2.0], [3.0, -1.0]]) + 0.5
    np.testing.assert_allclose(held_out_prediction(belief, goals, TASK_OF_RUN), goals, atol=1e-9)
    predicted = held_out_prediction(np.zeros((60, 3)), goals, TASK_OF_RUN)
    others = TASK_OF_RUN != TASK_OF_RUN[0]
    np.testing.assert_allclose(predicted[0], goals[others].mean(0), atol=1e-9)


@pytest.mark.parametrize(("quaternion", "down"), [
    ((1.0, 0.0, 0.0, 0.0), False),  # upright
    ((0.0, 1.0, 0.0, 0.0), True),  # half a turn about x: on its back
    ((np.cos(np.pi / 8), 0.0, np.sin(np.pi / 8), 0.0), False),  # tilted 45 degrees about y
    ((np.cos(3 * np.pi / 8), 0.0, np.sin(3 * np.pi / 8), 0.0), True),  # tilted 135 degrees
])
def test_torso_points_down_reads_the_quaternion(quaternion, down):
    assert bool(torso_points_down(np.array(quaternion))) is down


def test_position_spread_counts_the_real_steps_only():
    positions = np.array([[[0.0, 0.0], [2.0, 0.0], [50.0, 50.0]]])  # the last step is padding
    assert position_spread(positions, np.array([[True, True, False]])) == pytest.approx([1.0])


def _goal_terms(path, goal):
    return -np.abs(path - goal).sum(-1)


def test_the_ideal_reader_finds_a_goal_the_path_walks_around():
    goal = np.array([1.0, -0.5])
    angles = np.linspace(0, 2 * np.pi, 50)
    path = goal + 0.7 * np.stack([np.cos(angles), np.sin(angles)], -1)  # crosses the goal's x and y
    mean = ideal_goal_means(path[None], _goal_terms(path, goal)[None], np.ones((1, 50), bool))[0]
    np.testing.assert_allclose(mean, goal, atol=0.05)  # the grid's spacing


def test_near_the_start_the_ideal_reader_knows_the_quadrant_and_one_sum():
    # Every step is taken from below and left of the goal: the distances give x + y of the goal
    # and that it lies up and to the right, not where on that line it is.
    goal = np.array([1.5, 1.0])
    path = np.random.default_rng(0).uniform(-0.2, 0.2, size=(200, 2))
    mean = ideal_goal_means(path[None], _goal_terms(path, goal)[None], np.ones((1, 200), bool))[0]
    assert mean.sum() == pytest.approx(goal.sum(), abs=0.05)
    assert (mean > 0.2).all()
    assert np.abs(mean - goal).max() > 0.2  # not the goal itself: the line's middle


def test_the_ideal_reader_ignores_padding():
    goal = np.array([-1.0, 2.0])
    path = np.random.default_rng(1).uniform(-0.2, 0.2, size=(1, 30, 2))
    valid = np.ones((1, 30), bool)
    valid[0, 20:] = False
    terms = _goal_terms(path, goal)
    terms[0, 20:] = 99.0  # what padding holds must not matter
    np.testing.assert_allclose(ideal_goal_means(path, terms, valid), ideal_goal_means(path[:, :20], terms[:, :20],
                                                                                    valid[:, :20]))


def test_one_goal_has_no_held_out_r2(goals):
    assert np.isnan(held_out_r2(goals[:4], goals[:4], np.zeros(4)))


@pytest.mark.parametrize("env_id", ["pearlkit/AntGoal2D-v0", "pearlkit/AntGoal2DOracle-v0"])
def test_training_goals_meta_tests_the_goal_the_run_trained_on(tmp_path, env_id):
    # A one-goal Ant-Goal-2D run, trained for one iteration: meta-tested on a goal, the torso
    # starts where the reset puts it (within 0.1 m of the origin), that goal's distance away.
    # The residual holds on the oracle too, whose observation ends with the goal, not the forces.
    config = tiny_cheetah_config().replace(env_id=env_id, num_train_tasks=1, num_test_tasks=1, meta_batch=1)
    pearlkit.train(config, tmp_path / "run", progress=False)
    train_goal, test_goal = (np.linalg.norm(tasks[0]["goal"]) for tasks in config.split_tasks())
    assert abs(train_goal - test_goal) > 0.2  # so the start distance tells the two goals apart

    def goal_approach(*flags):
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "goal_approach.py"), str(tmp_path / "run"),
                              *flags], capture_output=True, text=True, check=True, cwd=ROOT).stdout
        return json.loads(out.splitlines()[-1])[str(tmp_path / "run")]

    for flags, goals, goal, runs in ((["--training-goals", "--runs-per-task", "3"], "training", train_goal, 3),
                                     (["--runs-per-task", "2"], "held-out", test_goal, 2)):
        result = goal_approach(*flags)
        assert result["goals"] == goals and result["runs"] == runs
        first = result["by_trajectory"][0]
        assert first["start_distance"] == pytest.approx(goal, abs=0.1)
        assert 0 <= first["ended_closer"] <= 1  # a share of the runs: a whole number of them
        assert first["ended_closer"] * runs == pytest.approx(round(first["ended_closer"] * runs), abs=0.03)
        assert first["belief_r2"] is None and first["residual"] < 0.05
        assert first["read_goal_error"] is first["start_to_read_goal"] is first["end_to_read_goal"] is None  # one goal


def test_a_longer_look_explores_on_the_prior_for_k_trajectories_then_acts_on_the_belief(tmp_path):
    config = tiny_cheetah_config().replace(env_id="pearlkit/AntGoal2D-v0", max_path_length=20)
    pearlkit.train(config, tmp_path / "run", progress=False)
    for k in (1, 3):
        result, tested, tasks, _ = meta_test_copy(tmp_path / "run", seed=0, runs_per_task=2, exploration_trajectories=k)
        assert (tested.num_exp_traj_eval, result.returns.shape) == (k, (2 * len(tasks), k + 1))
        assert result.z_means[:, :k].abs().max() == 0  # the prior's mean while exploring
        assert result.z_means[:, k].abs().min() > 0  # then the belief inferred from the k trajectories
    with pytest.raises(ValueError, match=r"exploration_trajectories \(--exploration-trajectories\) must be >= 1, "
                                         r"got 0"):
        meta_test_copy(tmp_path / "run", seed=0, exploration_trajectories=0)
    # Where the belief points: the end lies within (end to the goal read) + (goal read to the goal).
    for t in goal_terms(meta_test_copy(tmp_path / "run", seed=0, runs_per_task=2))["by_trajectory"]:
        assert 0 < t["end_to_read_goal"] and 0 < t["read_goal_error"] < 2 * GOAL_DISC_RADIUS
        assert t["start_distance"] <= t["start_to_read_goal"] + t["read_goal_error"] + 0.015
        assert t["end_distance"] <= t["end_to_read_goal"] + t["read_goal_error"] + 0.015  # each rounded to 0.01


def test_closed_by_read_error_bins_the_runs_by_how_far_off_the_goal_read_lies():
    closed = np.array([0.8, 0.6, 0.4, 0.2, 0.1])
    bins = closed_by_read_error(closed, np.array([0.1, 0.4, 0.7, 2.0, 5.0]))
    assert bins == [{"below_m": 0.5, "runs": 2, "closed": 0.7}, {"below_m": 1.0, "runs": 1, "closed": 0.4},
                    {"below_m": 1.5, "runs": 0, "closed": None}, {"below_m": None, "runs": 2, "closed": 0.15}]


def test_an_oracle_is_read_from_the_goal_its_observation_ends_with(tmp_path):
    # The exact oracle's observed goal is the goal itself: a held-out affine read of it is exact,
    # in every trajectory, where a run with no latent used to read nothing.
    config = tiny_cheetah_config().replace(env_id="pearlkit/AntGoal2DOracle-v0", latent_dim=0, num_test_tasks=4,
                                           max_path_length=20)
    pearlkit.train(config, tmp_path / "run", progress=False)
    for t in goal_terms(meta_test_copy(tmp_path / "run", seed=0, runs_per_task=2))["by_trajectory"]:
        assert t["belief_r2"] == 1.0 and t["read_goal_error"] == 0.0
        assert sum(b["runs"] for b in t["closed_by_read_error"]) == 8


def test_training_contexts_reads_the_buffer_belief_from_each_way_of_drawing_a_context(tmp_path):
    # A context buffer holds two trajectories a task (its pick's prior data), drawn one at a time
    # or all together; the config's draw is the one the rest of the diagnosis acts on.
    config = tiny_cheetah_config().replace(env_id="pearlkit/AntGoal2D-v0", max_path_length=20, num_steps_prior=40,
                                           context_sampling="trajectory")
    pearlkit.train(config, tmp_path / "run", progress=False)
    result = training_tasks_diagnosis(tmp_path / "run", seed=0)
    by_sampling = result["buffer_belief_r2_by_sampling"]
    assert sorted(by_sampling) == ["trajectory", "transitions"]
    assert by_sampling["trajectory"] == result["buffer_belief_r2"]
    assert all(r2 is not None and r2 <= 1 for r2 in by_sampling.values())
