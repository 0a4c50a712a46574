"""What every MuJoCo task family shares: the task interface on top of a Gymnasium v5 model.

A family subclasses one of Gymnasium's v5 locomotion environments (same model file, same
observation) and this mixin, and replaces the reward with the paper's task reward.
The task list is drawn once from a fixed seed, so every run, test and chapter sees the
same training and held-out tasks. A family's *oracle* (a diagnosis, not a family of the paper)
adds :class:`ObservedTaskMixin`, which appends what it is told of its task to the observation.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, ClassVar, Iterator

import gymnasium as gym
import mujoco
import numpy as np

from pearlkit.envs.tasks import TASK_LIST_SEED, Task, check_task_keys


@contextlib.contextmanager
def quiet_model_compiler() -> Iterator[None]:
    """Within the block, MuJoCo's compiler warnings become Python warnings, except one.

    Gymnasium's ``half_cheetah.xml`` uses ``settotalmass``, which MuJoCo 4 compiles as
    before but reports as deprecated on stderr each time the model loads: once per
    environment, so a run would print it hundreds of times. That one is dropped.
    """
    previous = mujoco.get_mju_user_warning()

    def forward(message: str) -> None:
        if "settotalmass" not in message:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(forward)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def control_cost(control: np.ndarray, weight: float) -> float:
    r""":math:`c\,\lVert a\rVert^2`, the energy every locomotion task pays."""
    return weight * float(np.sum(np.square(control)))


class MujocoTaskMixin:
    """The task interface of pearlkit's MuJoCo families.

    Subclasses set ``task_keys`` and implement ``draw_tasks`` (the family's task
    distribution), ``task_reward`` and, where a task changes more than the reward,
    ``apply_task``. As in the reference code (its ``NormalizedBoxEnv``), the agent acts in
    :math:`[-1, 1]^d`, rescaled here to the model's control range; the reward's control
    cost is paid on the rescaled control.
    """

    task_keys: ClassVar[tuple[str, ...]]
    #: The train and test lists are the same tasks (the Fwd-Back families have only two).
    shared_train_test_tasks: ClassVar[bool] = False
    reports_success: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        with quiet_model_compiler():  # however the environment is made (gym.make, make_env)
            super().__init__(**kwargs)  # the Gymnasium v5 environment
        self._control_low, self._control_high = self.action_space.low.copy(), self.action_space.high.copy()
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=self.action_space.shape, dtype=np.float32)
        self.set_task(self.default_task())

    def default_task(self) -> Task:
        return self.sample_tasks(1)[0]

    def to_control(self, action: np.ndarray) -> np.ndarray:
        """Map an action in :math:`[-1, 1]^d` (clipped) onto the model's control range."""
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        return self._control_low + (action + 1.0) * 0.5 * (self._control_high - self._control_low)

    def task_reward(self, info: dict, control: np.ndarray) -> float:
        """The family's reward, from Gymnasium's ``info`` and the simulator state."""
        raise NotImplementedError

    def observation_slice(self, part: str) -> slice:
        """Where ``part`` of the observation lies: a name from Gymnasium v5's
        ``observation_structure`` (``"qpos"``, ``"qvel"``, ``"cfrc_ext"``, ...), in its order.
        Its ``skipped_qpos`` counts positions left out of the observation, so it takes no room.

        Raises:
            ValueError: ``part`` is not one this environment observes.
        """
        start = 0
        for name, size in self.observation_structure.items():
            if name == "skipped_qpos":
                continue
            if name == part:
                return slice(start, start + size)
            start += size
        observed = [name for name in self.observation_structure if name != "skipped_qpos"]
        raise ValueError(f"{type(self).__name__} observes no {part!r}; its parts are {observed}")

    def step(self, action: np.ndarray):
        """Gymnasium's step on the rescaled control, with the family's reward instead of its own."""
        control = self.to_control(action)
        observation, _, terminated, truncated, info = super().step(control)
        return observation, self.task_reward(info, control), terminated, truncated, info

    @classmethod
    def draw_tasks(cls, num_tasks: int, rng: np.random.Generator) -> list[Task]:
        """``num_tasks`` tasks drawn one after the other from ``rng`` (so a longer list
        starts with the shorter one)."""
        raise NotImplementedError

    @classmethod
    def sample_tasks(cls, num_tasks: int, seed: int = TASK_LIST_SEED) -> list[Task]:
        """The family's first ``num_tasks`` tasks, drawn from ``seed`` (fixed by default)."""
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        return cls.draw_tasks(num_tasks, np.random.default_rng(seed))

    def set_task(self, task: Task) -> None:
        check_task_keys(task, self.task_keys, type(self).__name__)
        self.apply_task(task)
        self._task = {k: np.array(task[k], dtype=np.float64) for k in self.task_keys}

    def apply_task(self, task: Task) -> None:
        """Most families only change the reward, which reads ``self._task``."""

    def get_task(self) -> Task:
        return {k: v.copy() for k, v in self._task.items()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if options and "task" in options:
            self.set_task(options["task"])
        return super().reset(seed=seed, options=options)


# paper-vs-code: not in the paper or the reference; the "oracle" of meta-RL papers, for diagnosis.
class ObservedTaskMixin:
    r"""An oracle's observation: the family's own, then :attr:`observed_task_size` numbers that
    :meth:`observed_task` gives of the task (``observation_structure`` names them
    :attr:`observed_task_name`). A PEARL run on an oracle has nothing to infer (its policy, critic
    and encoder read the task in every observation, from the first step), so its return is what
    the task-conditioned policy and critic learn at that budget: the ceiling an encoder that knew
    the task from its context would reach."""

    observed_task_name: str
    """The name of the told numbers in ``observation_structure``."""
    observed_task_size: int
    """How many numbers :meth:`observed_task` gives."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        size = self.observation_space.shape[0] + self.observed_task_size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float64)
        self.observation_structure = {**self.observation_structure, self.observed_task_name: self.observed_task_size}

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([super()._get_obs(), self.observed_task()])

    def observed_task(self) -> np.ndarray:
        """The numbers the observation ends with."""
        raise NotImplementedError
