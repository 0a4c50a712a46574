r"""Walker-2D-Params on Gymnasium's ``Walker2d-v5`` model: the task changes the physics.
One action lasts :math:`\Delta t = 0.016` s, as in the reference.

Each task multiplies every element of the body masses, body inertias and geom frictions by
:math:`1.5^{u}` and of the joint damping by :math:`1.3^{u}`, one :math:`u \sim U(-3, 3)`
per element. The reward is the same in every task,
:math:`r = v_x + 1 - 10^{-3}\lVert a\rVert^2`, so the task can only be told apart by how the
walker *moves*: the context must include :math:`s'`.
"""
from __future__ import annotations

import functools
import os

import mujoco
import numpy as np
from gymnasium.envs.mujoco import walker2d_v5
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv

from pearlkit.envs.mujoco_tasks import MujocoTaskMixin, control_cost
from pearlkit.envs.tasks import Task

LOG_SCALE_LIMIT = 3.0
#: Which model arrays a task rescales, and the base of the per-element factor.
RANDOMIZED_PARAMS: dict[str, float] = {"body_mass": 1.5, "body_inertia": 1.5, "dof_damping": 1.3,
                                       "geom_friction": 1.5}
MODEL_FILE = "walker2d_v5.xml"
# paper-vs-code: the reference steps its MuJoCo 1.31 walker (timestep 0.004 s) 4 times per
# action, 0.016 s; Gymnasium v5's model keeps its stable 0.002 s timestep, so 8 physics steps
# per action give the same 0.016 s (Gymnasium's own frame_skip 4 gave 0.008 s:
# ``pearlkit/Walker2DParams-v0``).
REFERENCE_FRAME_SKIP = 8
CONTROL_COST = 1e-3
ALIVE_BONUS = 1.0


def walker_reward(x_velocity: float, action: np.ndarray) -> float:
    r""":math:`r = v_x + 1 - 10^{-3}\lVert a\rVert^2` (forward velocity, alive bonus, control cost)."""
    return x_velocity + ALIVE_BONUS - control_cost(action, CONTROL_COST)


def _nominal_model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(os.path.join(os.path.dirname(walker2d_v5.__file__), "assets", MODEL_FILE))


class Walker2DParamsEnv(MujocoTaskMixin, Walker2dEnv):
    """The walker with randomized physics; the episode ends when it falls
    (torso height outside (0.8, 2) or torso angle outside (-1, 1) rad)."""

    task_keys = tuple(RANDOMIZED_PARAMS)

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("frame_skip", REFERENCE_FRAME_SKIP)
        super().__init__(xml_file=MODEL_FILE, **kwargs)

    @functools.cached_property
    def _nominal(self) -> dict[str, np.ndarray]:
        """The model's own values, read once before any task changes them."""
        return {name: getattr(self.model, name).copy() for name in RANDOMIZED_PARAMS}

    @classmethod
    def draw_tasks(cls, num_tasks: int, rng: np.random.Generator) -> list[Task]:
        model = _nominal_model()
        return [{name: base ** rng.uniform(-LOG_SCALE_LIMIT, LOG_SCALE_LIMIT, size=getattr(model, name).shape)
                 for name, base in RANDOMIZED_PARAMS.items()} for _ in range(num_tasks)]

    def default_task(self) -> Task:
        return self.nominal_task()

    def nominal_task(self) -> Task:
        """The unchanged model: every multiplier 1."""
        return {name: np.ones_like(value) for name, value in self._nominal.items()}

    @staticmethod
    def describe_task(task: Task) -> str:
        # The geometric mean of each array's multipliers: one number per parameter kind.
        scale = {name: float(np.exp(np.log(task[name]).mean())) for name in RANDOMIZED_PARAMS}
        return ("mass x{body_mass:.2f}, inertia x{body_inertia:.2f}, damping x{dof_damping:.2f}, "
                "friction x{geom_friction:.2f}".format(**scale))

    def apply_task(self, task: Task) -> None:
        multipliers = {name: np.asarray(task[name], dtype=np.float64) for name in RANDOMIZED_PARAMS}
        for name, multiplier in multipliers.items():  # check all before changing any
            if multiplier.shape != self._nominal[name].shape:
                raise ValueError(f"task[{name!r}] must have shape {self._nominal[name].shape}, got {multiplier.shape}")
        for name, multiplier in multipliers.items():
            getattr(self.model, name)[:] = self._nominal[name] * multiplier

    def task_reward(self, info: dict, control: np.ndarray) -> float:
        return walker_reward(info["x_velocity"], control)
