"""The task interface every pearlkit environment family implements, and env lookup."""
from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import gymnasium as gym

from pearlkit.runtime import mujoco_gl_problem

#: A task is a small dict of what defines it (``{"goal": array}`` for navigation). Where
#: code means a task's position in a list (a buffer row), it says ``task_id``.
Task = dict[str, Any]

#: Seed of every family's fixed task list (independent of the run's seed), so every run,
#: test and chapter sees the same training and held-out tasks.
TASK_LIST_SEED = 1337
#: Steps per trajectory: Gymnasium's time limit for ``gym.make`` users, and the presets'
#: ``max_path_length`` (pearlkit's sampler steps the bare environments that many steps).
POINT_NAV_HORIZON = 20
LOCOMOTION_HORIZON = 200

class Registration(NamedTuple):
    """How ``import pearlkit`` registers one environment id with Gymnasium."""

    entry_point: str
    max_episode_steps: int
    obs_dim: int  #: what the environment's observation space holds (a test checks it)
    action_dim: int
    kwargs: dict[str, Any] = {}


#: Environment ids registered by ``import pearlkit``. As in Gymnasium, a change to what an
#: environment observes or simulates gets a new version; the old one stays for the runs made with it.
ENV_IDS: dict[str, Registration] = {
    "pearlkit/PointNav-v0": Registration("pearlkit.envs.point_nav:PointNavEnv", POINT_NAV_HORIZON, 2, 2),
    "pearlkit/SparsePointNav-v0": Registration("pearlkit.envs.point_nav:SparsePointNavEnv", POINT_NAV_HORIZON, 2, 2),
    # The MuJoCo families (the paper's locomotion tasks) on Gymnasium's v5 models.
    "pearlkit/HalfCheetahVel-v0": Registration("pearlkit.envs.half_cheetah:HalfCheetahVelEnv", LOCOMOTION_HORIZON, 17, 6),
    "pearlkit/HalfCheetahFwdBack-v0": Registration("pearlkit.envs.half_cheetah:HalfCheetahFwdBackEnv", LOCOMOTION_HORIZON, 17, 6),
    # v1: the reference's 27-D observation; v0 also observed Gymnasium's 78 contact forces.
    "pearlkit/AntFwdBack-v1": Registration("pearlkit.envs.ant:AntFwdBackEnv", LOCOMOTION_HORIZON, 27, 8),
    "pearlkit/AntFwdBack-v0": Registration("pearlkit.envs.ant:AntFwdBackEnv", LOCOMOTION_HORIZON, 105, 8,
                                           {"include_cfrc_ext_in_observation": True}),
    # Ant-Fwd-Back with its direction observed: a diagnosis (what the policy learns with nothing to infer).
    "pearlkit/AntFwdBackOracle-v1": Registration("pearlkit.envs.ant:AntFwdBackOracleEnv", LOCOMOTION_HORIZON, 29, 8),
    # The x35f/meta_rl reproduction's two Ant directions (not forward and backward), to check against it.
    "pearlkit/AntTwoDirections-v1": Registration("pearlkit.envs.ant:AntTwoDirectionsEnv", LOCOMOTION_HORIZON, 27, 8),
    "pearlkit/AntGoal2D-v0": Registration("pearlkit.envs.ant:AntGoal2DEnv", LOCOMOTION_HORIZON, 107, 8),
    # Ant-Goal-2D with the goal observed: a diagnosis (what the policy learns with nothing to infer).
    "pearlkit/AntGoal2DOracle-v0": Registration("pearlkit.envs.ant:AntGoal2DOracleEnv", LOCOMOTION_HORIZON, 109, 8),
    # The oracle told a goal off by a random offset each episode: what an uncertain goal alone costs.
    "pearlkit/AntGoal2DNoisyOracle-v0": Registration("pearlkit.envs.ant:AntGoal2DNoisyOracleEnv", LOCOMOTION_HORIZON,
                                                     109, 8),
    # The noisy oracle told its goal as badly as PEARL's belief places it in training (R² about 0.6, not 0.8).
    "pearlkit/AntGoal2DNoisierOracle-v0": Registration("pearlkit.envs.ant:AntGoal2DNoisyOracleEnv", LOCOMOTION_HORIZON,
                                                       109, 8, {"goal_noise": 1.2}),
    # The noisy oracle's goal given as five numbers of a fixed random map: what a code like PEARL's costs.
    "pearlkit/AntGoal2DCodedNoisyOracle-v0": Registration("pearlkit.envs.ant:AntGoal2DCodedNoisyOracleEnv",
                                                          LOCOMOTION_HORIZON, 112, 8),
    "pearlkit/HumanoidDir2D-v0": Registration("pearlkit.envs.humanoid:HumanoidDir2DEnv", LOCOMOTION_HORIZON, 348, 17),
    # v1: the reference's 0.016 s step; v0 stepped Gymnasium's 0.008 s.
    "pearlkit/Walker2DParams-v1": Registration("pearlkit.envs.walker_params:Walker2DParamsEnv", LOCOMOTION_HORIZON, 17, 6),
    "pearlkit/Walker2DParams-v0": Registration("pearlkit.envs.walker_params:Walker2DParamsEnv", LOCOMOTION_HORIZON, 17, 6,
                                               {"frame_skip": 4}),
}


def check_task_keys(task: Task, keys: tuple[str, ...], env_name: str) -> None:
    """Raise a clear error if ``task`` is not a dict holding ``keys``."""
    if not isinstance(task, dict) or any(k not in task for k in keys):
        raise ValueError(f"{env_name} tasks are dicts with keys {list(keys)}, got {task!r}")


def register_envs() -> None:
    """Register pearlkit's environments with Gymnasium (idempotent)."""
    for env_id, registration in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=registration.entry_point,
                         max_episode_steps=registration.max_episode_steps, kwargs=registration.kwargs)


def _check_env_id(env_id: str) -> None:
    if env_id not in ENV_IDS:
        raise ValueError(f"unknown env_id {env_id!r}; pearlkit provides {sorted(ENV_IDS)}")


def make_env(env_id: str) -> gym.Env:
    """A bare environment (no Gymnasium wrappers) for the sampler.

    Raises:
        ValueError: ``env_id`` is not one of pearlkit's environments.
        RuntimeError: a MuJoCo family where ``MUJOCO_GL`` names a backend that does not work here.
    """
    env_class(env_id)  # imports its module first, so that a MuJoCo that cannot load says why
    register_envs()
    return gym.make(env_id).unwrapped


def env_class(env_id: str) -> type[gym.Env]:
    """The class behind ``env_id`` (for its class methods), without building an environment."""
    _check_env_id(env_id)
    module, _, name = ENV_IDS[env_id].entry_point.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError:
        raise
    except Exception as error:
        problem = None if is_navigation(env_id) else mujoco_gl_problem()  # navigation needs no MuJoCo
        if problem is None:
            raise
        raise RuntimeError(f"cannot build {env_id}: {problem}") from error


def is_navigation(env_id: str) -> bool:
    """Whether ``env_id`` is a 2D navigation family: the chapters draw those (``pearlkit.plots``);
    the MuJoCo families are filmed (``pearlkit.render``)."""
    _check_env_id(env_id)
    return ENV_IDS[env_id].entry_point.startswith("pearlkit.envs.point_nav:")


def split_tasks(env_id: str, num_train_tasks: int, num_test_tasks: int) -> tuple[list[Task], list[Task]]:
    """The family's fixed task list, split into training and held-out test tasks."""
    family = env_class(env_id)
    if getattr(family, "shared_train_test_tasks", False):
        # Families with only a couple of tasks (Fwd-Back) meta-test on the training tasks.
        tasks = family.sample_tasks(max(num_train_tasks, num_test_tasks))
        return tasks[:num_train_tasks], tasks[:num_test_tasks]
    tasks = family.sample_tasks(num_train_tasks + num_test_tasks)
    return tasks[:num_train_tasks], tasks[num_train_tasks:]
