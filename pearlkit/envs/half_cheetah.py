r"""Half-Cheetah-Vel and Half-Cheetah-Fwd-Back on Gymnasium's ``HalfCheetah-v5`` model.

The cheetah's forward velocity is :math:`v_x = (x_{t+1} - x_t)/\Delta t` of its root
(:math:`\Delta t = 0.05` s: five physics steps of 0.01 s). Every task pays the same
control cost :math:`0.05\lVert a\rVert^2` (the reference's ``0.5 * 1e-1``); what differs
between tasks is what speed is rewarded.
"""
from __future__ import annotations

import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

from pearlkit.envs.mujoco_tasks import MujocoTaskMixin, control_cost
from pearlkit.envs.tasks import Task

CONTROL_COST = 0.05
MAX_TARGET_VELOCITY = 3.0


def velocity_tracking_reward(x_velocity: float, target_velocity: float, action: np.ndarray) -> float:
    r"""Half-Cheetah-Vel: :math:`r = -\lvert v_x - v^\star\rvert - 0.05\lVert a\rVert^2`.
    Book label: ``eq-cheetah-vel``."""
    return -abs(x_velocity - target_velocity) - control_cost(action, CONTROL_COST)


def direction_reward(velocity: float, direction: float, action: np.ndarray, weight: float) -> float:
    r"""Run one way: :math:`r = d\, v - c\lVert a\rVert^2` with :math:`d \in \{-1, +1\}`."""
    return direction * velocity - control_cost(action, weight)


class HalfCheetahVelEnv(MujocoTaskMixin, HalfCheetahEnv):
    """Run at a target velocity :math:`v^\\star \\sim U[0, 3]` m/s (forward)."""

    task_keys = ("velocity",)

    @classmethod
    def draw_tasks(cls, num_tasks: int, rng: np.random.Generator) -> list[Task]:
        return [{"velocity": v} for v in rng.uniform(0.0, MAX_TARGET_VELOCITY, size=num_tasks)]

    @staticmethod
    def describe_task(task: Task) -> str:
        return f"target velocity {float(task['velocity']):.2f} m/s"

    def task_reward(self, info: dict, control: np.ndarray) -> float:
        return velocity_tracking_reward(info["x_velocity"], float(self._task["velocity"]), control)


class HalfCheetahFwdBackEnv(MujocoTaskMixin, HalfCheetahEnv):
    """Run forward (:math:`d = +1`) or backward (:math:`d = -1`): two tasks, both used for
    training and for meta-test, as in the reference."""

    task_keys = ("direction",)
    shared_train_test_tasks = True

    @classmethod
    def draw_tasks(cls, num_tasks: int, rng: np.random.Generator) -> list[Task]:
        return [{"direction": (1.0, -1.0)[i % 2]} for i in range(num_tasks)]

    @staticmethod
    def describe_task(task: Task) -> str:
        return "forward" if float(task["direction"]) > 0 else "backward"

    def task_reward(self, info: dict, control: np.ndarray) -> float:
        return direction_reward(info["x_velocity"], float(self._task["direction"]), control, CONTROL_COST)
