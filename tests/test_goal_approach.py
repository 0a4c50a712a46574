"""benchmarks/goal_approach.py: its two measures of an Ant-Goal-2D agent, on cases worked by hand."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from goal_approach import held_out_r2, torso_points_down  # noqa: E402


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


@pytest.mark.parametrize(("quaternion", "down"), [
    ((1.0, 0.0, 0.0, 0.0), False),  # upright
    ((0.0, 1.0, 0.0, 0.0), True),  # half a turn about x: on its back
    ((np.cos(np.pi / 8), 0.0, np.sin(np.pi / 8), 0.0), False),  # tilted 45 degrees about y
    ((np.cos(3 * np.pi / 8), 0.0, np.sin(3 * np.pi / 8), 0.0), True),  # tilted 135 degrees
])
def test_torso_points_down_reads_the_quaternion(quaternion, down):
    assert bool(torso_points_down(np.array(quaternion))) is down
