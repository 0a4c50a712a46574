"""The task interface every pearlkit environment family implements, and env lookup."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium as gym

if TYPE_CHECKING:
    from pearlkit.config import PearlConfig

#: A task is a small dict of what defines it (``{"goal": array}`` for navigation).
Task = dict[str, Any]

class Registration(NamedTuple):
    """How ``import pearlkit`` registers one environment id with Gymnasium."""

    entry_point: str
    max_episode_steps: int
    kwargs: dict[str, Any] = {}


#: Environment ids registered by ``import pearlkit``. As in Gymnasium, a change to what an
#: environment observes or simulates gets a new version; the old one stays for the runs made with it.
ENV_IDS: dict[str, Registration] = {
    "pearlkit/PointNav-v0": Registration("pearlkit.envs.point_nav:PointNavEnv", 20),
    "pearlkit/SparsePointNav-v0": Registration("pearlkit.envs.point_nav:SparsePointNavEnv", 20),
    # The MuJoCo families (the paper's locomotion tasks) on Gymnasium's v5 models; 200 steps.
    "pearlkit/HalfCheetahVel-v0": Registration("pearlkit.envs.half_cheetah:HalfCheetahVelEnv", 200),
    "pearlkit/HalfCheetahFwdBack-v0": Registration("pearlkit.envs.half_cheetah:HalfCheetahFwdBackEnv", 200),
    # v1: the reference's 27-D observation; v0 also observed Gymnasium's 78 contact forces.
    "pearlkit/AntFwdBack-v1": Registration("pearlkit.envs.ant:AntFwdBackEnv", 200),
    "pearlkit/AntFwdBack-v0": Registration("pearlkit.envs.ant:AntFwdBackEnv", 200,
                                           {"include_cfrc_ext_in_observation": True}),
    "pearlkit/AntGoal2D-v0": Registration("pearlkit.envs.ant:AntGoal2DEnv", 200),
    "pearlkit/HumanoidDir2D-v0": Registration("pearlkit.envs.humanoid:HumanoidDir2DEnv", 200),
    # v1: the reference's 0.016 s step; v0 stepped Gymnasium's 0.008 s.
    "pearlkit/Walker2DParams-v1": Registration("pearlkit.envs.walker_params:Walker2DParamsEnv", 200),
    "pearlkit/Walker2DParams-v0": Registration("pearlkit.envs.walker_params:Walker2DParamsEnv", 200,
                                               {"frame_skip": 4}),
}


def check_task_keys(task: Task, keys: tuple[str, ...], env_name: str) -> None:
    """Raise a clear error if ``task`` is not a dict holding ``keys``."""
    if not isinstance(task, dict) or any(k not in task for k in keys):
        raise ValueError(f"{env_name} tasks are dicts with keys {list(keys)}, got {task!r}")


def register_envs() -> None:
    """Register pearlkit's environments with Gymnasium (idempotent)."""
    for env_id, (entry_point, horizon, kwargs) in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=horizon, kwargs=kwargs)


def make_env(env_id: str) -> gym.Env:
    """A bare environment (no Gymnasium wrappers) for the sampler.

    Raises:
        ValueError: ``env_id`` is not one of pearlkit's environments.
    """
    if env_id not in ENV_IDS:
        raise ValueError(f"unknown env_id {env_id!r}; pearlkit provides {sorted(ENV_IDS)}")
    register_envs()
    return gym.make(env_id).unwrapped


def split_tasks(config: PearlConfig) -> tuple[list, list]:
    """The family's fixed task list, split into training and held-out test tasks."""
    env_cls = type(make_env(config.env_id))
    if getattr(env_cls, "shared_train_test_tasks", False):
        # Families with only a couple of tasks (Fwd-Back) meta-test on the training tasks.
        tasks = env_cls.sample_tasks(max(config.num_train_tasks, config.num_test_tasks))
        return tasks[: config.num_train_tasks], tasks[: config.num_test_tasks]
    tasks = env_cls.sample_tasks(config.num_train_tasks + config.num_test_tasks)
    return tasks[: config.num_train_tasks], tasks[config.num_train_tasks:]
