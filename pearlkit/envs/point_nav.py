r"""2D point-robot navigation: the dense and the sparse-reward task families.

A point starts at the origin and moves by :math:`s' = s + 0.1\,a` with
:math:`a \in [-1, 1]^2`. Each task is a goal :math:`g` on the upper half of the unit
circle. The dense reward is :math:`-\lVert s' - g\rVert`; the sparse reward is
:math:`1 - \lVert s' - g\rVert` inside the goal disc (radius 0.2) and 0 outside.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from torch import Tensor

from pearlkit.envs.tasks import POINT_NAV_HORIZON, TASK_LIST_SEED, Task, check_task_keys

NUM_GOALS = 100
GOAL_RADIUS = 0.2
STEP_SIZE = 0.1


def goal_positions(num_goals: int = NUM_GOALS) -> np.ndarray:
    r"""Goals at angles :math:`\theta_k = k\pi/(K-1)` on the unit upper half circle.

    Returns:
        Shape ``(num_goals, 2)``, in angle order.
    """
    angles = np.linspace(0.0, np.pi, num_goals)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def dense_reward(next_position: np.ndarray, goal: np.ndarray) -> np.ndarray:
    r""":math:`r = -\lVert s' - g \rVert` (works on any leading batch shape). Book label: ``eq-dense-reward``."""
    return -np.linalg.norm(next_position - goal, axis=-1)


def sparse_reward(next_position: np.ndarray, goal: np.ndarray,
                  goal_radius: float = GOAL_RADIUS) -> np.ndarray:
    r""":math:`r = 1 - \lVert s' - g\rVert` inside the goal disc (radius 0.2), else 0 (works on any
    leading batch shape). Book label: ``eq-sparse-reward``."""
    distance = np.linalg.norm(next_position - goal, axis=-1)
    return np.where(distance <= goal_radius, 1.0 - distance, 0.0)


def goals_passed(positions: Tensor, valid: Tensor, goals: Tensor, goal_radius: float = GOAL_RADIUS) -> Tensor:
    r"""Which goals' sparse reward {eq}`eq-sparse-reward` each trajectory would have met: True
    where a real step ended inside the goal's disc. A trajectory that got no reward rules out
    every training goal it passed, and ``rule_out_searched`` drops those from the exploration
    mixture {eq}`eq-training-beliefs`:

    .. math:: \bar q_k(z) \propto \sum_{j=1}^{M} w_{jk}\, q_\phi(z \mid c_j), \qquad
              w_{jk} = \prod_{i < k,\ R_i = 0} \mathbb 1\big[\lVert s'_{i,t} - g_j \rVert > 0.2
              \text{ for every step } t\big]

    with :math:`R_i` the return of the run's trajectory :math:`i` and :math:`g_j` the goal of
    training task :math:`j`.

    Args:
        positions: the points reached, ``s'``, ``(num_runs, horizon, 2)``.
        valid: the real steps, ``(num_runs, horizon)``.
        goals: ``(num_goals, 2)``.
    Returns:
        ``(num_runs, num_goals)`` booleans. Book label: ``eq-ruled-out``.
    """
    inside = (positions.unsqueeze(2) - goals).norm(dim=-1) <= goal_radius  # (runs, horizon, goals)
    return (inside & valid.unsqueeze(-1)).any(dim=1)


def oracle_return(goals: np.ndarray) -> float:
    r"""The ceiling of one episode: the sparse return of :func:`oracle_path` (straight at the
    goal), averaged over ``goals`` (shape ``(num_goals, 2)``)."""
    return float(np.mean([sparse_reward(oracle_path(goal), goal).sum() for goal in goals]))


def oracle_action(position: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """The action that heads straight for ``goal`` as fast as the action box allows,
    without overshooting: the controller that knows the task."""
    delta = np.asarray(goal, dtype=np.float64) - position
    largest = np.abs(delta).max()
    return delta / largest if largest > STEP_SIZE else delta / STEP_SIZE


def oracle_path(goal: np.ndarray, horizon: int = POINT_NAV_HORIZON) -> np.ndarray:
    """Positions ``(horizon, 2)`` after each step of :func:`oracle_action` from the origin."""
    position, path = np.zeros(2), []
    for _ in range(horizon):
        position = position + STEP_SIZE * oracle_action(position, goal)
        path.append(position)
    return np.array(path)


class PointNavEnv(gym.Env):
    """Point robot that must reach a goal; the dense-reward variant.

    The task interface shared by every pearlkit family:

    * ``sample_tasks(num_tasks, seed)`` gives the family's fixed task list,
    * ``set_task(task)`` switches the goal (also ``reset(options={"task": task})``),
    * ``describe_task(task)`` gives a short label for plots.

    ``info`` carries ``dense_reward`` (what the critic learns from), ``sparse_reward``,
    ``distance`` and ``is_success`` (the point is inside the goal disc).
    """

    metadata = {"render_modes": []}
    sparse = False
    reports_success = True  # info["is_success"]: the point is inside the goal disc

    def __init__(self, goal: tuple[float, float] | None = None,
                 goal_radius: float = GOAL_RADIUS) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        if goal_radius <= 0:
            raise ValueError(f"goal_radius must be > 0, got {goal_radius}")
        self.goal_radius = goal_radius
        self._goal = np.array(goal if goal is not None else goal_positions()[0], dtype=np.float64)
        self._position = np.zeros(2)

    # ----- task interface -------------------------------------------------------
    @staticmethod
    def sample_tasks(num_tasks: int = NUM_GOALS, seed: int = TASK_LIST_SEED) -> list[Task]:
        """The ``num_tasks`` goals of the half circle, shuffled by ``seed``.

        pearlkit takes the first ``num_train_tasks`` for meta-training and the rest
        as held-out test goals (80 / 20 by default).
        """
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        goals = goal_positions(num_tasks)
        order = np.random.default_rng(seed).permutation(num_tasks)
        return [{"goal": goals[i].copy()} for i in order]

    def set_task(self, task: Task) -> None:
        check_task_keys(task, ("goal",), type(self).__name__)
        goal = np.asarray(task["goal"], dtype=np.float64)
        if goal.shape != (2,):
            raise ValueError(f"task['goal'] must have shape (2,), got {goal.shape}")
        self._goal = goal.copy()

    def get_task(self) -> Task:
        return {"goal": self._goal.copy()}

    @staticmethod
    def describe_task(task: Task) -> str:
        x, y = task["goal"]
        return f"goal ({x:+.2f}, {y:+.2f}), {np.degrees(np.arctan2(y, x)):.0f} deg"

    # ----- Gymnasium API --------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if options and "task" in options:
            self.set_task(options["task"])
        self._position = np.zeros(2)
        return self._position.astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        r"""Move: :math:`s_{t+1} = s_t + 0.1\,\mathrm{clip}(a_t, -1, 1)`, the same in every task;
        the reward is the sparse or the dense one of the task's goal. Book label: ``eq-dynamics``."""
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self._position = self._position + STEP_SIZE * action
        dense = float(dense_reward(self._position, self._goal))
        sparse = float(sparse_reward(self._position, self._goal, self.goal_radius))
        info = {"dense_reward": dense, "sparse_reward": sparse, "distance": -dense,
                "is_success": -dense <= self.goal_radius}
        reward = sparse if self.sparse else dense
        return self._position.astype(np.float32), reward, False, False, info


class SparsePointNavEnv(PointNavEnv):
    """The sparse-reward variant: the reward is 0 outside the goal disc.

    PEARL's critic still learns from ``info["dense_reward"]``; only the context the
    encoder sees and the returns we report use the sparse reward.
    """

    sparse = True
