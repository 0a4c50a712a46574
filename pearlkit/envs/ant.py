r"""Ant-Fwd-Back and Ant-Goal-2D on Gymnasium's ``Ant-v5`` model.

Both pay a contact cost :math:`5\cdot10^{-4}\sum \mathrm{clip}(F_\text{ext}, -1, 1)^2`
over the external contact forces of every body (the reference's ``0.5 * 1e-3``), which
Gymnasium's Ant computes the same way. :math:`\Delta t = 0.05` s.
"""
from __future__ import annotations

import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv

from pearlkit.envs.mujoco_tasks import MujocoTaskMixin, ObservedTaskMixin, control_cost
from pearlkit.envs.tasks import Task

GOAL_DISC_RADIUS = 3.0
#: Control-cost weights of the reference's two Ant families.
FWD_BACK_CONTROL_COST = 0.5
GOAL_CONTROL_COST = 0.1
#: Reward per step for staying alive (Ant-Fwd-Back).
ALIVE_BONUS = 1.0


def ant_direction_reward(xy_velocity: np.ndarray, angle: float, action: np.ndarray,
                         contact_cost: float) -> float:
    r"""Ant-Fwd-Back: :math:`r = \langle v_{xy}, (\cos\theta, \sin\theta)\rangle
    - 0.5\lVert a\rVert^2 - c_\text{contact} + 1` (the 1 rewards staying alive)."""
    direction = np.array([np.cos(angle), np.sin(angle)])
    return float(xy_velocity @ direction) - control_cost(action, FWD_BACK_CONTROL_COST) - contact_cost + ALIVE_BONUS


def ant_goal_reward(xy_position: np.ndarray, goal: np.ndarray, action: np.ndarray,
                    contact_cost: float) -> float:
    r"""Ant-Goal-2D: :math:`r = -\lVert p_{xy} - g\rVert_1 - 0.1\lVert a\rVert^2 - c_\text{contact}`."""
    return -float(np.abs(xy_position - goal).sum()) - control_cost(action, GOAL_CONTROL_COST) - contact_cost


class AntFwdBackEnv(MujocoTaskMixin, AntEnv):
    r"""Run along :math:`\theta = 0` (forward) or :math:`\theta = \pi` (backward); the episode
    ends when the torso leaves :math:`0.2 \le z \le 1` (it fell or jumped).

    The observation is the reference's 27 numbers, ``qpos[2:]`` and ``qvel``: Gymnasium v5
    would append 78 clipped contact forces (``pearlkit/AntFwdBack-v0`` still does).
    """

    task_keys = ("angle",)
    shared_train_test_tasks = True

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("include_cfrc_ext_in_observation", False)
        super().__init__(**kwargs)

    @classmethod
    def draw_tasks(cls, num_tasks: int, rng: np.random.Generator) -> list[Task]:
        return [{"angle": (0.0, np.pi)[i % 2]} for i in range(num_tasks)]

    @staticmethod
    def describe_task(task: Task) -> str:
        return "forward" if np.cos(float(task["angle"])) > 0 else "backward"

    def task_reward(self, info: dict, control: np.ndarray) -> float:
        velocity = np.array([info["x_velocity"], info["y_velocity"]])
        return ant_direction_reward(velocity, float(self._task["angle"]), control, -info["reward_contact"])


# paper-vs-code: not a family of the paper; the "oracle" of meta-RL papers, for diagnosis.
class AntFwdBackOracleEnv(ObservedTaskMixin, AntFwdBackEnv):
    r"""Ant-Fwd-Back told its direction: the observation ends with :math:`\cos\theta,
    \sin\theta` of the task's angle. Beside the PEARL run of the same command it says how much
    of the family's return is lost to inferring the direction, and how much the policy's running
    would give if the direction were known."""

    observed_task_name = "direction"
    observed_task_size = 2

    def observed_task(self) -> np.ndarray:
        """The task's direction, a unit vector."""
        angle = float(self._task["angle"])
        return np.array([np.cos(angle), np.sin(angle)])


#: The two directions x35f/meta_rl's Ant run trained on, in radians: its ``ant-dir`` environment
#: (the reference's ``AntDirEnv`` left at ``forward_backward=False``) drew them with
#: ``np.random.uniform(0, 2 * np.pi, 2)`` after its default ``np.random.seed(35)``.
X35F_ANT_DIRECTIONS = (2.878044122, 1.937417716)


# paper-vs-code: not a family of the paper; the tasks of the reproduction that reported 1,057.
class AntTwoDirectionsEnv(AntFwdBackEnv):
    r"""Ant-Fwd-Back's body, reward and termination, with the two directions the x35f/meta_rl
    run drew instead of forward and backward: 164.9° and 111.0°, 54° apart, so that a gait
    toward the angle between them scores in both (:math:`\cos 27° = 0.89` of its speed). It
    checks pearlkit against that published run on its own tasks."""

    @classmethod
    def draw_tasks(cls, num_tasks: int, rng: np.random.Generator) -> list[Task]:
        return [{"angle": X35F_ANT_DIRECTIONS[i % 2]} for i in range(num_tasks)]

    @staticmethod
    def describe_task(task: Task) -> str:
        return f"{np.degrees(float(task['angle'])):.0f}°"


class AntGoal2DEnv(MujocoTaskMixin, AntEnv):
    r"""Walk to a goal drawn uniformly in the disc of radius 3. The observation includes the
    torso's x, y (the goal is a position), and, as in the reference, the episode never
    ends early: with a negative reward, ending it would pay."""

    task_keys = ("goal",)

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("exclude_current_positions_from_observation", False)
        kwargs.setdefault("terminate_when_unhealthy", False)
        super().__init__(**kwargs)

    @classmethod
    def draw_tasks(cls, num_tasks: int, rng: np.random.Generator) -> list[Task]:
        tasks = []
        for _ in range(num_tasks):
            angle = rng.uniform(0.0, 2 * np.pi)
            radius = GOAL_DISC_RADIUS * np.sqrt(rng.uniform())  # sqrt: uniform over the disc's area
            tasks.append({"goal": radius * np.array([np.cos(angle), np.sin(angle)])})
        return tasks

    @staticmethod
    def describe_task(task: Task) -> str:
        x, y = task["goal"]
        return f"goal ({x:+.2f}, {y:+.2f})"

    def task_reward(self, info: dict, control: np.ndarray) -> float:
        xy = self.data.body("torso").xpos[:2]
        return ant_goal_reward(xy, self._task["goal"], control, -info["reward_contact"])

    def distance_to_goal(self) -> float:
        """How far the torso is from the goal, in metres, in a straight line (the reward charges
        the L1 distance): what a film's caption shows of this family's task."""
        return float(np.linalg.norm(self.data.body("torso").xpos[:2] - self._task["goal"]))

    @staticmethod
    def relabelled_reward_change(next_obs, goal, new_goal):
        r"""What the reward of a step that ended at ``next_obs`` gains when its goal :math:`g`
        becomes :math:`g'` (goal relabelling, ``relabel_goals``). The goal does not change
        the dynamics, and only the goal term of the reward depends on it, so the gain is
        :math:`\lVert p_{xy} - g\rVert_1 - \lVert p_{xy} - g'\rVert_1`, where :math:`p_{xy}`, the
        torso's x, y, opens the observation (its first two numbers are all that is read). Arrays
        or tensors; ``goal`` and ``new_goal`` broadcast against ``next_obs[..., :2]``.

        Exact from the torso body's position, which the reward reads; from the observed x, y
        (what a buffer keeps), off by the torso's travel in the step's last physics substep, a
        few mm, since MuJoCo computed the body's position before that substep."""
        xy = next_obs[..., :2]
        return abs(xy - goal).sum(-1) - abs(xy - new_goal).sum(-1)


# paper-vs-code: not a family of the paper; the "oracle" of meta-RL papers, for diagnosis.
class AntGoal2DOracleEnv(ObservedTaskMixin, AntGoal2DEnv):
    r"""Ant-Goal-2D told its goal: the observation ends with the goal's x, y
    (:class:`ObservedTaskMixin`)."""

    relabelled_reward_change = None  # a relabelled goal would have to be rewritten in every observation too
    observed_task_name = "goal"
    observed_task_size = 2

    def observed_task(self) -> np.ndarray:
        """The goal the observation ends with: the true goal."""
        return self._task["goal"]


# paper-vs-code: not a family of the paper; a control for the oracle above.
class AntGoal2DNoisyOracleEnv(AntGoal2DOracleEnv):
    r"""The oracle told its goal wrongly by an offset drawn anew at each reset, the same for the
    whole episode: :math:`\hat g = g + \epsilon`, :math:`\epsilon \sim \mathcal N(0, \sigma^2 I)`.
    It stands for a belief that places the goal as well as PEARL's does after exploring (about 0.9 m
    off on average at :math:`\sigma` 0.7, since the mean length of such an offset is
    :math:`\sigma\sqrt{\pi/2}`), so the learner's return and walk here say what an uncertain
    goal alone costs a goal-conditioned policy; the reward is still the true goal's."""

    goal_noise = 0.7
    r""":math:`\sigma`, in metres."""

    def __init__(self, goal_noise: float = goal_noise, **kwargs) -> None:
        if not goal_noise >= 0:
            raise ValueError(f"goal_noise must be >= 0 (metres), got {goal_noise}")
        self.goal_noise = goal_noise
        self._goal_offset = np.zeros(2)
        super().__init__(**kwargs)

    def reset_model(self) -> np.ndarray:
        super().reset_model()  # the body's start first, so that it matches the oracle's for a seed
        self._goal_offset = self.np_random.normal(0.0, self.goal_noise, size=2)
        return self._get_obs()

    def observed_task(self) -> np.ndarray:
        """The goal the observation ends with: the true goal plus this episode's offset."""
        return self._task["goal"] + self._goal_offset


#: The fixed random map of :class:`AntGoal2DCodedNoisyOracleEnv` (weights from seed 15, biases from 16): a goal's
#: two coordinates to five numbers. Its weights' scale (0.8 a metre) bends the map visibly over the
#: 3 m disc without folding it, so the code still places the goal (a linear read of the noise-free
#: code explains about 0.96 of the goals' spread, against 1 for the goal itself).
GOAL_CODE_WEIGHTS = np.random.default_rng(15).normal(0.0, 0.8, size=(5, 2))
GOAL_CODE_BIASES = np.random.default_rng(16).normal(0.0, 0.5, size=5)


def goal_code(goal: np.ndarray) -> np.ndarray:
    r"""The coded noisy oracle's five numbers for a goal: :math:`c = \tanh(W g + b)`
    (:data:`GOAL_CODE_WEIGHTS`, :data:`GOAL_CODE_BIASES`). ``goal`` is ``(..., 2)``."""
    return np.tanh(goal @ GOAL_CODE_WEIGHTS.T + GOAL_CODE_BIASES)


# paper-vs-code: not a family of the paper; a control for the noisy oracle above.
class AntGoal2DCodedNoisyOracleEnv(AntGoal2DNoisyOracleEnv):
    r"""The noisy oracle told its noisy goal as a code shaped like PEARL's :math:`z`: five numbers
    of a smooth, fixed random map (:func:`goal_code`) in place of the goal's two coordinates.
    Beside the noisy oracle it says what reading the goal through such a code, rather than in
    metres, costs a goal-conditioned policy; the goal's noise and the reward are the noisy
    oracle's."""

    observed_task_size = GOAL_CODE_WEIGHTS.shape[0]

    def observed_task(self) -> np.ndarray:
        """The code of the noisy oracle's goal (the true goal plus this episode's offset)."""
        return goal_code(super().observed_task())
