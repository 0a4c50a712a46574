import numpy as np
import pytest

from pearlkit.config import PearlConfig
from pearlkit.envs.point_nav import goal_positions
from pearlkit.ideal_explorer import (
    best_spread_find_probability,
    enters_disc,
    hypothesis_paths,
    ideal_adaptation_curve,
    ideal_meta_test,
)


@pytest.fixture(scope="module")
def test_goals():
    _, test = PearlConfig().split_tasks()
    return np.array([t["goal"] for t in test])


@pytest.fixture(scope="module")
def coverage(test_goals):
    """[i, j]: the oracle path to goal j of the family enters held-out goal i's disc."""
    return enters_disc(hypothesis_paths(), test_goals)


def test_enters_disc_by_hand():
    path = np.array([[[0.0, 0.5], [0.0, 0.9]]])
    goals = np.array([[0.0, 1.0], [0.15, 0.95], [1.0, 0.0]])
    # distances from the nearest point (0, 0.9): 0.1, about 0.158, about 1.345
    assert enters_disc(path, goals)[:, 0].tolist() == [True, True, False]


def test_one_exploration_trajectory_finds_as_often_as_the_paths_cover(test_goals, coverage):
    draws = 4000
    found = ideal_meta_test(test_goals, num_exploration=1, draws=draws, seed=0)["found"]
    expected = coverage.mean()  # hypotheses uniform over the 100 goals
    stderr = np.sqrt(expected * (1 - expected) / (draws * len(test_goals)))
    assert abs(found - expected) < 4 * stderr


def test_with_no_exploration_the_best_guess_is_the_widest_path(test_goals, coverage):
    result = ideal_meta_test(test_goals, num_exploration=0, draws=3, seed=0)
    all_goals_hit = enters_disc(hypothesis_paths(), goal_positions())
    widest = np.argmax(all_goals_hit.sum(0))
    assert result["found"] == 0.0
    assert result["success_best"] == pytest.approx(coverage[:, widest].mean())


def test_updating_the_belief_between_trajectories_finds_more(test_goals):
    prior = ideal_meta_test(test_goals, num_exploration=5, online=False, draws=500, seed=1)
    online = ideal_meta_test(test_goals, num_exploration=5, online=True, draws=500, seed=1)
    assert online["found"] > prior["found"] + 0.03  # ruled-out goals are never hypothesised again
    for result in (prior, online):
        assert result["found"] <= result["success_sampled"] <= 1.0
        assert 0.0 < result["return_sampled"] < 13.5  # below the oracle's return


def test_no_spread_of_hypotheses_finds_less_than_the_uniform_one(test_goals, coverage):
    uniform = np.mean(1 - (1 - coverage.mean(1)) ** 5)
    assert best_spread_find_probability(test_goals, 5, iterations=500) >= uniform - 1e-9


@pytest.mark.parametrize("kwargs", [{"num_exploration": -1}, {"draws": 0}])
def test_bad_arguments_are_named(test_goals, kwargs):
    with pytest.raises(ValueError, match="num_exploration >= 0 and draws >= 1"):
        ideal_meta_test(test_goals, **kwargs)


def test_the_whole_20_trajectory_meta_test_of_the_ideal_agent(test_goals):
    curve = ideal_adaptation_curve(test_goals, num_trajectories=20, num_exploration=5, draws=300, seed=2)
    after = ideal_meta_test(test_goals, num_exploration=5, draws=300, seed=2)
    # Trajectory 6 is the one ideal_meta_test scores, drawn from the same stream.
    assert curve["success"][5] == pytest.approx(after["success_sampled"])
    assert curve["return"][5] == pytest.approx(after["return_sampled"])
    assert curve["found"] == pytest.approx(after["found"])
    # Exploring on the prior, a trajectory does not go back to a goal an earlier one found: each of
    # the first five scores what one draw from the prior finds, and together they find more.
    assert np.ptp(curve["success"][:5]) < 0.05 and curve["found"] > curve["success"][:5].max() + 0.1
    assert np.all(np.diff(curve["success"][4:]) >= 0)  # from the belief on, a found goal is never forgotten
    assert curve["success"][5] >= curve["found"]
    assert curve["success"][-1] == 1.0  # and posterior sampling rules out a disc per miss until none is left
    online = ideal_adaptation_curve(test_goals, num_trajectories=20, num_exploration=5, online=True, draws=300, seed=2)
    assert online["success"][4] > curve["success"][4]  # Algorithm 2 explores without repeating itself
    assert np.all(np.diff(online["success"]) >= 0) and online["success"][4] == pytest.approx(online["found"])
    # A belief that only a reward moves: it goes back to a found goal but rules nothing out, so
    # it keeps searching at one prior draw's rate and falls short of every goal by trajectory 20.
    until_reward = ideal_adaptation_curve(test_goals, num_trajectories=20, rule_out=False, draws=300, seed=2)
    assert until_reward["success"][:5] == pytest.approx(curve["success"][:5])  # the same exploring draws
    assert until_reward["success"][5] < curve["success"][5]  # then no miss narrows its next hypothesis
    assert np.all(np.diff(until_reward["success"][4:]) >= 0) and until_reward["success"][-1] < curve["success"][-1]


def test_ideal_adaptation_curve_refuses_bad_arguments(test_goals):
    with pytest.raises(ValueError, match="num_trajectories >= 1.*got 0"):
        ideal_adaptation_curve(test_goals, num_trajectories=0)
