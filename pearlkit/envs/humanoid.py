r"""Humanoid-Dir-2D on Gymnasium's ``Humanoid-v5`` model.

The humanoid is rewarded for moving its centre of mass along a direction
:math:`\theta \sim U[0, 2\pi)`. :math:`\Delta t = 0.015` s (five physics steps of 3 ms).
"""
from __future__ import annotations

import numpy as np
from gymnasium.envs.mujoco.humanoid_v5 import HumanoidEnv

from pearlkit.envs.mujoco_tasks import MujocoTaskMixin, control_cost
from pearlkit.envs.tasks import Task

# paper-vs-code: the reference writes 0.25 * displacement / timestep (the 3 ms physics step),
# which is 1.25 times the velocity over one 15 ms environment step: the same reward.
VELOCITY_WEIGHT = 1.25
CONTROL_COST = 0.1
ALIVE_BONUS = 5.0


def humanoid_direction_reward(com_velocity: np.ndarray, angle: float, action: np.ndarray,
                              contact_cost: float) -> float:
    r""":math:`r = 1.25\,\langle v_\text{com}, (\cos\theta, \sin\theta)\rangle - 0.1\lVert a\rVert^2
    - \min(5\cdot10^{-7}\lVert F_\text{ext}\rVert^2, 10) + 5`, with :math:`a` the motors' control
    (the agent's action rescaled to their range, :math:`\pm 0.4`)."""
    direction = np.array([np.cos(angle), np.sin(angle)])
    return (VELOCITY_WEIGHT * float(com_velocity @ direction) - control_cost(action, CONTROL_COST)
            - contact_cost + ALIVE_BONUS)


class HumanoidDir2DEnv(MujocoTaskMixin, HumanoidEnv):
    """Walk in a direction; the episode ends when the torso leaves :math:`1 < z < 2`."""

    task_keys = ("angle",)

    @classmethod
    def draw_tasks(cls, num_tasks: int, rng: np.random.Generator) -> list[Task]:
        return [{"angle": a} for a in rng.uniform(0.0, 2 * np.pi, size=num_tasks)]

    @staticmethod
    def describe_task(task: Task) -> str:
        return f"direction {np.degrees(float(task['angle'])):.0f} deg"

    def task_reward(self, info: dict, control: np.ndarray) -> float:
        velocity = np.array([info["x_velocity"], info["y_velocity"]])
        return humanoid_direction_reward(velocity, float(self._task["angle"]), control, -info["reward_contact"])
